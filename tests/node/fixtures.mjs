// Fixture and reference readers shared by the plain-node tests and Vitest (no dependencies).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const modelDir = (v) => path.join(root, 'tests/fixtures/models', v);

export function readModelFiles(variant) {
  const d = modelDir(variant);
  return {
    config: readFileSync(path.join(d, 'config.json'), 'utf8'),
    weights: new Uint8Array(readFileSync(path.join(d, 'model.safetensors'))),
    vocab: readFileSync(path.join(d, 'vocab.json'), 'utf8'),
    merges: readFileSync(path.join(d, 'merges.txt'), 'utf8'),
  };
}

// Minimal safetensors reader for F32 reference dumps.
export function readSafetensors(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets;
    const slice = bytes.slice(8 + n + b, 8 + n + e);
    out[name] = { dtype: t.dtype, shape: t.shape, data: t.dtype === 'F32' ? new Float32Array(slice.buffer) : slice };
  }
  return out;
}

export function readReference(variant) {
  const meta = JSON.parse(readFileSync(path.join(root, 'tests/fixtures/ref', variant + '.json'), 'utf8'));
  const tensors = readSafetensors(new Uint8Array(readFileSync(path.join(root, 'tests/fixtures/ref', variant + '.safetensors'))));
  return { meta, tensors };
}

export function maxAbsDiff(a, b) {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue; // also equal infinities (attn.hook_attn_scores is -inf where masked)
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

/** The raw wasm module of a build folder (dist/wasm by default), without the package. */
/** The raw module of a build: a folder holding lmdbg.mjs/.wasm, or the path of another build's .mjs
 *  (e.g. dist/wasm/lmdbg-relaxed.mjs; its .wasm beside it). */
export async function rawModule(wasmDir = path.join(root, 'dist/wasm')) {
  const { readFileSync } = await import('node:fs');
  const { pathToFileURL } = await import('node:url');
  const glue = wasmDir.endsWith('.mjs') ? wasmDir : path.join(wasmDir, 'lmdbg.mjs');
  const { default: create } = await import(pathToFileURL(glue).href);
  return create({ wasmBinary: readFileSync(glue.replace(/\.mjs$/, '.wasm')) });
}

/** Plain-node checks: `check` prints ok/FAIL per case, `done` prints "N passed, N failed" and exits. */
export function checks() {
  let passed = 0, failed = 0;
  const check = (name, ok, detail = '') => {
    if (ok) passed++;
    else failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ' — ' + detail : ''}`);
  };
  const expectThrow = (name, fn, substring) => {
    try {
      fn();
      check(name, false, 'did not throw');
    } catch (e) {
      check(name, e instanceof Error && e.message.includes(substring), e instanceof Error ? e.message : `non-Error thrown: ${e}`);
    }
  };
  const done = () => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  };
  return { check, expectThrow, done };
}
