// What one call costs (memory().forwardPasses: one pass without interventions, two with any, `on`
// included), the one-call trace the page makes (lens over the positions, the clean run's layers), and
// the tables the package shares with the engine (modes, the Worker's method list).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { lmdbg, modelDir } from './helpers.js';

const { LMDebugger, interventionModes, parseIntervention } = await lmdbg();

describe('forward passes per call', () => {
  let dbg;
  beforeAll(async () => {
    dbg = await LMDebugger.load(modelDir('l2-f16'));
  });
  afterAll(() => dbg?.dispose());

  const passes = async (f) => {
    const before = (await dbg.memory()).forwardPasses;
    await f();
    return (await dbg.memory()).forwardPasses - before;
  };

  it('a trace costs one pass, two with any intervention (on included), whatever it returns', async () => {
    const all = { attention: true, lensPositions: 'all' };
    expect(await passes(() => dbg.trace('The old man and the sea', all))).toBe(1);
    for (const spec of ['L1D3:off', 'L1D3:on', 'L0D7:scale=2@1']) {
      const interventions = [parseIntervention(spec), parseIntervention('L0D4:on')];
      expect(await passes(() => dbg.trace('The old man and the sea', { ...all, interventions, cleanLayers: true })), spec).toBe(2);
    }
  });

  it('runWithCache and generation: one pass, two with on; generation steps extend their pass', async () => {
    expect(await passes(() => dbg.runWithCache('The old man'))).toBe(1);
    expect(await passes(() => dbg.runWithCache('The old man', { interventions: [parseIntervention('L1D2:on')] }))).toBe(2);
    const gen = async (interventions) => {
      for await (const _ of dbg.generate('The old man', { maxNewTokens: 4, interventions })) void _;
    };
    expect(await passes(() => gen([]))).toBe(1);
    expect(await passes(() => gen([parseIntervention('L1D2:off')]))).toBe(1);
    expect(await passes(() => gen([parseIntervention('L1D2:on')]))).toBe(2);
  });
});

describe('the one-call trace of the page', () => {
  let dbg;
  beforeAll(async () => {
    dbg = await LMDebugger.load(modelDir('l4-f32'));
  });
  afterAll(() => dbg?.dispose());

  it('lensPositions gives the lens of full traces at those positions', async () => {
    const interventions = [parseIntervention('L1D7:scale=3')];
    const t = await dbg.trace('The old man and the sea', { lensPositions: 'all', lensTopK: 2, interventions });
    const full = await dbg.trace('The old man and the sea', { positions: 'all', topK: 2, subUpdates: 0, interventions });
    expect(t.lens.length).toBe(t.tokens.length);
    t.lens.forEach((p, i) => {
      expect(p.position).toBe(i);
      expect(p.predicted).toEqual(full.positions[i].predicted);
      p.layers.forEach((l, k) => {
        expect(l.after).toEqual(full.positions[i].layers[k].after);
        expect(l.predictedRank).toEqual(full.positions[i].layers[k].predictedRank);
        expect(l.subUpdates).toBeUndefined();
      });
    });
    await expect(dbg.trace('The old man', { lensPositions: [9] })).rejects.toThrow(/lens position 9 out of range \[0, 4\) \(the prompt has 4 tokens\)/);
  });

  it('cleanLayers gives the clean trace beside the intervened one', async () => {
    const interventions = [parseIntervention('L3D5:off'), parseIntervention('L2D11:on')];
    const t = await dbg.trace('The river flows', { interventions, cleanLayers: true });
    const clean = await dbg.trace('The river flows');
    expect(t.positions[0].clean.layers).toEqual(clean.positions[0].layers);
    expect(t.positions[0].clean.predicted).toEqual(clean.positions[0].predicted);
  });

  it('positions of an intervention must lie inside the prompt', async () => {
    await expect(dbg.trace('The old man', { interventions: [parseIntervention('L0D5:on@99')] })).rejects.toThrow(
      /position 99 out of range \[0, 4\) \(the prompt has 4 tokens\)/,
    );
  });
});

describe('tables shared with the engine', () => {
  it('interventionModes is the engine\'s table (lmdbg tables), and parseIntervention follows it', () => {
    const names = interventionModes.map((m) => m.name);
    expect(names).toEqual(['off', 'on', 'set', 'pre', 'scale', 'add']);
    for (const m of interventionModes) {
      const spec = `L1D2:${m.name}${m.takesValue ? '=1.5' : ''}`;
      expect(parseIntervention(spec).mode).toBe(m.name);
      expect(() => parseIntervention(`L1D2:${m.name}${m.takesValue ? '' : '=1'}`)).toThrow(m.takesValue ? /needs a value/ : /takes no value/);
    }
    expect(interventionModes.find((m) => m.name === 'on').effect).toMatch(/can also lower/);
  });

  it('the Worker forwards exactly the Debugger methods of the .d.ts (besides generate and dispose)', async () => {
    const dts = readFileSync(new URL('../../js/types/index.d.ts', import.meta.url), 'utf8');
    const body = dts.slice(dts.indexOf('export interface Debugger {'), dts.indexOf('/** The entry point'));
    const methods = [...body.matchAll(/^ {2}(\w+)\(/gm)].map((m) => m[1]).filter((m) => m !== 'generate' && m !== 'dispose');
    const { CALL_METHODS } = await import('../../dist/protocol.js');
    expect([...CALL_METHODS].sort()).toEqual(methods.sort());
  });
});
