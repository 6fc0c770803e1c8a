// The hazard report form: "use my location" fills longitude and latitude from the browser's
// geolocation (WGS-84); the map picker follows the inputs.
(function () {
  "use strict";
  var script = document.currentScript;
  var button = document.getElementById("use-my-location");
  var longitude = document.getElementById("longitude");
  var latitude = document.getElementById("latitude");
  var status = document.getElementById("location-status");
  if (!button || !longitude || !latitude || !("geolocation" in navigator)) {
    return;
  }
  function say(key, accuracy) {
    var text = (script && script.getAttribute("data-" + key)) || "";
    status.textContent = text.replace("{m}", accuracy === undefined ? "" : String(accuracy));
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    say("locating");
    navigator.geolocation.getCurrentPosition(
      function (position) {
        longitude.value = position.coords.longitude.toFixed(6);
        latitude.value = position.coords.latitude.toFixed(6);
        latitude.dispatchEvent(new Event("input", { bubbles: true }));
        say("located", Math.round(position.coords.accuracy));
        button.disabled = false;
      },
      function () {
        say("failed");
        button.disabled = false;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
