// Plain-node test of the raw wasm module (no Vitest, no package wrapper): load, tokenize, decode,
// logits against the PyTorch reference, errors. Usage: node tests/node/smoke.mjs [WASM_DIR]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { root, readModelFiles, readReference, maxAbsDiff } from './fixtures.mjs';

const wasmDir = path.resolve(process.argv[2] ?? path.join(root, 'dist/wasm'));
const { default: createLmdbgModule } = await import(pathToFileURL(path.join(wasmDir, 'lmdbg.mjs')).href);
const M = await createLmdbgModule({ wasmBinary: readFileSync(path.join(wasmDir, 'lmdbg.wasm')) });

let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`);
}
function expectThrow(name, fn, substring) {
  try { fn(); check(name, false, 'did not throw'); }
  catch (e) { check(name, e instanceof Error && e.message.includes(substring), e.message); }
}

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
m.delete();

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
