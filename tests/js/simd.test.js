// Without WebAssembly SIMD the package explains what is missing instead of failing inside the glue,
// and a later start (SIMD back) still works: a failed start is not cached.
import { describe, it, expect, vi } from 'vitest';
import { lmdbg, modelDir } from './helpers.js';

const { LMDebugger, simdSupported } = await lmdbg();

describe('SIMD detection', () => {
  it('explains a missing SIMD instead of loading, then recovers', async () => {
    const validate = WebAssembly.validate;
    const spy = vi.spyOn(WebAssembly, 'validate').mockImplementation((bytes) => {
      // Refuse modules that use the SIMD opcode prefix (0xfd), accept others, like an engine without SIMD.
      return new Uint8Array(bytes).includes(0xfd) ? false : validate(bytes);
    });
    try {
      expect(simdSupported()).toBe(false);
      await expect(LMDebugger.load(modelDir('l2-f16'))).rejects.toThrow(/does not support WebAssembly SIMD .*Chrome\/Edge 91\+, Firefox 89\+, Safari 16\.4\+/);
    } finally {
      spy.mockRestore();
    }
    expect(simdSupported()).toBe(true);
    const dbg = await LMDebugger.load(modelDir('l2-f16'));
    expect(dbg.config.nLayers).toBe(2);
    await dbg.dispose();
  });
});
