// Names shared with the engine: TransformerLens hook names, value-vector names ("L{layer}D{index}")
// and the intervention spec syntax of the CLI. Pure string work, usable before any model is loaded;
// tests check hookNames() against the engine's own table (M.hookNames).
import type { ActName, HookName, Intervention, InterventionMode } from '../types/index.js';

// [TransformerLens suffix, get_act_name short name], in forward order (core/trace/hooks.cpp).
const PER_LAYER: readonly (readonly [string, ActName])[] = [
  ['hook_resid_pre', 'resid_pre'],
  ['ln1.hook_normalized', 'normalized1'],
  ['attn.hook_pattern', 'pattern'],
  ['hook_attn_out', 'attn_out'],
  ['hook_resid_mid', 'resid_mid'],
  ['ln2.hook_normalized', 'normalized2'],
  ['mlp.hook_pre', 'pre'],
  ['mlp.hook_post', 'post'],
  ['hook_mlp_out', 'mlp_out'],
  ['hook_resid_post', 'resid_post'],
];
const GLOBAL: Partial<Record<ActName, HookName>> = {
  embed: 'hook_embed',
  pos_embed: 'hook_pos_embed',
  ln_final: 'ln_final.hook_normalized',
};

function checkLayerArg(layer: number, what: string): void {
  if (!Number.isInteger(layer) || layer < 0) throw new Error(`${what}: layer must be a non-negative integer, got ${layer}`);
}

export function hookNames(nLayers: number): HookName[] {
  if (!Number.isInteger(nLayers) || nLayers < 0) throw new Error(`hookNames: nLayers must be a non-negative integer, got ${nLayers}`);
  const out: HookName[] = ['hook_embed', 'hook_pos_embed'];
  for (let l = 0; l < nLayers; l++) for (const [suffix] of PER_LAYER) out.push(`blocks.${l}.${suffix}` as HookName);
  out.push('ln_final.hook_normalized');
  return out;
}

export function getActName(name: ActName, layer?: number): HookName {
  const global = GLOBAL[name];
  if (global) {
    if (layer !== undefined) throw new Error(`getActName: "${name}" is not per layer; call it without a layer`);
    return global;
  }
  const entry = PER_LAYER.find(([, short]) => short === name);
  if (!entry) throw new Error(`getActName: unknown activation name "${name}"`);
  if (layer === undefined) throw new Error(`getActName: "${name}" needs a layer`);
  checkLayerArg(layer, 'getActName');
  return `blocks.${layer}.${entry[0]}` as HookName;
}

export function valueVectorName(layer: number, index: number): string {
  checkLayerArg(layer, 'valueVectorName');
  if (!Number.isInteger(index) || index < 0) throw new Error(`valueVectorName: index must be a non-negative integer, got ${index}`);
  return `L${layer}D${index}`;
}

const MODES: Record<InterventionMode, boolean> = { off: false, on: false, set: true, pre: true, scale: true, add: true };

export function parseIntervention(spec: string): Intervention {
  const fail = (why: string): never => {
    throw new Error(`intervention "${spec}": ${why} (expected e.g. "L3D120:off", "L3D120:scale=2@4,5" or "3:120:set=1.5")`);
  };
  if (typeof spec !== 'string') fail('not a string');
  const s = spec.trim();
  const at = s.indexOf('@');
  const head = at < 0 ? s : s.slice(0, at);
  const posText = at < 0 ? undefined : s.slice(at + 1);
  const m =
    /^L(\d+)D(\d+):([a-z]+)(?:=(.+))?$/i.exec(head) ?? /^(\d+):(\d+):([a-z]+)(?:=(.+))?$/.exec(head);
  if (!m) return fail('cannot parse it');
  const [, layerText, indexText, modeText, valueText] = m as unknown as [string, string, string, string, string | undefined];
  const mode = modeText.toLowerCase() as InterventionMode;
  if (!(mode in MODES)) return fail(`unknown mode "${modeText}"`);
  const iv: Intervention = { layer: Number(layerText), index: Number(indexText), mode };
  if (MODES[mode]) {
    if (valueText === undefined) fail(`mode ${mode} needs a value, e.g. ${mode}=2`);
    const v = Number(valueText);
    if (!Number.isFinite(v) || valueText!.trim() === '') fail(`value "${valueText}" is not a finite number`);
    iv.value = v;
  } else if (valueText !== undefined) {
    fail(`mode ${mode} takes no value`);
  }
  if (posText !== undefined) {
    const parts = posText.split(',');
    if (!parts.every((p) => /^\d+$/.test(p.trim()))) fail(`positions "${posText}" are not integers`);
    iv.positions = parts.map((p) => Number(p));
  }
  return iv;
}
