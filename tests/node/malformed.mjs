// The malformed-checkpoint corpus against the wasm module in plain node: each case is refused with
// its reason as a JS Error, and the next load works. Usage: node tests/node/malformed.mjs [WASM_DIR]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { root, readModelFiles, rawModule } from './fixtures.mjs';

const wasmDir = path.resolve(process.argv[2] ?? path.join(root, 'dist/wasm'));
const M = await rawModule(wasmDir);
const manifest = JSON.parse(readFileSync(path.join(root, 'tests/fixtures/malformed.json'), 'utf8'));

const key = { 'config.json': 'config', 'model.safetensors': 'weights', 'vocab.json': 'vocab', 'merges.txt': 'merges' };
const enc = new TextEncoder();
const dec = new TextDecoder();

function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function headerLen(b) { return Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)); }
function withHeader(b, text) {
  const h = enc.encode(text);
  const rest = b.subarray(8 + headerLen(b));
  const out = new Uint8Array(8 + h.length + rest.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(rest, 8 + h.length);
  return out;
}

function mutate(files, c) {
  const k = key[c.file];
  let v = files[k];
  if ('truncate' in c) v = c.truncate >= 0 ? v.slice(0, c.truncate) : v.slice(0, v.length + c.truncate);
  else if ('headerLength' in c) { v = v.slice(); new DataView(v.buffer).setBigUint64(0, BigInt(c.headerLength), true); }
  else if ('rawHeader' in c) v = withHeader(v, c.rawHeader);
  else if ('headerPatch' in c) v = withHeader(v, JSON.stringify(mergePatch(JSON.parse(dec.decode(v.subarray(8, 8 + headerLen(v)))), c.headerPatch)));
  else if ('nanAt' in c) {
    v = v.slice();
    const n = headerLen(v);
    const t = JSON.parse(dec.decode(v.subarray(8, 8 + n)))[c.nanAt.tensor];
    const size = t.dtype === 'F32' ? 4 : 2;
    const dv = new DataView(v.buffer);
    const off = 8 + n + t.data_offsets[0] + size * c.nanAt.index;
    if (size === 2) dv.setUint16(off, 0x7e00, true); else dv.setFloat32(off, NaN, true);
  } else if ('replace' in c) v = c.replace;
  else if ('jsonPatch' in c) v = JSON.stringify(mergePatch(JSON.parse(v), c.jsonPatch));
  else throw new Error('unknown mutation ' + JSON.stringify(c));
  return { ...files, [k]: v };
}

function load(f) {
  const ptr = M._malloc(Math.max(1, f.weights.length));
  M.HEAPU8.set(f.weights, ptr);
  try {
    return M.Model.load(f.config, ptr, f.weights.length, f.vocab, f.merges, '{}');
  } finally {
    M._free(ptr);
  }
}

let passed = 0, failed = 0;
const base = readModelFiles(manifest.base);
function runCorpus(report) {
  for (const c of manifest.cases) {
    let msg = '';
    try { load(mutate(base, c)).delete(); } catch (e) { msg = e instanceof Error ? e.message : `non-Error thrown: ${e}`; }
    const ok = msg.includes(c.expect);
    const good = load(base);
    const next = good.logits([1, 2, 3], false).length === 507;
    good.delete();
    if (!report) continue;
    if (ok && next) passed++; else { failed++; console.log(`FAIL ${c.name}: got "${msg}"${next ? '' : ' and the next load failed'}`); }
  }
}
runCorpus(true);
// Failed loads must not leak: a second pass over the corpus leaves the heap in use exactly where it was.
const heapBefore = M.heapUsed();
runCorpus(false);
const leaked = M.heapUsed() - heapBefore;
if (leaked === 0) passed++; else { failed++; console.log(`FAIL a pass over the corpus leaked ${leaked} bytes`); }
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
