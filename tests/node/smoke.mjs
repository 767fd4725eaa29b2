// Plain-node test of the raw wasm module (no Vitest, no package wrapper): load, tokenize, decode,
// logits against the PyTorch reference, errors. Usage: node tests/node/smoke.mjs [WASM_DIR]
import path from 'node:path';
import { root, readModelFiles, readReference, maxAbsDiff, rawModule, checks } from './fixtures.mjs';

const wasmDir = path.resolve(process.argv[2] ?? path.join(root, 'dist/wasm'));
const M = await rawModule(wasmDir);

const { check, expectThrow, done } = checks();

function load(variant, opts = {}) {
  const f = readModelFiles(variant);
  const ptr = M._malloc(f.weights.length);
  M.HEAPU8.set(f.weights, ptr);
  try {
    return M.Model.load(f.config, ptr, f.weights.length, f.vocab, f.merges, JSON.stringify(opts));
  } finally {
    M._free(ptr);
  }
}

for (const variant of ['l4-f32', 'l4-f16-prefix', 'l2-f32-prefix', 'l2-f16', 'l2-bf16']) {
  const model = load(variant);
  const { meta, tensors } = readReference(variant);
  const V = JSON.parse(model.configJson()).dVocab;
  let worst = 0;
  for (const c of meta.cases) {
    const ids = Array.from(model.tokenize(c.text, false));
    check(`${variant} ${c.name} tokenize`, JSON.stringify(ids) === JSON.stringify(c.ids));
    const text = new TextDecoder().decode(model.decode(ids));
    check(`${variant} ${c.name} decode round-trips`, text === c.text);
    const got = model.logits(ids, true);
    const want = tensors[`${c.name}.logits`].data;
    worst = Math.max(worst, maxAbsDiff(got, want));
    check(`${variant} ${c.name} logits shape`, got.length === ids.length * V);
  }
  check(`${variant} logits within 1e-4 of PyTorch`, worst < 1e-4, `maxdiff ${worst.toExponential(3)}`);
  model.delete();
}

// The debugger entry points against the reference (the full coverage is in Vitest).
{
  const model = load('l4-f32');
  const { meta, tensors } = readReference('l4-f32');
  const c1 = meta.cases.find((c) => c.name === 'c1');
  const t = model.trace(c1.ids, JSON.stringify({ attention: true }));
  const tr = JSON.parse(t.json);
  const sub = meta.subUpdates.find((s) => s.case === 'c1');
  check('trace schema', tr.schema === 'lmdbg.trace/1' && tr.positions.length === 1);
  check('trace predicted', tr.positions[0].predicted.id === sub.pred);
  check('trace top sub-update', tr.positions[0].layers[3].subUpdates[0].index === sub.layers[3].top[0].index);
  check('attention array', t.attention.length === 4 * 4 * c1.ids.length * c1.ids.length);
  const iv = meta.interventions.find((x) => x.name === 'iv5');  // an `on` intervention
  const ti = JSON.parse(model.trace(c1.ids, JSON.stringify({ interventions: iv.interventions })).json);
  check('trace with `on`', ti.positions[0].predicted.id === iv.argmax && ti.positions[0].clean.changed === iv.changed);
  const cache = model.runWithCache(c1.ids, JSON.stringify(['blocks.2.mlp.hook_post']), '[]');
  const want = tensors['c1.blocks.2.mlp.hook_post'].data;
  check('runWithCache hook', cache.hooks[0].dims.join() === `${c1.ids.length},256` && maxAbsDiff(cache.hooks[0].data, want) < 1e-4);
  const g = meta.generation.find((x) => x.interventions.length > 0);
  const gen = M.createGenerator(model, g.prompt_ids, JSON.stringify(g.interventions), '{}');
  const out = g.new_ids.map(() => gen.next());
  check('generation with intervention', JSON.stringify(out) === JSON.stringify(g.new_ids));
  gen.delete();
  const s = JSON.parse(model.search(JSON.stringify(['river']), 3, 5, 'zscore'));
  check('search', s.hits.length === 3 && s.hits[0].matched[0].text === ' river');
  const vv = JSON.parse(model.valueVectors(JSON.stringify([[0, 0]]), 10, 10));
  check('value vector', vv[0].top[0].id === meta.valueVectors[0].top[0].id);
  expectThrow('bad trace option', () => model.trace([1, 2], '{"topk": 3}'), 'unknown option "topk"');
  model.delete();
}

// Errors become JS Errors with the engine's message, and the module stays usable.
const m = load('l2-f16');
expectThrow('out-of-range token id', () => m.logits([1, 99999], false), 'token id 99999');
expectThrow('empty prompt', () => m.logits([], false), 'empty');
expectThrow('over-long prompt', () => m.logits(new Array(65).fill(1), false), 'exceeds the model');
check('usable after errors', m.logits([1, 2, 3], false).length === 507);
const bad = readModelFiles('l2-f16');
expectThrow('bad config JSON', () => M.Model.load('{', 0, 0, bad.vocab, bad.merges, '{}'), 'config.json');
const truncated = bad.weights.subarray(0, 1000);
const p = M._malloc(truncated.length);
M.HEAPU8.set(truncated, p);
expectThrow('truncated safetensors', () => M.Model.load(bad.config, p, truncated.length, bad.vocab, bad.merges, '{}'), 'model.safetensors');
M._free(p);
check('next load works', load('l2-f16').logits([5], false).length === 507);

// The streaming Loader with in-place writes (Loader.place, as js/src/load.ts uses it): the same model
// as a whole load; misuse is an error naming the tensor, and the module stays usable.
function streamInPlace(f, misuse) {
  const loader = M.Loader.create(f.config, f.vocab, f.merges, '{"inPlaceMin": 4096}'); // the fixtures' tensors are small
  const w = f.weights;
  const buf = M._malloc(w.length);
  try {
    M.HEAPU8.set(w, buf);
    loader.setHeader(buf, w.length, w.length);
    let placed = 0;
    let any = false;
    for (let o = loader.headerBytes(); o < w.length; ) {
      const at = loader.place(Math.min(w.length - o, 5000));
      if (at.ptr) {
        any = true;
        M.HEAPU8.set(w.subarray(o, o + at.bytes), at.ptr);
        if (misuse && placed++ === 1) misuse(loader, at);
        loader.feed(at.ptr, at.bytes);
      } else {
        loader.feed(buf + o, at.bytes);
      }
      o += at.bytes;
    }
    if (!any) throw new Error('no tensor was written in place');
    return loader.finish();
  } finally {
    M._free(buf);
    loader.delete();
  }
}
const f32 = readModelFiles('l4-f32');
const whole = load('l4-f32');
const streamed = streamInPlace(f32);
check('in-place load: same fingerprint', streamed.infoJson() === whole.infoJson());
check('in-place load: same logits', maxAbsDiff(streamed.logits([5, 6, 7], false), whole.logits([5, 6, 7], false)) === 0);
streamed.delete();
expectThrow('in-place bytes out of order', () => streamInPlace(f32, (l, at) => l.feed(at.ptr + 4, 4)), 'fed out of order at the place of tensor "');
expectThrow('in-place bytes past the room', () => streamInPlace(f32, (l, at) => l.feed(at.ptr, at.bytes + 1)), 'which was given for');
const again = streamInPlace(f32);
check('usable after loader errors', again.infoJson() === whole.infoJson());
again.delete();
whole.delete();
m.delete();

// Every Embind binding is wrapped (wasm/errors.post.js finds them by their numeric argCount): an
// unwrapped one would report its error at the next wrapped call instead of its own.
const unwrapped = [];
const bound = (f) => typeof f === 'function' && typeof f.argCount === 'number';
for (const [name, v] of Object.entries(Object.getOwnPropertyDescriptors(M))) {
  const f = v.value;
  if (bound(f) && f !== M.takeError) unwrapped.push(name);
  if (typeof f === 'function' && f.prototype && typeof f.prototype.isAliasOf === 'function') {
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(f))) if (bound(d.value)) unwrapped.push(`${name}.${k}`);
    for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(f.prototype))) if (bound(d.value)) unwrapped.push(`${name}.prototype.${k}`);
  }
}
check('every binding is wrapped', unwrapped.length === 0, unwrapped.join(', '));
const samples = [M.Model.load, M.Model.prototype.trace, M.Loader.create, M.Loader.prototype.feed, M.Generator.prototype.next, M.createGenerator];
check('the bindings were found (and wrapped)', samples.every((f) => typeof f === 'function' && !bound(f)));
// A failing call through a binding that was once missing from a hand-written list (loadValueIndex).
const m2 = load('l2-f16');
expectThrow('loadValueIndex on garbage throws at its own call', () => m2.loadValueIndex(new Uint8Array([1, 2, 3])), 'value_index');
check('usable after', m2.logits([5], false).length === 507);
m2.delete();

done();
