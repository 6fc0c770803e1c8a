// The service worker, served at /sw.js by core/pwa.py, which puts SAR_CONFIG in front of
// this file: the static files to precache (each with a revision), where Workbox is vendored,
// and the outbox script shared with the pages.
//
// - Static files: precached (Workbox precaching); other files under /static/ are kept as
//   they are fetched (stale-while-revalidate).
// - Pages a contractor needs in the field (the dashboard and /inspections/…): network first,
//   the kept copy when there is no signal. The logging forms of the user's inspections due
//   within a week are fetched ahead when a page asks ("refresh", with the URL of its list).
// - The outbox of results: sent on Background Sync ("sar-outbox") and when a page asks.
/* global workbox, SAR */
"use strict";

var CONFIG = self.SAR_CONFIG;
importScripts(CONFIG.workbox + "workbox-sw.js");
workbox.setConfig({ modulePathPrefix: CONFIG.workbox, debug: false });
importScripts(CONFIG.outbox);

var core = workbox.core;
var precaching = workbox.precaching;
var routing = workbox.routing;
var strategies = workbox.strategies;
var CacheableResponsePlugin = workbox.cacheableResponse.CacheableResponsePlugin;
var ExpirationPlugin = workbox.expiration.ExpirationPlugin;

var PAGES = SAR.outbox.PAGES_CACHE;
var FIELD_PAGES = /^\/($|inspections\/)/;
var LOG_PAGE = /^\/inspections\/\d+\/log$/;
var MATCH = { ignoreVary: true };

self.skipWaiting();
core.clientsClaim();
precaching.precacheAndRoute(CONFIG.precache);
precaching.cleanupOutdatedCaches();

var pages = new strategies.NetworkFirst({
  cacheName: PAGES,
  networkTimeoutSeconds: 6,
  matchOptions: MATCH,
  plugins: [
    new CacheableResponsePlugin({ statuses: [200] }),
    new ExpirationPlugin({ maxEntries: 300, maxAgeSeconds: 30 * 24 * 3600 })
  ]
});

routing.registerRoute(function (options) {
  var url = options.url;
  return options.request.mode === "navigate" && url.origin === self.location.origin &&
    FIELD_PAGES.test(url.pathname);
}, pages);

routing.registerRoute(function (options) {
  return options.url.origin === self.location.origin && options.url.pathname.indexOf("/static/") === 0;
}, new strategies.StaleWhileRevalidate({
  cacheName: "sar-static",
  plugins: [new ExpirationPlugin({ maxEntries: 200 })]
}));

function tell(message) {
  var channel = new BroadcastChannel(SAR.outbox.CHANNEL);
  channel.postMessage(message);
  channel.close();
}

// Keep the pages of the user's list: fetch those not kept yet, drop logging forms no longer
// listed (done or cancelled), and tell the pages how many are ready.
function refreshPages(listUrl) {
  return fetch(listUrl, { credentials: "same-origin", cache: "no-store", redirect: "manual" })
    .then(function (response) {
      if (!response.ok || response.type !== "basic") { return null; }
      return response.json();
    })
    .then(function (list) {
      if (!list) { return null; }
      var wanted = list.pages.map(function (path) { return new URL(path, self.location.origin).href; });
      return caches.open(PAGES).then(function (cache) {
        return cache.keys().then(function (requests) {
          return Promise.all(requests.map(function (request) {
            var url = new URL(request.url);
            if (LOG_PAGE.test(url.pathname) && wanted.indexOf(request.url) < 0) {
              return cache.delete(request);
            }
            return null;
          }));
        }).then(function () {
          return wanted.reduce(function (chain, href) {
            return chain.then(function () {
              return cache.match(href, MATCH).then(function (kept) {
                if (kept) { return null; }
                return fetch(href, { credentials: "same-origin", redirect: "manual" }).then(function (page) {
                  if (page.status === 200 && page.type === "basic") { return cache.put(href, page); }
                  return null;
                });
              });
            });
          }, Promise.resolve());
        }).then(function () {
          tell({ type: "offline-ready", user: list.user, pages: wanted.length });
        });
      });
    })
    .catch(function () { return null; });  // no signal: the next page load tries again
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type === "refresh" && data.list) {
    event.waitUntil(refreshPages(data.list));
  } else if (data.type === "flush") {
    event.waitUntil(SAR.outbox.flush());
  }
});

self.addEventListener("sync", function (event) {
  if (event.tag === "sar-outbox") {
    event.waitUntil(SAR.outbox.flush());
  }
});
