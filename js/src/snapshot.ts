// Saved views (docs/snapshot-schema.md): the engine writes them (Debugger.snapshot, `lmdbg snapshot`);
// this side reads them, with no model and no WebAssembly, for the page, its embed and <lm-debugger>.
// The checks cover what a view reads, so that a hand-edited or truncated file is refused with a
// message that names the field, not drawn half-way.
import type { ModelConfig, Snapshot, Tensor, Trace, ViewName } from '../types/index.js';
import { MODES, VIEWS } from './tables.js';

export const SNAPSHOT_SCHEMA = 'lmdbg.snapshot/1';

/** The views a snapshot can open (the engine's table). */
export const snapshotViews: readonly { name: ViewName; shows: string }[] = Object.freeze(VIEWS.map((v) => Object.freeze({ ...v })));

type Obj = Record<string, unknown>;

function fail(msg: string): never {
  throw new Error(`lmdbg: not a usable snapshot: ${msg}`);
}
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
function obj(v: unknown, what: string): Obj {
  if (!isObj(v)) fail(`${what} must be an object`);
  return v;
}
function arr(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) fail(`${what} must be an array`);
  return v;
}
function int(v: unknown, what: string, lo: number, hi: number): number {
  if (!Number.isInteger(v) || (v as number) < lo || (v as number) > hi) fail(`${what} must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)?.slice(0, 30)}`);
  return v as number;
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`${what} must be a string`);
  return v;
}
function tokens(v: unknown, what: string, vocab: number): void {
  arr(v, what).forEach((t, i) => {
    const o = obj(t, `${what}[${i}]`);
    int(o.id, `${what}[${i}].id`, 0, vocab - 1);
    str(o.text, `${what}[${i}].text`);
  });
}

function config(v: unknown): ModelConfig {
  const c = obj(v, 'model.config');
  for (const k of ['nLayers', 'nHeads', 'dModel', 'dHead', 'dMlp', 'nCtx', 'dVocab'] as const) int(c[k], `model.config.${k}`, 1, 1 << 24);
  return c as unknown as ModelConfig;
}

function base64Bytes(b64: string, what: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    fail(`${what} is not base64`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function readSnapshot(data: string | object): Snapshot {
  let v: unknown = data;
  if (typeof data === 'string') {
    try {
      v = JSON.parse(data);
    } catch (e) {
      throw new Error(`lmdbg: not a snapshot: not JSON (${(e as Error).message})`);
    }
  }
  if (!isObj(v)) throw new Error('lmdbg: not a snapshot: expected a JSON object');
  if (v.schema !== SNAPSHOT_SCHEMA) {
    const s = typeof v.schema === 'string' ? v.schema : null;
    if (s?.startsWith('lmdbg.snapshot/')) throw new Error(`lmdbg: this snapshot has schema "${s.slice(0, 40)}", which this version of lmdbg cannot read (it reads "${SNAPSHOT_SCHEMA}")`);
    throw new Error(`lmdbg: not a snapshot: it needs "schema": "${SNAPSHOT_SCHEMA}"${s !== null ? ` (it has "${s.slice(0, 40)}")` : ''}`);
  }
  const model = obj(v.model, 'model');
  const c = config(model.config);
  str(model.fingerprint, 'model.fingerprint');
  for (const k of ['name', 'source'] as const) if (model[k] !== null && model[k] !== undefined) str(model[k], `model.${k}`);
  str(v.prompt, 'prompt');
  tokens(v.tokens, 'tokens', c.dVocab);
  const T = (v.tokens as unknown[]).length;
  if (T === 0 || T > c.nCtx) fail(`tokens: ${T} tokens for a context of ${c.nCtx}`);
  const modes = new Set(MODES.map((m) => m.name as string));
  arr(v.interventions, 'interventions').forEach((x, i) => {
    const iv = obj(x, `interventions[${i}]`);
    int(iv.layer, `interventions[${i}].layer`, 0, c.nLayers - 1);
    if (iv.head !== undefined) int(iv.head, `interventions[${i}].head`, 0, c.nHeads - 1);
    else int(iv.index, `interventions[${i}].index`, 0, c.dMlp - 1);
    if (!modes.has(iv.mode as string)) fail(`interventions[${i}].mode ${JSON.stringify(iv.mode)?.slice(0, 20)} is not a mode`);
    if (typeof iv.active !== 'boolean') fail(`interventions[${i}].active must be true or false`);
    if (iv.positions !== null && iv.positions !== undefined) arr(iv.positions, `interventions[${i}].positions`).forEach((p, j) => int(p, `interventions[${i}].positions[${j}]`, 0, T - 1));
  });
  const names = obj(v.names, 'names');
  for (const [k, label] of Object.entries(names)) {
    const m = /^L(\d+)D(\d+)$/.exec(k);
    if (!m || Number(m[1]) >= c.nLayers || Number(m[2]) >= c.dMlp) fail(`names: "${k.slice(0, 24)}" is not a value vector of this model`);
    str(label, `names.${k}`);
  }
  const view = obj(v.view, 'view');
  if (!VIEWS.some((x) => x.name === view.open)) fail(`view.open ${JSON.stringify(view.open)?.slice(0, 30)} is not one of ${VIEWS.map((x) => x.name).join(', ')}`);
  if (view.layer !== null) int(view.layer, 'view.layer', 0, c.nLayers - 1);
  if (view.detail !== null) {
    const d = obj(view.detail, 'view.detail');
    int(d.layer, 'view.detail.layer', 0, c.nLayers - 1);
    int(d.index, 'view.detail.index', 0, c.dMlp - 1);
  }
  const t = obj(v.trace, 'trace');
  if (t.schema !== 'lmdbg.trace/1') fail('trace.schema must be "lmdbg.trace/1"');
  tokens(t.tokens, 'trace.tokens', c.dVocab);
  if ((t.tokens as unknown[]).length !== T) fail('trace.tokens and tokens differ');
  const positions = arr(t.positions, 'trace.positions');
  if (!positions.length) fail('trace.positions is empty');
  positions.forEach((p, i) => {
    const po = obj(p, `trace.positions[${i}]`);
    int(po.position, `trace.positions[${i}].position`, 0, T - 1);
    tokens(po.prediction, `trace.positions[${i}].prediction`, c.dVocab);
    if (arr(po.layers, `trace.positions[${i}].layers`).length !== c.nLayers) fail(`trace.positions[${i}].layers must have ${c.nLayers} layers`);
  });
  arr(t.interventions, 'trace.interventions');
  if (t.lens !== undefined)
    arr(t.lens, 'trace.lens').forEach((p, i) => {
      const po = obj(p, `trace.lens[${i}]`);
      int(po.position, `trace.lens[${i}].position`, 0, T - 1);
      if (arr(po.layers, `trace.lens[${i}].layers`).length !== c.nLayers) fail(`trace.lens[${i}].layers must have ${c.nLayers} layers`);
    });
  if (t.attention !== undefined) {
    const a = obj(t.attention, 'trace.attention');
    const dims = arr(a.dims, 'trace.attention.dims');
    if (a.dtype !== 'f32' || dims.join() !== [c.nLayers, c.nHeads, T, T].join()) fail(`trace.attention must be f32 [${c.nLayers}, ${c.nHeads}, ${T}, ${T}]`);
    const b64 = str(a.base64, 'trace.attention.base64');
    if (Math.floor((b64.replace(/=+$/, '').length * 3) / 4) !== 4 * c.nLayers * c.nHeads * T * T) fail('trace.attention.base64 has the wrong length');
  }
  arr(v.valueVectors, 'valueVectors').forEach((x, i) => {
    const vv = obj(x, `valueVectors[${i}]`);
    int(vv.layer, `valueVectors[${i}].layer`, 0, c.nLayers - 1);
    int(vv.index, `valueVectors[${i}].index`, 0, c.dMlp - 1);
    tokens(vv.top, `valueVectors[${i}].top`, c.dVocab);
    tokens(vv.bottom, `valueVectors[${i}].bottom`, c.dVocab);
  });
  if (v.generation !== null) {
    const g = obj(v.generation, 'generation');
    tokens(g.tokens, 'generation.tokens', c.dVocab);
    str(g.text, 'generation.text');
  }
  return v as unknown as Snapshot;
}

export function snapshotTrace(s: Snapshot): Trace {
  const { attention, ...rest } = s.trace;
  const t = rest as Trace;
  if (attention) {
    const bytes = base64Bytes(attention.base64, 'trace.attention.base64');
    // Little-endian, as written; a copy aligned for Float32Array.
    const data = new Float32Array(bytes.byteLength / 4);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < data.length; i++) data[i] = dv.getFloat32(4 * i, true);
    t.attention = { dims: [...attention.dims], data } satisfies Tensor;
  }
  return t;
}
