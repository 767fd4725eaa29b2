// Attention heads and attribution through the built package, against the float64 PyTorch reference
// (tests/fixtures/ref): the per-head hooks' shapes, the trace's heads, head interventions in the spec
// syntax, and attribute() (whose parts must sum to the logit). The hooks' values, the head
// interventions' logits and generation are checked with the rest in api.test.js.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { lmdbg, modelDir, readReference, TOL, ids } from './helpers.js';

const { LMDebugger, parseIntervention, interventionModes, headName } = await lmdbg();

function near(got, want, what) {
  const d = Math.abs(got - want);
  if (!(d <= TOL)) throw new Error(`${what}: got ${got}, want ${want} (diff ${d.toExponential(2)})`);
  return d;
}

/** Values at every rank within TOL; ids only where the reference has no near tie. */
function ranked(got, want, what) {
  expect(got.length, what).toBe(want.length);
  want.forEach((w, i) => {
    near(got[i].logit, w.logit, `${what}[${i}]`);
    const tie = [want[i - 1], want[i + 1]].some((o) => o && Math.abs(o.logit - w.logit) < 2 * TOL);
    if (!tie) expect(got[i].id, `${what}[${i}]`).toBe(w.id);
  });
}

for (const variant of ['l4-f32', 'l2-f16']) {
  describe(`${variant}: heads and attribution vs PyTorch reference`, () => {
    let dbg;
    const { meta } = readReference(variant);
    const caseIds = (name) => meta.cases.find((c) => c.name === name).ids;
    beforeAll(async () => {
      dbg = await LMDebugger.load(modelDir(variant));
    });
    afterAll(() => dbg?.dispose());

    it('trace heads: norm, direct effect, top and bottom tokens of wte·result_h, ranked by norm', async () => {
      let worst = 0;
      for (const ref of meta.heads) {
        const t = await dbg.trace(caseIds(ref.case), { heads: 4, valueTopK: 10 });
        expect(t.options.heads).toBe(4);
        const p = t.positions.at(-1);
        expect(p.predicted.id).toBe(ref.pred);
        for (const rl of ref.layers) {
          const got = p.layers[rl.layer].heads;
          expect(got.map((x) => x.head), `${ref.case} L${rl.layer}`).toEqual(rl.heads.map((x) => x.head));
          rl.heads.forEach((w, i) => {
            const g = got[i];
            expect(g.name).toBe(headName(rl.layer, w.head));
            worst = Math.max(worst, near(g.norm, w.norm, `${g.name} norm`), near(g.direct, w.direct, `${g.name} direct`));
            ranked(g.topTokens, w.top, `${ref.case} ${g.name} top`);
            ranked(g.bottomTokens, w.bottom, `${ref.case} ${g.name} bottom`);
          });
        }
      }
      console.log(`${variant} trace heads maxdiff ${worst.toExponential(2)}`);
    });

    it('attribute(): every part by name, the logit, and the parts sum to it', async () => {
      let worst = 0;
      let worstSum = 0;
      for (const item of meta.attribution) {
        const a = await dbg.attribute(caseIds(item.case), {
          target: item.target,
          distractor: item.distractor,
          position: item.position,
          neurons: item.topNeurons,
          interventions: item.interventions ?? [],
        });
        expect(a.schema).toBe('lmdbg.attribution/1');
        expect([a.position, a.target.id, a.distractor?.id ?? null]).toEqual([item.position, item.target, item.distractor]);
        worst = Math.max(worst, near(a.logit, item.logit, `${item.name} logit`), near(a.scale, item.scale, `${item.name} scale`));
        expect(a.components.map((c) => c.name), item.name).toEqual(item.components.map((c) => c.name));
        a.components.forEach((c, i) => (worst = Math.max(worst, near(c.value, item.components[i].value, `${item.name} ${c.name}`))));
        const sum = a.components.reduce((s, c) => s + c.value, 0);
        worstSum = Math.max(worstSum, Math.abs(sum - a.logit));
        expect(Math.abs(sum - a.logit), `${item.name}: the parts sum to the logit`).toBeLessThan(1e-4);
      }
      console.log(`${variant} attribution maxdiff ${worst.toExponential(2)}, |sum - logit| <= ${worstSum.toExponential(2)}`);
    });
  });
}

describe('l4-f32: head hooks, head interventions, attribution options', () => {
  let dbg;
  beforeAll(async () => {
    dbg = await LMDebugger.load(modelDir('l4-f32'));
  });
  afterAll(() => dbg?.dispose());

  it('runWithCache: the per-head hooks have TransformerLens shapes; scores are -inf where masked', async () => {
    const names = ['q', 'k', 'v', 'z', 'attn_scores', 'result'].map((n) => `blocks.2.attn.hook_${n}`);
    const c = await dbg.runWithCache('The old man walked', { names: [...names, 'blocks.2.hook_attn_out'] });
    const T = c.logits.dims[0];
    for (const n of ['q', 'k', 'v', 'z']) expect(c.hooks[`blocks.2.attn.hook_${n}`].dims).toEqual([T, 4, 16]);
    expect(c.hooks['blocks.2.attn.hook_result'].dims).toEqual([T, 4, 64]);
    const s = c.hooks['blocks.2.attn.hook_attn_scores'];
    expect(s.dims).toEqual([4, T, T]);
    expect(s.data[1]).toBe(-Infinity); // query 0, key 1
    expect(Number.isFinite(s.data[T])).toBe(true); // query 1, key 0
    // Σ_h hook_result + b_O = hook_attn_out: the bias cancels in the difference of two positions.
    const r = c.hooks['blocks.2.attn.hook_result'].data;
    const out = c.hooks['blocks.2.hook_attn_out'].data;
    for (let n = 0; n < 64; n++) {
      let d = 0;
      for (let h = 0; h < 4; h++) d += r[(1 * 4 + h) * 64 + n] - r[(0 * 4 + h) * 64 + n];
      near(d, out[64 + n] - out[n], `result sum, column ${n}`);
    }
  });

  it('head interventions: spec, JSON, modes per target; errors name the problem', async () => {
    expect(parseIntervention('L3H1:off')).toEqual({ layer: 3, head: 1, mode: 'off' });
    expect(parseIntervention('3:h1:scale=0.5@2')).toEqual({ layer: 3, head: 1, mode: 'scale', value: 0.5, positions: [2] });
    expect(parseIntervention('l3h1:SCALE=2')).toEqual({ layer: 3, head: 1, mode: 'scale', value: 2 });
    expect(() => parseIntervention('L3H1:on')).toThrow('intervention: on does not apply to a head: L3H1 accepts off or scale=V');
    expect(() => parseIntervention('L3H1:zap')).toThrow('unknown mode "zap" (expected off or scale=V)');
    expect(interventionModes.filter((m) => m.targets.includes('head')).map((m) => m.name)).toEqual(['off', 'scale']);
    expect(interventionModes.find((m) => m.name === 'off').headHook).toBe('attn.hook_z');
    const off = await dbg.trace('The old man walked', { interventions: [parseIntervention('L3H1:off')], cleanLayers: true, heads: 4 });
    expect(off.resolvedInterventions).toEqual([{ layer: 3, head: 1, mode: 'off', positions: null }]);
    expect(off.positions[0].layers[3].heads.find((x) => x.head === 1).norm).toBe(0);
    expect(off.positions[0].clean.layers[3].heads.find((x) => x.head === 1).norm).toBeGreaterThan(0);
    await expect(dbg.trace('The old man', { interventions: [{ layer: 3, head: 4, mode: 'off' }] })).rejects.toThrow(/head 4 out of range \[0, 4\)/);
    await expect(dbg.trace('The old man', { interventions: [{ layer: 3, head: 1, mode: 'set', value: 1 }] })).rejects.toThrow(
      /mode set does not apply to a head L3H1 \(a head accepts off or scale=V\)/,
    );
    await expect(dbg.trace('The old man', { interventions: [{ layer: 3, head: 1, index: 2, mode: 'off' }] })).rejects.toThrow(/not both/);
    const g = [];
    for await (const t of dbg.generate('The old man', { maxNewTokens: 3, interventions: [parseIntervention('L3H1:scale=3')] })) g.push(t.id);
    expect(g.length).toBe(3);
  });

  it('attribute(): text targets, the trace option, and clear errors', async () => {
    const the = (await dbg.tokenize(' the'))[0];
    const a = await dbg.attribute('The old man walked to the river', { target: ' the', distractor: 5, neurons: 3 });
    expect(a.target).toEqual({ id: the, text: ' the' });
    expect(a.components.filter((c) => c.kind === 'neuron').length).toBe(3);
    expect(a.components.filter((c) => c.kind === 'head').length).toBe(16);
    const t = await dbg.trace('The old man walked to the river', { attribute: { target: ' the', distractor: 5, neurons: 3 } });
    expect(t.attribution.components.map((c) => c.name)).toEqual(a.components.map((c) => c.name));
    near(t.attribution.logit, a.logit, 'trace attribution logit');
    await expect(dbg.attribute('The old man', { target: ' riverbank' })).rejects.toThrow(/" riverbank" is 3 tokens \(" river", "b", "ank"\): give one token, or its id/);
    await expect(dbg.attribute('The old man', { target: 3, distractor: 3 })).rejects.toThrow(/the distractor is the target/);
    await expect(dbg.attribute('The old man', { target: 3, position: 9 })).rejects.toThrow(/position 9 out of range \[0, 4\)/);
    await expect(dbg.attribute('The old man', { distractor: 3 })).rejects.toThrow(/"target" is required/);
    await expect(dbg.attribute('The old man', null)).rejects.toThrow(/attribute needs options/);
    expect((await dbg.attribute('The old man', { target: 3 })).position).toBe(3); // still usable
    expect(ids([a.target])).toEqual([the]);
  });
});
