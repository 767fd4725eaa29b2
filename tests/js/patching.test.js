// Activation patching, tracked tokens and keyword search parity through the built package (wasm),
// against the PyTorch reference written from their definitions (weights_tools/make_fixtures.py).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { lmdbg, modelDir, readReference, TOL, ids } from './helpers.js';

const { LMDebugger } = await lmdbg();

function near(got, want, what) {
  const d = Math.abs(got - want);
  if (!(d <= TOL)) throw new Error(`${what}: got ${got}, want ${want} (diff ${d.toExponential(2)})`);
  return d;
}

for (const variant of ['l4-f32', 'l2-f16']) {
  describe(`${variant}: patching and tracked tokens vs PyTorch`, () => {
    let dbg;
    const { meta } = readReference(variant);
    const pairs = Object.fromEntries(meta.patching.pairs.map((p) => [p.name, p]));
    const caseIds = (name) => meta.cases.find((c) => c.name === name).ids;
    beforeAll(async () => {
      dbg = await LMDebugger.load(modelDir(variant));
    });
    afterAll(() => dbg?.dispose());

    it('patch(): metric, clean, corrupt and argmax of single patches', async () => {
      let worst = 0;
      for (const pj of meta.patching.patches) {
        const { source, target } = pairs[pj.pair];
        const r = await dbg.patch(source.ids, target.ids, {
          hook: pj.hook, layer: pj.layer, metric: pj.metric, ...(pj.positions ? { positions: pj.positions } : {}),
          ...(pj.head !== undefined ? { head: pj.head } : {}),
        });
        const what = `${pj.pair} ${pj.hook} L${pj.layer}${pj.head !== undefined ? `H${pj.head}` : ''}`;
        expect(r.options.head).toBe(pj.head);
        expect(r.schema).toBe('lmdbg.patch/1');
        worst = Math.max(worst, near(r.metric, pj.value, `${what} metric`), near(r.clean, pj.clean, `${what} clean`),
          near(r.corrupt, pj.corrupt, `${what} corrupt`));
        expect(r.predicted.id, what).toBe(pj.argmax);
        expect(r.offset).toBe(source.ids.length - target.ids.length);
        if (pj.positions) expect(r.options.positions).toEqual([...pj.positions].sort((a, b) => a - b));
      }
      console.log(`${variant} patch maxdiff ${worst.toExponential(2)}`);
    });

    it('patchSweep(): every layer × position, null where the target position has no source', async () => {
      let worst = 0;
      for (const sj of meta.patching.sweeps) {
        const { source, target } = pairs[sj.pair];
        const s = await dbg.patchSweep(source.text, target.text, {
          hook: sj.hook, metric: sj.metric, ...(sj.head !== undefined ? { head: sj.head } : {}),
        });
        expect(s.options.head).toBe(sj.head);
        expect(s.schema).toBe('lmdbg.patch-sweep/1');
        expect(ids(s.target.tokens)).toEqual(target.ids);
        worst = Math.max(worst, near(s.clean, sj.clean, 'clean'), near(s.corrupt, sj.corrupt, 'corrupt'));
        expect(s.metric.length).toBe(meta.n_layer);
        sj.values.forEach((row, l) =>
          row.forEach((want, p) => {
            if (want === null) expect(s.metric[l][p], `L${l} p${p}`).toBeNull();
            else worst = Math.max(worst, near(s.metric[l][p], want, `${sj.pair} ${sj.hook} L${l} p${p}`));
          }),
        );
      }
      console.log(`${variant} patchSweep maxdiff ${worst.toExponential(2)}`);
    });

    it('patch(): hook result needs a head in range, other hooks refuse one; the module stays usable', async () => {
      const { source, target } = pairs.pp0;
      const metric = { type: 'logit', token: 3 };
      await expect(dbg.patch(source.ids, target.ids, { hook: 'result', layer: 0, metric })).rejects.toThrow(/needs a head/);
      await expect(dbg.patch(source.ids, target.ids, { hook: 'result', layer: 0, head: 99, metric })).rejects.toThrow(/head 99 out of range/);
      await expect(dbg.patch(source.ids, target.ids, { hook: 'mlp_out', layer: 0, head: 1, metric })).rejects.toThrow(/hook result only/);
      const r = await dbg.patch(source.ids, target.ids, { hook: 'result', layer: 0, head: 0, metric });
      expect(r.options.head).toBe(0);
    });

    it('trace({ track }): chosen tokens\' rank and probability at every layer', async () => {
      let worst = 0;
      for (const tc of meta.tracked) {
        const t = await dbg.trace(caseIds(tc.case), { track: tc.ids });
        expect(t.options.track).toEqual(tc.ids);
        for (const lj of tc.layers) {
          const l = t.positions[0].layers[lj.layer];
          expect(ids(l.tracked)).toEqual(tc.ids);
          for (const side of ['before', 'after'])
            lj[side].forEach((w, k) => {
              expect(l.tracked[k].rank[side], `${tc.case} L${lj.layer} ${side} ${tc.ids[k]}`).toBe(w.rank);
              worst = Math.max(worst, near(l.tracked[k].prob[side], w.prob, `${tc.case} L${lj.layer} ${side} prob`));
            });
        }
      }
      console.log(`${variant} tracked maxdiff ${worst.toExponential(2)}`);
    });
  });
}

describe('l4-f32: patching properties, the trace with a patch, errors; search parity', () => {
  let dbg;
  beforeAll(async () => {
    dbg = await LMDebugger.load(modelDir('l4-f32'));
  });
  afterAll(() => dbg?.dispose());
  const source = 'The old man walked to the river';
  const target = 'A child ran to the sea';

  it('the last layer\'s resid_post at the last position gives the source\'s metric; a prompt patched into itself is unchanged', async () => {
    const L = dbg.config.nLayers;
    const T = (await dbg.tokenize(target)).length;
    const metric = { type: 'logitDiff', token: 17, distractor: 250 };
    const r = await dbg.patch(source, target, { hook: 'resid_post', layer: L - 1, positions: [T - 1], metric });
    expect(Math.abs(r.metric - r.clean)).toBeLessThan(1e-5);
    expect(Math.abs(r.clean - r.corrupt)).toBeGreaterThan(1e-3);
    const self = await dbg.patchSweep(target, target, { hook: 'mlp_out', metric });
    for (const row of self.metric) for (const v of row) expect(Math.abs(v - self.corrupt)).toBeLessThan(1e-5);
  });

  it('a trace with a patch: the patched prediction, the unpatched run as clean; source as text', async () => {
    const metric = { type: 'prob', token: 17 };
    const r = await dbg.patch(source, target, { hook: 'resid_mid', layer: 1, positions: [2, 4], metric });
    const t = await dbg.trace(target, { patch: { source, hook: 'resid_mid', layer: 1, positions: [2, 4] }, track: [17] });
    expect(t.positions[0].predicted.id).toBe(r.predicted.id);
    expect(Math.abs(t.positions[0].layers.at(-1).tracked[0].prob.after - r.metric)).toBeLessThan(1e-5);
    expect(t.options.patch).toMatchObject({ hook: 'resid_mid', layer: 1, positions: [2, 4], offset: r.offset });
    expect(ids(t.options.patch.source)).toEqual(await dbg.tokenize(source));
    expect(t.positions[0].clean.predicted.id).toBe((await dbg.trace(target)).positions[0].predicted.id);
  });

  it('bad patch requests are errors that name the problem; the debugger stays usable', async () => {
    const metric = { type: 'logit', token: 3 };
    await expect(dbg.patch('a b c', 'd e f g h', { hook: 'hook_pattern', layer: 0, metric })).rejects.toThrow(/unknown hook "hook_pattern"/);
    await expect(dbg.patch('a', 'b', { hook: 'resid_pre', layer: 9, metric })).rejects.toThrow(/layer 9/);
    await expect(dbg.patch([1, 2], [3, 4, 5], { hook: 'resid_pre', layer: 0, positions: [0], metric })).rejects.toThrow(/no source position/);
    await expect(dbg.patch('a', 'b', { hook: 'resid_pre', layer: 0, metric: { type: 'logitDiff', token: 3 } })).rejects.toThrow(/distractor/);
    await expect(dbg.patch('a', 'b', { hook: 'resid_pre', layer: 0, metric: { type: 'logit', token: 9999 } })).rejects.toThrow(/9999/);
    await expect(dbg.patchSweep('a', 'b', { hook: 'resid_pre', metric, layer: 0 })).rejects.toThrow(/unknown option "layer"/);
    await expect(dbg.trace('a b', { track: [5, 5] })).rejects.toThrow(/twice/);
    expect((await dbg.patch('a', 'b', { hook: 'resid_pre', layer: 0, metric })).schema).toBe('lmdbg.patch/1');
  });

  it('search: case-insensitive, multi-token keywords said, weak hits marked; LM-Debugger ranking', async () => {
    const lower = await dbg.search('the', { limit: 6, topK: 0 });
    const upper = await dbg.search('THE', { limit: 6, topK: 0 });
    expect(upper.hits.map((h) => h.name)).toEqual(lower.hits.map((h) => h.name));
    const theIds = ids(lower.keywords[0].tokens);
    for (const spelled of ['the', ' the', 'The', ' The']) {
      const t = await dbg.tokenize(spelled);
      if (t.length === 1) expect(theIds).toContain(t[0]);
    }
    expect(lower.weakZ).toBe(3);
    for (const h of lower.hits) expect(h.weak).toBe(h.matched.every((m) => m.z < lower.weakZ));
    const multi = await dbg.search(['xylophone'], { limit: 3, topK: 0 });
    expect(multi.keywords[0].multiToken).toBe(true);
    expect(ids(multi.keywords[0].pieces)).toEqual(await dbg.tokenize(' xylophone'));
    const lmd = await dbg.search(['river', 'the'], { limit: 10, topK: 0, ranking: 'lmdebugger' });
    expect(lmd.ranking).toBe('lmdebugger');
    for (const h of lmd.hits) {
      expect(h.score).toBe(h.matched.filter((m) => m.inTop50).length);
      expect(h.score).toBeGreaterThan(0);
    }
    await expect(dbg.search('river', { ranking: 'bm25' })).rejects.toThrow(/ranking/);
  });
});
