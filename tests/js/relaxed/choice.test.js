// Run by relaxed.vitest.config.js (Node with --experimental-wasm-relaxed-simd): the package detects
// relaxed SIMD and loads lmdbg-relaxed.wasm by itself; an explicit wasmUrl still names the plain
// build. Both stay within the reference tolerance (api.test.js checks every entry point).
import { describe, it, expect } from 'vitest';
import path from 'node:path';
import { distDir, lmdbg, modelDir, readReference, maxAbsDiff, TOL } from '../helpers.js';

const { LMDebugger } = await lmdbg();
const { relaxedSimdSupported, moduleUrl } = await import(path.join(distDir, 'module.js'));

describe('relaxed-SIMD build choice', () => {
  it('detects relaxed SIMD and loads lmdbg-relaxed.wasm, within the reference tolerance', async () => {
    expect(relaxedSimdSupported()).toBe(true);
    const dbg = await LMDebugger.load(modelDir('l4-f32'));
    try {
      expect(path.basename(new URL(moduleUrl()).pathname)).toBe('lmdbg-relaxed.wasm');
      const { meta, tensors } = readReference('l4-f32');
      let worst = 0;
      for (const c of meta.cases) worst = Math.max(worst, maxAbsDiff((await dbg.runWithCache(c.ids)).logits.data, tensors[`${c.name}.logits`].data));
      console.log(`relaxed build: logits maxdiff ${worst.toExponential(2)} vs PyTorch`);
      expect(worst).toBeLessThan(TOL);
    } finally {
      await dbg.dispose();
    }
  });
});
