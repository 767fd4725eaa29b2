// lmdbg beside onnxruntime-web in headless Chromium: one cross-origin isolated page per thread count
// (COOP same-origin + COEP require-corp, served from 127.0.0.1), each holding both engines on the same
// random GPT-2-small weights. Where users run lmdbg; ort_bench.mjs is the same comparison in Node.
//
//   /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out build/bench-models/gpt2-small
//   /usr/bin/python3 weights_tools/export_onnx.py build/bench-models/gpt2-small        # -> .../onnx/*.onnx
//   npm run build                                # dist/ and dist/wasm/ (every build the package ships)
//   node tests/bench/browser_bench.mjs [--rounds N] [--model DIR] [--json FILE] [--threads 1,2] [--no-plain]
//                                      [--baseline DIR] [--dtypes f16,q8] [--workloads gen,fwd32,...]
//
// Pages (tabs of one Chromium, tests/bench/browser_page.mjs through the package's public API):
//   Nt        threads=N: lmdbg as the package picks its build (relaxed SIMD where the browser validates it)
//             and onnxruntime-web 1.30 (wasm EP, env.wasm.numThreads = N)
//   simd-Nt   lmdbg forced onto the plain SIMD build (only when a relaxed build exists; --no-plain skips)
//   base-Nt   with --baseline DIR: lmdbg.wasm / lmdbg-threads.* of another build (e.g. main's dist/wasm),
//             with that build's package JS too when DIR is a dist/wasm beside its dist/index.js
//             to measure a change A/B in one run
//   D-Nt      with --dtypes D,...: lmdbg (the package's choice of build) loaded with dtype D (f16, q8);
//             with --baseline too, base-D-Nt: the baseline build loaded with dtype D
// Candidates are named lmdbg-Nt, ort-Nt, lmdbg-simd-Nt, lmdbg-base-Nt, lmdbg-D-Nt. --workloads keeps only
// the named workloads (load stands for load, trace1, trace2).
//
// Workloads (token ids from lmdbg's tokenizer, common one-token words):
//   fwd1, fwd32, fwd128  a forward pass returning every position's logits [T, 50257]: lmdbg runWithCache(ids,
//                        { names: ['hook_embed'] }) (the smallest hook: no names would copy every hook),
//                        ORT gpt2-full.onnx (the same work)
//   gen                  one greedy generated token over a 32-token prompt (8 successive steps per sample,
//                        contexts 32..39): lmdbg generate(), ORT gpt2-decode.onnx fed its own present keys/values
//   load, trace1, trace2 lmdbg only: the checkpoint's bytes in memory -> a model (packing included), its first
//                        trace (32 tokens, value index empty), the same trace again; the model is then disposed
//
// Method. Every candidate is warmed up on every workload (V8 runs wasm in a baseline tier first), ORT's
// logits are checked against lmdbg's, then rounds alternate the pages and, within a page, the engines in a
// rotating order. Figures are medians of wall time (performance.now() in the page) over all samples; a
// ratio is median(B) / median(A), with the range of the per-round ratios.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_ARGS, launch } from '../e2e/lib.mjs';
import { median, options } from './common.mjs';
import { serveIsolated } from './serve.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { args: argv, opt } = options(process.argv.slice(2));
const modelDir = path.resolve(opt('--model', path.join(root, 'build/bench-models/gpt2-small')));
const rounds = Number(opt('--rounds', '5'));
const jsonOut = opt('--json', null);
const threadList = opt('--threads', '1,2').split(',').map(Number);
const noPlain = argv.includes('--no-plain');
const baseline = opt('--baseline', null);
const dtypes = opt('--dtypes', '').split(',').filter(Boolean);
const onlyWorkloads = opt('--workloads', '').split(',').filter(Boolean);

export const REPS = { fwd1: 5, fwd32: 3, fwd128: 1, gen: 8, load: 1 };
export const LABEL = {
  fwd1: '1-token forward, all logits',
  fwd32: '32-token forward, all logits',
  fwd128: '128-token forward, all logits',
  gen: 'generation step, 32-token prompt (per token)',
  load: 'load: bytes in memory -> model',
  trace1: 'first trace, 32 tokens (value index empty)',
  trace2: 'repeated trace, 32 tokens',
};

// ---------------------------------------------------------------------------------------- server
const MOUNTS = {
  '/dist/': path.join(root, 'dist'),
  '/ort/': path.join(root, 'node_modules/onnxruntime-web/dist'),
  '/model/': modelDir,
  '/bench/': path.join(root, 'tests/bench'),
  ...(baseline ? { '/base/': path.resolve(baseline) } : {}),
  ...(baseline && existsSync(path.resolve(baseline, '../index.js')) ? { '/basepkg/': path.resolve(baseline, '..') } : {}),
};

// ---------------------------------------------------------------------------------------- driver
async function main() {
  for (const f of ['model.safetensors', 'onnx/gpt2-full.onnx', 'onnx/gpt2-prefill.onnx', 'onnx/gpt2-decode.onnx'])
    if (!existsSync(path.join(modelDir, f))) throw new Error(`missing ${path.join(modelDir, f)} (see the header of tests/bench/browser_bench.mjs)`);
  if (!existsSync(path.join(root, 'dist/index.js'))) throw new Error('dist/index.js missing: npm run build');
  const relaxed = existsSync(path.join(root, 'dist/wasm/lmdbg-relaxed.wasm'));
  const pages = [];
  for (const t of threadList) {
    // Without the relaxed builds (a dist/wasm with the plain ones only) the package's choice would fail in
    // Chromium: every page then names the plain build.
    const plain = relaxed ? {} : { wasm: `/dist/wasm/${t > 1 ? 'lmdbg-threads' : 'lmdbg'}.wasm` };
    pages.push({ name: `${t}t`, threads: t, ort: true, ...plain, engines: [`lmdbg-${t}t`, `ort-${t}t`] });
    if (relaxed && !noPlain) {
      const wasm = `/dist/wasm/${t > 1 ? 'lmdbg-threads' : 'lmdbg'}.wasm`;
      pages.push({ name: `simd-${t}t`, threads: t, ort: false, wasm, engines: [`lmdbg-simd-${t}t`] });
    }
    if (baseline) {
      // With its own package JS and relaxed builds beside it, the baseline makes the package's choice too.
      const own = MOUNTS['/basepkg/'] && relaxed && existsSync(path.resolve(baseline, 'lmdbg-relaxed.wasm'));
      const pkg = MOUNTS['/basepkg/'] ? { pkg: '/basepkg/index.js' } : {};
      const wasm = own ? {} : { wasm: `/base/${t > 1 ? 'lmdbg-threads' : 'lmdbg'}.wasm` };
      pages.push({ name: `base-${t}t`, threads: t, ort: false, ...wasm, ...pkg, engines: [`lmdbg-base-${t}t`] });
      for (const d of dtypes)
        pages.push({ name: `base-${d}-${t}t`, threads: t, ort: false, dtype: d, ...wasm, ...pkg, engines: [`lmdbg-base-${d}-${t}t`] });
    }
    for (const d of dtypes) pages.push({ name: `${d}-${t}t`, threads: t, ort: false, dtype: d, ...plain, engines: [`lmdbg-${d}-${t}t`] });
  }
  const server = await serveIsolated(MOUNTS);
  const base = `http://127.0.0.1:${server.address().port}/`;
  const { context, close } = await launch('bench');
  const report = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, loadavgStart: os.loadavg() },
    browser: context.browser()?.version() ?? null,
    chromiumArgs: CHROMIUM_ARGS,
    rounds,
    pages: {},
    checks: [],
    results: {},
    ratios: [],
  };
  try {
    for (const p of pages) {
      process.stderr.write(`page ${p.name}: loading\n`);
      p.page = await context.newPage();
      p.page.on('console', (m) => m.type() === 'error' && process.stderr.write(`[${p.name}] ${m.text()}\n`));
      const qs = new URLSearchParams({ threads: String(p.threads), ort: p.ort ? '1' : '0', ...(p.wasm ? { wasm: p.wasm } : {}), ...(p.dtype ? { dtype: p.dtype } : {}), ...(p.pkg ? { pkg: p.pkg } : {}) });
      await p.page.goto(`${base}?${qs}`);
      await p.page.waitForFunction(() => window.benchReady === true);
      const info = await p.page.evaluate(() => window.bench.setup());
      if (info.threads !== p.threads) throw new Error(`page ${p.name}: lmdbg runs ${info.threads} threads, not ${p.threads}`);
      report.pages[p.name] = info;
      if (info.ort) report.ort = info.ort;
      if (p.ort) {
        for (const T of [1, 32]) {
          const c = await p.page.evaluate((T) => window.bench.check(T), T);
          report.checks.push({ page: p.name, T, ...c });
          process.stderr.write(`check ${p.name} T=${T}: max |logit diff| ${c.maxAbsDiff.toExponential(2)}, same argmax ${c.sameArgmax}\n`);
        }
      }
    }
    const workloads = Object.keys(REPS).filter((w) => !onlyWorkloads.length || onlyWorkloads.includes(w));
    const call = (p, engine, w, reps) => p.page.evaluate(([e, w, r]) => window.bench.run(e, w, r), [engine.split('-')[0], w, reps]);
    const jobs = (w) => pages.flatMap((p) => p.engines.filter((e) => w !== 'load' || e.startsWith('lmdbg')).map((e) => [p, e]));
    process.stderr.write('warm-up\n');
    for (const w of workloads) for (const [p, e] of jobs(w)) await call(p, e, w, w === 'gen' ? 4 : 1);
    const samples = {}; // workload -> candidate -> [round][sample]
    const add = (w, c, r, xs) => (((samples[w] ??= {})[c] ??= [])[r] = xs);
    for (let r = 0; r < rounds; r++) {
      process.stderr.write(`round ${r + 1}/${rounds}, load average ${os.loadavg()[0].toFixed(2)}\n`);
      for (const w of workloads) {
        const js = jobs(w);
        for (const [p, e] of js.slice(r % js.length).concat(js.slice(0, r % js.length))) {
          await p.page.bringToFront();
          const xs = await call(p, e, w, REPS[w]);
          if (w === 'load') for (const k of ['load', 'trace1', 'trace2']) add(k, e, r, xs.map((x) => x[k]));
          else add(w, e, r, xs);
        }
      }
    }
    for (const [w, byCand] of Object.entries(samples)) {
      report.results[w] = {};
      for (const [c, perRound] of Object.entries(byCand)) {
        const flat = perRound.flat();
        report.results[w][c] = { median: median(flat), min: Math.min(...flat), max: Math.max(...flat), n: flat.length, perRound: perRound.map(median) };
      }
    }
  } finally {
    await close();
    server.close();
  }
  // Ratios b / a (> 1: a is faster), from the medians, with the range of the per-round ratios.
  const pairs = [];
  for (const t of threadList) pairs.push([`lmdbg-${t}t`, `ort-${t}t`], [`lmdbg-${t}t`, `lmdbg-simd-${t}t`], [`lmdbg-${t}t`, `lmdbg-base-${t}t`]);
  for (const t of threadList) for (const d of dtypes) {
      pairs.push([`lmdbg-${d}-${t}t`, `lmdbg-${t}t`], [`lmdbg-${d}-${t}t`, `lmdbg-base-${d}-${t}t`]);
      if (d !== 'q8') pairs.push([`lmdbg-q8-${t}t`, `lmdbg-${d}-${t}t`]);
    }
  for (const e of ['lmdbg', 'lmdbg-simd', 'lmdbg-base', 'ort', ...dtypes.map((d) => `lmdbg-${d}`)]) pairs.push([`${e}-2t`, `${e}-1t`]);
  pairs.push(['lmdbg-1t', 'ort-1t', 'gen', 'fwd1'], ['lmdbg-2t', 'ort-2t', 'gen', 'fwd1']);
  for (const [a, b, wa, wb] of pairs)
    for (const w of wa ? [wa] : Object.keys(report.results)) {
      const A = report.results[w]?.[a], B = report.results[wb ?? w]?.[b];
      if (!A || !B) continue;
      const per = A.perRound.map((x, i) => B.perRound[i] / x).filter(Number.isFinite);
      report.ratios.push({ workload: w, a, b, bWorkload: wb ?? w, ratio: B.median / A.median, min: Math.min(...per), max: Math.max(...per) });
    }
  report.machine.loadavgEnd = os.loadavg();
  print(report);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report, null, 1));
}

function print(r) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '—');
  console.log(`\nChromium ${r.browser}, ${r.machine.cpu}, ${r.machine.cores} cores, onnxruntime-web ${r.ort}, ${r.rounds} rounds`);
  console.log(`load average ${r.machine.loadavgStart.map((x) => x.toFixed(1)).join(' ')} -> ${r.machine.loadavgEnd.map((x) => x.toFixed(1)).join(' ')}`);
  for (const [p, i] of Object.entries(r.pages)) console.log(`page ${p}: ${i.threads} threads, ${i.wasm.join(', ')}`);
  for (const [w, byCand] of Object.entries(r.results)) {
    console.log(`\n${LABEL[w]} (ms: median [min-max])`);
    for (const [c, s] of Object.entries(byCand)) console.log(`  ${c.padEnd(14)} ${f(s.median).padStart(8)}  [${f(s.min)}-${f(s.max)}]  n=${s.n}`);
  }
  console.log('\nratios (b / a: > 1 means a is faster)');
  for (const x of r.ratios)
    console.log(`  ${x.workload.padEnd(7)} ${(x.b + (x.bWorkload !== x.workload ? ' ' + x.bWorkload : '')).padEnd(18)} / ${x.a.padEnd(14)} x${x.ratio.toFixed(2)}  (rounds x${x.min.toFixed(2)}-${x.max.toFixed(2)})`);
}

await main();
