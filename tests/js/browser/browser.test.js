// lmdbg in Chromium: loading from a Hub-like server into Cache Storage (a second load works with the
// server gone), the Worker host (same API, queued calls, cancellable generate), Files, SIMD detection,
// and a Vite production build of an app that imports the package (wasm + worker assets).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { distDir, lmdbg, modelDir, root, startHub, tinyGpt2 } from '../helpers.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const PROMPT = 'The old man walked to the river';

let site, hub, ctx, page, profile, nodeTrace, big, bigTrace;

async function openPage(url = `${site.url}/tests/js/browser/page.html`) {
  const p = await ctx.newPage();
  const errors = [];
  p.on('pageerror', (e) => errors.push(e.message));
  // Chromium logs every 404/401 response (the optional value_clusters.json and value_index.bin, the error tests): not errors of ours.
  p.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
  await p.goto(url);
  await p.waitForFunction(() => window.ready === true, null, { timeout: 30_000 });
  p.errors = errors;
  return p;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM)`);
  site = await startHub({ staticRoot: root });
  // A 13 MB checkpoint (many 1 MiB cache parts) with the fixture's tokenizer, for resumed downloads.
  const tok = { vocab: readFileSync(path.join(modelDir('l4-f32'), 'vocab.json'), 'utf8'), merges: readFileSync(path.join(modelDir('l4-f32'), 'merges.txt'), 'utf8') };
  const g = tinyGpt2({ vocabSize: 507, nLayer: 4, d: 256, nHead: 4, nCtx: 32, seed: 7 });
  big = { 'config.json': g.config, 'model.safetensors': Buffer.from(g.weights), 'vocab.json': tok.vocab, 'merges.txt': tok.merges, 'value_clusters.json': null };
  hub = await startHub({
    repos: {
      'lmdbg-test/l4-f32': modelDir('l4-f32'),
      'openai-community/tiny': modelDir('l2-f16'),
      'lmdbg-test/nocache': modelDir('l4-f32'),
      // The connection drops twice while model.safetensors downloads.
      'lmdbg-test/flaky': { dir: modelDir('l4-f32'), drop: { 'model.safetensors': { after: 300_000, times: 2 } } },
      'lmdbg-test/flaky-worker': { dir: modelDir('l4-f32'), drop: { 'model.safetensors': { after: 300_000, times: 2 } } },
      'lmdbg-test/big': { files: big },
      'lmdbg-test/quota': modelDir('l4-f32'),
    },
    aliases: { tiny: 'openai-community/tiny' },
  });
  profile = mkdtempSync(path.join(tmpdir(), 'lmdbg-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  page = await openPage();
  const { LMDebugger } = await lmdbg();
  const d = await LMDebugger.load(modelDir('l4-f32'));
  nodeTrace = await d.trace(PROMPT, { positions: 'all' });
  await d.dispose();
  const b = await LMDebugger.load({ config: big['config.json'], weights: big['model.safetensors'], vocab: big['vocab.json'], merges: big['merges.txt'] });
  bigTrace = await b.trace('The old man', { positions: 'all' });
  await b.dispose();
});

afterAll(async () => {
  await ctx?.close();
  await hub?.close();
  await site?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

describe('Chromium, main thread', () => {
  it('SIMD is detected', async () => {
    expect(await page.evaluate(() => window.lmdbg.simdSupported())).toBe(true);
  });

  it('relaxed SIMD is detected: the page runs lmdbg-relaxed.wasm, like Node here (with the flag)', async () => {
    const wasm = await page.evaluate(async (dir) => {
      await (await window.lmdbg.LMDebugger.load(`${dir}/`, { cache: false })).dispose();
      return performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname.split('/').pop()).filter((n) => n.endsWith('.wasm'));
    }, `${site.url}/tests/fixtures/models/l2-f16`);
    expect(wasm).toEqual(['lmdbg-relaxed.wasm']);
    const { moduleUrl } = await import(path.join(distDir, 'module.js'));
    expect(path.basename(moduleUrl())).toBe('lmdbg-relaxed.wasm');
  });

  it('loads a Hub id over HTTP with progress, the same numbers as Node; a second load comes from Cache Storage without one request', async () => {
    const first = await page.evaluate(async ({ host, prompt }) => {
      const events = [];
      const dbg = await window.lmdbg.LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host, onProgress: (p) => events.push(p) });
      const trace = await dbg.trace(prompt, { positions: 'all' });
      await dbg.dispose();
      const keys = (await (await caches.open('lmdbg-models')).keys()).map((r) => r.url);
      return { events, trace, keys };
    }, { host: hub.url, prompt: PROMPT });
    expect(first.trace).toEqual(nodeTrace);
    expect(first.events.every((e) => !e.fromCache)).toBe(true);
    const w = first.events.filter((e) => e.file === 'model.safetensors');
    expect(w.length).toBeGreaterThan(1);
    expect(w.at(-1).loaded).toBe(w.at(-1).total);
    expect(first.events.at(-1).loadedAll).toBe(first.events.at(-1).totalAll);
    expect(first.keys.sort()).toEqual(['config.json', 'merges.txt', 'model.safetensors', 'value_clusters.json', 'value_index.bin', 'vocab.json']
      .map((f) => `${hub.url}/lmdbg-test/l4-f32/resolve/main/${f}`));

    const before = hub.requests().length;
    const second = await page.evaluate(async ({ host, prompt }) => {
      const events = [];
      const dbg = await window.lmdbg.LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host, onProgress: (p) => events.push(p) });
      const trace = await dbg.trace(prompt, { positions: 'all' });
      await dbg.dispose();
      return { events, trace };
    }, { host: hub.url, prompt: PROMPT });
    expect(hub.requests().length).toBe(before); // nothing fetched
    expect(second.trace).toEqual(nodeTrace);
    expect(second.events.length).toBeGreaterThan(0);
    expect(second.events.every((e) => e.fromCache)).toBe(true);
    expect(second.events.at(-1).loadedAll).toBe(first.events.at(-1).loadedAll);
  });

  it('cache: false fetches every time and stores nothing; a short id follows the Hub redirect', async () => {
    const r = await page.evaluate(async ({ host }) => {
      for (let i = 0; i < 2; i++) await (await window.lmdbg.LMDebugger.load('lmdbg-test/nocache', { hubHost: host, cache: false })).dispose();
      const d = await window.lmdbg.LMDebugger.load('tiny', { hubHost: host, cache: 'other-cache' });
      const nLayers = d.config.nLayers;
      await d.dispose();
      const nocache = (await (await caches.open('lmdbg-models')).keys()).filter((k) => k.url.includes('nocache')).length;
      const other = (await (await caches.open('other-cache')).keys()).length;
      return { nLayers, nocache, other };
    }, { host: hub.url });
    expect(hub.requests((q) => q.path === '/lmdbg-test/nocache/resolve/main/config.json').length).toBe(2);
    expect(r).toEqual({ nLayers: 2, nocache: 0, other: 6 }); // the four files and the two optional ones' answers
  });

  it('Files (as from <input type=file>), in the page and in a Worker; errors with the engine message', async () => {
    const r = await page.evaluate(async ({ host, prompt }) => {
      const names = ['config.json', 'vocab.json', 'merges.txt', 'model.safetensors'];
      const files = await Promise.all(names.map(async (n) =>
        new File([await (await fetch(`${host}/lmdbg-test/l4-f32/resolve/main/${n}`)).blob()], n)));
      const dbg = await window.lmdbg.LMDebugger.load(files, { cache: false });
      const trace = await dbg.trace(prompt, { positions: 'all' });
      const err = await dbg.trace(prompt, { topk: 1 }).catch((e) => [e instanceof Error, e.message]);
      await dbg.dispose();
      const after = await dbg.trace(prompt).catch((e) => e.message);
      const missing = await window.lmdbg.LMDebugger.load('nobody/nothing', { hubHost: host }).catch((e) => e.message);
      const inWorker = await window.lmdbg.LMDebugger.load(files, { worker: true });
      const workerTrace = await inWorker.trace(prompt, { positions: 'all' });
      await inWorker.dispose();
      const partial = await window.lmdbg.LMDebugger.load(files.slice(1), { worker: true }).catch((e) => e.message);
      return { trace, err, after, missing, workerTrace, partial };
    }, { host: hub.url, prompt: PROMPT });
    expect(r.trace).toEqual(nodeTrace);
    expect(r.err).toEqual([true, 'trace options: unknown option "topk"']);
    expect(r.after).toBe('lmdbg: this model has been disposed');
    expect(r.missing).toMatch(/no model "nobody\/nothing"/);
    expect(r.workerTrace).toEqual(nodeTrace);
    expect(r.partial).toMatch(/missing file config\.json among the given files/);
  });
});

describe('Chromium, Worker host ({ worker: true })', () => {
  it('the same API and results; calls are queued in order; typed arrays come back as copies', async () => {
    const r = await page.evaluate(async ({ host, prompt }) => {
      const events = [];
      const dbg = await window.lmdbg.LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host, worker: true, onProgress: (p) => events.push(p) });
      const order = [];
      const tag = (name, p) => p.then((v) => (order.push(name), v));
      const [trace, ids, cache, mem, search] = await Promise.all([
        tag('trace', dbg.trace(prompt, { positions: 'all' })),
        tag('tokenize', dbg.tokenize(prompt)),
        tag('cache', dbg.runWithCache(prompt, { names: ['blocks.0.mlp.hook_post'] })),
        tag('memory', dbg.memory()),
        tag('search', dbg.search('river', { limit: 3 })),
      ]);
      const h = cache.hooks['blocks.0.mlp.hook_post'];
      const tokens = [];
      for await (const t of dbg.generate(prompt, { maxNewTokens: 5 })) tokens.push(t.id);
      await dbg.dispose();
      return { config: dbg.config, trace, ids, order, dims: h.dims, isF32: h.data instanceof Float32Array, len: h.data.length,
        mem, hits: search.hits.length, tokens, fromCache: events.every((e) => e.fromCache) };
    }, { host: hub.url, prompt: PROMPT });
    expect(r.trace).toEqual(nodeTrace);
    expect(r.order).toEqual(['trace', 'tokenize', 'cache', 'memory', 'search']);
    expect(r.config.nLayers).toBe(4);
    expect(r.dims).toEqual([r.ids.length, 256]);
    expect(r.isF32 && r.len === r.ids.length * 256).toBe(true);
    expect(r.mem.weightBytes).toBeGreaterThan(0);
    expect(r.hits).toBe(3);
    expect(r.tokens.length).toBe(5);
    expect(r.fromCache).toBe(true); // the Worker shares the page's Cache Storage
    const { LMDebugger } = await lmdbg();
    const d = await LMDebugger.load(modelDir('l4-f32'));
    const want = [];
    for await (const t of d.generate(PROMPT, { maxNewTokens: 5 })) want.push(t.id);
    await d.dispose();
    expect(r.tokens).toEqual(want);
  });

  it('generate is cancellable (AbortSignal, leaving the loop), later calls still run; dispose ends the worker', async () => {
    const r = await page.evaluate(async ({ host, prompt }) => {
      const dbg = await window.lmdbg.LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host, worker: true });
      const ctl = new AbortController();
      const got = [];
      const err = await (async () => {
        for await (const t of dbg.generate(prompt, { maxNewTokens: 25, signal: ctl.signal, stopAtEndOfText: false })) {
          got.push(t.id);
          if (got.length === 2) ctl.abort();
        }
      })().catch((e) => e.name);
      let n = 0;
      for await (const _ of dbg.generate(prompt, { maxNewTokens: 25 })) if (++n === 3) break;
      const afterCancel = (await dbg.tokenize('river')).length;
      const bad = await dbg.valueVector(99, 0).catch((e) => e.message);
      const pending = dbg.trace(prompt);
      const gen = dbg.generate(prompt, { maxNewTokens: 20 });
      await gen.next();
      await dbg.dispose();
      await dbg.dispose();
      const pendingOk = (await pending).positions.length === 1;
      const genAfter = await gen.next().then(() => 'no error', (e) => e.message);
      const after = await dbg.memory().catch((e) => e.message);
      return { err, got: got.length, n, afterCancel, bad, pendingOk, genAfter, after };
    }, { host: hub.url, prompt: PROMPT });
    expect(r.err).toBe('AbortError');
    expect(r.got).toBe(2);
    expect(r.n).toBe(3);
    expect(r.afterCancel).toBeGreaterThan(0);
    expect(r.bad).toMatch(/layer 99/);
    expect(r.pendingOk).toBe(true);
    expect(r.genAfter).toMatch(/disposed/);
    expect(r.after).toBe('lmdbg: this model has been disposed');
  });

  it('precompute runs in the Worker when idle and leaves results unchanged', async () => {
    const r = await page.evaluate(async ({ host, prompt }) => {
      const dbg = await window.lmdbg.LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host, worker: true, precompute: true });
      const t0 = Date.now();
      let m = await dbg.memory();
      while (!(m.searchReady && m.valueIndex.filled === m.valueIndex.total) && Date.now() - t0 < 60000) {
        await new Promise((res) => setTimeout(res, 50));
        m = await dbg.memory();
      }
      const trace = await dbg.trace(prompt, { positions: 'all' });
      await dbg.dispose();
      return { m, trace };
    }, { host: hub.url, prompt: PROMPT });
    expect(r.m.searchReady).toBe(true);
    expect(r.m.valueIndex).toEqual({ filled: 1024, total: 1024 });
    expect(r.trace).toEqual(nodeTrace);
  });

  it('the page stays responsive while the worker computes (the main-thread host blocks it)', async () => {
    const r = await page.evaluate(async ({ host, prompt }) => {
      // Longest gap between timer ticks on the main thread while `work` runs.
      const watch = async (work) => {
        let last = performance.now(), maxGap = 0, running = true;
        const tick = () => {
          const now = performance.now();
          maxGap = Math.max(maxGap, now - last);
          last = now;
          if (running) setTimeout(tick, 0);
        };
        setTimeout(tick, 0);
        const t0 = performance.now();
        await work();
        const total = performance.now() - t0;
        await new Promise((r) => setTimeout(r, 0)); // the pending tick measures the last gap
        running = false;
        return { maxGap, total };
      };
      const many = (dbg) => Promise.all(Array.from({ length: 8 }, () => dbg.trace(prompt, { positions: 'all', rawLens: true })));
      const w = await window.lmdbg.LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host, worker: true });
      await w.trace(prompt);
      const inWorker = await watch(() => many(w));
      await w.dispose();
      const m = await window.lmdbg.LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host });
      await m.trace(prompt);
      const inPage = await watch(() => many(m));
      await m.dispose();
      return { inWorker, inPage };
    }, { host: hub.url, prompt: PROMPT });
    console.log(`8 full traces: worker ${r.inWorker.total.toFixed(0)} ms, longest main-thread gap ${r.inWorker.maxGap.toFixed(1)} ms; ` +
      `main thread ${r.inPage.total.toFixed(0)} ms, longest gap ${r.inPage.maxGap.toFixed(1)} ms`);
    expect(r.inPage.maxGap).toBeGreaterThan(r.inPage.total / 16); // each synchronous call blocks the page
    expect(r.inWorker.maxGap).toBeLessThan(r.inWorker.total / 4); // never blocked for two calls' time
  });

  it('load errors and aborts reach the page', async () => {
    const r = await page.evaluate(async ({ host }) => {
      const missing = await window.lmdbg.LMDebugger.load('nobody/nothing', { hubHost: host, worker: true }).catch((e) => e.message);
      const ctl = new AbortController();
      ctl.abort();
      const aborted = await window.lmdbg.LMDebugger.load('tiny', { hubHost: host, worker: true, signal: ctl.signal }).catch((e) => e.name);
      return { missing, aborted };
    }, { host: hub.url });
    expect(r.missing).toMatch(/no model "nobody\/nothing"/);
    expect(r.aborted).toBe('AbortError');
    expect(page.errors).toEqual([]);
  });
});

describe('Chromium, downloads from the Hub as a user meets them', () => {
  const weightRequests = (repo) => hub.requests((q) => q.path === `/cdn/${repo}/resolve/main/model.safetensors`);

  it('a dropped connection is resumed with HTTP Range requests, in the page and in a Worker', async () => {
    for (const [repo, worker] of [['lmdbg-test/flaky', false], ['lmdbg-test/flaky-worker', true]]) {
      const r = await page.evaluate(async ({ host, prompt, repo, worker }) => {
        await caches.delete('flaky');
        const dbg = await window.lmdbg.LMDebugger.load(repo, { hubHost: host, worker, cache: 'flaky' });
        const trace = await dbg.trace(prompt, { positions: 'all' });
        await dbg.dispose();
        const cached = await (await caches.open('flaky')).match(`${host}/${repo}/resolve/main/model.safetensors`);
        return { trace, cachedBytes: cached ? (await cached.arrayBuffer()).byteLength : 0 };
      }, { host: hub.url, prompt: PROMPT, repo, worker });
      expect(r.trace).toEqual(nodeTrace);
      // Cut twice (after 300 kB of each answer): two Range requests, each for the rest from the last byte
      // the page received (a stream that errors drops what it had queued, so not always 300 kB further).
      const reqs = weightRequests(repo);
      expect(reqs.length).toBe(3);
      expect(reqs[0].range).toBe(null);
      const starts = reqs.slice(1).map((q) => Number(/^bytes=(\d+)-$/.exec(q.range)?.[1]));
      expect(starts[0]).toBeGreaterThan(0);
      expect(starts[1]).toBeGreaterThanOrEqual(starts[0]);
      expect(reqs.map((q) => q.status)).toEqual([200, 206, 206]);
      expect(r.cachedBytes).toBe(1016544); // the whole file, kept for next time
    }
  });

  it('an interrupted download resumes where it stopped on the next load; its first bytes come from the cache', async () => {
    const r = await page.evaluate(async ({ host }) => {
      await caches.delete('big');
      const ctl = new AbortController();
      let stoppedAt = 0;
      const first = await window.lmdbg.LMDebugger.load('lmdbg-test/big', {
        hubHost: host, cache: 'big', signal: ctl.signal,
        onProgress: (p) => {
          if (p.file === 'model.safetensors' && p.loaded > 6e6 && !ctl.signal.aborted) {
            stoppedAt = p.loaded;
            ctl.abort();
          }
        },
      }).then(() => 'loaded', (e) => e.name);
      const kept = (await (await caches.open('big')).keys()).map((q) => q.url.replace(/^.*\//, ''));
      const events = [];
      const dbg = await window.lmdbg.LMDebugger.load('lmdbg-test/big', { hubHost: host, cache: 'big', onProgress: (p) => events.push(p) });
      const trace = await dbg.trace('The old man', { positions: 'all' });
      await dbg.dispose();
      const w = events.filter((e) => e.file === 'model.safetensors');
      const keys = (await (await caches.open('big')).keys()).map((q) => q.url.replace(/^.*\//, '')).sort();
      // A third load reads it all from the cache.
      const third = [];
      await (await window.lmdbg.LMDebugger.load('lmdbg-test/big', { hubHost: host, cache: 'big', onProgress: (p) => third.push(p) })).dispose();
      return { first, stoppedAt, kept, trace, keys, total: w.at(-1).total,
        cachedUpTo: Math.max(...w.filter((e) => e.fromCache).map((e) => e.loaded)), netFrom: Math.min(...w.filter((e) => !e.fromCache).map((e) => e.loaded)),
        thirdAllCached: third.every((e) => e.fromCache) };
    }, { host: hub.url });
    expect(r.first).toBe('AbortError');
    expect(r.kept.some((k) => k.startsWith('model.safetensors?lmdbg-bytes='))).toBe(true);
    const resumed = weightRequests('lmdbg-test/big').at(-1);
    const from = Number(/^bytes=(\d+)-$/.exec(resumed.range)[1]);
    expect(resumed.status).toBe(206);
    // Every byte received before the abort was kept: the next load asks only for the rest.
    expect(from).toBeGreaterThanOrEqual(r.stoppedAt);
    expect(from).toBeLessThan(r.total);
    expect(r.cachedUpTo).toBe(from);
    expect(r.netFrom).toBeGreaterThan(from);
    expect(r.trace).toEqual(bigTrace);
    expect(r.keys.filter((k) => !k.includes('?'))).toEqual(['config.json', 'merges.txt', 'model.safetensors', 'value_clusters.json', 'value_index.bin', 'vocab.json']);
    expect(r.thirdAllCached).toBe(true);
    expect(weightRequests('lmdbg-test/big').length).toBe(2); // none for the third load
  });

  it('when Cache Storage refuses (quota), the load goes on without caching and says so', async () => {
    const cdp = await ctx.newCDPSession(page);
    const usage = await page.evaluate(async () => (await navigator.storage.estimate()).usage);
    // Room for the small files, not for the 1 MB model.safetensors.
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: site.url, quotaSize: usage + 200_000 });
    try {
      for (const worker of [false, true]) {
        const r = await page.evaluate(async ({ host, prompt, worker }) => {
          await caches.delete('quota');
          const events = [];
          const dbg = await window.lmdbg.LMDebugger.load('lmdbg-test/quota', { hubHost: host, worker, cache: 'quota', onProgress: (p) => events.push(p) });
          const trace = await dbg.trace(prompt, { positions: 'all' });
          await dbg.dispose();
          const keys = (await (await caches.open('quota')).keys()).map((q) => q.url.replace(/^.*\//, '')).sort();
          return { trace, keys, refused: [...new Set(events.filter((e) => e.cacheError).map((e) => `${e.file}: ${e.cacheError}`))] };
        }, { host: hub.url, prompt: PROMPT, worker });
        expect(r.trace).toEqual(nodeTrace);
        expect(r.keys).toEqual(['config.json', 'merges.txt', 'value_clusters.json', 'value_index.bin', 'vocab.json']);
        expect(r.refused).toEqual([
          'model.safetensors: the browser refused to keep model.safetensors in Cache Storage (its storage quota for this site is full), so it will be downloaded again next time',
        ]);
      }
    } finally {
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: site.url });
      await cdp.detach();
    }
  });
});

describe('Vite', () => {
  it('a production build of an app importing the package emits the wasm and the worker, and runs', async () => {
    const { build } = await import('vite');
    const app = mkdtempSync(path.join(tmpdir(), 'lmdbg-vite-'));
    try {
      writeFileSync(path.join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="./main.js"></script>');
      writeFileSync(path.join(app, 'main.js'), [
        "import { LMDebugger } from 'lmdbg';",
        'window.run = async (host, worker) => {',
        "  const dbg = await LMDebugger.load('lmdbg-test/l4-f32', { hubHost: host, worker });",
        "  const t = await dbg.trace('The old man walked to the river', { positions: 'all' });",
        '  await dbg.dispose();',
        '  return t;',
        '};',
        'window.ready = true;',
      ].join('\n'));
      await build({
        root: app, logLevel: 'error', configFile: false,
        resolve: { alias: { lmdbg: path.join(root, 'dist/index.js') } },
        build: { outDir: path.join(app, 'dist'), target: 'es2022' },
        worker: { format: 'es' },
      });
      const assets = readdirSync(path.join(app, 'dist/assets'));
      expect(assets.some((f) => /^lmdbg-.*\.wasm$/.test(f))).toBe(true);
      expect(assets.some((f) => /^worker-.*\.js$/.test(f))).toBe(true);
      const served = await startHub({ staticRoot: path.join(app, 'dist') });
      try {
        const p = await openPage(`${served.url}/index.html`);
        for (const worker of [false, true]) expect(await p.evaluate(([h, w]) => window.run(h, w), [hub.url, worker])).toEqual(nodeTrace);
        expect(p.errors).toEqual([]);
        await p.close();
      } finally {
        await served.close();
      }
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});
