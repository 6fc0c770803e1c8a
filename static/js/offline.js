// Every page: registers the service worker, shows the outbox of results waiting on this phone
// ("1 result waiting to send"), and sends it on load and when the signal returns. Signed out,
// it forgets the pages kept for the last user (the outbox stays until its user is back).
(function () {
  "use strict";
  var SAR = window.SAR;
  var body = document.body;
  var user = body.dataset.user;
  var box = document.getElementById("outbox");
  var FLASH_KEY = "sar-flash";

  if ("serviceWorker" in navigator && body.dataset.sw) {
    navigator.serviceWorker.register(body.dataset.sw, { scope: "/" }).catch(function () {});
  }
  if (!user) {
    if (window.caches && SAR && SAR.outbox) { window.caches.delete(SAR.outbox.PAGES_CACHE); }
    return;
  }
  if (!SAR || !SAR.store || !window.indexedDB) { return; }

  // A message a script left for the next page (the form after sending: "Result saved.").
  var left = window.sessionStorage.getItem(FLASH_KEY);
  if (left) {
    window.sessionStorage.removeItem(FLASH_KEY);
    var flash = document.createElement("div");
    flash.className = "flash flash-success";
    flash.setAttribute("role", "alert");
    flash.textContent = left;
    var main = document.querySelector("main");
    main.insertBefore(flash, box ? box.nextSibling : main.firstChild);
  }
  // And the hazard a failure opened, as a link (built from DOM nodes: the code is text).
  var hazardNote = window.sessionStorage.getItem("sar-flash-hazard");
  if (hazardNote) {
    window.sessionStorage.removeItem("sar-flash-hazard");
    var opened = JSON.parse(hazardNote);
    var parts = String(opened.text || "").split("{code}");
    var note = document.createElement("div");
    note.className = "flash flash-info";
    note.setAttribute("role", "alert");
    var link = document.createElement("a");
    link.id = "opened-hazard";
    link.href = "/hazards/" + encodeURIComponent(opened.code);
    link.textContent = opened.code;
    note.appendChild(document.createTextNode(parts[0] || ""));
    note.appendChild(link);
    note.appendChild(document.createTextNode(parts.slice(1).join("{code}")));
    var into = document.querySelector("main");
    into.insertBefore(note, into.querySelector(".flash") ? into.querySelector(".flash").nextSibling : into.firstChild);
  }

  function text(name, values) {
    var message = box.dataset[name] || "";
    Object.keys(values || {}).forEach(function (key) {
      message = message.replace("{" + key + "}", values[key]);
    });
    return message;
  }

  function render() {
    return SAR.outbox.entries(user).then(function (entries) {
      var count = document.getElementById("outbox-count");
      var list = document.getElementById("outbox-list");
      var template = document.getElementById("outbox-entry");
      box.hidden = entries.length === 0;
      body.dataset.outbox = String(entries.length);
      count.textContent = entries.length === 1 ? text("one") : text("many", { n: entries.length });
      list.textContent = "";
      entries.forEach(function (entry) {
        var item = template.content.firstElementChild.cloneNode(true);
        item.dataset.key = entry.key;
        item.dataset.state = entry.state;
        item.querySelector(".outbox-what").textContent = entry.label;
        var state = item.querySelector(".outbox-state");
        if (entry.state === "signin") { state.textContent = text("signin"); }
        if (entry.state === "refused" || entry.state === "conflict") {
          state.textContent = text("refused", { reason: entry.message || "" });
          state.classList.add("error");
          var discard = item.querySelector(".outbox-discard");
          discard.hidden = false;
          discard.addEventListener("click", function () {
            if (window.confirm(text("discardConfirm"))) { SAR.outbox.discard(entry.key); }
          });
        }
        if (entry.state === "refused" && entry.page) {
          var open = item.querySelector(".outbox-open");
          open.hidden = false;
          open.href = entry.page;
        }
        list.appendChild(item);
      });
      return entries;
    });
  }

  // One send at a time. A call during one (the signal back while a try is still failing)
  // is not dropped: the page tries again once that one ends.
  var sending = null;
  var askedAgain = false;
  function flush() {
    if (sending) {
      askedAgain = true;
      return sending;
    }
    askedAgain = false;
    sending = SAR.outbox.flush().catch(function () {}).then(function () {
      sending = null;
      return askedAgain ? flush() : render();
    });
    return sending;
  }

  SAR.offline = { render: render, flush: flush };

  if (box) {
    document.getElementById("outbox-send").addEventListener("click", flush);
    if (typeof BroadcastChannel === "function") {
      new BroadcastChannel(SAR.outbox.CHANNEL).addEventListener("message", function (event) {
        var data = event.data || {};
        if (data.type === "offline-ready" && String(data.user) === String(user)) {
          body.dataset.offlineReady = String(data.pages);
        } else {
          render();
        }
      });
    }
    render().then(flush);
    window.addEventListener("online", flush);
  }

  // Ask the worker to keep this user's pages for the field, and to send on Background Sync.
  if ("serviceWorker" in navigator && body.dataset.offlineList) {
    navigator.serviceWorker.ready.then(function (registration) {
      if (navigator.onLine && registration.active) {
        registration.active.postMessage({ type: "refresh", list: body.dataset.offlineList });
      }
    });
  }
  SAR.offline.requestSync = function () {
    if (!("serviceWorker" in navigator)) { return Promise.resolve(); }
    return navigator.serviceWorker.ready.then(function (registration) {
      return registration.sync ? registration.sync.register("sar-outbox") : null;
    }).catch(function () {});
  };
}());
