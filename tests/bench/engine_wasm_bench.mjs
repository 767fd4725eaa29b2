// Engine benchmark of the wasm build in Node (single thread): the goals on a GPT-2-small-shaped
// checkpoint (random fp32 weights; /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out build/bench-models/gpt2-small).
//
//   node tests/bench/engine_wasm_bench.mjs [--wasm DIR] [--model DIR] [--rounds N] [--cold N] [--json FILE] [SECTION...]
//     DIR defaults: dist/wasm, build/bench-models/gpt2-small. Sections (default: all):
//       cold      fresh node processes: bytes in memory -> model -> first trace (f32, f16), peak heap
//       engine    forward 32/128 tokens, full trace (ratios to the forward in the same rounds),
//                 generation step (32 tokens of context) f32/f16, with f16/f32 ratios
//       vtokens   value-vector top tokens: cold (not yet in the model's value index) vs warm; background fill
//                 rate (Model.fillValueIndex, when the build has it)
//       search    prepareSearch (fresh model) and search()
//     --json FILE writes every per-round sample (tests/bench/run.mjs turns them into docs/BENCHMARKS.md).
//
// Timing. Every figure is the median over rounds of the CPU time of this process
// (process.cpuUsage(): time spent descheduled on the shared cores does not count; wall time beside
// it). V8 runs wasm in its baseline tier first and swaps in optimised code only between calls, so
// every operation is warmed up before it is timed (except in `cold`, which measures exactly that
// first-use cost in fresh processes). Ratios are taken per round, between operations measured
// alternately in that round, then their median is reported.
//
// "Not cached" (the model's value index does not hold the value vectors' top tokens yet): such a call runs
// on a model loaded afresh before it (not timed), the only way to get an empty index from the raw module.
//
// Loading uses the raw module the way js/src/load.ts does: config/vocab/merges as bytes, then
// model.safetensors streamed through one 4 MiB heap buffer into the engine's Loader.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { options } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { args, opt } = options(process.argv.slice(2));
const wasmDir = path.resolve(opt('--wasm', path.join(root, 'dist/wasm')));
const modelDir = path.resolve(opt('--model', path.join(root, 'build/bench-models/gpt2-small')));
const ROUNDS = Number(opt('--rounds', '7'));
const COLD = Number(opt('--cold', '3'));
const child = opt('--child', null); // internal: one cold run, prints JSON
const jsonOut = opt('--json', null);
// Raw samples for --json: {cpu: [...], wall: [...]} per operation, in round order.
const report = { date: new Date().toISOString(), node: process.version, model: modelDir, rounds: ROUNDS };
const sections = args.length ? args : ['cold', 'engine', 'vtokens', 'search'];

const PROMPT =
  'The quick brown fox jumps over the lazy dog while the capital of France is Paris and the river flows north ' +
  'through the old city where children played in the fields every summer afternoon before the long winter came';

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const MiB = (b) => b / 2 ** 20;

async function startModule() {
  const { default: create } = await import(pathToFileURL(path.join(wasmDir, 'lmdbg.mjs')).href);
  return create({ wasmBinary: readFileSync(path.join(wasmDir, 'lmdbg.wasm')) });
}

function readFiles() {
  const r = (n) => new Uint8Array(readFileSync(path.join(modelDir, n)));
  return { config: r('config.json'), vocab: r('vocab.json'), merges: r('merges.txt'), weights: r('model.safetensors') };
}

// js/src/load.ts's streaming path, from bytes in memory.
const FEED = 4 * 2 ** 20;
function load(M, files, dtype) {
  const loader = M.Loader.create(files.config, files.vocab, files.merges, JSON.stringify({ dtype }));
  const buf = M._malloc(FEED) >>> 0;
  try {
    const w = files.weights;
    const n = Number(new DataView(w.buffer, w.byteOffset, 8).getBigUint64(0, true));
    const hp = M._malloc(8 + n) >>> 0;
    M.HEAPU8.set(w.subarray(0, 8 + n), hp);
    loader.setHeader(hp, 8 + n, w.byteLength);
    M._free(hp);
    for (let o = loader.headerBytes(); o < w.byteLength; o += FEED) {
      const part = w.subarray(o, Math.min(w.byteLength, o + FEED));
      M.HEAPU8.set(part, buf);
      loader.feed(buf, part.byteLength);
    }
    return loader.finish();
  } finally {
    M._free(buf);
    loader.delete();
  }
}

function promptIds(model, n) {
  const words = Array.from(model.tokenize(PROMPT, false));
  return Array.from({ length: n }, (_, i) => words[i % words.length]);
}

const TRACE_OPTS = JSON.stringify({}); // the defaults: last position, top 10, 10 sub-updates/layer, valueTopK 10
function trace(model, ids, opts = TRACE_OPTS) {
  return JSON.parse(model.trace(ids, opts).json);
}

// One timed call: [cpu ms, wall ms].
function time(fn) {
  const c0 = cpuMs(), w0 = performance.now();
  fn();
  return [cpuMs() - c0, performance.now() - w0];
}

// Runs the named operations alternately for ROUNDS rounds after `warm` warm-up calls each.
function rounds(ops, warm = 3, n = ROUNDS) {
  for (const op of ops)
    for (let i = 0; i < warm; i++) {
      op.before?.();
      op.fn();
    }
  const res = ops.map(() => ({ cpu: [], wall: [] }));
  for (let r = 0; r < n; r++)
    ops.forEach((op, i) => {
      op.before?.();
      const [c, w] = time(op.fn);
      res[i].cpu.push(c);
      res[i].wall.push(w);
    });
  return res;
}
function ratio(a, b) {
  return median(a.cpu.map((x, i) => x / b.cpu[i]));
}

// ------------------------------------------------------------------ cold: fresh processes

async function coldChild(dtype) {
  const files = readFiles();
  const t0 = performance.now(), c0 = cpuMs();
  const M = await startModule();
  const t1 = performance.now(), c1 = cpuMs();
  const model = load(M, files, dtype);
  const t2 = performance.now(), c2 = cpuMs();
  const ids = promptIds(model, 32);
  trace(model, ids);
  const t3 = performance.now(), c3 = cpuMs();
  const heapAfterLoad = 0;
  process.stdout.write(
    JSON.stringify({
      dtype,
      startMs: t1 - t0,
      loadMs: t2 - t1,
      loadCpu: c2 - c1,
      traceMs: t3 - t2,
      traceCpu: c3 - c2,
      heapPeak: M.heapBytes(),
      heapUsed: M.heapUsed(),
      weightBytes: model.weightBytes(),
      heapAfterLoad,
    }) + '\n',
  );
}

function cold() {
  console.log(`\n## cold: fresh process, bytes in memory -> first trace (32 tokens, default trace options), ${COLD} runs`);
  console.log('dtype | module start ms | load ms (cpu) | first trace ms (cpu) | load + first trace ms | peak heap MiB | weights MiB');
  for (const dtype of ['f32', 'f16']) {
    const runs = [];
    for (let i = 0; i < COLD; i++) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--wasm', wasmDir, '--model', modelDir, '--child', dtype], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      if (r.status !== 0) throw new Error(`cold child failed: ${r.stderr}`);
      runs.push(JSON.parse(r.stdout.trim().split('\n').pop()));
    }
    (report.cold ??= {})[dtype] = runs;
    const m = (k) => median(runs.map((x) => x[k]));
    console.log(
      `${dtype} | ${fmt(m('startMs'))} | ${fmt(m('loadMs'))} (${fmt(m('loadCpu'))}) | ${fmt(m('traceMs'))} (${fmt(m('traceCpu'))}) | ` +
        `${fmt(median(runs.map((x) => x.loadMs + x.traceMs)))} | ${fmt(MiB(Math.max(...runs.map((x) => x.heapPeak))))} | ${fmt(MiB(m('weightBytes')))}`,
    );
  }
}

// ------------------------------------------------------------------ engine: warm forward / trace / generation

function engine(M, files) {
  console.log(`\n## engine (warm): median CPU ms over ${ROUNDS} rounds (wall in brackets)`);
  const models = {};
  for (const dtype of ['f32', 'f16']) models[dtype] = load(M, files, dtype);
  const out = {};
  for (const dtype of ['f32', 'f16']) {
    const model = models[dtype];
    const ids32 = promptIds(model, 32), ids128 = promptIds(model, 128);
    const noVT = JSON.stringify({ valueTopK: 0 });
    const fresh = uncached(M, files, dtype);
    const ops = [
      { name: 'forward 32', fn: () => model.logits(ids32, false) },
      { name: 'trace 32 (warm cache)', fn: () => trace(model, ids32) },
      { name: 'trace 32 (value tokens not cached)', before: fresh.before, fn: () => trace(fresh.model(), ids32) },
      { name: 'trace 32, valueTopK 0', fn: () => trace(model, ids32, noVT) },
      { name: 'forward 128', fn: () => model.logits(ids128, false) },
    ];
    const res = rounds(ops, 2);
    ops.forEach((op, i) =>
      console.log(`${dtype} ${op.name}: ${fmt(median(res[i].cpu))} (${fmt(median(res[i].wall))}) ms` +
        (i >= 1 && i <= 3 ? `  = x${fmt(ratio(res[i], res[0]), 2)} forward 32` : '')),
    );
    fresh.done();
    out[dtype] = res;
    (report.engine ??= {})[dtype] = Object.fromEntries(ops.map((op, i) => [op.name, res[i]]));
  }
  // Generation: one token per step with 32 tokens of context (a fresh 32-token generator each round,
  // its prompt processed in the first next(); the second next() is the timed step).
  const gen = {};
  for (const dtype of ['f32', 'f16']) {
    const model = models[dtype];
    const ids = promptIds(model, 32);
    let g = null;
    gen[dtype] = {
      name: `generation step ${dtype}`,
      before: () => {
        g?.delete();
        g = M.createGenerator(model, ids, '[]', JSON.stringify({ greedy: true }));
        g.next();
      },
      fn: () => g.next(),
    };
  }
  const ops = [gen.f32, gen.f16];
  for (const op of ops) for (let i = 0; i < 3; i++) { op.before(); op.fn(); }
  const res = rounds(ops, 0, ROUNDS * 2);
  report.gen = { f32: res[0], f16: res[1] };
  console.log(`generation step (32 tokens of context) f32: ${fmt(median(res[0].cpu), 1)} (${fmt(median(res[0].wall), 1)}) ms, ` +
    `f16: ${fmt(median(res[1].cpu), 1)} (${fmt(median(res[1].wall), 1)}) ms, f16/f32 x${fmt(ratio(res[1], res[0]), 2)}`);
  console.log(`f16/f32: forward 32 x${fmt(ratio(out.f16[0], out.f32[0]), 2)}, trace x${fmt(ratio(out.f16[1], out.f32[1]), 2)}, forward 128 x${fmt(ratio(out.f16[4], out.f32[4]), 2)}`);
  for (const m of Object.values(models)) m.delete();
}

// ------------------------------------------------------------------ value-vector tokens

// A model whose value index is empty after every `before()`: a fresh load (the previous one deleted
// first, so at most one extra model lives).
function uncached(M, files, dtype) {
  let m = null;
  return {
    before() {
      m?.delete();
      m = load(M, files, dtype);
    },
    model: () => m,
    done() {
      m?.delete();
      m = null;
    },
  };
}

function vtokens(M, files) {
  const model = load(M, files, 'f32');
  console.log('\n## value-vector top tokens (120 distinct vectors, top/bottom 10)');
  const refs = [];
  const cfg = JSON.parse(model.configJson());
  for (let l = 0; l < cfg.nLayers; l++) for (let i = 0; i < 10; i++) refs.push([l, (i * 307 + l * 11) % cfg.dMlp]);
  const rj = JSON.stringify(refs);
  const fresh = uncached(M, files, 'f32');
  const ops = [
    { name: 'cold (not cached)', before: fresh.before, fn: () => fresh.model().valueVectors(rj, 10, 10) },
    { name: 'warm (cached)', fn: () => model.valueVectors(rj, 10, 10) },
  ];
  const res = rounds(ops, 2);
  fresh.done();
  ops.forEach((op, i) => console.log(`${op.name}: ${fmt(median(res[i].cpu), 1)} (${fmt(median(res[i].wall), 1)}) ms`));
  report.vtokens = { cold: res[0], warm: res[1] };
  // Background fill (Model.fillValueIndex(n): up to n more vectors, largest norm first), on a fresh model.
  const canFill = typeof model.fillValueIndex === 'function';
  model.delete();
  if (!canFill) return console.log('background fill: not exposed by this build');
  const m = load(M, files, 'f32');
  const c0 = cpuMs();
  let filled = 0;
  for (let i = 0; i < 10; i++) filled += m.fillValueIndex(50);
  const dt = cpuMs() - c0;
  const total = m.valueIndexTotal();
  report.vtokens.fill = { vectors: filled, total, cpu: dt };
  console.log(`background fill: ${filled} vectors in ${fmt(dt)} ms CPU (${fmt(dt / filled, 2)} ms/vector; all ${total}: ~${fmt((dt / filled) * total / 1000)} s)`);
  m.delete();
}

// ------------------------------------------------------------------ search

function search(M, files) {
  console.log('\n## search');
  for (const dtype of ['f32', 'f16']) {
    const model = load(M, files, dtype);
    const [c, w] = time(() => model.prepareSearch());
    const kws = JSON.stringify(['river', 'water']);
    const ops = [
      { name: 'search river,water (limit 20, topK 10)', fn: () => JSON.parse(model.search(kws, 20, 10, 'zscore')) },
      { name: 'search river,water (limit 20, topK 0)', fn: () => JSON.parse(model.search(kws, 20, 0, 'zscore')) },
    ];
    const res = rounds(ops, 2);
    console.log(`${dtype} prepareSearch (first call, fresh model): ${fmt(c)} (${fmt(w)}) ms`);
    ops.forEach((op, i) => console.log(`${dtype} ${op.name}: ${fmt(median(res[i].cpu), 1)} (${fmt(median(res[i].wall), 1)}) ms`));
    (report.search ??= {})[dtype] = { prepare: { cpu: c, wall: w }, search: res[0], searchNoTokens: res[1] };
    model.delete();
  }
}

// ------------------------------------------------------------------ main

if (child) {
  await coldChild(child);
} else {
  console.log(`# lmdbg engine benchmark (wasm, single thread): ${wasmDir}, model ${modelDir}, node ${process.version}`);
  if (sections.includes('cold')) cold();
  const rest = sections.filter((s) => s !== 'cold');
  if (rest.length) {
    const M = await startModule();
    const files = readFiles();
    for (const s of rest) {
      if (s === 'engine') engine(M, files);
      else if (s === 'vtokens') vtokens(M, files);
      else if (s === 'search') search(M, files);
      else throw new Error(`unknown section ${s}`);
    }
    console.log(`\npeak wasm heap of this process: ${fmt(MiB(M.heapBytes()))} MiB`);
    report.heapPeak = M.heapBytes();
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report));
}
