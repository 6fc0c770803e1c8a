// The inspection logging form, offline first. Without this script the form is a plain
// multipart post (the server does every check). With it:
// - the position: filled from the browser's geolocation, with the distance to the asset; a
//   position farther than the flag distance, or less precise than it, or none, is said so;
// - a draft: every change is kept on the phone (IndexedDB, static/js/outbox.js) with its
//   photos and its idempotency key, and restored when the page is opened again;
// - photos: made at most data-max-edge pixels on the long edge (JPEG, quality 0.8) on the
//   phone, keeping the EXIF time and GPS (piexifjs), shown as thumbnails with remove buttons;
// - saving: the result goes into the outbox and is sent to the API at once; the server's
//   field errors are shown in place (nothing chosen is lost); without signal it waits in the
//   outbox and is sent when the connection returns, by a page or the service worker.
(function () {
  "use strict";
  var form = document.getElementById("log-form");
  var SAR = window.SAR;
  if (!form) { return; }
  var data = form.dataset;
  var user = document.body.dataset.user;
  var lon = document.getElementById("stood-longitude");
  var lat = document.getElementById("stood-latitude");
  var acc = document.getElementById("stood-accuracy");
  var note = document.getElementById("position-status");
  var captureButton = document.getElementById("capture-position");
  var keyField = form.querySelector("input[name=idempotency_key]");
  var photoInput = form.querySelector("input[type=file][name=photos]");
  var photoList = document.getElementById("photo-list");
  var photoStatus = document.getElementById("photo-status");
  var banner = document.getElementById("form-errors");
  var bannerMessage = document.getElementById("form-message");
  var queued = document.getElementById("log-queued");
  var saveButton = document.getElementById("save-result");
  var completedAt = form.querySelector("input[name=completed_at]");
  var draftId = user + ":" + data.inspection;
  var flagDistance = parseFloat(data.flagDistance);
  var offlineReady = Boolean(SAR && SAR.store && SAR.outbox && window.indexedDB && window.fetch);
  var photos = [];  // {name, blob, url}
  var busy = false;

  function fill(template, values) {
    var text = template || "";
    Object.keys(values || {}).forEach(function (key) { text = text.replace("{" + key + "}", values[key]); });
    return text;
  }

  // --- The position ---------------------------------------------------------------------

  function metresBetween(lon1, lat1, lon2, lat2) {
    var radians = Math.PI / 180;
    var dLat = (lat2 - lat1) * radians;
    var dLon = (lon2 - lon1) * radians;
    var a = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(lat1 * radians) * Math.cos(lat2 * radians) * Math.sin(dLon / 2) * Math.sin(dLon / 2);
    return 2 * 6371008.8 * Math.asin(Math.min(1, Math.sqrt(a)));
  }

  function say(text, warn) {
    note.textContent = text;
    note.classList.remove("muted", "position-ok", "position-warn");
    note.classList.add(warn ? "position-warn" : "position-ok");
  }

  function showPosition() {
    if (!lon.value || !lat.value) { return; }
    var distance = Math.round(metresBetween(
      parseFloat(lon.value), parseFloat(lat.value),
      parseFloat(data.assetLongitude), parseFloat(data.assetLatitude)));
    var accuracy = acc.value ? parseFloat(acc.value) : NaN;
    var parts = [
      fill(note.dataset.captured, { m: acc.value || "?" }),
      fill(note.dataset.distance, { m: distance })
    ];
    var warn = false;
    if (distance > flagDistance) {
      parts.push(fill(note.dataset.far, { limit: flagDistance }));
      warn = true;
    }
    if (accuracy > flagDistance) {
      parts.push(fill(note.dataset.imprecise, { m: Math.round(accuracy), limit: flagDistance }));
      warn = true;
    }
    note.dataset.distanceM = String(distance);
    say(parts.join(" "), warn);
  }

  function captured(position) {
    var c = position.coords;
    lon.value = c.longitude.toFixed(7);
    lat.value = c.latitude.toFixed(7);
    acc.value = isFinite(c.accuracy) ? String(Math.round(c.accuracy)) : "";
    showPosition();
    saveDraft();
  }

  function failed(error) {
    if (lon.value) { return; }  // a kept position stands
    say(fill(note.dataset.failed, { reason: error && error.message ? error.message : "?" }), true);
  }

  function capture() {
    if (!("geolocation" in navigator)) {
      say(note.dataset.unsupported, true);
      return;
    }
    if (!lon.value) { say(note.dataset.waiting, false); }
    navigator.geolocation.getCurrentPosition(captured, failed, {
      enableHighAccuracy: true,
      timeout: 20000,
      maximumAge: 60000
    });
  }

  captureButton.addEventListener("click", capture);

  // --- Photos ---------------------------------------------------------------------------

  function binaryString(blob) {
    return blob.arrayBuffer().then(function (buffer) {
      var bytes = new Uint8Array(buffer);
      var chunks = [];
      for (var i = 0; i < bytes.length; i += 0x8000) {
        chunks.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
      }
      return chunks.join("");
    });
  }

  function binaryBlob(text) {
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i += 1) { bytes[i] = text.charCodeAt(i) & 0xff; }
    return new Blob([bytes], { type: "image/jpeg" });
  }

  // The original's EXIF on the resized JPEG: time and GPS kept, orientation applied already
  // (the canvas drew the picture upright), the new size, no old thumbnail.
  function withExif(original, resized, width, height) {
    var piexif = window.piexif;
    if (!piexif) { return Promise.resolve(resized); }
    // The EXIF segment sits at the start of a JPEG: the first 256 KB hold it.
    return binaryString(original.slice(0, 262144)).then(function (head) {
      var exif = piexif.load(head);
      exif["0th"] = exif["0th"] || {};
      exif["0th"][piexif.ImageIFD.Orientation] = 1;
      exif.Exif = exif.Exif || {};
      exif.Exif[piexif.ExifIFD.PixelXDimension] = width;
      exif.Exif[piexif.ExifIFD.PixelYDimension] = height;
      exif["1st"] = {};
      exif.thumbnail = null;
      var bytes;
      try {
        bytes = piexif.dump(exif);
      } catch (error) {  // an odd maker note: keep what matters
        var kept = {};
        [piexif.ExifIFD.DateTimeOriginal, piexif.ExifIFD.DateTimeDigitized].forEach(function (tag) {
          if (exif.Exif[tag]) { kept[tag] = exif.Exif[tag]; }
        });
        bytes = piexif.dump({ "0th": { 274: 1 }, Exif: kept, GPS: exif.GPS || {} });
      }
      return binaryString(resized).then(function (jpeg) {
        return binaryBlob(piexif.insert(bytes, jpeg));
      });
    }).catch(function () { return resized; });
  }

  function shrink(file) {
    var maxEdge = parseInt(data.maxEdge, 10);
    var keep = Promise.resolve({ name: file.name, blob: file });
    if (!window.createImageBitmap || !/^image\//.test(file.type || "image/")) { return keep; }
    return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bitmap) {
      var scale = Math.min(1, maxEdge / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size <= parseInt(data.maxBytes, 10)) {
        bitmap.close();
        return keep;
      }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.8); })
        .then(function (blob) {
          var jpeg = /jpe?g$/i.test(file.type) ? withExif(file, blob, canvas.width, canvas.height) : Promise.resolve(blob);
          return jpeg.then(function (result) {
            return { name: file.name.replace(/\.[^.]*$/, "") + ".jpg", blob: result };
          });
        });
    }, function () { return keep; });  // not an image the browser reads: the server says so
  }

  function renderPhotos() {
    photoList.textContent = "";
    photos.forEach(function (photo, index) {
      if (!photo.url) { photo.url = URL.createObjectURL(photo.blob); }
      var item = document.createElement("li");
      var image = document.createElement("img");
      image.src = photo.url;
      image.alt = fill(photoList.dataset.alt, { n: index + 1 });
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "photo-remove";
      remove.textContent = "×";
      remove.setAttribute("aria-label", fill(photoList.dataset.remove, { n: index + 1 }));
      remove.addEventListener("click", function () {
        URL.revokeObjectURL(photo.url);
        photos.splice(photos.indexOf(photo), 1);
        renderPhotos();
        saveDraft();
      });
      item.appendChild(image);
      item.appendChild(remove);
      photoList.appendChild(item);
    });
    document.body.dataset.photos = String(photos.length);
  }

  // --- The draft ------------------------------------------------------------------------

  function values() {
    var answers = {};
    form.querySelectorAll(".check-item").forEach(function (item) {
      var checked = item.querySelector("input[type=radio]:checked");
      answers[item.dataset.item] = checked ? checked.value : null;
    });
    var result = form.querySelector("input[name=result]:checked");
    return {
      answers: answers,
      result: result ? result.value : "",
      notes: form.elements.notes.value,
      completed_at: completedAt.value,
      longitude: lon.value,
      latitude: lat.value,
      accuracy: acc.value
    };
  }

  function restore(kept) {
    Object.keys(kept.answers || {}).forEach(function (key) {
      var value = kept.answers[key];
      var radio = value && form.querySelector("input[name='item_" + key + "'][value='" + value + "']");
      if (radio) { radio.checked = true; }
    });
    var result = kept.result && form.querySelector("input[name=result][value='" + kept.result + "']");
    if (result) { result.checked = true; }
    form.elements.notes.value = kept.notes || "";
    if (kept.completed_at) { completedAt.value = kept.completed_at; }
    if (kept.longitude && kept.latitude) {
      lon.value = kept.longitude;
      lat.value = kept.latitude;
      acc.value = kept.accuracy || "";
    }
  }

  var saving = null;
  function saveDraft() {
    if (!offlineReady) { return Promise.resolve(); }
    clearTimeout(saving);
    return new Promise(function (resolve) {
      saving = setTimeout(function () {
        SAR.store.put("drafts", {
          id: draftId,
          key: keyField.value,
          values: values(),
          photos: photos.map(function (photo) { return { name: photo.name, blob: photo.blob }; }),
          saved: Date.now()
        }).then(resolve, resolve);
      }, 150);
    });
  }

  function districtNow() {
    try {
      var text = new Intl.DateTimeFormat("sv-SE", {
        timeZone: data.timezone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).format(new Date());
      return text.replace(" ", "T");
    } catch (error) {
      return completedAt.value;
    }
  }

  // --- Errors in place ------------------------------------------------------------------

  function clearErrors() {
    banner.hidden = true;
    bannerMessage.textContent = "";
    form.querySelectorAll("[data-error-for]").forEach(function (element) {
      element.hidden = true;
      element.textContent = "";
    });
    form.querySelectorAll(".has-error").forEach(function (element) { element.classList.remove("has-error"); });
  }

  // ``errors``: field name ("answers.<item>", "result", "photos", …) -> message(s).
  function showErrors(errors, message) {
    var unplaced = [];
    Object.keys(errors).forEach(function (name) {
      var texts = errors[name];
      var text = Array.isArray(texts) ? texts.join(" ") : String(texts);
      var place = form.querySelector("[data-error-for='" + name + "']");
      if (!place) { unplaced.push(text); return; }
      place.textContent = text;
      place.hidden = false;
      var holder = place.closest(".check-item, [data-field]");
      if (holder) { holder.classList.add("has-error"); }
    });
    banner.hidden = false;
    bannerMessage.textContent = [message || ""].concat(unplaced).join(" ").trim();
    banner.focus();
  }

  function apiErrors(errors) {
    var flat = {};
    Object.keys(errors || {}).forEach(function (location) {
      var named = errors[location];
      Object.keys(named).forEach(function (name) { flat[name] = named[name]; });
    });
    return flat;
  }

  function checkLocally(current) {
    var errors = {};
    var failedItem = false;
    Object.keys(current.answers).forEach(function (key) {
      if (!current.answers[key]) { errors["answers." + key] = data.msgItem; }
      if (current.answers[key] === "fail") { failedItem = true; }
    });
    if (!current.result) {
      errors.result = data.msgRequired;
    } else if (current.result === "pass" && failedItem) {
      errors.result = data.msgFailedPass;
    }
    return errors;
  }

  // --- Saving ---------------------------------------------------------------------------

  function showQueued() {
    form.hidden = true;
    queued.hidden = false;
    queued.focus();
    if (SAR.offline) { SAR.offline.render(); }
  }

  function entryFor(current) {
    return {
      key: keyField.value,
      user: user,
      inspection: data.inspection,
      url: data.api,
      sessionUrl: data.session,
      page: form.action,
      detail: data.detail,
      draft: draftId,
      label: data.label,
      fields: {
        answers: JSON.stringify(current.answers),
        result: current.result,
        notes: current.notes,
        completed_at: current.completed_at,
        longitude: current.longitude,
        latitude: current.latitude,
        accuracy: current.accuracy
      },
      photos: photos.map(function (photo) { return { name: photo.name, blob: photo.blob }; }),
      values: current
    };
  }

  function submit(event) {
    event.preventDefault();
    if (busy) { return; }  // a double tap sends once
    clearErrors();
    var current = values();
    var problems = checkLocally(current);
    if (Object.keys(problems).length) {
      showErrors(problems);
      return;
    }
    busy = true;
    saveButton.disabled = true;
    var entry = entryFor(current);
    clearTimeout(saving);
    SAR.outbox.add(entry)
      .then(function () { return SAR.store.remove("drafts", draftId); })
      .then(function () { return SAR.outbox.send(entry); })
      .then(function (result) {
        if (result.outcome === "sent") {
          var saved = result.body && result.body.flagged ?
            fill(data.msgFlagged, { m: Math.round(result.body.distance_m) }) : data.msgSaved;
          window.sessionStorage.setItem("sar-flash", saved);
          if (result.body && result.body.hazard) {
            // A failure opened a hazard: the next page links it (offline.js).
            window.sessionStorage.setItem("sar-flash-hazard", JSON.stringify({
              text: data.msgHazard, code: result.body.hazard
            }));
          }
          window.location.assign(data.detail);
          return;
        }
        if (result.outcome === "offline" || result.outcome === "signin") {
          if (SAR.offline) { SAR.offline.requestSync(); }
          showQueued();
          return;
        }
        // Refused or in conflict: back to a draft, the messages in place.
        return SAR.outbox.discard(entry.key).then(saveDraft).then(function () {
          busy = false;
          saveButton.disabled = false;
          if (SAR.offline) { SAR.offline.render(); }
          if (result.outcome === "refused") {
            showErrors(apiErrors(result.errors), result.message && !Object.keys(result.errors || {}).length ? result.message : "");
          } else {
            showErrors({}, result.message);
          }
        });
      })
      .catch(function () {
        busy = false;
        saveButton.disabled = false;
      });
  }

  // --- Start ----------------------------------------------------------------------------

  function start() {
    if (!offlineReady) {  // the plain form, with the position
      if (!lon.value) { capture(); } else { showPosition(); }
      return;
    }
    document.querySelectorAll(".js-only").forEach(function (element) { element.hidden = false; });
    photoInput.addEventListener("change", function () {
      var files = Array.prototype.slice.call(photoInput.files);
      photoInput.value = "";
      if (!files.length) { return; }
      photoStatus.textContent = photoStatus.dataset.working;
      files.reduce(function (chain, file) {
        return chain.then(function () {
          return shrink(file).then(function (photo) { photos.push(photo); });
        });
      }, Promise.resolve()).then(function () {
        photoStatus.textContent = "";
        renderPhotos();
        saveDraft();
      });
    });
    form.addEventListener("input", saveDraft);
    form.addEventListener("change", function (event) {
      if (event.target !== photoInput) { saveDraft(); }
    });
    form.addEventListener("submit", submit);

    Promise.all([SAR.outbox.entries(user), SAR.store.get("drafts", draftId)]).then(function (found) {
      var waiting = found[0].filter(function (entry) { return String(entry.inspection) === data.inspection; });
      var draft = found[1];
      if (waiting.length && waiting[0].state !== "refused" && waiting[0].state !== "conflict") {
        showQueued();
        return;
      }
      if (waiting.length) {  // the server refused it after all: correct it here
        var entry = waiting[0];
        keyField.value = entry.key;
        restore(entry.values || {});
        photos = entry.photos || [];
        renderPhotos();
        showErrors(apiErrors(entry.errors), entry.message);
        SAR.outbox.discard(entry.key).then(saveDraft);
      } else if (draft) {
        keyField.value = draft.key || keyField.value;
        restore(draft.values || {});
        photos = draft.photos || [];
        renderPhotos();
        document.getElementById("draft-restored").hidden = false;
      } else {
        // This phone's own key for the result, kept with the draft (a second tab takes it
        // up); the page's key serves the plain form. A page kept for offline use was made
        // earlier: the time is now.
        if (window.crypto && window.crypto.randomUUID) { keyField.value = window.crypto.randomUUID(); }
        completedAt.value = districtNow();
        saveDraft();
      }
      if (lon.value) { showPosition(); } else { capture(); }
    }, function () {
      offlineReady = false;
      if (!lon.value) { capture(); }
    });
  }

  start();
}());
