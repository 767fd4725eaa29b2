// The page state that lives in the URL, so that a view can be shared: model, prompt, interventions,
// selected layer, open value vector. Parsing is bounded: length limits, whitelisted characters, validated
// numbers; anything out of bounds is dropped (and reported), never evaluated.
import { headName, interventionModes, parseIntervention, snapshotViews, valueVectorName, type Intervention, type InterventionMode, type ViewName } from 'lmdbg';

/** An intervention on a neuron or a head; inactive ones stay in the list but are not applied. */
export type UIIntervention = Intervention & { active: boolean };

export interface UrlState {
  model: string | null;
  prompt: string | null;
  interventions: UIIntervention[];
  layer: number | null;
  detail: { layer: number; index: number } | null;
  /** Token ids the rank chart follows beside the prediction. */
  track: number[];
  embed: boolean;
  /** Same-origin path of a Hub mirror (tests, self-hosting); absent = huggingface.co. */
  hub: string | null;
  /** A saved view to draw before (or instead of) loading a model: its URL. */
  snapshot: string | null;
  /** The view shown first (the embed's tab, the page's). */
  view: ViewName | null;
}

export const LIMITS = {
  query: 8192,
  prompt: 2000,
  model: 160,
  interventions: 32,
  spec: 200,
  layer: 999,
  index: 999_999,
  head: 999,
  value: 1e6,
  positions: 64,
  url: 2000,
  track: 6,
  tokenId: 9_999_999,
};

const MODEL_RE = /^(bundled|files|hub:[A-Za-z0-9][A-Za-z0-9._-]{0,95}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?)$/;
const NAME_RE = /^L(\d{1,3})D(\d{1,6})$/i;
const HUB_RE = /^\/[A-Za-z0-9_\-/.]{0,64}$/;

/** The package's modes, in the order the page lists them (its own c_fc mode last). */
export const MODES: InterventionMode[] = interventionModes.map((m) => m.name).sort((a, b) => Number(a === 'pre') - Number(b === 'pre'));
export const takesValue = (mode: InterventionMode): boolean => interventionModes.some((m) => m.name === mode && m.takesValue);
/** The modes a head accepts (off, scale), from the same table. */
export const HEAD_MODES: InterventionMode[] = interventionModes.filter((m) => m.targets.includes('head')).map((m) => m.name);

/** "L12D34" for a neuron, "L3H5" for a head. */
export const targetName = (iv: Intervention): string => (iv.head !== undefined ? headName(iv.layer, iv.head) : valueVectorName(iv.layer, iv.index));
/** Whether two interventions act on the same neuron or head (one replaces the other). */
export const sameTarget = (a: Intervention, b: Intervention): boolean => a.layer === b.layer && a.head === b.head && a.index === b.index;

/**
 * An intervention spec ("L12D34:off", "l3d5:set=2@0,1", "L3H5:scale=0.5") read with the package's parser,
 * within the page's bounds (length, layer, neuron or head, value, number of positions). Throws an Error
 * that says what is wrong.
 */
export function readSpec(text: string): Intervention {
  const spec = text.trim();
  if (spec.length > LIMITS.spec) throw new Error(`intervention: longer than ${LIMITS.spec} characters`);
  const iv = parseIntervention(spec);
  const name = targetName(iv);
  if (iv.layer > LIMITS.layer || (iv.head ?? 0) > LIMITS.head || (iv.index ?? 0) > LIMITS.index)
    throw new Error(`intervention: ${name} is beyond any GPT-2 (layers up to ${LIMITS.layer}, neurons up to ${LIMITS.index}, heads up to ${LIMITS.head})`);
  if (iv.value !== undefined && Math.abs(iv.value) > LIMITS.value) throw new Error(`intervention: the value ${iv.value} is outside ±${LIMITS.value}`);
  if (iv.positions && iv.positions.length > LIMITS.positions) throw new Error(`intervention: more than ${LIMITS.positions} positions`);
  return iv;
}

export function specOf(iv: Intervention): string {
  let s = `${targetName(iv)}:${iv.mode}`;
  if (takesValue(iv.mode)) s += `=${iv.value ?? 0}`;
  if (iv.positions && iv.positions.length) s += `@${iv.positions.join(',')}`;
  return s;
}

export function parseName(text: string): { layer: number; index: number } | null {
  const m = NAME_RE.exec(text.trim());
  return m ? { layer: Number(m[1]), index: Number(m[2]) } : null;
}

function intParam(v: string | null, max: number): number | null {
  if (v === null || !/^\d{1,6}$/.test(v)) return null;
  const n = Number(v);
  return n <= max ? n : null;
}

export function emptyState(): UrlState {
  return { model: null, prompt: null, interventions: [], layer: null, detail: null, track: [], embed: false, hub: null, snapshot: null, view: null };
}

/** A view's name as typed (an attribute, the URL), or null with a warning that lists the views. */
export function readView(v: string | null, warn: (msg: string) => void): ViewName | null {
  if (v === null || v === '') return null;
  const view = snapshotViews.find((x) => x.name === v.trim());
  if (!view) warn(`The view ${JSON.stringify(v.slice(0, 30))} is not one of ${snapshotViews.map((x) => x.name).join(', ')}; the first one is shown.`);
  return view?.name ?? null;
}

/** Interventions as specs ("L9D1234:off", "!L3D5:on" for an inactive one), each read or reported. */
export function readSpecs(specs: string[], warn: (msg: string) => void, where: string): UIIntervention[] {
  const out: UIIntervention[] = [];
  if (specs.length > LIMITS.interventions) warn(`Only the first ${LIMITS.interventions} interventions of ${where} were kept.`);
  for (const raw of specs.slice(0, LIMITS.interventions)) {
    const active = !raw.startsWith('!');
    try {
      out.push({ ...readSpec(active ? raw : raw.slice(1)), active });
    } catch (e) {
      warn(`${where[0]!.toUpperCase()}${where.slice(1)}'s ${JSON.stringify(raw.slice(0, 40))} was ignored: ${(e as Error).message}`);
    }
  }
  return out;
}

export function parseUrlState(search: string, warn: (msg: string) => void = () => {}): UrlState {
  const st = emptyState();
  if (search.length > LIMITS.query) {
    warn(`The link's state is longer than ${LIMITS.query} characters and was ignored.`);
    return st;
  }
  const q = new URLSearchParams(search);
  st.embed = q.get('embed') === '1';
  const model = q.get('m');
  if (model !== null) {
    if (model.length <= LIMITS.model && MODEL_RE.test(model)) st.model = model;
    else warn('The link names an invalid model; it was ignored.');
  }
  const prompt = q.get('p');
  if (prompt !== null) {
    if (prompt.length <= LIMITS.prompt) st.prompt = prompt;
    else warn(`The prompt in the link is longer than ${LIMITS.prompt} characters; it was ignored.`);
  }
  st.interventions = readSpecs(q.getAll('iv'), warn, 'the link');
  st.layer = intParam(q.get('l'), LIMITS.layer);
  const d = q.get('d');
  if (d !== null && d.length < 16) st.detail = parseName(d);
  const tk = q.get('tk');
  if (tk !== null) {
    const ids = tk.split(',').map((x) => intParam(x, LIMITS.tokenId));
    if (tk.length > 100 || ids.some((x) => x === null)) warn('The link\'s followed tokens are not token ids; they were ignored.');
    else st.track = [...new Set(ids as number[])].slice(0, LIMITS.track);
  }
  const hub = q.get('hub');
  if (hub !== null) {
    if (HUB_RE.test(hub) && !hub.startsWith('//') && !hub.includes('..')) st.hub = hub;
    else warn('The link names an invalid hub mirror; it was ignored (only same-origin paths are allowed).');
  }
  const snap = q.get('snapshot');
  if (snap !== null) {
    if (snap.length <= LIMITS.url && /^(https?:\/\/|\/|\.{1,2}\/|[\w.-]+(\/|$))/.test(snap)) st.snapshot = snap;
    else warn('The link names an invalid snapshot URL; it was ignored.');
  }
  st.view = readView(q.get('view'), warn);
  return st;
}

export function serializeUrlState(st: UrlState): string {
  const q = new URLSearchParams();
  if (st.model) q.set('m', st.model);
  if (st.hub) q.set('hub', st.hub);
  if (st.prompt) q.set('p', st.prompt.slice(0, LIMITS.prompt));
  for (const iv of st.interventions.slice(0, LIMITS.interventions)) q.append('iv', (iv.active ? '' : '!') + specOf(iv));
  if (st.layer !== null) q.set('l', String(st.layer));
  if (st.detail) q.set('d', `L${st.detail.layer}D${st.detail.index}`);
  if (st.snapshot) q.set('snapshot', st.snapshot);
  if (st.view) q.set('view', st.view);
  if (st.track.length) q.set('tk', st.track.slice(0, LIMITS.track).join(','));
  if (st.embed) q.set('embed', '1');
  return q.toString();
}
