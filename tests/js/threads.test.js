// The threaded build (dist/wasm/lmdbg-threads.*) through the package in Node: `threads: 2` starts
// it, and every result is bitwise the one of the single-threaded build (the raw lmdbg.wasm module,
// loaded beside it in this process). Vitest gives this file its own process: the package's module
// is per process and the first load decides its thread count. Where relaxed SIMD validates (Node 20
// with --experimental-wasm-relaxed-simd: relaxed.vitest.config.js), the package takes
// lmdbg-relaxed-threads.* and the comparison is with lmdbg-relaxed.wasm.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { distDir, lmdbg, tinyGpt2, gpt2TokenizerFiles } from './helpers.js';

const PROMPT = 'The quick brown fox jumps over the lazy dog, and then';

// Wide enough that every GEMM is split over the threads (the unembedding is 256 x 50257).
const model = tinyGpt2({ vocabSize: 50257, nLayer: 2, d: 256, nHead: 4, nCtx: 64, seed: 7 });
const files = { ...model, ...gpt2TokenizerFiles() };

const { relaxedSimdSupported, moduleUrl } = await import(path.join(distDir, 'module.js'));
const family = relaxedSimdSupported() ? 'lmdbg-relaxed' : 'lmdbg';

async function rawSingleThreaded() {
  const create = (await import(pathToFileURL(path.join(distDir, `wasm/${family}.mjs`)).href)).default;
  const { readFileSync } = await import('node:fs');
  const M = await create({ wasmBinary: readFileSync(path.join(distDir, `wasm/${family}.wasm`)) });
  const w = files.weights;
  const ptr = M._malloc(w.length);
  M.HEAPU8.set(w, ptr);
  try {
    return { M, model: M.Model.load(files.config, ptr, w.length, files.vocab, files.merges, '{}') };
  } finally {
    M._free(ptr);
  }
}

describe('threaded build (threads: 2)', () => {
  let dbg, single;
  beforeAll(async () => {
    expect(existsSync(path.join(distDir, 'wasm/lmdbg-threads.wasm')), 'build it with npm run build:wasm').toBe(true);
    const { LMDebugger } = await lmdbg();
    dbg = await LMDebugger.load(files, { threads: 2 });
    single = await rawSingleThreaded();
  });
  afterAll(async () => {
    await dbg?.dispose();
    single?.model.delete();
  });

  it('runs 2 threads, on the build of its SIMD family', async () => {
    expect((await dbg.memory()).threads).toBe(2);
    expect(path.basename(new URL(moduleUrl()).pathname)).toBe(`${family}-threads.wasm`);
  });

  it('logits, hooks and trace are bitwise those of the single-threaded build', async () => {
    const ids = await dbg.tokenize(PROMPT);
    expect(Array.from(single.model.tokenize(PROMPT, false))).toEqual(ids);
    const same = (a, b) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    const names = ['blocks.0.mlp.hook_post', 'blocks.1.hook_resid_post', 'blocks.1.attn.hook_pattern'];
    const cache = await dbg.runWithCache(ids, { names });
    const raw = single.model.runWithCache(ids, JSON.stringify(names), '[]');
    expect(cache.logits.data.length).toBe(ids.length * 50257);
    expect(same(cache.logits.data, raw.logits.data)).toBe(true);
    for (const h of raw.hooks) expect(same(cache.hooks[h.name].data, h.data), h.name).toBe(true);

    const ivs = [{ layer: 1, index: 3, mode: 'on' }, { layer: 0, index: 5, mode: 'scale', value: 3 }];
    const t = await dbg.trace(ids, { positions: 'all', interventions: ivs, valueTopK: 5 });
    const rawTrace = JSON.parse(single.model.trace(ids, JSON.stringify({ positions: 'all', interventions: ivs, valueTopK: 5 })).json);
    expect(JSON.stringify(t.positions)).toBe(JSON.stringify(rawTrace.positions));
  });

  it('a 64-token prompt (attention heads, layer-norm rows and GELU chunks split over the threads) is bitwise the same', async () => {
    const ids = Array.from({ length: 64 }, (_, i) => (i * 7919 + 13) % 50257);
    const names = ['blocks.1.attn.hook_pattern', 'blocks.1.ln2.hook_normalized', 'blocks.1.mlp.hook_post'];
    const cache = await dbg.runWithCache(ids, { names });
    const raw = single.model.runWithCache(ids, JSON.stringify(names), '[]');
    const same = (a, b) => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
    expect(same(cache.logits.data, raw.logits.data)).toBe(true);
    for (const h of raw.hooks) expect(same(cache.hooks[h.name].data, h.data), h.name).toBe(true);
  });

  it('generation matches token for token', async () => {
    const got = [];
    for await (const t of dbg.generate(PROMPT, { maxNewTokens: 8, stopAtEndOfText: false })) got.push(t.id);
    const g = single.M.createGenerator(single.model, single.model.tokenize(PROMPT, false), '[]', '{}');
    const want = [];
    for (let i = 0; i < 8; i++) want.push(g.next());
    g.delete();
    expect(got).toEqual(want);
  });
});
