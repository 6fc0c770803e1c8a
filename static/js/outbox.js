// The logging form's drafts and outbox, kept in IndexedDB on the phone. Loaded by every page
// and by the service worker (static/js/sw.js), so that either sends what is waiting: a page
// on load and when the signal returns ("online"), the worker on Background Sync.
//
// An outbox entry is one result: its fields and photos (Blobs), the API URL it goes to, the
// URL that gives the current session's user and a fresh CSRF token, and its idempotency key,
// made once per result, so that a retry, a second tab or the worker sending it too give one
// result (the server answers a replayed key with the original result).
(function (global) {
  "use strict";
  var SAR = global.SAR = global.SAR || {};
  var DB_NAME = "sar-offline";
  var DB_VERSION = 1;
  var CHANNEL = "sar-outbox";
  var PAGES_CACHE = "sar-pages";
  var WAITING = ["waiting", "signin"];
  var opened = null;

  function openDatabase() {
    if (!opened) {
      opened = new Promise(function (resolve, reject) {
        var request = global.indexedDB.open(DB_NAME, DB_VERSION);
        request.onupgradeneeded = function () {
          var db = request.result;
          if (!db.objectStoreNames.contains("drafts")) {
            db.createObjectStore("drafts", { keyPath: "id" });
          }
          if (!db.objectStoreNames.contains("outbox")) {
            db.createObjectStore("outbox", { keyPath: "key" });
          }
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { opened = null; reject(request.error); };
      });
    }
    return opened;
  }

  function run(storeName, mode, work) {
    return openDatabase().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(storeName, mode);
        var request = work(transaction.objectStore(storeName));
        transaction.oncomplete = function () { resolve(request ? request.result : undefined); };
        transaction.onerror = transaction.onabort = function () { reject(transaction.error); };
      });
    });
  }

  SAR.store = {
    get: function (store, key) { return run(store, "readonly", function (s) { return s.get(key); }); },
    put: function (store, value) { return run(store, "readwrite", function (s) { return s.put(value); }); },
    remove: function (store, key) { return run(store, "readwrite", function (s) { return s.delete(key); }); },
    all: function (store) { return run(store, "readonly", function (s) { return s.getAll(); }); }
  };

  function announce(message) {
    if (typeof global.BroadcastChannel !== "function") { return; }
    var channel = new global.BroadcastChannel(CHANNEL);
    channel.postMessage(message || { type: "outbox-changed" });
    channel.close();
  }

  function withLock(work) {
    var locks = global.navigator && global.navigator.locks;
    return locks ? locks.request(CHANNEL, work) : work();
  }

  // The signed-in user and a fresh CSRF token; null when signed out, throws without signal.
  function currentSession(url) {
    return fetch(url, {
      credentials: "same-origin",
      cache: "no-store",
      redirect: "manual",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 401) { return null; }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    });
  }

  function firstMessage(body) {
    if (!body) { return ""; }
    if (body.message) { return String(body.message); }
    var errors = body.errors || {};
    for (var location in errors) {
      for (var name in errors[location]) {
        var texts = errors[location][name];
        return Array.isArray(texts) ? texts.join(" ") : String(texts);
      }
    }
    return "";
  }

  function post(entry, csrfToken) {
    var body = new FormData();
    Object.keys(entry.fields).forEach(function (name) {
      var value = entry.fields[name];
      if (value !== null && value !== undefined && value !== "") { body.append(name, value); }
    });
    (entry.photos || []).forEach(function (photo) { body.append("photos", photo.blob, photo.name); });
    return fetch(entry.url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      redirect: "manual",
      headers: {
        Accept: "application/json",
        "Idempotency-Key": entry.key,
        "X-CSRFToken": csrfToken || ""
      }
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) {
        var status = response.status;
        if (status === 200 || status === 201) { return { outcome: "sent", body: json }; }
        if (status === 401 || response.type === "opaqueredirect") { return { outcome: "signin" }; }
        if (status === 400 || status === 413 || status === 422) {
          return { outcome: "refused", errors: (json && json.errors) || {}, message: firstMessage(json) };
        }
        if (status === 403 || status === 404 || status === 409) {
          return { outcome: "conflict", message: firstMessage(json) };
        }
        return { outcome: "offline" };  // 5xx, a proxy's page: try again later
      });
    }, function () { return { outcome: "offline" }; });
  }

  function forgetPage(url) {
    if (!url || !global.caches) { return Promise.resolve(); }
    return global.caches.open(PAGES_CACHE).then(function (cache) {
      return cache.delete(url, { ignoreVary: true, ignoreSearch: true });
    });
  }

  // Send one entry with the session's token and keep the outcome on the entry.
  function deliver(entry, session) {
    if (!session) {
      entry.state = "signin";
      return SAR.store.put("outbox", entry).then(function () { return { outcome: "signin" }; });
    }
    if (String(session.user) !== String(entry.user)) { return Promise.resolve({ outcome: "other-user" }); }
    return post(entry, session.csrf_token).then(function (result) {
      if (result.outcome === "sent") {
        return Promise.all([
          SAR.store.remove("outbox", entry.key),
          SAR.store.remove("drafts", entry.draft),
          forgetPage(entry.page)
        ]).then(function () { return result; });
      }
      if (result.outcome === "offline") { return result; }
      entry.state = result.outcome;
      entry.message = result.message || "";
      entry.errors = result.errors || null;
      return SAR.store.put("outbox", entry).then(function () { return result; });
    });
  }

  function sessionFor(entry) {
    return currentSession(entry.sessionUrl).then(
      function (session) { return { session: session }; },
      function () { return { offline: true }; }
    );
  }

  SAR.outbox = {
    entries: function (user) {
      return SAR.store.all("outbox").then(function (all) {
        return all.filter(function (entry) {
          return user === undefined || String(entry.user) === String(user);
        }).sort(function (a, b) { return a.created - b.created; });
      });
    },

    add: function (entry) {
      entry.state = "waiting";
      entry.created = entry.created || Date.now();
      return SAR.store.put("outbox", entry).then(function () { announce(); return entry; });
    },

    discard: function (key) {
      return SAR.store.remove("outbox", key).then(function () { announce(); });
    },

    // Send this one entry now (the form's submit); the outcome says what became of it.
    send: function (entry) {
      return withLock(function () {
        return SAR.store.get("outbox", entry.key).then(function (stored) {
          if (!stored) { return { outcome: "sent" }; }  // another tab or the worker sent it
          return sessionFor(stored).then(function (found) {
            return found.offline ? { outcome: "offline" } : deliver(stored, found.session);
          });
        });
      }).then(function (result) { announce(); return result; });
    },

    // Send everything waiting, oldest first, until the signal fails.
    flush: function () {
      return withLock(function () {
        return SAR.outbox.entries().then(function (entries) {
          var waiting = entries.filter(function (entry) { return WAITING.indexOf(entry.state) >= 0; });
          var sent = 0;
          var sessions = {};
          function next(index) {
            if (index >= waiting.length) { return Promise.resolve(sent); }
            var entry = waiting[index];
            var known = sessions[entry.sessionUrl];
            var found = known ? Promise.resolve(known) : sessionFor(entry);
            return found.then(function (result) {
              sessions[entry.sessionUrl] = result;
              if (result.offline) { return sent; }
              return deliver(entry, result.session).then(function (outcome) {
                if (outcome.outcome === "offline") { return sent; }
                if (outcome.outcome === "sent") { sent += 1; }
                return next(index + 1);
              });
            });
          }
          return next(0);
        });
      }).then(function (sent) { announce(); return sent; });
    }
  };

  SAR.outbox.CHANNEL = CHANNEL;
  SAR.outbox.PAGES_CACHE = PAGES_CACHE;
}(self));
