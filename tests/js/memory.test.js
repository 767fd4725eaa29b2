// Memory stability of the wasm heap through the package: hundreds of calls and load/dispose cycles
// leave heapUsed where it was after warm-up, and the heap does not grow.
import { describe, it, expect } from 'vitest';
import { lmdbg, modelDir } from './helpers.js';

const { LMDebugger } = await lmdbg();
const PROMPT = 'The old man walked to the river, and the children played in the field.';

describe('wasm heap stability', () => {
  it('300 traces (with interventions, attention, raw lens, all positions) leave no heap growth', async () => {
    const dbg = await LMDebugger.load(modelDir('l4-f32'));
    const interventions = [{ layer: 3, index: 250, mode: 'on' }, { layer: 1, index: 7, mode: 'scale', value: 2, positions: [2, 3] }];
    const step = async (i) => {
      const t = await dbg.trace(PROMPT, { positions: i % 50 ? 'last' : 'all', attention: i % 7 === 0, rawLens: i % 3 === 0, interventions: i % 2 ? interventions : [] });
      if (i % 50 === 0) {
        await dbg.runWithCache(PROMPT);
        await dbg.valueVectors([[0, 0], [3, 255]]);
        await dbg.search('river', { limit: 5 });
        for await (const _ of dbg.generate(PROMPT, { maxNewTokens: 3 }));
      }
      return t;
    };
    for (let i = 0; i < 10; i++) await step(i); // warm-up: first-use allocations (search statistics, caches)
    const before = await dbg.memory();
    const t0 = performance.now();
    for (let i = 0; i < 300; i++) await step(i);
    const ms = (performance.now() - t0) / 300;
    const after = await dbg.memory();
    console.log(`300 traces: ${ms.toFixed(2)} ms each; heapUsed ${before.heapUsed} -> ${after.heapUsed} B, heapBytes ${before.heapBytes} -> ${after.heapBytes} B, weights ${after.weightBytes} B`);
    expect(after.heapUsed).toBe(before.heapUsed);
    expect(after.heapBytes).toBe(before.heapBytes);
    await dbg.dispose();
  });

  it('50 load/dispose cycles return the heap to its baseline', async () => {
    const cycle = async (i) => {
      const d = await LMDebugger.load(modelDir(i % 2 ? 'l2-f16' : 'l4-f16-prefix'), { dtype: i % 3 ? 'f32' : 'f16' });
      await d.trace('The old man');
      await d.dispose();
    };
    const probe = async () => {
      const d = await LMDebugger.load(modelDir('l2-f16'));
      const m = await d.memory();
      await d.dispose();
      return m;
    };
    for (let i = 0; i < 6; i++) await cycle(i); // warm-up: the engine's one-time tables
    const base = await probe();
    for (let i = 0; i < 50; i++) await cycle(i);
    const m = await probe();
    console.log(`50 load/dispose cycles: heapUsed ${base.heapUsed} -> ${m.heapUsed} B (with a model loaded), heapBytes ${base.heapBytes} -> ${m.heapBytes} B`);
    // dlmalloc's accounting moves by a few bytes; a leak of anything model-sized would be >= 50 x KBs.
    expect(Math.abs(m.heapUsed - base.heapUsed)).toBeLessThan(1024);
    expect(m.heapBytes).toBe(base.heapBytes);
  });
});
