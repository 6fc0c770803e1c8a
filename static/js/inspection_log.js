// The inspection logging form: fill the hidden longitude/latitude/accuracy fields from the
// browser's geolocation. Optional: without a position (refused, unsupported, no signal) the
// form still submits, and the note under the fields says so.
(function () {
  "use strict";
  var form = document.getElementById("log-form");
  if (!form) { return; }
  var lon = document.getElementById("stood-longitude");
  var lat = document.getElementById("stood-latitude");
  var acc = document.getElementById("stood-accuracy");
  var note = document.getElementById("position-status");
  var button = document.getElementById("capture-position");

  function say(text) { note.textContent = text; }

  function captured(position) {
    var c = position.coords;
    lon.value = c.longitude.toFixed(7);
    lat.value = c.latitude.toFixed(7);
    acc.value = isFinite(c.accuracy) ? String(Math.round(c.accuracy)) : "";
    note.classList.remove("muted");
    note.classList.add("position-ok");
    say(note.dataset.captured.replace("{m}", acc.value || "?"));
  }

  function failed(error) {
    say(note.dataset.failed.replace("{reason}", error && error.message ? error.message : "?"));
  }

  function capture() {
    if (!("geolocation" in navigator)) {
      say(note.dataset.unsupported);
      return;
    }
    say(note.dataset.waiting);
    navigator.geolocation.getCurrentPosition(captured, failed, {
      enableHighAccuracy: true,
      timeout: 20000,
      maximumAge: 60000
    });
  }

  if (button) { button.addEventListener("click", capture); }
  if (!lon.value) { capture(); }
}());
