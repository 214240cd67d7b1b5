// The phone's service worker (scope /m/): keeps the page shell so My work and an order open
// without a network. Orders themselves are kept by phone.js in IndexedDB (with the queue of
// actions), so what is shown offline never depends on this cache's timing.
const CACHE = "facility-phone-v1";
const SHELL = ["/m/", "/m/phone.js", "/m/phone.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // changes and the JSON API go to the network as they are: phone.js queues what fails
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/m/api/")) return;
  const shell = request.mode === "navigate" && url.pathname.startsWith("/m/");
  const key = shell ? "/m/" : url.pathname;
  if (!shell && !SHELL.includes(key)) return;
  // network first (a new version of the page lands at once), the kept copy when offline
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok && !response.redirected) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(key, copy));
        }
        return response;
      })
      .catch(() => caches.match(key).then((hit) => hit || Response.error()))
  );
});
