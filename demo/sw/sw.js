// lmdbg service worker: keeps the app shell and the bundled model so the page works offline after the
// first visit. The build fills in VERSION and the file lists (demo/vite.config.ts). Hub downloads are not
// handled here: the lmdbg package keeps them in its own Cache Storage ("lmdbg-models"), untouched by this
// worker.
/* global self, caches, fetch */
const VERSION = '__LMDBG_VERSION__';
const SHELL = __LMDBG_SHELL__;
const MODELS = __LMDBG_MODELS__;
const CACHE = `lmdbg-shell-${VERSION}`;
const PREFIX = 'lmdbg-shell-';
const scope = new URL(self.registration.scope);
const INDEX = new URL('./', scope).href;

async function precache() {
  const cache = await caches.open(CACHE);
  // The shell must be complete; revalidating against the HTTP cache avoids downloading twice what the
  // page just fetched.
  await cache.addAll(SHELL.map((p) => new Request(new URL(p, scope), { cache: 'no-cache' })));
  // The bundled model: best effort (the page still works online without it).
  for (const p of MODELS) {
    const url = new URL(p, scope).href;
    if (await cache.match(url)) continue;
    try {
      const r = await fetch(url, { cache: 'no-cache' });
      if (r.ok) await cache.put(url, r);
    } catch {
      /* offline during install: fetched again on next start */
    }
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const k of await caches.keys()) if (k.startsWith(PREFIX) && k !== CACHE) await caches.delete(k);
      await self.clients.claim();
    })(),
  );
});

async function fromNetworkThenCache(request) {
  const cache = await caches.open(CACHE);
  try {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5000);
    const r = await fetch(request, { signal: ctl.signal });
    clearTimeout(timer);
    if (r.ok) await cache.put(INDEX, r.clone());
    return r;
  } catch (e) {
    const hit = await cache.match(INDEX);
    if (hit) return hit;
    throw e;
  }
}

async function fromCacheThenNetwork(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const r = await fetch(request);
  // Same-origin files fetched later (e.g. lazily loaded chunks) join the cache.
  if (r.ok && r.type === 'basic' && r.status === 200) await cache.put(request, r.clone());
  return r;
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  if (req.headers.has('range')) return;
  const rel = url.pathname.slice(scope.pathname.length);
  if (rel.startsWith('_hub/')) return; // a local Hub mirror (tests): the package caches what it needs
  if (req.mode === 'navigate') event.respondWith(fromNetworkThenCache(req));
  else event.respondWith(fromCacheThenNetwork(req));
});

self.addEventListener('message', (event) => {
  if (event.data === 'lmdbg:version') event.source?.postMessage({ version: VERSION, shell: SHELL.length, models: MODELS.length });
});
