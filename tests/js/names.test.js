// Name helpers (usable before any model is loaded) against the engine's own tables.
import { describe, it, expect } from 'vitest';
import { lmdbg, modelDir } from './helpers.js';

const { LMDebugger, hookNames, getActName, parseIntervention, valueVectorName, simdSupported } = await lmdbg();

describe('names', () => {
  it('hookNames() is the engine\'s hook table, in forward order (runWithCache returns every hook)', async () => {
    for (const v of ['l4-f32', 'l2-f16']) {
      const dbg = await LMDebugger.load(modelDir(v));
      const cache = await dbg.runWithCache('The old man');
      expect(Object.keys(cache.hooks)).toEqual(hookNames(dbg.config.nLayers));
      await dbg.dispose();
    }
    expect(hookNames(1)).toEqual([
      'hook_embed', 'hook_pos_embed', 'blocks.0.hook_resid_pre', 'blocks.0.ln1.hook_normalized', 'blocks.0.attn.hook_q',
      'blocks.0.attn.hook_k', 'blocks.0.attn.hook_v', 'blocks.0.attn.hook_attn_scores', 'blocks.0.attn.hook_pattern',
      'blocks.0.attn.hook_z', 'blocks.0.attn.hook_result', 'blocks.0.hook_attn_out', 'blocks.0.hook_resid_mid', 'blocks.0.ln2.hook_normalized', 'blocks.0.mlp.hook_pre',
      'blocks.0.mlp.hook_post', 'blocks.0.hook_mlp_out', 'blocks.0.hook_resid_post', 'ln_final.hook_normalized',
    ]);
  });

  it('getActName follows TransformerLens get_act_name', () => {
    expect(getActName('post', 5)).toBe('blocks.5.mlp.hook_post');
    expect(getActName('pre', 0)).toBe('blocks.0.mlp.hook_pre');
    expect(getActName('resid_mid', 2)).toBe('blocks.2.hook_resid_mid');
    expect(getActName('pattern', 1)).toBe('blocks.1.attn.hook_pattern');
    expect(getActName('normalized1', 3)).toBe('blocks.3.ln1.hook_normalized');
    expect(getActName('embed')).toBe('hook_embed');
    expect(getActName('ln_final')).toBe('ln_final.hook_normalized');
    expect(() => getActName('post')).toThrow(/needs a layer/);
    expect(() => getActName('embed', 1)).toThrow(/not per layer/);
    expect(() => getActName('nope', 1)).toThrow(/unknown/);
  });

  it('parseIntervention reads the CLI syntax and the L{l}D{i} names', () => {
    expect(parseIntervention('L12D34:off')).toEqual({ layer: 12, index: 34, mode: 'off' });
    expect(parseIntervention('L12D34:scale=2@3,4')).toEqual({ layer: 12, index: 34, mode: 'scale', value: 2, positions: [3, 4] });
    expect(parseIntervention('12:34:set=1.5')).toEqual({ layer: 12, index: 34, mode: 'set', value: 1.5 });
    expect(parseIntervention('3:120:on')).toEqual({ layer: 3, index: 120, mode: 'on' });
    expect(parseIntervention('L0D1:add=-0.25')).toEqual({ layer: 0, index: 1, mode: 'add', value: -0.25 });
    expect(parseIntervention('L0D1:pre=1e-3@0')).toEqual({ layer: 0, index: 1, mode: 'pre', value: 0.001, positions: [0] });
    for (const bad of ['L1D2', 'L1D2:zap', 'L1D2:set', 'L1D2:off=1', 'L1D2:set=x', 'L1D2:off@', 'L1D2:off@1,a', '1:2', 'Lx:off', 'L1D2:set=Infinity'])
      expect(() => parseIntervention(bad), bad).toThrow(/intervention/);
  });

  it('parseIntervention: any letter case; errors quote the wrong part as typed', () => {
    expect(parseIntervention('l1d2:OFF')).toEqual({ layer: 1, index: 2, mode: 'off' });
    expect(parseIntervention(' l3d4:Scale=2@0, 3 ')).toEqual({ layer: 3, index: 4, mode: 'scale', value: 2, positions: [0, 3] });
    const msg = (spec) => {
      try {
        parseIntervention(spec);
      } catch (e) {
        return e.message;
      }
      return 'no error';
    };
    expect(msg('L1D2:set=abc')).toBe('intervention: the value "abc" of set is not a number');
    expect(msg('L1D2x:on')).toMatch(/^intervention: "L1D2x" is not a sub-update name like L3D120/);
    expect(msg('L1D2x:on')).not.toMatch(/:on/); // only the part that is wrong
    expect(msg('l1d2:boost')).toBe('intervention: unknown mode "boost" (expected off, on, set=V, pre=V, scale=V or add=V)');
    expect(msg('l1d2')).toMatch(/^intervention: "l1d2" has no mode: .* e\.g\. "l1d2:off"$/);
    expect(msg('L1D2:scale')).toBe('intervention: scale needs a value, e.g. "L1D2:scale=2"');
    expect(msg('L1D2:on=3')).toBe('intervention: on takes no value (remove "=3")');
    expect(msg('L1D2:off@1,x')).toBe('intervention: position "x" is not a whole number >= 0');
    expect(msg('L1D2:off@')).toMatch(/^intervention: no positions after "@"/);
    expect(msg('L99999999999999999999D1:off')).toBe('intervention: layer 99999999999999999999 is too large');
  });

  it('interventionModes lists every mode the engine accepts, with whether it takes a value', async () => {
    const { interventionModes } = await lmdbg();
    expect(interventionModes.map((m) => m.name).sort()).toEqual(['add', 'off', 'on', 'pre', 'scale', 'set']);
    expect(interventionModes.filter((m) => m.takesValue).map((m) => m.name).sort()).toEqual(['add', 'pre', 'scale', 'set']);
    expect(Object.isFrozen(interventionModes)).toBe(true);
    const dbg = await LMDebugger.load(modelDir('l2-f32-prefix'));
    for (const { name: mode, takesValue } of interventionModes) {
      const iv = parseIntervention(`L1D3:${mode}${takesValue ? '=1.5' : ''}`);
      const t = await dbg.trace('The old man', { interventions: [iv] });
      expect(t.interventions[0].mode).toBe(mode);
    }
    await dbg.dispose();
  });

  it('valueVectorName and simdSupported', () => {
    expect(valueVectorName(12, 34)).toBe('L12D34');
    expect(() => valueVectorName(-1, 0)).toThrow();
    expect(simdSupported()).toBe(true);
  });

  it('parsed interventions are accepted by the engine and act as written', async () => {
    const dbg = await LMDebugger.load(modelDir('l4-f32'));
    const a = await dbg.trace('The old man', { interventions: [parseIntervention('L3D250:on')] });
    const b = await dbg.trace('The old man', { interventions: [{ layer: 3, index: 250, mode: 'on' }] });
    expect(a).toEqual(b);
    expect(a.resolvedInterventions[0].mode).toBe('pre');
    await dbg.dispose();
  });
});
