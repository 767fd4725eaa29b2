// The page's state and the calls into the debugger. Views subscribe to events and render; they never call
// the model themselves except through App, which serialises work, drops stale results and keeps the URL
// in sync with the state.
import { LMDebugger, type Debugger, type Intervention, type LoadProgress, type Trace, type ValueVector } from 'lmdbg';
import { Busy, toast } from './busy';
import { Names } from './names';
import { LIMITS, parseUrlState, serializeUrlState, type UIIntervention, type UrlState } from './state';
import { announce, bytes, duration } from './dom';
import { forgetFiles, keepFiles, keptFiles } from './kept';
import {
  DEFAULT_MODEL, FILES_ENTRY, HUB_MODELS, bundledEntry, hubCached, hubHostFor, hubKept, matchFiles, readManifest, siteUrl,
  SpeedMeter, type BundledInfo, type ModelEntry,
} from './models';

export type AppEvent = 'models' | 'model' | 'prompt' | 'trace' | 'interventions' | 'layer' | 'detail' | 'pending' | 'names' | 'files' | 'storage';

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

  private listeners = new Map<AppEvent, Set<() => void>>();
  private traceSeq = 0;
  private loadSeq = 0;
  private urlState: UrlState;

  constructor(readonly busy: Busy, search = location.search) {
    const warnings: string[] = [];
    this.urlState = parseUrlState(search, (w) => warnings.push(w));
    for (const w of warnings) toast(w, 'info');
    this.embed = this.urlState.embed;
    this.hub = this.urlState.hub;
    this.hubHost = hubHostFor(this.hub);
    this.selected = this.urlState.model ?? DEFAULT_MODEL;
    this.prompt = this.urlState.prompt ?? DEFAULT_PROMPT;
    this.interventions = this.urlState.interventions;
    this.layer = this.urlState.layer;
    this.detail = this.urlState.detail;
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
  emit(ev: AppEvent): void {
    for (const fn of this.listeners.get(ev) ?? []) {
      try {
        fn();
      } catch (e) {
        console.warn(e);
        toast(`Display error: ${(e as Error).message}`);
      }
    }
  }

  entry(key: string | null): ModelEntry | undefined {
    return this.models.find((m) => m.key === key);
  }

  // ---------- start-up ----------

  /** Reads the bundled models' manifest and the cache state, then loads what the URL (or the cache) says. */
  async start(): Promise<void> {
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

  // ---------- loading ----------

  async load(key: string): Promise<void> {
    const e = this.entry(key);
    if (!e) return;
    this.selected = key;
    this.setPending(null);
    let source: string | File[];
    if (e.kind === 'hub') source = e.id!;
    else if (e.kind === 'bundled') source = siteUrl(`models/${e.id}/`);
    else {
      const m = matchFiles(this.droppedFiles);
      if (m.missing.length) {
        this.setPending(e);
        toast(`Missing file${m.missing.length > 1 ? 's' : ''}: ${m.missing.join(', ')}`);
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
      const dbg = await LMDebugger.load(source, {
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
        await dbg.dispose();
        return;
      }
      task.label('Preparing the model');
      task.progress(null, '');
      // The package loads value_clusters.json itself when the source has one.
      this.hasClusters = await dbg.cluster(0, { topK: 1, members: 1 }).then(() => true, () => false);
      const old = this.dbg;
      this.dbg = dbg;
      this.modelKey = key;
      this.modelLabel = e.kind === 'files' ? 'your model' : e.label;
      this.names = new Names(e.kind === 'files' ? `files:${dbg.config.nLayers}x${dbg.config.dModel}x${dbg.config.dVocab}` : key);
      this.names.onChange(() => this.emit('names'));
      this.trace = null;
      this.validateAgainstModel();
      if (old) void old.dispose().catch(() => {});
      this.emit('model');
      this.emit('interventions');
      this.emit('layer');
      this.syncUrl();
      if (e.kind === 'hub') void this.keepForOffline(e.key);
      task.end();
      if (this.prompt.trim()) await this.runTrace();
      if (this.detail) this.emit('detail');
    } catch (err) {
      const aborted = ac.signal.aborted || (err as Error).name === 'AbortError';
      if (!aborted) {
        this.loadError = `Could not load ${e.kind === 'files' ? 'your files' : e.label}: ${(err as Error).message}`;
        if (this.dbg) toast(this.loadError);
      }
      if (e.kind === 'hub') await this.refreshOffline();
      this.emit('storage');
      if (!this.dbg) this.setPending(e);
    } finally {
      task.end();
    }
  }

  /** Drops URL-state parts that do not fit the loaded model (out-of-range layers and neurons). */
  private validateAgainstModel(): void {
    const c = this.dbg!.config;
    const ok = this.interventions.filter((iv) => iv.layer < c.nLayers && iv.index < c.dMlp);
    if (ok.length !== this.interventions.length) toast(`${this.interventions.length - ok.length} intervention(s) do not fit this model (${c.nLayers} layers × ${c.dMlp} neurons) and were removed.`, 'info');
    this.interventions = ok;
    if (this.layer !== null && this.layer >= c.nLayers) this.layer = null;
    if (this.detail && (this.detail.layer >= c.nLayers || this.detail.index >= c.dMlp)) this.detail = null;
  }

  // ---------- tracing ----------

  activeInterventions(): Intervention[] {
    return this.interventions.filter((iv) => iv.active).map(({ active: _a, ...iv }) => iv);
  }

  async tokens(prompt = this.prompt): Promise<number[]> {
    return this.dbg!.tokenize(prompt, { allowSpecial: true });
  }

  setPrompt(p: string): void {
    this.prompt = p;
    this.syncUrl();
    this.emit('prompt');
  }

  /** Traces the prompt in one engine call: LM-Debugger's view, attention, and the logit lens over the positions. */
  async runTrace(): Promise<void> {
    const dbg = this.dbg;
    if (!dbg) return;
    if (!this.prompt.trim()) {
      toast('Type a prompt first.', 'info');
      return;
    }
    const seq = ++this.traceSeq;
    const interventions = this.activeInterventions();
    const task = this.busy.start('Tracing', () => {
      if (seq === this.traceSeq) this.traceSeq++;
    });
    try {
      const ids = await this.tokens();
      if (seq !== this.traceSeq) return;
      const c = dbg.config;
      const T = ids.length;
      // Bounded work: attention patterns only while they stay small (L·H·T² floats), and the all-positions
      // logit lens over the last positions that fit a budget of about 2e10 multiply-adds.
      const attention = c.nLayers * c.nHeads * T * T <= ATTENTION_MAX_FLOATS;
      const lensPositions = Math.max(8, Math.min(T, Math.floor(LENS_BUDGET / (2 * c.nLayers * c.dVocab * c.dModel))));
      const t = await dbg.trace(ids, {
        topK: TRACE_TOPK,
        subUpdates: SUB_UPDATES,
        valueTopK: VALUE_TOPK,
        attention,
        interventions,
        lensPositions: lensPositions >= T ? 'all' : Array.from({ length: lensPositions }, (_, i) => T - lensPositions + i),
        cleanLayers: interventions.length > 0,
      });
      if (seq !== this.traceSeq) return;
      this.trace = t;
      this.tracedWith = JSON.stringify(interventions);
      this.traces++;
      this.emit('trace');
      const pos = t.positions[t.positions.length - 1];
      announce(`Predicted next token: ${JSON.stringify(pos.predicted.text)}${pos.clean ? (pos.clean.changed ? `, changed from ${JSON.stringify(pos.clean.predicted.text)} by the interventions` : ', unchanged by the interventions') : ''}.`);
    } catch (err) {
      if (seq === this.traceSeq) toast((err as Error).message);
    } finally {
      task.end();
    }
  }

  get traceStale(): boolean {
    return !!this.trace && this.tracedWith !== JSON.stringify(this.activeInterventions());
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
    const c = this.dbg?.config;
    const name = `L${iv.layer}D${iv.index}`;
    if (c && iv.layer >= c.nLayers) return `${name}: layer ${iv.layer} is outside this model (${c.nLayers} layers: 0–${c.nLayers - 1}).`;
    if (c && iv.index >= c.dMlp) return `${name}: neuron ${iv.index} is outside layer ${iv.layer} (${c.dMlp} neurons: 0–${c.dMlp - 1}).`;
    const past = promptTokens === undefined ? undefined : iv.positions?.find((p) => p >= promptTokens);
    if (past !== undefined) return `${name}: position ${past} is past the end of the prompt (${promptTokens} token${promptTokens === 1 ? '' : 's'}: positions 0–${promptTokens! - 1}).`;
    const same = this.interventions.some((x) => x.layer === iv.layer && x.index === iv.index);
    if (!same && this.interventions.length >= LIMITS.interventions) return `At most ${LIMITS.interventions} interventions: remove one first.`;
    return null;
  }

  /** Adds (or replaces the one on the same neuron); returns why not, or null. */
  addIntervention(iv: Intervention): string | null {
    const why = this.checkIntervention(iv);
    if (why) return why;
    const same = this.interventions.findIndex((x) => x.layer === iv.layer && x.index === iv.index);
    const ui: UIIntervention = { ...iv, active: true };
    if (same >= 0) this.interventions[same] = ui;
    else this.interventions.push(ui);
    this.changedInterventions();
    return null;
  }

  updateIntervention(i: number, patch: Partial<UIIntervention>): void {
    if (!this.interventions[i]) return;
    this.interventions[i] = { ...this.interventions[i], ...patch };
    this.changedInterventions();
  }

  removeIntervention(i: number): void {
    this.interventions.splice(i, 1);
    this.changedInterventions();
  }

  clearInterventions(): void {
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
    return this.dbg!.valueVector(layer, index, { topK: 15 });
  }

  // ---------- URL ----------

  stateForUrl(embed = this.embed): UrlState {
    return {
      model: this.modelKey ?? this.selected,
      prompt: this.prompt || null,
      interventions: this.interventions,
      layer: this.layer,
      detail: embed ? null : this.detail,
      embed,
      hub: this.hub,
    };
  }

  shareUrl(embed = false): string {
    const u = new URL(location.href);
    u.search = serializeUrlState(this.stateForUrl(embed));
    u.hash = '';
    return u.href;
  }

  syncUrl(): void {
    const q = serializeUrlState(this.stateForUrl());
    const next = `${location.pathname}${q ? `?${q}` : ''}`;
    if (next !== `${location.pathname}${location.search}`) history.replaceState(null, '', next);
  }
}
