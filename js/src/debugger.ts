// The debugger in this thread (page, Worker or Node): thin wrappers over the raw bindings that turn
// JSON into plain objects, keep every result a copy, and guard against use after dispose.
import type {
  ActivationCache,
  AttributeOptions,
  Attribution,
  ClusterInfo,
  Debugger,
  FileData,
  GenerateOptions,
  GeneratedToken,
  Intervention,
  LoadOptions,
  MemoryInfo,
  ModelConfig,
  ModelInfo,
  ModelSource,
  PatchSweepOptions,
  PatchOptions,
  PatchResult,
  PatchSweep,
  RunWithCacheOptions,
  SearchOptions,
  SearchResult,
  Snapshot,
  SnapshotOptions,
  Tensor,
  Trace,
  TraceOptions,
  ValueVector,
} from '../types/index.js';
import type { RawGenerator, RawModel, RawModule, RawText } from './raw.js';
import { abortError, defineAsyncDispose, isNode, yieldToEventLoop } from './env.js';
import { loadModel } from './load.js';
import { fromFileData } from './sources.js';
import { moduleThreads } from './module.js';

const IDLE_AFTER_MS = 100;
const SLICE_MS = 25;

// ignoreBOM: keep a leading U+FEFF (by default TextDecoder drops it, and decode() would lose text).
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function checkIds(ids: unknown): number[] {
  if (!Array.isArray(ids) && !ArrayBuffer.isView(ids)) throw new Error('lmdbg: a prompt must be a string or an array of token ids');
  const out = Array.from(ids as ArrayLike<number>);
  for (const id of out)
    if (!Number.isInteger(id)) throw new Error(`lmdbg: token id ${String(id)} is not an integer`);
  return out;
}

function interventionsJson(ivs: Intervention[] | undefined): string {
  if (ivs === undefined || ivs === null) return '[]';
  if (!Array.isArray(ivs)) throw new Error('lmdbg: interventions must be an array of {layer, index | head, mode, value?, positions?}');
  return JSON.stringify(ivs);
}

function positiveInt(v: number | undefined, fallback: number, what: string, min = 0): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw new Error(`lmdbg: ${what} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

async function textOf(data: FileData | object): Promise<RawText> {
  if (typeof Blob !== 'undefined' && data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  if (typeof data === 'string' || data instanceof ArrayBuffer || ArrayBuffer.isView(data))
    return fromFileData('value_clusters.json', data as FileData, false).bytes!;
  return JSON.stringify(data);
}

export class LMDebugger implements Debugger {
  readonly config: ModelConfig;
  readonly info: ModelInfo;
  #M: RawModule;
  #model: RawModel | null;
  #generators = new Set<RawGenerator>();
  #endOfText: number | null | undefined = undefined;
  #lastCall = 0; // performance.now() of the latest API call: idle work waits for a quiet moment

  /** Use LMDebugger.load(). */
  private constructor(M: RawModule, model: RawModel, precompute: boolean) {
    this.#M = M;
    this.#model = model;
    this.config = Object.freeze(JSON.parse(model.configJson()) as ModelConfig);
    this.info = Object.freeze(JSON.parse(model.infoJson()) as ModelInfo);
    if (precompute) this.#idleLater(IDLE_AFTER_MS);
  }

  static async load(source: ModelSource, options: LoadOptions = {}): Promise<Debugger> {
    if (options.worker) {
      if (isNode || typeof Worker === 'undefined')
        throw new Error('lmdbg: { worker: true } needs a browser with module Web Workers; in Node, load without it');
      const { WorkerDebugger } = await import('./worker-client.js');
      return WorkerDebugger.load(source, options);
    }
    if (options.precompute !== undefined && typeof options.precompute !== 'boolean')
      throw new Error(`lmdbg: precompute must be true or false, got ${String(options.precompute)}`);
    const { M, model } = await loadModel(source, options);
    return new LMDebugger(M, model, options.precompute === true);
  }

  get #m(): RawModel {
    if (!this.#model) throw new Error('lmdbg: this model has been disposed');
    this.#lastCall = performance.now();
    return this.#model;
  }

  // LoadOptions.precompute: search statistics, then the value index, then (without value_clusters.json)
  // the clusters, in slices of about SLICE_MS,
  // each only once no call has come for IDLE_AFTER_MS. The timer never keeps Node alive.
  #idleLater(ms: number): void {
    const t = setTimeout(() => this.#idleSlice(), ms) as unknown as { unref?: () => void };
    t.unref?.();
  }

  #idleSlice(): void {
    const m = this.#model;
    if (!m) return; // disposed
    const quiet = performance.now() - this.#lastCall;
    if (quiet < IDLE_AFTER_MS) return this.#idleLater(IDLE_AFTER_MS - quiet);
    const start = performance.now();
    try {
      while (performance.now() - start < SLICE_MS) {
        if (!m.searchReady()) m.searchStatsStep(1);
        else if (m.fillValueIndex(8) > 0) continue;
        else if (m.clusterStep(1)) return; // all done
      }
    } catch {
      return; // e.g. out of memory: leave the rest to the calls that need it
    }
    this.#idleLater(0);
  }

  #ids(prompt: string | number[]): number[] {
    const m = this.#m;
    return typeof prompt === 'string' ? Array.from(m.tokenize(wellFormed(prompt), false)) : checkIds(prompt);
  }

  async tokenize(text: string, options: { allowSpecial?: boolean } = {}): Promise<number[]> {
    if (typeof text !== 'string') throw new Error('lmdbg: tokenize expects a string');
    return Array.from(this.#m.tokenize(wellFormed(text), options.allowSpecial === true));
  }

  async decode(ids: number[]): Promise<string> {
    return utf8.decode(this.#m.decode(checkIds(ids)));
  }

  async toStrTokens(input: string | number[]): Promise<string[]> {
    const m = this.#m;
    return this.#ids(input).map((id) => utf8.decode(m.tokenBytes(id)));
  }

  async trace(prompt: string | number[], options: TraceOptions = {}): Promise<Trace> {
    const m = this.#m;
    const ids = this.#ids(prompt);
    const p = options?.patch;
    // The patch's source prompt goes to the engine as token ids, like the prompt.
    const sent = p && typeof p === 'object' ? { ...options, patch: { ...p, source: this.#ids(p.source) } } : options;
    const raw = m.trace(ids, JSON.stringify(sent));
    const t = JSON.parse(raw.json) as Trace;
    if (raw.attention) {
      const { nLayers, nHeads } = this.config;
      t.attention = { dims: [nLayers, nHeads, ids.length, ids.length], data: raw.attention } satisfies Tensor;
    }
    return t;
  }

  async valueVector(layer: number, index: number, options: { topK?: number } = {}): Promise<ValueVector> {
    return (await this.valueVectors([[layer, index]], options))[0]!;
  }

  async valueVectors(refs: [layer: number, index: number][], options: { topK?: number } = {}): Promise<ValueVector[]> {
    const k = positiveInt(options.topK, 10, 'topK');
    return JSON.parse(this.#m.valueVectors(JSON.stringify(refs), k, k)) as ValueVector[];
  }

  async prepareSearch(): Promise<void> {
    this.#m.prepareSearch();
  }

  async search(keywords: string | string[], options: SearchOptions = {}): Promise<SearchResult> {
    const m = this.#m;
    const list = typeof keywords === 'string' ? keywords.split(',').map((k) => k.trim()).filter((k) => k !== '') : keywords;
    if (!Array.isArray(list) || list.length === 0) throw new Error('lmdbg: search needs at least one keyword');
    const limit = positiveInt(options.limit, 20, 'limit', 1);
    const topK = positiveInt(options.topK, 10, 'topK');
    const ranking = options.ranking ?? 'zscore';
    if (ranking !== 'zscore' && ranking !== 'lmdebugger') throw new Error(`lmdbg: ranking must be "zscore" or "lmdebugger", got ${JSON.stringify(ranking)}`);
    return JSON.parse(m.search(JSON.stringify(list), limit, topK, ranking)) as SearchResult;
  }

  async *generate(prompt: string | number[], options: GenerateOptions = {}): AsyncGenerator<GeneratedToken, void, void> {
    const m = this.#m;
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal);
    const maxNew = positiveInt(options.maxNewTokens, 20, 'maxNewTokens');
    const ids = this.#ids(prompt);
    const gen = this.#M.createGenerator(m, ids, interventionsJson(options.interventions), samplingJson(options.sampling));
    this.#generators.add(gen);
    const eot = options.stopAtEndOfText === false ? null : this.#eot();
    try {
      for (let i = 0; i < maxNew; i++) {
        if (i > 0) await yieldToEventLoop(); // let abort events and the page in between steps
        if (signal?.aborted) throw abortError(signal);
        if (!this.#generators.has(gen)) throw new Error('lmdbg: this model has been disposed');
        if (gen.remaining() <= 0) return; // the end of the context
        this.#lastCall = performance.now();
        const id = gen.next();
        yield { id, index: i, text: utf8.decode(m.tokenBytes(id)) };
        if (id === eot) return;
      }
    } finally {
      if (this.#generators.delete(gen)) gen.delete();
    }
  }

  #eot(): number | null {
    if (this.#endOfText === undefined) {
      const ids = this.#m.tokenize('<|endoftext|>', true);
      this.#endOfText = ids.length === 1 ? ids[0]! : null;
    }
    return this.#endOfText;
  }

  async runWithCache(prompt: string | number[], options: RunWithCacheOptions = {}): Promise<ActivationCache> {
    const m = this.#m;
    const ids = this.#ids(prompt);
    const names = options.names ?? [];
    if (!Array.isArray(names)) throw new Error('lmdbg: names must be an array of hook names');
    const raw = m.runWithCache(ids, JSON.stringify(names), interventionsJson(options.interventions));
    const hooks: Record<string, Tensor> = {};
    for (const h of raw.hooks) hooks[h.name] = { dims: Array.from(h.dims), data: h.data };
    return { hooks, logits: { dims: Array.from(raw.logits.dims), data: raw.logits.data } };
  }

  async patch(source: string | number[], target: string | number[], options: PatchOptions): Promise<PatchResult> {
    const m = this.#m;
    if (typeof options !== 'object' || options === null) throw new Error('lmdbg: patch options must be {hook, layer, head?, positions?, metric}');
    return JSON.parse(m.patch(this.#ids(source), this.#ids(target), JSON.stringify(options))) as PatchResult;
  }

  async patchSweep(source: string | number[], target: string | number[], options: PatchSweepOptions): Promise<PatchSweep> {
    const m = this.#m;
    if (typeof options !== 'object' || options === null) throw new Error('lmdbg: patchSweep options must be {hook, head?, metric}');
    return JSON.parse(m.patchSweep(this.#ids(source), this.#ids(target), JSON.stringify(options))) as PatchSweep;
  }

  async attribute(prompt: string | number[], options: AttributeOptions): Promise<Attribution> {
    const m = this.#m;
    if (typeof options !== 'object' || options === null) throw new Error('lmdbg: attribute needs options { target, distractor?, position?, neurons? }');
    const ids = this.#ids(prompt);
    const { interventions, ...rest } = options;
    return JSON.parse(m.attribute(ids, JSON.stringify(rest), interventionsJson(interventions))) as Attribution;
  }

  async loadClusters(data: FileData | object): Promise<void> {
    const m = this.#m;
    m.loadClusters(await textOf(data));
  }

  async cluster(id: number, options: { topK?: number; members?: number } = {}): Promise<ClusterInfo> {
    const m = this.#m;
    if (!Number.isInteger(id)) throw new Error(`lmdbg: cluster id must be an integer, got ${String(id)}`);
    const topK = positiveInt(options.topK, 10, 'topK');
    const members = positiveInt(options.members, 50, 'members');
    return JSON.parse(m.cluster(id, topK, members)) as ClusterInfo;
  }

  async snapshot(prompt: string, options: SnapshotOptions = {}): Promise<Snapshot> {
    const m = this.#m;
    if (typeof prompt !== 'string') throw new Error('lmdbg: snapshot needs the prompt as text (it is saved with the view)');
    if (typeof options !== 'object' || options === null) throw new Error('lmdbg: snapshot options must be an object');
    const { generate, ...rest } = options;
    const o: Record<string, unknown> = { ...rest, prompt: wellFormed(prompt) };
    if (generate !== undefined) {
      // A sampled generation is saved with its seed (a random one when none is given), so it can be repeated.
      const { sampling, ...g } = generate;
      o.generate = { ...g, sampling: sampling === undefined || sampling === 'greedy' ? 'greedy' : JSON.parse(samplingJson(sampling)) };
    }
    return JSON.parse(m.snapshot(JSON.stringify(o))) as Snapshot;
  }

  async memory(): Promise<MemoryInfo> {
    const m = this.#model; // not an activity: polling it must not hold back idle work
    if (!m) throw new Error('lmdbg: this model has been disposed');
    return {
      heapBytes: this.#M.heapBytes(),
      heapUsed: this.#M.heapUsed(),
      weightBytes: m.weightBytes(),
      threads: moduleThreads(),
      valueIndex: { filled: m.valueIndexFilled(), total: m.valueIndexTotal() },
      searchReady: m.searchReady(),
      clusters: m.clusterProgress(),
      forwardPasses: m.forwardPasses(),
    };
  }

  async dispose(): Promise<void> {
    if (!this.#model) return;
    for (const g of this.#generators) g.delete();
    this.#generators.clear();
    this.#model.delete();
    this.#model = null;
  }

  declare [Symbol.asyncDispose]: () => Promise<void>;
}

defineAsyncDispose(LMDebugger.prototype);

export function samplingJson(s: GenerateOptions['sampling']): string {
  if (s === undefined || s === 'greedy') return JSON.stringify({ greedy: true });
  if (typeof s !== 'object' || s === null) throw new Error(`lmdbg: sampling must be "greedy" or {temperature, topK, seed}`);
  const out: Record<string, unknown> = { greedy: false };
  if (s.temperature !== undefined) {
    if (!(typeof s.temperature === 'number' && s.temperature > 0 && Number.isFinite(s.temperature)))
      throw new Error(`lmdbg: sampling.temperature must be a number > 0, got ${String(s.temperature)}`);
    out.temperature = s.temperature;
  }
  if (s.topK !== undefined) out.topK = positiveInt(s.topK, 0, 'sampling.topK');
  const seed = s.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`lmdbg: sampling.seed must be a non-negative integer, got ${String(seed)}`);
  out.seed = seed;
  return JSON.stringify(out);
}

/**
 * A lone UTF-16 surrogate becomes U+FFFD, as TextEncoder does. (Embind's string conversion would
 * otherwise merge it with the next code unit: "\uD800 " lost its space.)
 */
function wellFormed(text: string): string {
  const s = text as string & { toWellFormed?: () => string };
  return typeof s.toWellFormed === 'function' ? s.toWellFormed() : new TextDecoder().decode(new TextEncoder().encode(text));
}
