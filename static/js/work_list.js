// A contractor's home: once the phone's position is known, each list of work is put nearest
// first and every item shows how far it is. The position stays in the browser. Without it
// (no permission, no JavaScript) the lists keep the server's order: by due date.
// The position is asked for at once when the browser already has permission; otherwise the
// "Nearest first" button asks (a prompt on page load is not what anyone wants).
(function () {
  "use strict";
  var script = document.currentScript;
  var button = document.getElementById("nearest-first");
  var status = document.getElementById("position-status");
  if (!button || !status || !("geolocation" in navigator)) {
    return;
  }
  var EARTH_RADIUS_M = 6371008.8;

  function say(key, accuracy) {
    var text = (script && script.getAttribute("data-" + key)) || "";
    status.textContent = text.replace("{m}", accuracy === undefined ? "" : String(accuracy));
  }

  function radians(degrees) {
    return (degrees * Math.PI) / 180;
  }

  function distanceM(lon1, lat1, lon2, lat2) {
    var dLat = radians(lat2 - lat1);
    var dLon = radians(lon2 - lon1);
    var a =
      Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(radians(lat1)) * Math.cos(radians(lat2)) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function distanceText(metres) {
    if (metres < 1000) return Math.round(metres) + " m";
    return (metres / 1000).toFixed(metres < 10000 ? 1 : 0) + " km";
  }

  function nearestFirst(position) {
    var lon = position.coords.longitude;
    var lat = position.coords.latitude;
    document.querySelectorAll(".work-list").forEach(function (list) {
      var items = Array.prototype.slice.call(list.querySelectorAll(":scope > .work-item"));
      items.forEach(function (item, index) {
        var metres = distanceM(
          lon,
          lat,
          parseFloat(item.getAttribute("data-lon")),
          parseFloat(item.getAttribute("data-lat"))
        );
        item.setAttribute("data-distance", String(Math.round(metres)));
        item.setAttribute("data-order", String(index)); // the due-date order breaks ties
        var shown = item.querySelector(".work-distance");
        if (shown) {
          shown.textContent = distanceText(metres);
          shown.hidden = false;
        }
      });
      items.sort(function (a, b) {
        var byDistance = Number(a.dataset.distance) - Number(b.dataset.distance);
        return byDistance || Number(a.dataset.order) - Number(b.dataset.order);
      });
      items.forEach(function (item) {
        list.appendChild(item);
      });
    });
    document.body.setAttribute("data-sorted", "nearest");
    say("nearest", Math.round(position.coords.accuracy));
  }

  function locate() {
    button.disabled = true;
    say("locating");
    navigator.geolocation.getCurrentPosition(
      function (position) {
        nearestFirst(position);
        button.disabled = false;
      },
      function () {
        say("failed");
        button.disabled = false;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  button.hidden = false;
  button.addEventListener("click", locate);
  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions
      .query({ name: "geolocation" })
      .then(function (permission) {
        if (permission.state === "granted") locate();
      })
      .catch(function () {});
  }
})();
