// Activation patching: one patchSweep() against the same cells as separate patch() calls (lmdbg-mini, Node,
// one thread; medians of 7 alternating runs). The sweep reruns only the layers and positions a cell can
// change. Usage: node tests/bench/patch_bench.mjs (after npm run build:wasm:single && npm run build:js).
const { LMDebugger } = await import(new URL('../../dist/index.js', import.meta.url).href);
const dbg = await LMDebugger.load(new URL('../../demo/public/models/lmdbg-mini', import.meta.url).pathname);
const src = 'When Mary and John went to the store, John gave a drink to';
const tgt = 'When Mary and John went to the store, Mary gave a drink to';
const metric = { type: 'logitDiff', token: (await dbg.tokenize(' Mary'))[0], distractor: (await dbg.tokenize(' John'))[0] };
const T = (await dbg.tokenize(tgt)).length, L = dbg.config.nLayers;
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const sweep = [], naive = [];
for (let r = 0; r < 7; r++) {
  let t0 = performance.now();
  await dbg.patchSweep(src, tgt, { hook: 'resid_pre', metric });
  sweep.push(performance.now() - t0);
  t0 = performance.now();
  // The same cells as separate patch() calls (each: source + clean target + patched pass).
  for (let l = 0; l < L; l += 1) for (let p = 0; p < T; p += 4) await dbg.patch(src, tgt, { hook: 'resid_pre', layer: l, positions: [p], metric });
  naive.push(((performance.now() - t0) * T) / Math.ceil(T / 4));
}
console.log(`lmdbg-mini L=${L} T=${T}: patchSweep median ${med(sweep).toFixed(1)} ms (min ${Math.min(...sweep).toFixed(1)}, max ${Math.max(...sweep).toFixed(1)}); ${L * T} patch() calls (extrapolated from every 4th position) median ${med(naive).toFixed(1)} ms (min ${Math.min(...naive).toFixed(1)}, max ${Math.max(...naive).toFixed(1)}); ratio ${(med(naive) / med(sweep)).toFixed(2)}`);
const s = await dbg.patchSweep(src, tgt, { hook: 'resid_post', metric });
console.log('resid_post last cell', s.metric[L - 1][T - 1], 'clean', s.clean, 'corrupt', s.corrupt);
await dbg.dispose();
