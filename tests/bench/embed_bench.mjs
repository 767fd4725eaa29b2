// What a reader of a blog post pays for a figure, in headless Chromium (docs/EMBEDS.md): a saved view
// made by the CLI on a GPT-2-small-shaped checkpoint, drawn by the embed (?embed=1&snapshot=URL) and by
// <lm-debugger> on a plain page, against its peer in the same run: the same embed loading the model
// first (what an embed cost before saved views). Then "Make it live" on the saved view, once.
//
//   /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out build/bench-models/gpt2-small
//   npm run build:native && npm run build:demo
//   node tests/bench/embed_bench.mjs [--runs 7] [--live-runs 3] [--model build/bench-models/gpt2-small]
//
// Each run is a fresh browser profile (nothing cached). Times are performance.now() in the page from
// navigation start: "own files" is when the last of the page's own files (HTML, JS, CSS; not the saved
// view, not the model) arrived; "drawn" is when the first prediction row of a trace is in the DOM. Bytes
// are every response (body + headers) of the page and its workers until drawn, before any click.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../demo/serve.mjs';
import { startHub } from '../js/helpers.js';
import { launch } from '../e2e/lib.mjs';
import { median, options } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { opt } = options(process.argv.slice(2));
const RUNS = Number(opt('--runs', 7));
const LIVE_RUNS = Number(opt('--live-runs', 3));
const modelDir = path.resolve(opt('--model', path.join(root, 'build/bench-models/gpt2-small')));
const PROMPT = 'The capital of France is';

const staticDir = mkdtempSync(path.join(os.tmpdir(), 'lmdbg-embed-bench-'));
const REPO = 'bench/gpt2-small'; // on the mock Hub (tests/js/helpers.js), mirrored same-origin under /_hub/
const t0 = performance.now();
execFileSync(path.join(root, 'build/lmdbg'), ['snapshot', modelDir, '--prompt', PROMPT, '--intervene', '11:2046:off', '--view', 'prediction',
  '--name', 'GPT-2-small-shaped (random weights)', '--source', `hub:${REPO}`, '-o', path.join(staticDir, 'view.json')]);
const cliMs = performance.now() - t0;
const snapshotBytes = statSync(path.join(staticDir, 'view.json')).size;
const modelBytes = statSync(path.join(modelDir, 'model.safetensors')).size;
writeFileSync(path.join(staticDir, 'element.html'), `<!doctype html><meta charset="utf-8"><title>A post</title>
<script type="module" src="/lm-debugger.js"></script>
<p>A figure:</p>
<lm-debugger id="f" snapshot="/_hub/view.json" hub="/_hub"></lm-debugger>`);

const hub = await startHub({ staticRoot: staticDir, repos: { [REPO]: modelDir } });
const site = await startServer({ root: path.join(root, 'demo/dist'), port: 0, hubProxy: hub.url });
const MODEL_FILE = /model\.safetensors|\.wasm$|config\.json|vocab\.json|merges\.txt/;

/** Records, in the page, when the first prediction row of a trace is drawn (in the document or in a figure's shadow root). */
const DRAWN_PROBE = () => {
  const find = () => {
    const el = document.querySelector('lm-debugger');
    const app = el ? el.app : window.lmdbgApp;
    return app?.trace && (el ? el.shadowRoot : document).querySelector('#prediction .pred-row');
  };
  const tick = () => {
    if (find()) window.__drawn = performance.now();
    else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
};

async function measure(url, { live = false } = {}) {
  const { context, close } = await launch('embed-bench', { width: 700, height: 460 });
  try {
    // Every request of the page and its workers (the model loads in a Worker), with the bytes of each response.
    const requests = [];
    context.on('requestfinished', (q) => requests.push(q.sizes().then((z) => ({ url: q.url(), bytes: z.responseBodySize + z.responseHeadersSize }))));
    const page = await context.newPage();
    await page.addInitScript(DRAWN_PROBE);
    await page.goto(url);
    // The peer: an embed of a Hub model asks before it downloads; the reader clicks at once.
    if (!/snapshot=|element/.test(url)) {
      await page.locator('#welcome button.primary').click({ timeout: 60_000 });
    }
    await page.waitForFunction(() => window.__drawn !== undefined, null, { timeout: 300_000 });
    await page.waitForTimeout(300); // anything fetched just after drawing counts too
    const r = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource');
      const own = res.filter((e) => !/\/_hub\//.test(e.name) && !/\/models\//.test(e.name) && !/\.wasm$/.test(e.name) && e.startTime < window.__drawn);
      const snap = res.find((e) => /view\.json$/.test(e.name));
      return { drawn: window.__drawn, ownFiles: Math.max(nav.responseEnd, ...own.map((e) => e.responseEnd)), snapshotEnd: snap ? snap.responseEnd : NaN };
    });
    const done = await Promise.all(requests.splice(0));
    r.bytes = done.reduce((a, q) => a + q.bytes, 0);
    r.modelFiles = done.map((q) => q.url).filter((u) => MODEL_FILE.test(u));
    if (live) {
      // "Make it live": the click to the first live trace of the saved prompt.
      const click = await page.evaluate(() => performance.now());
      await page.locator('#make-live').click();
      await page.waitForFunction(() => window.lmdbgApp.dbg && window.lmdbgApp.traces > 1 && !document.querySelector('#busy.on'), null, { timeout: 600_000 });
      r.liveMs = (await page.evaluate(() => performance.now())) - click;
      r.fingerprintNote = await page.locator('#embed-note').textContent();
    }
    return r;
  } finally {
    await close();
  }
}

const snapUrl = `${encodeURIComponent('/_hub/view.json')}&hub=%2F_hub`;
const rows = { saved: [], element: [], live: [] };
for (let i = 0; i < Math.max(RUNS, LIVE_RUNS); i++) {
  // Alternating, so that the machine's other load hits each alike.
  if (i < RUNS) rows.saved.push(await measure(`${site.url}?embed=1&snapshot=${snapUrl}`));
  if (i < RUNS) rows.element.push(await measure(`${site.url}_hub/element.html`));
  if (i < LIVE_RUNS) rows.live.push(await measure(`${site.url}?embed=1&hub=%2F_hub&m=${encodeURIComponent(`hub:${REPO}`)}&p=${encodeURIComponent(PROMPT)}&iv=L11D2046%3Aoff`));
}
const madeLive = await measure(`${site.url}?embed=1&snapshot=${snapUrl}`, { live: true });

const stat = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return `${median(v).toFixed(0)} ms (${v[0].toFixed(0)}–${v.at(-1).toFixed(0)}, n=${v.length})`;
};
const kb = (b) => `${(b / 1024).toFixed(0)} KB`;
console.log(`checkpoint ${modelDir}: model.safetensors ${(modelBytes / 1e6).toFixed(0)} MB; lmdbg snapshot (native, load + 2 passes): ${(cliMs / 1000).toFixed(1)} s; view.json ${kb(snapshotBytes)}`);
for (const [name, rs] of Object.entries(rows)) {
  if (!rs.length) continue;
  console.log(`${name.padEnd(8)} drawn ${stat(rs.map((r) => r.drawn))}; own files done ${stat(rs.map((r) => r.ownFiles))}; ` +
    `drawn after own files ${stat(rs.map((r) => r.drawn - r.ownFiles))}; ` +
    (name === 'live' ? '' : `drawn after view.json arrived ${stat(rs.map((r) => r.drawn - r.snapshotEnd))}; `) +
    `fetched ${kb(median(rs.map((r) => r.bytes)))}; model files fetched: ${[...new Set(rs.flatMap((r) => r.modelFiles.map((u) => u.replace(/^.*\//, ''))))].join(', ') || 'none'}`);
}
const ratios = rows.live.map((r, i) => r.drawn / rows.saved[i].drawn);
if (ratios.length) console.log(`peer: loading the model first draws ${median(ratios).toFixed(0)}x later (per-run ratios ${Math.min(...ratios).toFixed(0)}–${Math.max(...ratios).toFixed(0)})`);
console.log(`"Make it live" (click to the live trace, ${(modelBytes / 1e6).toFixed(0)} MB from 127.0.0.1, unpaced): ${(madeLive.liveMs / 1000).toFixed(1)} s; mismatch note: ${JSON.stringify(madeLive.fingerprintNote)}`);

await site.close();
await hub.close();
rmSync(staticDir, { recursive: true, force: true });
