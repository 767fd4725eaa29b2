// The page's state and the calls into the debugger. Views subscribe to events and render; they never call
// the model themselves except through App, which serialises work, drops stale results and keeps the URL
// in sync with the state.
import {
  LMDebugger, readSnapshot, type Attribution, snapshotTrace, type Debugger, type Intervention, type LoadOptions, type LoadProgress, type ModelConfig, type ModelSource,
  type PatchHook, type PatchMetric, type PatchSweep, type Snapshot, type SnapshotOptions, type Trace, type ValueVector, type ViewName,
} from 'lmdbg';
import { Busy, toast } from './busy';
import { Names } from './names';
import { LIMITS, sameTarget, serializeUrlState, targetName, type UIIntervention, type UrlState } from './state';
import { announce, bytes, changeLabel, duration } from './dom';
import { forgetFiles, keepFiles, keptFiles } from './kept';
import {
  DEFAULT_MODEL, FILES_ENTRY, HUB_MODELS, bundledEntry, hubCached, hubHostFor, hubKept, matchFiles, readManifest, siteUrl,
  SpeedMeter, type BundledInfo, type ModelEntry,
} from './models';

export type AppEvent = 'models' | 'model' | 'prompt' | 'trace' | 'interventions' | 'layer' | 'detail' | 'pending' | 'names' | 'files' | 'storage' | 'snapshot' | 'view' | 'patch' | 'clusters' | 'attribution';

/** Where an App lives: the page, or an <lm-debugger> element (its shadow root, a model shared with the page's other elements). */
export interface AppHost {
  /** Where the views find their elements. */
  root: Document | ShadowRoot;
  /** The page keeps its state in its URL (history.replaceState); an element does not. */
  urlSync: boolean;
  /** The full page, for "Open in lmdbg" and share links; null where there is none. */
  pageUrl: string | null;
  /** How models load (an element shares one Worker and one model per source with the page's other elements). */
  loadModel?: (source: ModelSource, options: LoadOptions) => Promise<Debugger>;
  /** The demo site's folder (its bundled models); default: the page's. */
  siteBase?: string;
  /** An element without a saved view loads its model as soon as it is shown (attribute `live`). */
  autoLive?: boolean;
}

/** A patch the page applies to its trace: one hook of one layer (one head's `result`) at given positions, from a source prompt. */
export interface PagePatch {
  source: string;
  hook: PatchHook;
  layer: number;
  /** With hook 'result': the head. */
  head?: number;
  positions: number[];
}

/** Options of the main trace (LM-Debugger's view of the last position). */
export const TRACE_TOPK = 10;
export const SUB_UPDATES = 10;
export const VALUE_TOPK = 8;
export const DEFAULT_PROMPT = 'The capital of France is';
const ATTENTION_MAX_FLOATS = 8_000_000;
const LENS_BUDGET = 2e10;

export class App {
  readonly embed: boolean;
  readonly hub: string | null;
  readonly hubHost: string;
  models: ModelEntry[] = [...HUB_MODELS];
  bundled: BundledInfo | null = null;
  /** Selected entry in the picker (may differ from the loaded one). */
  selected: string;
  /** Model waiting for the user's go-ahead (a large download). */
  pending: ModelEntry | null = null;
  droppedFiles: File[] = [];
  /** Whether the user's files are kept in this browser for the next visit (or why not). */
  filesNote = '';
  /** Whether the loaded model is kept for offline use: refused by the browser (quota), persistent or not. */
  storageNote = '';
  /** Why the last load failed (shown where the user asked for it); what it downloaded is kept. */
  loadError = '';

  dbg: Debugger | null = null;
  modelKey: string | null = null;
  modelLabel = '';
  names: Names = new Names('none');
  hasClusters = false;
  /** How far the Worker's idle-time clustering has got (0..1), when the model came without clusters. */
  clusterProgress = 0;

  prompt = '';
  interventions: UIIntervention[] = [];
  layer: number | null = null;
  detail: { layer: number; index: number } | null = null;
  /** The trace of the prompt: last position, attention, and the lens over the positions (trace.lens). */
  trace: Trace | null = null;
  /** Interventions of the shown trace, as specs (to tell whether it is stale). */
  tracedWith = '';
  /** Completed traces, for tests and for anyone waiting on one. */
  traces = 0;
  /** Tokens the rank chart follows beside the prediction (ids, at most LIMITS.track). */
  track: number[] = [];
  /** The patch applied to the shown trace (a cell of the patch view's sweep), or null. */
  patch: PagePatch | null = null;
  /** The last sweep of the patch view, kept across tab switches. */
  sweep: { source: string; sweep: PatchSweep; tokens: Map<number, string> } | null = null;
  /** The token the attribution explains and the one it compares against (ids), and its latest result. */
  attrTarget: number | null = null;
  attrDistractor: number | null = null;
  attribution: Attribution | null = null;
  /** The interventions the attribution ran with. */
  attributionWith: Intervention[] = [];

  private listeners = new Map<AppEvent, Set<() => void>>();
  private traceSeq = 0;
  private attrSeq = 0;
  private loadSeq = 0;
  private urlState: UrlState;

  /** A saved view being shown (drawn with no model until "Make it live"), and where it came from. */
  snapshot: Snapshot | null = null;
  snapshotUrl: string | null = null;
  /** Why the saved view could not be read, shown in its place. */
  snapshotError = '';
  /** After "Make it live": whether the loaded weights are the ones that made the saved view. */
  liveNote = '';
  /** The view shown first (tabs of the page and of the embed). */
  view: ViewName;

  constructor(
    readonly busy: Busy,
    state: UrlState,
    readonly host: AppHost = { root: document, urlSync: true, pageUrl: location.href },
  ) {
    this.urlState = state;
    this.view = state.view ?? 'prediction';
    this.snapshotUrl = state.snapshot;
    this.embed = this.urlState.embed;
    this.hub = this.urlState.hub;
    this.hubHost = hubHostFor(this.hub);
    this.selected = this.urlState.model ?? DEFAULT_MODEL;
    this.prompt = this.urlState.prompt ?? DEFAULT_PROMPT;
    this.interventions = this.urlState.interventions;
    this.layer = this.urlState.layer;
    this.detail = this.urlState.detail;
    this.track = this.urlState.track;
    if (this.urlState.model?.startsWith('hub:') && !this.models.some((m) => m.key === this.urlState.model)) {
      const id = this.urlState.model.slice(4);
      this.models.push({ key: this.urlState.model, kind: 'hub', id, label: id, dtype: 'f32' });
    }
    this.models.push({ ...FILES_ENTRY });
  }

  on(ev: AppEvent, fn: () => void): void {
    if (!this.listeners.has(ev)) this.listeners.set(ev, new Set());
    this.listeners.get(ev)!.add(fn);
  }
  /** Calls the listeners of these events, each listener once (a view that redraws on several of them draws once). */
  emit(...evs: AppEvent[]): void {
    const fns = new Set(evs.flatMap((ev) => [...(this.listeners.get(ev) ?? [])]));
    for (const fn of fns) {
      try {
        fn();
      } catch (e) {
        console.warn(e);
        this.toast(`Display error: ${(e as Error).message}`);
      }
    }
  }

  entry(key: string | null): ModelEntry | undefined {
    return this.models.find((m) => m.key === key);
  }

  /** Where the views find their elements (the page, or an element's shadow root). */
  get root(): Document | ShadowRoot {
    return this.host.root;
  }

  /** The shape of the model shown: the loaded one, or the one that made the saved view. */
  get config(): ModelConfig | null {
    return this.dbg?.config ?? this.snapshot?.model.config ?? null;
  }

  /** A saved view is shown and no model is loaded: edits wait for "Make it live". */
  get frozen(): boolean {
    return !this.dbg && !!this.snapshot;
  }

  toast(message: string, kind: 'error' | 'info' = 'error'): void {
    toast(message, kind, this.host.root);
  }

  setView(v: ViewName): void {
    if (this.view === v) return;
    this.view = v;
    this.syncUrl();
    this.emit('view');
  }

  // ---------- start-up ----------

  /** Reads the bundled models' manifest and the cache state, then loads what the URL (or the cache) says. */
  async start(): Promise<void> {
    // A saved view is drawn first, from its file alone. An embed then waits for "Make it live": it
    // fetches nothing more (no model list, no model, no WebAssembly).
    if (this.snapshotUrl) {
      await this.openSnapshot(this.snapshotUrl);
      if (this.embed || !this.host.urlSync) return;
    }
    if (!this.host.urlSync) {
      // <lm-debugger> without a saved view: its model, loaded now (`live`) or when the reader asks.
      const e = this.liveEntry();
      if (!e) {
        this.snapshotError = 'This figure names neither a saved view (snapshot="…") nor a model (model="…").';
        this.emit('snapshot');
        return;
      }
      if (e.kind === 'bundled') await this.readBundled();
      if (this.host.autoLive) await this.load(e.key);
      else this.setPending(this.entry(e.key) ?? e);
      return;
    }
    const manifest = await readManifest();
    if (manifest.length) {
      this.bundled = manifest[0];
      const i = this.models.findIndex((m) => m.kind === 'files');
      this.models.splice(i, 0, bundledEntry(this.bundled));
    }
    await this.refreshOffline();
    const kept = await keptFiles();
    if (kept.length) {
      this.droppedFiles = kept;
      this.filesNote = 'Kept in this browser from an earlier visit.';
      this.entry('files')!.offline = matchFiles(kept).missing.length === 0;
      this.emit('files');
    }
    if (this.snapshot) {
      // The page with a saved view: offer its model ("Make it live"), load nothing yet.
      const live = this.liveEntry();
      if (live) this.selected = live.key;
      this.emit('models');
      if (live) this.setPending(live);
      return;
    }
    const want = this.entry(this.selected) ?? this.entry(DEFAULT_MODEL)!;
    this.selected = want.key;
    this.emit('models');
    // Small or already here: load now. A large download, or files not given yet, wait for the user.
    if (want.kind === 'bundled' || want.offline) await this.load(want.key);
    else this.setPending(want);
  }

  /** Files dropped or chosen by the user: merged by name with the earlier ones, and kept for next time. */
  async dropFiles(files: File[]): Promise<void> {
    const byName = new Map(this.droppedFiles.map((f) => [f.name, f]));
    for (const f of files) byName.set(f.name, f);
    this.droppedFiles = Array.from(byName.values()).slice(0, 16);
    this.filesNote = 'Keeping them in this browser…';
    this.emit('files');
    const why = await keepFiles(files);
    this.filesNote = why ? `Not kept for next time: ${why}.` : 'Kept in this browser for next time.';
    this.entry('files')!.offline = !why && matchFiles(this.droppedFiles).missing.length === 0;
    this.emit('files');
    this.emit('models');
  }

  async forgetFiles(): Promise<void> {
    await forgetFiles();
    this.droppedFiles = [];
    this.filesNote = '';
    this.entry('files')!.offline = false;
    this.emit('files');
    this.emit('models');
  }

  async refreshOffline(): Promise<void> {
    for (const m of this.models) {
      if (m.kind !== 'hub' || !m.id) continue;
      m.offline = await hubCached(m.id, this.hubHost);
      m.kept = m.offline ? undefined : await hubKept(m.id, this.hubHost);
    }
    this.emit('models');
  }

  /**
   * After a Hub model loaded: when the package could keep it, ask the browser to keep this site's storage
   * (persistent storage), so that a 500 MB download is not evicted when space runs low.
   */
  private async keepForOffline(key: string): Promise<void> {
    await this.refreshOffline();
    if (!this.entry(key)?.offline || this.storageNote) return;
    const storage = navigator.storage;
    let persistent = false;
    try {
      persistent = (await storage?.persisted?.()) || ((await storage?.persist?.()) ?? false);
    } catch {
      /* not offered here */
    }
    this.storageNote = persistent
      ? 'Kept in this browser for offline use, in persistent storage (it stays until you clear this site’s data).'
      : 'Kept in this browser for offline use. The browser did not grant persistent storage, so it may remove it when space runs low.';
    this.emit('storage');
  }

  setPending(e: ModelEntry | null): void {
    this.pending = e;
    this.emit('pending');
  }

  // ---------- saved views ----------

  /** Fetches a saved view and shows it; a failure is kept in snapshotError and shown where the figure goes. */
  async openSnapshot(url: string): Promise<void> {
    const abs = new URL(url, document.baseURI).href;
    try {
      const r = await fetch(abs);
      if (!r.ok) throw new Error(`HTTP ${r.status} ${r.statusText}`.trim());
      this.applySnapshot(readSnapshot(await r.text()), abs);
    } catch (e) {
      this.snapshotError = `Could not show the saved view ${url.slice(0, 120)}: ${(e as Error).message}`;
      this.emit('snapshot');
    }
  }

  /** Shows a saved view: its state, its names, its results; `base` resolves a relative model source. */
  applySnapshot(s: Snapshot, base: string | null): void {
    this.snapshot = s;
    this.snapshotError = '';
    this.liveNote = '';
    this.snapshotUrl = base;
    this.prompt = s.prompt;
    this.interventions = s.interventions.map(({ active, ...iv }) => ({ ...iv, value: iv.value ?? undefined, positions: iv.positions ?? null, active }) as UIIntervention);
    this.layer = s.view.layer;
    this.detail = s.view.detail;
    this.view = s.view.open;
    this.trace = snapshotTrace(s);
    this.tracedWith = JSON.stringify(this.activeInterventions());
    this.traces++;
    if (!this.dbg) this.modelLabel = s.model.name ?? 'the saved view’s model';
    this.names = new Names(this.modelKey ?? `snapshot:${s.model.fingerprint}`, s.names);
    this.names.onChange(() => this.emit('names'));
    this.syncUrl();
    this.emit('snapshot', 'model', 'prompt', 'interventions', 'layer', 'view', 'names', 'trace', 'detail');
  }

  /**
   * A saved view opened from a file (a snapshot, or a figure that carries one). With a loaded model of
   * the same weights it is live at once; with other weights, the page says so.
   */
  showSnapshot(s: Snapshot): void {
    this.applySnapshot(s, null);
    if (!this.dbg) return;
    if (this.dbg.info.fingerprint === s.model.fingerprint) {
      this.validateAgainstModel();
      void this.runTrace();
    } else {
      this.liveNote = `The loaded model's weights differ from the ones that made this saved view (fingerprint ${this.dbg.info.fingerprint.slice(6, 14)}… here, ${s.model.fingerprint.slice(6, 14)}… there): what you change is traced with the loaded model.`;
      this.emit('snapshot');
    }
  }

  /** The model "Make it live" loads: the element's or page's choice, else the one the saved view names. */
  liveEntry(): ModelEntry | null {
    const s = this.snapshot;
    const named = this.urlState.model;
    const src = named ?? s?.model.source ?? null;
    if (!src) return null;
    const size = s ? s.model.checkpointBytes : undefined;
    const label = s?.model.name ?? src;
    if (src === 'bundled') {
      const known = this.entry('bundled');
      if (known) return known;
      const e: ModelEntry = { key: 'bundled', kind: 'bundled', id: 'lmdbg-mini', label, size };
      this.models.push(e);
      return e;
    }
    if (src.startsWith('hub:')) {
      const known = this.entry(src);
      if (known) return known;
      const e: ModelEntry = { key: src, kind: 'hub', id: src.slice(4), label, size, dtype: s?.model.dtype ?? 'f32' };
      this.models.push(e);
      return e;
    }
    // A URL, relative to the saved view (or to the page when the element names it).
    const base = named ? document.baseURI : (this.snapshotUrl ?? document.baseURI);  // an element's model: relative to its page
    const url = new URL(src.endsWith('/') ? src : `${src}/`, base).href;
    const key = `url:${url}`;
    const e = this.entry(key) ?? { key, kind: 'url' as const, id: url, label, size, dtype: s?.model.dtype ?? 'f32' };
    if (!this.entry(key)) this.models.push(e);
    return e;
  }

  /** "Make it live": loads the saved view's model; from then on every edit traces again. */
  async makeLive(): Promise<void> {
    const e = this.liveEntry();
    if (!e) {
      this.toast('This saved view does not say where its model is, so it cannot be made live here.');
      return;
    }
    if (e.kind === 'bundled') await this.readBundled();
    await this.load(e.key);
  }

  /** The bundled model's entry, from the site's manifest (its size). */
  private async readBundled(): Promise<void> {
    if (this.bundled) return;
    const manifest = await readManifest(this.host.siteBase);
    if (!manifest.length) return;
    this.bundled = manifest[0];
    const b = bundledEntry(this.bundled);
    const i = this.models.findIndex((m) => m.key === 'bundled');
    if (i >= 0) this.models[i] = { ...b, label: this.models[i]!.label };
    else this.models.push(b);
  }

  /**
   * A saved view of what is shown (the file "Save view" downloads and figures carry): the engine
   * computes it when a model is loaded; without one, the view shown is the saved one.
   */
  async saveSnapshot(view: ViewName = this.view): Promise<Snapshot> {
    const state = { open: view, layer: this.layer, detail: this.detail };
    if (!this.dbg) {
      if (!this.snapshot) throw new Error('Load a model (or open a saved view) first.');
      return { ...this.snapshot, view: state };
    }
    const entry = this.entry(this.modelKey);
    const source = entry?.kind === 'hub' ? entry.key : entry?.kind === 'bundled' ? 'bundled' : entry?.kind === 'url' ? entry.id : undefined;
    const opts: SnapshotOptions = {
      allowSpecial: true,
      interventions: this.interventions.map(({ active, ...iv }) => ({ ...iv, active })),
      trace: this.traceOptions(await this.tokens()),
      valueVectors: this.detail ? [[this.detail.layer, this.detail.index]] : [],
      model: { name: this.modelLabel, ...(source ? { source } : {}) },
      names: this.names.all(),
      view: state,
    };
    return this.dbg.snapshot(this.prompt, opts);
  }

  // ---------- loading ----------

  async load(key: string): Promise<void> {
    const e = this.entry(key);
    if (!e) return;
    this.selected = key;
    this.setPending(null);
    let source: string | File[];
    if (e.kind === 'hub') source = e.id!;
    else if (e.kind === 'bundled') source = siteUrl(`models/${e.id}/`, this.host.siteBase);
    else if (e.kind === 'url') source = e.id!;
    else {
      const m = matchFiles(this.droppedFiles);
      if (m.missing.length) {
        this.setPending(e);
        this.toast(`Missing file${m.missing.length > 1 ? 's' : ''}: ${m.missing.join(', ')}`);
        return;
      }
      source = m.clusters ? [...m.files, m.clusters] : m.files;
    }
    const seq = ++this.loadSeq;
    const ac = new AbortController();
    const task = this.busy.start(`Loading ${e.kind === 'files' ? 'your model' : e.label}`, () => ac.abort());
    const meter = new SpeedMeter();
    let last = 0;
    let sawWeights = false;
    this.loadError = '';
    this.storageNote = '';
    this.emit('storage');
    const onProgress = (p: LoadProgress) => {
      const now = performance.now();
      if (!p.fromCache) meter.add(p.loadedAll, now);
      if (p.cacheError && !this.storageNote) {
        this.storageNote = `Not kept for offline use: ${p.cacheError}.`;
        this.emit('storage');
      }
      if (now - last < 100 && p.loaded !== p.total) return;
      last = now;
      // The package opens the small files first: until model.safetensors is open, its total is the
      // small files only, so the expected size (when known) keeps the bar from jumping to the end.
      if (p.file === 'model.safetensors') sawWeights = true;
      const total = sawWeights ? p.totalAll : p.totalAll !== null && e.size ? Math.max(p.totalAll, e.size) : (e.size ?? null);
      const rate = meter.rate;
      const parts = [`${bytes(p.loadedAll)}${total ? ` / ${bytes(total)}` : ''}`];
      if (p.fromCache) parts.push(e.offline ? 'from the offline cache' : 'kept from an earlier download');
      else if (rate !== null) {
        parts.push(`${bytes(rate)}/s`);
        if (total) parts.push(`${duration((total - p.loadedAll) / rate)} left`);
      }
      parts.push(p.file);
      task.progress(total ? Math.min(1, p.loadedAll / total) : null, parts.join(' · '));
    };
    try {
      const loadModel = this.host.loadModel ?? ((src: ModelSource, o: LoadOptions) => LMDebugger.load(src, o));
      const dbg = await loadModel(source, {
        worker: true,
        dtype: e.dtype ?? 'f32',
        hubHost: this.hubHost,
        // Hub files go to the package's Cache Storage. The bundled model is kept by the service worker
        // instead, which is versioned with the site (a retrained model replaces the old one).
        cache: e.kind === 'hub',
        onProgress,
        signal: ac.signal,
        // The Worker uses idle time for the search statistics and every value vector's top tokens,
        // so that later traces and searches do no projections.
        precompute: true,
      });
      if (seq !== this.loadSeq || task.cancelled) {
        if (!this.host.loadModel) await dbg.dispose();  // a shared model belongs to the page's elements
        return;
      }
      task.label('Preparing the model');
      task.progress(null, '');
      // The package loads value_clusters.json itself when the source has one.
      this.hasClusters = await dbg.cluster(0, { topK: 1, members: 1 }).then(() => true, () => false);
      this.clusterProgress = 0;
      const old = this.dbg;
      this.dbg = dbg;
      this.modelKey = key;
      this.modelLabel = e.kind === 'files' ? 'your model' : e.label;
      this.names = new Names(e.kind === 'files' ? `files:${dbg.config.nLayers}x${dbg.config.dModel}x${dbg.config.dVocab}` : key, this.snapshot?.names);
      this.names.onChange(() => this.emit('names'));
      this.liveNote = '';
      if (this.snapshot) {
        const want = this.snapshot.model.fingerprint;
        const got = dbg.info.fingerprint;
        this.liveNote = got === want
          ? ''
          : `These weights differ from the ones that made the saved view (fingerprint ${got.slice(6, 14)}… here, ${want.slice(6, 14)}… there): the figure now shows what this model computes.`;
      }
      if (!this.snapshot) this.trace = null;  // a saved view stays on screen until the new trace replaces it
      this.patch = null;
      this.sweep = null;
      this.validateAgainstModel();
      if (old && !this.host.loadModel) void old.dispose().catch(() => {});
      this.emit('model');
      this.emit('interventions');
      this.emit('layer');
      this.syncUrl();
      if (e.kind === 'hub') void this.keepForOffline(e.key);
      task.end();
      if (this.prompt.trim()) await this.runTrace();
      if (this.detail) this.emit('detail');
      if (!this.hasClusters) this.watchClusters(dbg);
    } catch (err) {
      const aborted = ac.signal.aborted || (err as Error).name === 'AbortError';
      if (!aborted) {
        this.loadError = `Could not load ${e.kind === 'files' ? 'your files' : e.label}: ${(err as Error).message}`;
        if (this.dbg || this.snapshot) this.toast(this.loadError);
      }
      if (e.kind === 'hub') await this.refreshOffline();
      this.emit('storage');
      if (!this.dbg) this.setPending(e);
    } finally {
      task.end();
    }
  }

  /** Polls the Worker's idle-time clustering (precompute) until the clusters are there. */
  private watchClusters(dbg: Debugger): void {
    const poll = async () => {
      if (dbg !== this.dbg) return;
      const m = await dbg.memory().catch(() => null);
      if (!m || dbg !== this.dbg) return;
      const moved = Math.floor(m.clusters * 100) !== Math.floor(this.clusterProgress * 100);
      this.clusterProgress = m.clusters;
      if (m.clusters >= 1) {
        this.hasClusters = true;
        this.emit('clusters');
        return;
      }
      if (moved) this.emit('clusters');
      window.setTimeout(() => void poll(), 2000);
    };
    window.setTimeout(() => void poll(), 2000);
  }

  /** Drops URL-state parts that do not fit the loaded model (out-of-range layers and neurons). */
  private validateAgainstModel(): void {
    const c = this.dbg!.config;
    const ok = this.interventions.filter((iv) => iv.layer < c.nLayers && (iv.head !== undefined ? iv.head < c.nHeads : iv.index < c.dMlp));
    if (ok.length !== this.interventions.length) this.toast(`${this.interventions.length - ok.length} intervention(s) do not fit this model (${c.nLayers} layers × ${c.dMlp} neurons, ${c.nHeads} heads) and were removed.`, 'info');
    this.interventions = ok;
    if ((this.attrTarget ?? 0) >= c.dVocab || (this.attrDistractor ?? 0) >= c.dVocab) this.clearAttribution();
    if (this.layer !== null && this.layer >= c.nLayers) this.layer = null;
    if (this.detail && (this.detail.layer >= c.nLayers || this.detail.index >= c.dMlp)) this.detail = null;
    const track = this.track.filter((id) => id < c.dVocab);
    if (track.length !== this.track.length) toast(`${this.track.length - track.length} followed token(s) are outside this model's vocabulary and were removed.`, 'info');
    this.track = track;
  }

  // ---------- tracing ----------

  activeInterventions(): Intervention[] {
    return this.interventions.filter((iv) => iv.active).map(({ active: _a, ...iv }) => iv);
  }

  async tokens(prompt = this.prompt): Promise<number[]> {
    return this.dbg!.tokenize(prompt, { allowSpecial: true });
  }

  setPrompt(p: string): void {
    // A patch and its sweep belong to the prompt they were made for.
    if (p !== this.prompt && (this.patch || this.sweep)) {
      this.patch = null;
      this.sweep = null;
      this.emit('patch');
    }
    this.prompt = p;
    this.syncUrl();
    this.emit('prompt');
  }

  /**
   * The options of the page's trace, one engine call for every view: LM-Debugger's view of the last
   * position, attention, and the logit lens over the positions. Bounded work: attention patterns only
   * while they stay small (L·H·T² floats), and the lens over the last positions that fit a budget of
   * about 2e10 multiply-adds.
   */
  traceOptions(ids: number[]): SnapshotOptions['trace'] & {} {
    const c = this.dbg!.config;
    const T = ids.length;
    const lensPositions = Math.max(8, Math.min(T, Math.floor(LENS_BUDGET / (2 * c.nLayers * c.dVocab * c.dModel))));
    return {
      topK: TRACE_TOPK,
      subUpdates: SUB_UPDATES,
      valueTopK: VALUE_TOPK,
      attention: c.nLayers * c.nHeads * T * T <= ATTENTION_MAX_FLOATS,
      lensPositions: lensPositions >= T ? 'all' : Array.from({ length: lensPositions }, (_, i) => T - lensPositions + i),
      cleanLayers: this.activeInterventions().length > 0,
      track: this.track,
    };
  }

  /** Traces the prompt in one engine call (traceOptions). */
  async runTrace(): Promise<void> {
    const dbg = this.dbg;
    if (!dbg) {
      if (this.snapshot) this.toast('This is a saved view: make it live to trace another prompt.', 'info');
      return;
    }
    if (!this.prompt.trim()) {
      this.toast('Type a prompt first.', 'info');
      return;
    }
    const seq = ++this.traceSeq;
    const attrSeq = this.attrSeq;
    const interventions = this.activeInterventions();
    const patch = this.patch;
    const task = this.busy.start('Tracing', () => {
      if (seq === this.traceSeq) this.traceSeq++;
    });
    try {
      const ids = await this.tokens();
      if (seq !== this.traceSeq) return;
      // The attribution view's token is explained in the same call.
      const attribute = this.attrTarget !== null ? { attribute: { target: this.attrTarget, distractor: this.attrDistractor } } : {};
      const t = await dbg.trace(ids, { ...this.traceOptions(ids), interventions, ...(patch ? { patch, cleanLayers: true } : {}), ...attribute });
      if (seq !== this.traceSeq) return;
      this.trace = t;
      if (attrSeq === this.attrSeq && t.attribution) {
        this.attribution = t.attribution;
        this.attributionWith = interventions;
        this.emit('attribution');
      }
      this.tracedWith = JSON.stringify([interventions, patch]);
      this.traces++;
      this.emit('trace');
      const pos = t.positions[t.positions.length - 1];
      const by = changeLabel(t);
      announce(`Predicted next token: ${JSON.stringify(pos.predicted.text)}${pos.clean ? (pos.clean.changed ? `, changed from ${JSON.stringify(pos.clean.predicted.text)} by ${by}` : `, unchanged by ${by}`) : ''}.`, this.host.root);
    } catch (err) {
      if (seq === this.traceSeq) this.toast((err as Error).message);
    } finally {
      task.end();
    }
  }

  // ---------- attribution ----------

  /**
   * Explains a token (an id, or its text) of the current prompt and interventions, optionally against a
   * distractor: one engine call. Returns why not (the engine's message, e.g. a text of several tokens), or null.
   */
  async explain(target: number | string, distractor: number | string | null = null): Promise<string | null> {
    const dbg = this.dbg;
    if (!dbg) return 'Load a model first.';
    if (!this.prompt.trim()) return 'Type a prompt first.';
    const seq = ++this.attrSeq;
    const task = this.busy.start('Explaining');
    const interventions = this.activeInterventions();
    try {
      const a = await dbg.attribute(await this.tokens(), { target, distractor, interventions });
      if (seq !== this.attrSeq) return null;
      this.attributionWith = interventions;
      this.attrTarget = a.target.id;
      this.attrDistractor = a.distractor?.id ?? null;
      this.attribution = a;
      this.emit('attribution');
      return null;
    } catch (err) {
      return (err as Error).message;
    } finally {
      task.end();
    }
  }

  clearAttribution(): void {
    this.attrSeq++;
    this.attrTarget = this.attrDistractor = null;
    this.attribution = null;
    this.emit('attribution');
  }

  get traceStale(): boolean {
    return !!this.trace && this.tracedWith !== JSON.stringify([this.activeInterventions(), this.patch]);
  }

  // ---------- followed tokens ----------

  /** Follows one more token (typed as text, which must be one token) in the rank chart; returns why not, or null. */
  async addTrack(text: string): Promise<string | null> {
    if (!this.dbg) return 'Load a model first.';
    if (!text) return 'Type a token, e.g. " Paris" (with its leading space).';
    const ids = await this.dbg.tokenize(text, { allowSpecial: true });
    if (ids.length !== 1) {
      const parts = await this.dbg.toStrTokens(ids);
      return `${JSON.stringify(text)} is ${ids.length} tokens (${parts.map((p) => JSON.stringify(p)).join(' ')}); follow one token at a time.`;
    }
    if (this.track.includes(ids[0])) return `${JSON.stringify(text)} is already followed.`;
    if (this.track.length >= LIMITS.track) return `At most ${LIMITS.track} tokens: remove one first.`;
    this.setTrack([...this.track, ids[0]]);
    return null;
  }

  setTrack(ids: number[]): void {
    this.track = ids;
    this.syncUrl();
    if (this.trace) void this.runTrace();
  }

  // ---------- activation patching ----------

  /** Patches every layer × position of `hook` (of `head`, for 'result') from `source` into the prompt (one engine call). */
  async patchSweep(source: string, hook: PatchHook, metric: PatchMetric, head?: number): Promise<PatchSweep> {
    const dbg = this.dbg!;
    const task = this.busy.start('Patching every layer and position');
    try {
      const sweep = await dbg.patchSweep(source, await this.tokens(), { hook, metric, ...(head !== undefined ? { head } : {}) });
      // The metric's tokens as text (they need not occur in either prompt).
      const ids = metric.type === 'logitDiff' ? [metric.token, metric.distractor] : [metric.token];
      const texts = await dbg.toStrTokens(ids);
      this.sweep = { source, sweep, tokens: new Map(ids.map((id, i) => [id, texts[i]])) };
      return sweep;
    } finally {
      task.end();
    }
  }

  /** Shows the trace with one patch applied (null: without), in every view. */
  async showPatch(patch: PagePatch | null): Promise<void> {
    this.patch = patch;
    this.emit('patch');
    await this.runTrace();
  }

  // ---------- interventions ----------

  private retraceTimer: number | undefined;
  /** Re-traces shortly after the interventions change (several quick edits -> one trace). */
  private scheduleRetrace(): void {
    window.clearTimeout(this.retraceTimer);
    if (!this.trace || !this.dbg) return;
    this.retraceTimer = window.setTimeout(() => void this.runTrace(), 250);
  }

  /**
   * Why an intervention does not fit the loaded model (layer, neuron) or a prompt of `promptTokens`
   * tokens (positions), or null when it fits.
   */
  checkIntervention(iv: Intervention, promptTokens?: number): string | null {
    if (this.frozen) return 'This is a saved view: make it live to change its interventions.';
    const c = this.config;
    const name = targetName(iv);
    if (c && iv.layer >= c.nLayers) return `${name}: layer ${iv.layer} is outside this model (${c.nLayers} layers: 0–${c.nLayers - 1}).`;
    if (c && iv.head !== undefined && iv.head >= c.nHeads) return `${name}: head ${iv.head} is outside layer ${iv.layer} (${c.nHeads} heads: 0–${c.nHeads - 1}).`;
    if (c && iv.index !== undefined && iv.index >= c.dMlp) return `${name}: neuron ${iv.index} is outside layer ${iv.layer} (${c.dMlp} neurons: 0–${c.dMlp - 1}).`;
    const past = promptTokens === undefined ? undefined : iv.positions?.find((p) => p >= promptTokens);
    if (past !== undefined) return `${name}: position ${past} is past the end of the prompt (${promptTokens} token${promptTokens === 1 ? '' : 's'}: positions 0–${promptTokens! - 1}).`;
    const same = this.interventions.some((x) => sameTarget(x, iv));
    if (!same && this.interventions.length >= LIMITS.interventions) return `At most ${LIMITS.interventions} interventions: remove one first.`;
    return null;
  }

  /** Adds (or replaces the one on the same neuron or head); returns why not, or null. */
  addIntervention(iv: Intervention): string | null {
    const why = this.checkIntervention(iv);
    if (why) return why;
    const same = this.interventions.findIndex((x) => sameTarget(x, iv));
    const ui: UIIntervention = { ...iv, active: true };
    if (same >= 0) this.interventions[same] = ui;
    else this.interventions.push(ui);
    this.changedInterventions();
    return null;
  }

  updateIntervention(i: number, patch: Partial<Pick<UIIntervention, 'mode' | 'value' | 'active'>>): void {
    if (!this.interventions[i] || this.frozen) return;
    this.interventions[i] = { ...this.interventions[i], ...patch } as UIIntervention;
    this.changedInterventions();
  }

  removeIntervention(i: number): void {
    if (this.frozen) return;
    this.interventions.splice(i, 1);
    this.changedInterventions();
  }

  clearInterventions(): void {
    if (this.frozen) return;
    this.interventions = [];
    this.changedInterventions();
  }

  private changedInterventions(): void {
    this.syncUrl();
    this.emit('interventions');
    this.scheduleRetrace();
  }

  // ---------- selection ----------

  selectLayer(l: number | null): void {
    this.layer = l;
    this.syncUrl();
    this.emit('layer');
  }

  openDetail(layer: number, index: number): void {
    this.detail = { layer, index };
    this.syncUrl();
    this.emit('detail');
  }

  async valueVector(layer: number, index: number): Promise<ValueVector> {
    if (this.dbg) return this.dbg.valueVector(layer, index, { topK: 15 });
    const saved = this.snapshot?.valueVectors.find((v) => v.layer === layer && v.index === index);
    if (saved) return saved;
    throw new Error(`L${layer}D${index} is not in this saved view: make it live to open any value vector.`);
  }

  // ---------- URL ----------

  stateForUrl(embed = this.embed): UrlState {
    return {
      model: this.modelKey ?? (this.snapshot ? this.urlState.model : this.selected),
      prompt: this.prompt || null,
      interventions: this.interventions,
      layer: this.layer,
      detail: embed ? null : this.detail,
      track: this.track,
      embed,
      hub: this.hub,
      // Until a model is live, the saved view is the state; then the link itself says it all.
      snapshot: this.dbg ? null : this.snapshotUrl,
      view: this.view === 'prediction' ? null : this.view,
    };
  }

  /** A link to this view on the full page (or its embed); null where there is no page (an element from the npm package). */
  shareUrl(embed = false): string {
    const u = new URL(this.host.pageUrl ?? location.href);
    u.search = serializeUrlState(this.stateForUrl(embed));
    u.hash = '';
    return u.href;
  }

  syncUrl(): void {
    if (!this.host.urlSync) return;
    const q = serializeUrlState(this.stateForUrl());
    const next = `${location.pathname}${q ? `?${q}` : ''}`;
    if (next !== `${location.pathname}${location.search}`) history.replaceState(null, '', next);
  }
}
