// Soak test of the raw wasm module in plain node: 1,000 traces with interventions do not grow the heap;
// nor do generators, cached runs and searches; delete() (the package's dispose()) gives back what the
// model took, and repeated load/delete cycles do not grow the wasm memory. Failed requests are measured
// separately: each must leak nothing.
// Prints the numbers (a "SOAK {...}" JSON line) for docs/RELIABILITY.md.
// Usage: node tests/node/soak.mjs [WASM_DIR] [N_TRACES]
import path from 'node:path';
import { root, readModelFiles, rawModule, checks } from './fixtures.mjs';

const wasmDir = path.resolve(process.argv[2] ?? path.join(root, 'dist/wasm'));
const N = Number(process.argv[3] ?? 1000);
const M = await rawModule(wasmDir);

const { check, expectThrow, done } = checks();

const files = readModelFiles('l4-f32');
function load() {
  const ptr = M._malloc(files.weights.length);
  M.HEAPU8.set(files.weights, ptr);
  try {
    return M.Model.load(files.config, ptr, files.weights.length, files.vocab, files.merges, '{}');
  } finally {
    M._free(ptr);
  }
}
const KB = 1024;
const slack = 4 * KB;  // allocator bookkeeping, not per-request growth

// Warm the module's one-time allocations (static tables, thread-local scratch) with a throwaway model.
{
  const m = load();
  m.trace([1, 2, 3], '{"interventions":[{"layer":0,"index":1,"mode":"on"}]}');
  m.delete();
}
const used0 = M.heapUsed(), bytes0 = M.heapBytes();
const model = load();
const cfg = JSON.parse(model.configJson());
const usedLoaded = M.heapUsed();

const modes = [
  { mode: 'off' }, { mode: 'on' }, { mode: 'set', value: 1.5 }, { mode: 'pre', value: 2 }, { mode: 'scale', value: 3 }, { mode: 'add', value: -1 },
];
function request(i) {
  const T = 3 + (i % 6);
  const ids = Array.from({ length: T }, (_, t) => (i * 13 + t * 101) % cfg.dVocab);
  const interventions = [];
  for (let k = 0; k < 1 + (i % 4); k++) {
    const iv = { layer: (i + k) % cfg.nLayers, index: (i * 31 + k * 7) % cfg.dMlp, ...modes[(i + k) % modes.length] };
    if (k % 2) iv.positions = [i % 3];
    interventions.push(iv);
  }
  const opts = { topK: 1 + (i % 10), positions: i % 10 === 0 ? 'all' : 'last', attention: i % 5 === 0, interventions };
  const r = model.trace(ids, JSON.stringify(opts));
  return JSON.parse(r.json).positions.length === (opts.positions === 'all' ? T : 1) && (r.attention === null) === !opts.attention;
}

let ok = true;
const warm = Math.min(100, N);
for (let i = 0; i < warm; i++) ok &&= request(i);
const usedWarm = M.heapUsed(), bytesWarm = M.heapBytes();
const t0 = performance.now();
for (let i = warm; i < N; i++) ok &&= request(i);
const ms = performance.now() - t0;
const usedEnd = M.heapUsed(), bytesEnd = M.heapBytes();
check(`${N} traces with interventions all answered correctly`, ok);
check(`heap in use does not grow over traces ${warm}..${N}`, usedEnd - usedWarm < slack, `${usedWarm} -> ${usedEnd} bytes (${usedEnd - usedWarm})`);
check('wasm memory does not grow after the warm-up', bytesEnd === bytesWarm, `${bytesWarm} -> ${bytesEnd}`);

// Generators, cached runs and search: create, use, delete, 200 times.
const usedBefore2 = M.heapUsed();
model.prepareSearch();
const usedSearch = M.heapUsed();
let ok2 = true;
for (let i = 0; i < 200; i++) {
  const g = M.createGenerator(model, [1 + i, 2, 3], JSON.stringify([{ layer: i % cfg.nLayers, index: i % cfg.dMlp, mode: i % 2 ? 'on' : 'off' }]), JSON.stringify({ greedy: i % 2 === 0, seed: i }));
  for (let k = 0; k < 3; k++) ok2 &&= g.next() >= 0;
  g.delete();
  const c = model.runWithCache([4, 5, 6], JSON.stringify([`blocks.${i % cfg.nLayers}.mlp.hook_post`]), '[]');
  ok2 &&= c.hooks[0].data.length === 3 * cfg.dMlp;
  ok2 &&= JSON.parse(model.search(JSON.stringify(['river', 'the']), 5, 3, 'zscore')).hits.length === 5;
}
const usedAfter2 = M.heapUsed();
check('200 generators + cached runs + searches answered', ok2);
check('... without heap growth (beyond the search statistics kept by the model)', usedAfter2 - usedSearch < slack,
  `${usedBefore2} -> ${usedSearch} (stats) -> ${usedAfter2}`);

// Failed requests: each must be answered with an Error and leave the model usable; what it leaks is measured.
const failing = [
  () => model.trace([1, 2, 3], JSON.stringify({ interventions: [{ layer: cfg.nLayers, index: 0, mode: 'off' }] })),
  () => model.trace([1, 99999], '{}'),
  () => model.trace([], '{}'),
  () => M.createGenerator(model, [], '[]', '{}'),
  () => model.runWithCache([1, 2], '["blocks.99.hook_resid_pre"]', '[]'),
  () => model.valueVectors('[[0, 99999]]', 5, 5),
];
const usedErr0 = M.heapUsed();
let errOk = true;
const nErr = 300;
for (let i = 0; i < nErr; i++) {
  try { failing[i % failing.length](); errOk = false; } catch (e) { errOk &&= e instanceof Error; }
}
const leakPerError = (M.heapUsed() - usedErr0) / nErr;
errOk &&= JSON.parse(model.trace([1, 2, 3], '{}').json).positions.length === 1;
check(`${nErr} failed requests each threw an Error, and the model still answers`, errOk);
check('failed requests leak nothing', leakPerError < 1, `${leakPerError.toFixed(1)} bytes per failed request`);
const usedErr1 = M.heapUsed();

// dispose: delete() frees everything the model holds.
model.delete();
const usedFreed = M.heapUsed();
const leaked = usedErr1 - usedErr0;  // what the failed requests left behind (not the model's)
check('delete() gives back the model\'s memory', usedFreed - used0 - leaked < slack,
  `before load ${used0}, loaded ${usedLoaded} (+${usedLoaded - used0}), after delete ${usedFreed} (+${usedFreed - used0}, of which ${leaked} from failed requests)`);

// Load/delete cycles: the freed memory is reused, the wasm memory stops growing.
const cycles = 20;
let bytesCycle = 0;
for (let i = 0; i < cycles; i++) {
  const m = load();
  m.trace([1, 2, 3], '{"interventions":[{"layer":1,"index":2,"mode":"on"}]}');
  m.delete();
  if (i === 0) bytesCycle = M.heapBytes();
}
const usedCycles = M.heapUsed();
check(`${cycles} load/trace/delete cycles leave the heap where it was`, usedCycles - usedFreed < slack, `${usedFreed} -> ${usedCycles}`);
check('... and the wasm memory stops growing after the first cycle', M.heapBytes() === bytesCycle, `${bytesCycle} -> ${M.heapBytes()}`);

console.log('SOAK ' + JSON.stringify({
  model: 'l4-f32', traces: N, msPerTrace: +(ms / Math.max(1, N - warm)).toFixed(3),
  heapUsed: { beforeLoad: used0, loaded: usedLoaded, afterWarmup: usedWarm, afterTraces: usedEnd, growth: usedEnd - usedWarm,
    afterGenerators: usedAfter2, leakPerFailedRequest: +leakPerError.toFixed(1), afterDelete: usedFreed, afterCycles: usedCycles },
  heapBytes: { start: bytes0, afterWarmup: bytesWarm, afterTraces: bytesEnd, afterCycles: M.heapBytes() },
}));
done();
