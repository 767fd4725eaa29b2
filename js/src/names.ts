// Names shared with the engine: TransformerLens hook names, value-vector names ("L{layer}D{index}"),
// head names ("L{layer}H{head}") and the intervention spec syntax of the CLI. Pure string work, usable before any model is loaded;
// tests check hookNames() against the engine's own table (M.hookNames). The tables themselves are
// generated from the engine's (tables.ts).
import type { ActName, HeadInterventionMode, HookName, Intervention, InterventionMode, InterventionModeInfo } from '../types/index.js';
import { HOOKS, MODES } from './tables.js';

const PER_LAYER = HOOKS.filter((h) => h.perLayer);
const GLOBAL = HOOKS.filter((h) => !h.perLayer);

function checkLayerArg(layer: number, what: string): void {
  if (!Number.isInteger(layer) || layer < 0) throw new Error(`${what}: layer must be a non-negative integer, got ${layer}`);
}

export function hookNames(nLayers: number): HookName[] {
  if (!Number.isInteger(nLayers) || nLayers < 0) throw new Error(`hookNames: nLayers must be a non-negative integer, got ${nLayers}`);
  // The engine's order (all_hook_names): embeddings, every layer's hooks, then ln_final.
  const out = GLOBAL.filter((h) => h.suffix !== 'ln_final.hook_normalized').map((h) => h.suffix as HookName);
  for (let l = 0; l < nLayers; l++) for (const h of PER_LAYER) out.push(`blocks.${l}.${h.suffix}` as HookName);
  out.push('ln_final.hook_normalized');
  return out;
}

export function getActName(name: ActName, layer?: number): HookName {
  const entry = HOOKS.find((h) => h.act === name);
  if (!entry) throw new Error(`getActName: unknown activation name "${name}"`);
  if (!entry.perLayer) {
    if (layer !== undefined) throw new Error(`getActName: "${name}" is not per layer; call it without a layer`);
    return entry.suffix as HookName;
  }
  if (layer === undefined) throw new Error(`getActName: "${name}" needs a layer`);
  checkLayerArg(layer, 'getActName');
  return `blocks.${layer}.${entry.suffix}` as HookName;
}

export function valueVectorName(layer: number, index: number): string {
  checkLayerArg(layer, 'valueVectorName');
  if (!Number.isInteger(index) || index < 0) throw new Error(`valueVectorName: index must be a non-negative integer, got ${index}`);
  return `L${layer}D${index}`;
}

export function headName(layer: number, head: number): string {
  checkLayerArg(layer, 'headName');
  if (!Number.isInteger(head) || head < 0) throw new Error(`headName: head must be a non-negative integer, got ${head}`);
  return `L${layer}H${head}`;
}

/** The engine's intervention modes: name, whether it takes a value, where it acts, what it does, on what. */
export const interventionModes: readonly InterventionModeInfo[] = Object.freeze(
  MODES.map((m) => Object.freeze({ ...m, targets: [...m.targets] })),
);

const EXAMPLES = '(e.g. "L3D120:off", "L3D120:scale=2@4,5", "3:120:set=1.5" or, for a head, "L3H5:off")';
const modeList = (ms: readonly InterventionModeInfo[]) =>
  ms
    .map((m) => m.name + (m.takesValue ? '=V' : ''))
    .join(', ')
    .replace(/, ([^,]*)$/, ' or $1');
const MODE_LIST = modeList(MODES);
const HEAD_MODE_LIST = modeList(MODES.filter((m) => m.targets.includes('head')));

/**
 * "L{layer}D{index}:MODE[=VALUE][@POS,...]" or "L{layer}H{head}:MODE..." (letters in any case), or the
 * CLI's "LAYER:INDEX:MODE..." and "LAYER:hHEAD:MODE...". Errors quote the part that is wrong, as it was typed.
 */
export function parseIntervention(spec: string): Intervention {
  const fail = (why: string): never => {
    throw new Error(`intervention: ${why}`);
  };
  if (typeof spec !== 'string') fail(`expected a string like ${EXAMPLES.slice(6, -1)}, got ${typeof spec}`);
  const s = spec.trim();
  if (!s) fail(`empty ${EXAMPLES}`);
  const at = s.indexOf('@');
  const head = at < 0 ? s : s.slice(0, at);
  const posText = at < 0 ? undefined : s.slice(at + 1);
  const m = /^(?:L(\d+)([DH])(\d+)|(\d+):(h?)(\d+))(?::(.*))?$/i.exec(head);
  if (!m) {
    const name = /^\d+:h?\d+/i.test(head) ? head : head.split(':')[0]!;
    return fail(`"${name}" is not a sub-update name like L3D120 (layer 3, neuron 120) or 3:120, nor a head like L3H5 ${EXAMPLES}`);
  }
  const layerText = m[1] ?? m[4]!;
  const indexText = m[3] ?? m[6]!;
  const isHead = (m[2] ?? m[5])!.toLowerCase() === 'h';
  const modePart = m[7] || undefined;
  const name = m[7] === undefined ? head : head.slice(0, head.length - m[7].length - 1); // as typed
  const layer = Number(layerText);
  const index = Number(indexText);
  if (!Number.isSafeInteger(layer)) fail(`layer ${layerText} is too large`);
  if (!Number.isSafeInteger(index)) fail(`${isHead ? 'head' : 'neuron'} ${indexText} is too large`);
  if (modePart === undefined) return fail(`"${head}" has no mode: add one of ${MODE_LIST}, e.g. "${name}:off"`);
  const eq = modePart.indexOf('=');
  const modeText = eq < 0 ? modePart : modePart.slice(0, eq);
  const valueText = eq < 0 ? undefined : modePart.slice(eq + 1);
  const mode = modeText.toLowerCase() as InterventionMode;
  const info = MODES.find((m) => m.name === mode);
  if (!info) return fail(`unknown mode "${modeText}" (expected ${isHead ? HEAD_MODE_LIST : MODE_LIST})`);
  if (isHead && !info.targets.includes('head')) fail(`${mode} does not apply to a head: ${name} accepts ${HEAD_MODE_LIST}`);
  const iv: Intervention = isHead ? { layer, head: index, mode: mode as HeadInterventionMode } : { layer, index, mode };
  if (info.takesValue) {
    if (valueText === undefined || valueText.trim() === '') return fail(`${mode} needs a value, e.g. "${name}:${mode}=2"`);
    const v = Number(valueText);
    if (!Number.isFinite(v)) fail(`the value "${valueText}" of ${mode} is not a number`);
    iv.value = v;
  } else if (valueText !== undefined) {
    fail(`${mode} takes no value (remove "=${valueText}")`);
  }
  if (posText !== undefined) {
    if (posText.trim() === '') fail('no positions after "@" (e.g. "@0,3"; without "@" it applies at every position)');
    iv.positions = posText.split(',').map((p) => {
      const t = p.trim();
      if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) fail(`position "${p}" is not a whole number >= 0`);
      return Number(t);
    });
  }
  return iv;
}
