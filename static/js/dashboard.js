// The dashboard's charts (Apache ECharts, served by the app): the weekly trend of what was
// overdue, and the grid map coloured by overdue inspections. The page's tables hold the same
// numbers and come first; without script (or ECharts) the charts simply stay hidden.
(function () {
  "use strict";

  function readData() {
    var node = document.getElementById("dashboard-data");
    if (!node) return null;
    try {
      return JSON.parse(node.textContent);
    } catch (error) {
      return null;
    }
  }

  function show(id) {
    var node = document.getElementById(id);
    if (!node) return null;
    node.hidden = false;
    return window.echarts.init(node, null, { renderer: "canvas" });
  }

  function drawTrend(data) {
    if (!data.weeks || !data.weeks.length) return null;
    var chart = show("trend-chart");
    if (!chart) return null;
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 40, right: 16, top: 36, bottom: 40, containLabel: true },
      xAxis: {
        type: "category",
        data: data.weeks.map(function (week) { return week.slice(5); }),
      },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: data.labels.inspections, type: "line", data: data.inspections, color: "#b3261e" },
        { name: data.labels.hazards, type: "line", data: data.hazards, color: "#e8710a" },
      ],
    });
    return chart;
  }

  function drawMap(data) {
    var grids = data.grids;
    if (!grids || !grids.features || !grids.features.length) return null;
    var chart = show("grid-map-chart");
    if (!chart) return null;
    window.echarts.registerMap("sar-grids", grids);
    var values = grids.features.map(function (feature) {
      var code = feature.properties.name;
      var counts = data.counts[code] || { inspections: 0, hazards: 0 };
      return { name: code, value: counts.inspections, hazards: counts.hazards };
    });
    var highest = Math.max.apply(null, values.map(function (item) { return item.value; }).concat([1]));
    chart.setOption({
      animation: false,
      tooltip: {
        trigger: "item",
        formatter: function (item) {
          var hazards = item.data ? item.data.hazards : 0;
          return echartsEscape(item.name) + "<br>" + echartsEscape(data.labels.inspections) + ": " +
            (item.value || 0) + "<br>" + echartsEscape(data.labels.hazards) + ": " + hazards;
        },
      },
      visualMap: {
        min: 0, max: highest, left: 0, bottom: 0, calculable: false,
        inRange: { color: ["#e8f5e9", "#fdd835", "#b3261e"] },
        textStyle: { fontSize: 11 },
      },
      series: [{
        type: "map", map: "sar-grids", roam: false, data: values,
        label: { show: true, fontSize: 10 },
        emphasis: { label: { show: true } },
      }],
    });
    chart.on("click", function (item) {
      if (item && item.name) {
        var url = new URL(data.inspections_url, window.location.href);
        url.searchParams.set("status", "overdue");
        url.searchParams.set("grid", item.name);
        window.location.assign(url.toString());
      }
    });
    return chart;
  }

  function echartsEscape(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function start() {
    var data = readData();
    if (!data || !window.echarts) return;
    var charts = [drawTrend(data), drawMap(data)].filter(Boolean);
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
    document.body.dataset.chartsDrawn = String(charts.length);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
