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
    var count = Number(cluster.getChildCount());
    var size = count < 100 ? 40 : count < 1000 ? 46 : 52;
    var status = BY_RANK[worst];
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

  function fetchPopup(marker, options) {
    var code = marker.options.title;
    var popup = marker.bindPopup(textNode(options.loading || "…"), { maxWidth: 340 }).getPopup();
    marker.openPopup();
    var url = options.popupUrl.replace("__CODE__", encodeURIComponent(code));
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

  SAR.assetLayer = function (map, data, options) {
    SAR.symbols = SAR.symbols || {};
    data.statuses.forEach(function (status, index) {
      SAR.symbols[status] = data.symbols[index];
    });
    var count = data.code.length;
    var markers = new Array(count);
    for (var i = 0; i < count; i++) {
      var status = data.statuses[data.status[i]];
      var marker = L.marker([data.lat[i], data.lon[i]], {
        icon: markerIcon(data.shape, status, data.symbols[data.status[i]]),
        title: data.code[i],
        alt: data.code[i],
        sarRank: RANK[status],
        sarStatus: status,
      });
      if (data.popup) {
        marker.bindPopup(data.popup[i]); // escaped by the server
      } else {
        marker.on("click", function (event) {
          if (!event.target.getPopup()) fetchPopup(event.target, options);
        });
      }
      markers[i] = marker;
    }
    if (options.cluster) return new SubGroup(clusterGroupOf(map), markers);
    var group = L.featureGroup();
    markers.forEach(function (marker) {
      group.addLayer(marker);
    });
    return group;
  };

  SAR.hazardLayer = function (map, data, options) {
    var group = L.featureGroup();
    data.rows.forEach(function (row) {
      L.circleMarker([row[0], row[1]], {
        radius: 7,
        color: "#fff",
        weight: 2,
        fillColor: options.colour,
        fillOpacity: 0.95,
        sarCode: row[2],
      })
        .bindPopup(row[3]) // escaped by the server
        .addTo(group);
    });
    return group;
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

  SAR.gridLayer = function (map, data, options) {
    var shapes = L.geoJSON(data, {
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
        layer.bindTooltip(feature.properties.tooltip, { sticky: true }); // escaped by the server
      },
    });
    if (options.labelLevel) {
      // Each grid's code and name at its centre, shown with the grid layer.
      var labels = L.layerGroup();
      data.features.forEach(function (feature) {
        var centre = feature.properties.centre;
        L.marker(centre, {
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
      });
      watchZoom(map, options.nearZoom);
      shapes.on("add", function () {
        labels.addTo(map);
      });
      shapes.on("remove", function () {
        labels.remove();
      });
    }
    return shapes;
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
