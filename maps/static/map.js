// Drawing the registry's maps from the JSON that maps/build.py embeds. Every HTML snippet
// shown here (popups, tooltips) was built and escaped by the server; user text is never
// concatenated into HTML in this file. Codes go into DOM properties (title), not markup.
(function () {
  "use strict";
  var RANK = { grey: 0, green: 1, orange: 2, red: 3 };
  var BY_RANK = ["grey", "green", "orange", "red"];
  var SAR = (window.SAR = window.SAR || { layers: {} });
  var icons = {};

  SAR.register = function (key, layer) {
    SAR.layers[key] = layer;
  };

  function narrow() {
    return !!(window.matchMedia && window.matchMedia("(max-width: 599.98px)").matches);
  }

  // On a phone the layer list starts folded behind its button: open, it would cover the map.
  L.Control.Layers.addInitHook(function () {
    if (narrow()) this.options.collapsed = true;
  });

  // Every map, once created: Leaflet's credit as text (its link would be a tiny touch target
  // in the corner of a phone's map).
  SAR.ready = function (map) {
    if (map.attributionControl) map.attributionControl.setPrefix("Leaflet");
  };

  // "Show where I am": the Leaflet.Locate plugin. The browser reports WGS-84; over Gaode tiles
  // the drawn map is GCJ-02, so the position is shifted like every other point. A failure is
  // said in the page (never an alert).
  SAR.locateControl = function (map, options) {
    if (!L.Control.Locate || !L.Control.Locate.LocateControl) return null;
    var Base = L.Control.Locate.LocateControl;
    var Control = Base.extend({
      _onLocationFound: function (event) {
        if (options.gcj02 && event.latlng) {
          var shifted = toGcj(event.latlng.lng, event.latlng.lat);
          var latlng = L.latLng(shifted[1], shifted[0]);
          event = L.extend({}, event, {
            latlng: latlng,
            bounds: latlng.toBounds((event.accuracy || 0) * 2),
          });
        }
        return Base.prototype._onLocationFound.call(this, event);
      },
    });
    var control = new Control({
      position: "topleft",
      setView: "untilPanOrZoom",
      showPopup: true,
      strings: {
        title: options.title,
        metersUnit: "",
        popup: options.popup,
      },
      locateOptions: { enableHighAccuracy: true, maxZoom: 17, watch: true, setView: false },
      onLocationError: function () {
        var link = control._link;
        if (link) {
          link.title = options.failed;
          link.setAttribute("aria-label", options.title + ": " + options.failed);
        }
        map.getContainer().setAttribute("data-locate-failed", "1");
        var status = options.statusId && document.getElementById(options.statusId);
        if (status) status.textContent = options.failed;
      },
    });
    control.addTo(map);
    map.sarLocate = control;
    return control;
  };

  // Status by shape too: the status's symbol inside the kind's shape (data.symbols).
  function markerIcon(shape, status, symbol) {
    var key = shape + ":" + status;
    if (!icons[key]) {
      icons[key] = L.divIcon({
        className: "sar-marker sar-shape-" + shape + " sar-status-" + status,
        html: symbol ? '<span aria-hidden="true">' + symbol + "</span>" : "", // a constant
        iconSize: [20, 20],
        iconAnchor: [10, 10],
        popupAnchor: [0, -10],
      });
    }
    return icons[key];
  }

  // A cluster: coloured by its worst status, "!3" (how many have it) over "/18" (all).
  function clusterIconFor(status, worstCount, count) {
    var size = count < 100 ? 40 : count < 1000 ? 46 : 52;
    var symbol = (SAR.symbols && SAR.symbols[status]) || "";
    var html =
      '<span class="sar-cluster-worst" aria-hidden="true">' + symbol + String(worstCount) + "</span>" +
      '<span class="sar-cluster-total" data-count="' + String(count) + '">/' + String(count) + "</span>";
    return L.divIcon({
      html: html, // numbers and constants only
      className: "sar-cluster sar-status-" + status,
      iconSize: L.point(size, size),
    });
  }

  function clusterIcon(cluster) {
    var worst = 0;
    var worstCount = 0;
    var children = cluster.getAllChildMarkers();
    for (var i = 0; i < children.length; i++) {
      var rank = children[i].options.sarRank;
      if (rank > worst) {
        worst = rank;
        worstCount = 0;
      }
      if (rank === worst) worstCount += 1;
    }
    return clusterIconFor(BY_RANK[worst], worstCount, Number(cluster.getChildCount()));
  }

  // One cluster group per map for every kind: clusters of different kinds never stack. Each
  // kind is a SubGroup (its own entry in the layer control) that puts its markers in it.
  var SubGroup = L.LayerGroup.extend({
    initialize: function (parent, markers) {
      L.LayerGroup.prototype.initialize.call(this);
      this._sarParent = parent;
      this._sarMarkers = markers;
    },
    onAdd: function (map) {
      if (!map.hasLayer(this._sarParent)) map.addLayer(this._sarParent);
      this._sarParent.addLayers(this._sarMarkers);
    },
    onRemove: function () {
      this._sarParent.removeLayers(this._sarMarkers);
    },
    // The view's answer replaces the kind's markers (in the cluster group if shown): only
    // those that left are removed and those that came added, so a kept marker's open popup
    // stays open (its autopan moves the map, and the move asks for the view again).
    setMarkers: function (markers) {
      var next = new Set(markers);
      var before = new Set(this._sarMarkers);
      var gone = this._sarMarkers.filter(function (marker) {
        return !next.has(marker);
      });
      var came = markers.filter(function (marker) {
        return !before.has(marker);
      });
      this._sarMarkers = markers;
      if (this._map) {
        this._sarParent.removeLayers(gone);
        this._sarParent.addLayers(came);
      }
    },
    getLayers: function () {
      return this._sarMarkers.slice();
    },
    eachLayer: function (method, context) {
      this._sarMarkers.forEach(method, context);
      return this;
    },
  });

  function clusterGroupOf(map) {
    if (!map.sarCluster) {
      map.sarCluster = L.markerClusterGroup({
        chunkedLoading: true,
        showCoverageOnHover: false,
        maxClusterRadius: 80,
        iconCreateFunction: clusterIcon,
      });
      SAR.register("clusters", map.sarCluster);
    }
    return map.sarCluster;
  }

  function textNode(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span;
  }

  // A popup fetched from the server on the first click (HTML built and escaped there).
  function fetchPopup(marker, code, urlTemplate, options) {
    var popup = marker.bindPopup(textNode(options.loading || "…"), { maxWidth: 340 }).getPopup();
    marker.openPopup();
    var url = urlTemplate.replace("__CODE__", encodeURIComponent(code));
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        popup.setContent(html); // built and escaped by the server
      })
      .catch(function () {
        marker.unbindPopup();
        marker.bindPopup(textNode(options.failed || "—")).openPopup();
      });
  }

  function assetMarker(shape, status, lat, lon, code, options) {
    var marker = L.marker([lat, lon], {
      icon: markerIcon(shape, status, SAR.symbols[status]),
      title: code,
      alt: code,
      sarRank: RANK[status],
      sarStatus: status,
    });
    marker.on("click", function (event) {
      if (!event.target.getPopup()) fetchPopup(event.target, code, options.popupUrl, options);
    });
    return marker;
  }

  SAR.assetLayer = function (map, data, options) {
    SAR.symbols = SAR.symbols || {};
    data.statuses.forEach(function (status, index) {
      SAR.symbols[status] = data.symbols[index];
    });
    var count = data.code.length;
    var markers = new Array(count);
    for (var i = 0; i < count; i++) {
      var status = data.statuses[data.status[i]];
      if (data.popup) {
        markers[i] = L.marker([data.lat[i], data.lon[i]], {
          icon: markerIcon(data.shape, status, data.symbols[data.status[i]]),
          title: data.code[i],
          alt: data.code[i],
          sarRank: RANK[status],
          sarStatus: status,
        }).bindPopup(data.popup[i]); // escaped by the server
      } else {
        markers[i] = assetMarker(data.shape, status, data.lat[i], data.lon[i], data.code[i], options);
      }
    }
    var group;
    if (options.cluster) {
      group = new SubGroup(clusterGroupOf(map), markers);
    } else {
      group = L.featureGroup();
      markers.forEach(function (marker) {
        group.addLayer(marker);
      });
    }
    group.sarKind = data.kind;
    group.sarShape = data.shape;
    group.sarOptions = options;
    return group;
  };

  SAR.hazardLayer = function (map, data, options) {
    var group = L.featureGroup();
    group.sarSeverity = data.severity;
    group.sarColour = options.colour;
    return group;
  };

  function hazardMarker(lat, lon, code, colour, options) {
    var marker = L.circleMarker([lat, lon], {
      radius: 7,
      color: "#fff",
      weight: 2,
      fillColor: colour,
      fillOpacity: 0.95,
      sarCode: code,
    });
    marker.on("click", function (event) {
      if (!event.target.getPopup()) fetchPopup(event.target, code, options.hazardPopupUrl, options);
    });
    return marker;
  }

  // --- The district map's view: fetched, never embedded (maps/api.py) --------------------------
  // On load and after each move (debounced; the previous request aborted) the assets and open
  // hazards of the view are fetched with the page's filters, the box in WGS-84. Points go into
  // the kinds' layers (the shared cluster group, as before); clusters the server made are
  // drawn with the same icon and zoom to their bounds on click (or Enter). An answer that is
  // "complete" holds everything the filters match: it is not asked for again on moves.
  // The WGS-84 box the server is asked about: the view and a margin, "w,s,e,n" (null when
  // the view has no extent).
  function viewBox(map, gcj02) {
    var bounds = map.getBounds().pad(0.2);
    var sw = bounds.getSouthWest();
    var ne = bounds.getNorthEast();
    var low = gcj02 ? SAR.fromGcj(sw.lng, sw.lat) : [sw.lng, sw.lat];
    var high = gcj02 ? SAR.fromGcj(ne.lng, ne.lat) : [ne.lng, ne.lat];
    var west = Math.max(-180, low[0]);
    var south = Math.max(-90, low[1]);
    var east = Math.min(180, high[0]);
    var north = Math.min(90, high[1]);
    if (!(west < east && south < north)) return null;
    return [west, south, east, north].map(function (value) {
      return value.toFixed(6);
    }).join(",");
  }

  SAR.viewport = function (map, options) {
    var clusters = L.layerGroup().addTo(map);
    var state = {
      timer: null,
      assets: null,
      hazards: null,
      assetsDone: false,
      hazardsDone: false,
      markers: {}, // code -> the marker drawn for it, kept while its answer is the same
      hazardMarkers: {},
      settled: 0,
    };
    var counter = document.getElementById("drawn-count");
    map.sarViewport = state;

    function assetLayerOf(kind) {
      return SAR.layers["assets:" + kind];
    }

    function shownKinds() {
      return options.kinds.filter(function (kind) {
        var layer = assetLayerOf(kind);
        return layer && map.hasLayer(layer);
      });
    }

    function box() {
      return viewBox(map, options.gcj02);
    }

    function address(url, extra) {
      var params = new URLSearchParams();
      Object.keys(extra).forEach(function (key) {
        if (extra[key] !== null && extra[key] !== undefined) params.set(key, String(extra[key]));
      });
      var bbox = box();
      if (bbox) params.set("bbox", bbox);
      return url + "?" + params.toString();
    }

    function getJson(url, signal) {
      return fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: signal,
      }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      });
    }

    function say(text) {
      if (!counter) return;
      counter.textContent = text;
    }

    function clusterMarker(cluster) {
      var status = cluster.worst;
      var marker = L.marker([cluster.lat, cluster.lon], {
        icon: clusterIconFor(status, cluster.counts[status] || 0, cluster.count),
        keyboard: true,
        title: options.clusterTitle.replace("{count}", String(cluster.count)),
        sarCount: cluster.count,
        sarStatus: status,
      });
      function zoomIn() {
        var bounds = L.latLngBounds(cluster.bounds);
        var zoom = Math.min(map.getBoundsZoom(bounds, false, L.point(40, 40)), map.getMaxZoom());
        map.setView(bounds.getCenter(), Math.max(zoom, map.getZoom() + 1));
      }
      marker.on("click", zoomIn);
      // A button (role="button", tabindex 0: Leaflet's keyboard option) answers Enter and Space.
      marker.on("keydown", function (event) {
        var key = event.originalEvent && event.originalEvent.key;
        if (key === "Enter" || key === " ") {
          L.DomEvent.preventDefault(event.originalEvent);
          zoomIn();
        }
      });
      return marker;
    }

    function drawAssets(answers, kinds, zoom) {
      var byKind = {};
      options.kinds.forEach(function (kind) {
        byKind[kind] = [];
      });
      clusters.clearLayers();
      var total = 0;
      var complete = true;
      var truncated = false;
      var asOf = null; // clusters counted by the roll-up before the latest changes
      var kept = {};
      answers.forEach(function (answer) {
        if (answer.mode === "points") {
          var points = answer.points;
          for (var i = 0; i < points.code.length; i++) {
            var layer = assetLayerOf(points.kind[i]);
            if (!layer) continue;
            var code = points.code[i];
            var marker = state.markers[code];
            var same = marker && marker.options.sarStatus === points.status[i] &&
              marker.options.sarKind === points.kind[i] &&
              marker.getLatLng().equals([points.lat[i], points.lon[i]]);
            if (!same) {
              marker = assetMarker(layer.sarShape, points.status[i], points.lat[i], points.lon[i],
                code, layer.sarOptions);
              marker.options.sarKind = points.kind[i];
            }
            kept[code] = marker;
            byKind[points.kind[i]].push(marker);
          }
          total += points.code.length;
          complete = complete && answer.complete;
          truncated = truncated || answer.truncated;
        } else {
          complete = false;
          if (answer.stale && answer.as_of_local) asOf = answer.as_of_local;
          answer.clusters.forEach(function (cluster) {
            clusters.addLayer(clusterMarker(cluster));
            total += cluster.count;
          });
        }
      });
      state.markers = kept;
      options.kinds.forEach(function (kind) {
        var layer = assetLayerOf(kind);
        if (layer && layer.setMarkers) layer.setMarkers(byKind[kind]);
      });
      state.assetsDone = complete && kinds.length === options.kinds.length;
      if (counter) counter.setAttribute("data-drawn", String(total));
      say(options.drawnText.replace("{count}", String(total)) +
        (truncated ? " " + options.truncatedText : "") +
        (asOf ? " " + options.asOfText.replace("{time}", asOf) : ""));
      if (counter) counter.setAttribute("data-as-of", asOf || "");
      map.getContainer().setAttribute("data-view", complete ? "complete" : "partial");
      map.getContainer().setAttribute("data-view-zoom", String(zoom));
      settled();
    }

    // How many views have their assets drawn (or needed nothing new): bench/bench_map_browser.py
    // times a pan or zoom to the next count.
    function settled() {
      state.settled += 1;
      map.getContainer().setAttribute("data-view-settled", String(state.settled));
    }

    function drawHazards(answer) {
      var rows = answer.hazards;
      var groups = {};
      Object.keys(SAR.layers).forEach(function (key) {
        if (key.indexOf("hazards:") === 0) groups[SAR.layers[key].sarSeverity] = SAR.layers[key];
      });
      var kept = {};
      for (var i = 0; i < rows.code.length; i++) {
        var group = groups[rows.severity[i]];
        if (!group) continue;
        var marker = state.hazardMarkers[rows.code[i]];
        if (!marker || marker.sarGroup !== group) {
          marker = hazardMarker(rows.lat[i], rows.lon[i], rows.code[i], group.sarColour, options);
          marker.sarGroup = group;
          group.addLayer(marker);
        }
        kept[rows.code[i]] = marker;
      }
      // Those no longer in the answer leave (a kept one's open popup stays open).
      Object.keys(state.hazardMarkers).forEach(function (code) {
        var marker = state.hazardMarkers[code];
        if (kept[code] !== marker) marker.sarGroup.removeLayer(marker);
      });
      state.hazardMarkers = kept;
      state.hazardsDone = answer.complete;
    }

    function refreshAssets() {
      if (state.assetsDone) return settled();
      if (state.assets) state.assets.abort();
      var kinds = shownKinds();
      if (!kinds.length) {
        clusters.clearLayers();
        return settled();
      }
      var all = kinds.length === options.kinds.length;
      var asks = all ? [options.filters.kind || null] : kinds;
      var controller = (state.assets = new AbortController());
      var zoom = Math.round(map.getZoom());
      Promise.all(asks.map(function (kind) {
        var extra = L.extend({}, options.filters, { zoom: zoom, kind: kind });
        return getJson(address(options.assetsUrl, extra), controller.signal);
      }))
        .then(function (answers) {
          if (state.assets === controller) state.assets = null;
          drawAssets(answers, kinds, zoom);
        })
        .catch(function (error) {
          if (error && error.name === "AbortError") return;
          say(options.failedView);
        });
    }

    function refreshHazards() {
      if (state.hazardsDone) return;
      if (state.hazards) state.hazards.abort();
      var controller = (state.hazards = new AbortController());
      getJson(address(options.hazardsUrl, {}), controller.signal)
        .then(function (answer) {
          if (state.hazards === controller) state.hazards = null;
          drawHazards(answer);
        })
        .catch(function () {});
    }

    function refresh() {
      state.timer = null;
      refreshAssets();
      refreshHazards();
    }

    function later() {
      if (state.timer) clearTimeout(state.timer);
      state.timer = setTimeout(refresh, options.delay || 80);
    }

    map.on("moveend", later);
    map.on("overlayadd overlayremove", function (event) {
      if (event.layer && event.layer.sarKind && !state.assetsDone) later();
    });
    later();
    return state;
  };

  // Near (zoom >= options.nearZoom) the second-level grids' labels show, far the first's.
  function watchZoom(map, nearZoom) {
    if (map.sarZoomWatched) return;
    map.sarZoomWatched = true;
    function mark() {
      var near = map.getZoom() >= nearZoom;
      L.DomUtil[near ? "addClass" : "removeClass"](map.getContainer(), "sar-near");
      L.DomUtil[near ? "removeClass" : "addClass"](map.getContainer(), "sar-far");
    }
    map.on("zoomend", mark);
    mark();
  }

  // A document several layers draw, given once (the second-level grids: outlines and the
  // choropleth); a layer's data {shared: key} names it.
  SAR.shared = {};
  SAR.share = function (key, data) {
    SAR.shared[key] = data;
  };

  SAR.gridLayer = function (map, data, options) {
    if (data && data.shared) data = SAR.shared[data.shared];
    var shapes = L.geoJSON(null, {
      style: function (feature) {
        if (options.choropleth) {
          return { color: "#555", weight: 1, fillColor: feature.properties.fill, fillOpacity: 0.6 };
        }
        return {
          color: "#1f4e79",
          weight: options.weight || 2,
          dashArray: options.dashArray || null,
          fill: false,
        };
      },
      onEachFeature: function (feature, layer) {
        var tooltip = feature.properties.tooltip; // escaped by the server, as is its line
        if (options.choropleth && feature.properties.overdue) {
          tooltip += "<br>" + feature.properties.overdue;
        }
        layer.bindTooltip(tooltip, { sticky: true });
      },
    });
    // Each grid's code and name at its centre, shown with the grid layer.
    var labels = options.labelLevel ? L.layerGroup() : null;
    function label(feature) {
      L.marker(feature.properties.centre, {
        icon: L.divIcon({
          className: "sar-grid-anchor",
          // the level is a number of ours; the label was escaped by the server
          html:
            '<span class="sar-grid-label sar-grid-label-' + Number(options.labelLevel) + '">' +
            feature.properties.label + "</span>",
          iconSize: [0, 0],
        }),
        interactive: false,
        keyboard: false,
      }).addTo(labels);
    }
    // Draws a FeatureCollection instead of the one drawn (SAR.gridView's answers).
    shapes.sarSetData = function (collection) {
      shapes.clearLayers();
      if (labels) labels.clearLayers();
      if (!collection) return;
      shapes.addData(collection);
      if (labels) collection.features.forEach(label);
    };
    if (labels) {
      watchZoom(map, options.nearZoom);
      shapes.on("add", function () {
        labels.addTo(map);
      });
      shapes.on("remove", function () {
        labels.remove();
      });
    }
    shapes.sarSetData(data);
    return shapes;
  };

  // A province's grids: the page embeds none; each view's are fetched (maps/api.py) and
  // drawn in the grid layers, the second level in both its outlines and the choropleth.
  SAR.gridView = function (map, options) {
    var state = { timer: null, controller: null };
    function refresh() {
      state.timer = null;
      var params = new URLSearchParams();
      Object.keys(options.filters).forEach(function (key) {
        var value = options.filters[key];
        if (value !== null && value !== undefined) params.set(key, String(value));
      });
      var bbox = viewBox(map, options.gcj02);
      if (bbox) params.set("bbox", bbox);
      // the overdue counts only while the choropleth shows (it starts hidden)
      var choropleth = SAR.layers.choropleth && map.hasLayer(SAR.layers.choropleth);
      params.set("choropleth", choropleth ? "1" : "0");
      if (state.controller) state.controller.abort();
      var controller = (state.controller = new AbortController());
      fetch(options.gridsUrl + "?" + params.toString(), {
        credentials: "same-origin",
        // the tooltips in the page's language (the API's otherwise follows the browser's)
        headers: { Accept: "application/json", "Accept-Language": document.documentElement.lang },
        signal: controller.signal,
      })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (answer) {
          if (state.controller === controller) state.controller = null;
          var drawn = { "grids:1": answer.level1, "grids:2": answer.level2, choropleth: answer.level2 };
          Object.keys(drawn).forEach(function (key) {
            if (SAR.layers[key]) SAR.layers[key].sarSetData(drawn[key]);
          });
          // what is drawn, for the page's tests: the box asked about, the levels left out
          map.getContainer().setAttribute("data-grids-box", bbox || "");
          map.getContainer().setAttribute("data-grids-truncated", answer.truncated.join(" "));
        })
        .catch(function () {});
    }
    function later() {
      if (state.timer) clearTimeout(state.timer);
      state.timer = setTimeout(refresh, options.delay || 250);
    }
    map.on("moveend", later);
    map.on("overlayadd", function (event) {
      if (event.layer === SAR.layers.choropleth) later();
    });
    refresh();
    map.sarGridView = state;
    return state;
  };

  // The legend folds behind its button on a phone, and stays open beside the map elsewhere.
  SAR.foldLegend = function () {
    var legend = document.getElementById("map-legend");
    if (legend && narrow()) legend.open = false;
  };

  SAR.pointLayer = function (map, data) {
    var row = data.rows[0];
    return L.marker([row[0], row[1]], {
      icon: L.divIcon({ className: "sar-point", iconSize: [22, 22], iconAnchor: [11, 11] }),
      interactive: false,
      keyboard: false, // not a control: no role="button" without a name (axe)
      zIndexOffset: 1000,
    });
  };

  // --- GCJ-02 (the same published transform as maps/coords.py) ---------------------------
  var A = 6378245.0;
  var EE = 0.00669342162296594323;

  function outOfChina(lon, lat) {
    return !(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271);
  }

  function toGcj(lon, lat) {
    if (outOfChina(lon, lat)) return [lon, lat];
    var x = lon - 105.0;
    var y = lat - 35.0;
    var pi = Math.PI;
    var dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += ((20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0) / 3.0;
    dLat += ((20.0 * Math.sin(y * pi) + 40.0 * Math.sin((y / 3.0) * pi)) * 2.0) / 3.0;
    dLat += ((160.0 * Math.sin((y / 12.0) * pi) + 320 * Math.sin((y * pi) / 30.0)) * 2.0) / 3.0;
    var dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += ((20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0) / 3.0;
    dLon += ((20.0 * Math.sin(x * pi) + 40.0 * Math.sin((x / 3.0) * pi)) * 2.0) / 3.0;
    dLon += ((150.0 * Math.sin((x / 12.0) * pi) + 300.0 * Math.sin((x / 30.0) * pi)) * 2.0) / 3.0;
    var radLat = (lat / 180.0) * pi;
    var magic = 1 - EE * Math.sin(radLat) * Math.sin(radLat);
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * pi);
    dLon = (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * pi);
    return [lon + dLon, lat + dLat];
  }

  function fromGcj(lon, lat) {
    var wgs = [lon, lat];
    for (var i = 0; i < 30; i++) {
      var gcj = toGcj(wgs[0], wgs[1]);
      var dx = gcj[0] - lon;
      var dy = gcj[1] - lat;
      wgs = [wgs[0] - dx, wgs[1] - dy];
      if (Math.max(Math.abs(dx), Math.abs(dy)) < 1e-9) break;
    }
    return wgs;
  }
  SAR.toGcj = toGcj;
  SAR.fromGcj = fromGcj;

  // --- The point picker of forms ------------------------------------------------------------
  SAR.pickerLayer = function (map, data, options) {
    var group = L.featureGroup();
    var lonInput = document.getElementById(options.longitudeInput);
    var latInput = document.getElementById(options.latitudeInput);
    var marker = null;
    function drawn(lon, lat) {
      return options.gcj02 ? toGcj(lon, lat) : [lon, lat];
    }
    function place(lon, lat) {
      var point = drawn(lon, lat);
      if (!marker) {
        marker = L.marker([point[1], point[0]], {
          icon: L.divIcon({ className: "sar-point", iconSize: [22, 22], iconAnchor: [11, 11] }),
          keyboard: false, // the inputs beside the map are the keyboard's way to the point
        }).addTo(group);
      } else {
        marker.setLatLng([point[1], point[0]]);
      }
    }
    function fromInputs() {
      if (!lonInput || !latInput) return;
      var lon = parseFloat(lonInput.value);
      var lat = parseFloat(latInput.value);
      if (isFinite(lon) && isFinite(lat) && Math.abs(lon) <= 180 && Math.abs(lat) <= 90) {
        place(lon, lat);
        map.panTo(marker.getLatLng());
      }
    }
    map.on("click", function (event) {
      var lon = event.latlng.lng;
      var lat = event.latlng.lat;
      var wgs = options.gcj02 ? fromGcj(lon, lat) : [lon, lat];
      if (lonInput && latInput) {
        lonInput.value = wgs[0].toFixed(6);
        latInput.value = wgs[1].toFixed(6);
        [lonInput, latInput].forEach(function (input) {
          input.dispatchEvent(new Event("change", { bubbles: true }));
        });
      }
      place(wgs[0], wgs[1]);
    });
    [lonInput, latInput].forEach(function (input) {
      if (input) input.addEventListener("input", fromInputs);
    });
    fromInputs();
    return group;
  };
})();
