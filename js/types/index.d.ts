/**
 * lmdbg — LM-Debugger for GPT-2, in WebAssembly.
 *
 * One async API in a page, a Web Worker and Node:
 *
 *   import { LMDebugger } from 'lmdbg';
 *   const dbg = await LMDebugger.load('openai-community/gpt2', { onProgress: (p) => console.log(p.loaded) });
 *   const trace = await dbg.trace('The capital of France is');
 *   console.log(trace.positions[0].prediction[0].text);            // most likely next token
 *   for (const l of trace.positions[0].layers) console.log(l.layer, l.subUpdates[0].name);  // "L9D1234"
 *   const off = await dbg.trace('The capital of France is', { interventions: [{ layer: 9, index: 1234, mode: 'off' }] });
 *   for await (const t of dbg.generate('Once upon a time', { maxNewTokens: 20 })) process.stdout.write(t.text);
 *   await dbg.dispose();
 *
 * Results are plain objects and copies (typed arrays never view the wasm heap). Errors are `Error`s
 * carrying the engine's message; the model stays usable after any error. Hook names and
 * hyperparameter names follow TransformerLens.
 */

/**
 * Weight storage in memory. 'f32' keeps the checkpoint's numbers exactly; 'f16' halves the memory
 * (compute stays fp32); 'q8' stores int8 weights with a scale per block of 32 (about a quarter of f32)
 * and computes with 8-bit weights and 16-bit activations: its results are approximate
 * (docs/weights-format.md measures how much).
 */
export type Dtype = 'f32' | 'f16' | 'q8';

export interface ModelConfig {
  nLayers: number;
  nHeads: number;
  dModel: number;
  dHead: number;
  dMlp: number;
  nCtx: number;
  dVocab: number;
  lnEps: number;
}

/** Identity of the loaded weights (`Debugger.info`). */
export interface ModelInfo {
  /**
   * "xxh64:" and 16 hex digits: XXH64 of model.safetensors' data section (the bytes after its header),
   * computed by the engine as the file streams in. The same file gives the same fingerprint in the
   * browser, in Node and in the native CLI (`lmdbg info`), from any source; the same weights
   * converted to F16 give another.
   */
  fingerprint: string;
  /** Size of model.safetensors in bytes. */
  checkpointBytes: number;
  /** Weight storage in memory. */
  dtype: Dtype;
}

/**
 * One file, as given by the caller: its text (a string is the content, not a path or URL), its bytes,
 * or a Blob/File (read in chunks). model.safetensors must be bytes or a Blob.
 */
export type FileData = string | ArrayBuffer | Uint8Array | Blob;

/** The four files of a Hugging Face GPT-2 checkpoint (plus optional value-vector clusters). */
export interface ModelFiles {
  config: FileData;
  weights: FileData; // model.safetensors
  vocab: FileData; // vocab.json
  merges: FileData; // merges.txt
  clusters?: FileData; // value_clusters.json (lmdbg cluster)
  valueIndex?: FileData; // value_index.bin (lmdbg index): every value vector's top tokens, precomputed
}

/**
 * Where a model comes from:
 * - a Hugging Face Hub id ("openai-community/gpt2", "gpt2-medium"), resolved as
 *   `{hubHost}/{id}/resolve/{revision}/{file}`;
 * - a base URL (string starting with http(s):, /, ./ or ../, or a URL) holding the four files;
 * - `File`s: an array or a `FileList` (e.g. from drag and drop or `<input type="file" multiple>`),
 *   matched by file name;
 * - a `ModelFiles` object of strings, ArrayBuffers, Uint8Arrays or Blobs;
 * - in Node, a folder path: a string starting with /, ./, ../ or file:, a file: URL, or any string
 *   naming an existing folder (checked before it is taken for a Hub id).
 */
export type ModelSource = string | URL | ModelFiles | File[] | ArrayLike<File>;

export interface LoadProgress {
  /** "config.json", "model.safetensors", ... */
  file: string;
  /** Bytes received so far for this file. */
  loaded: number;
  /** File size when known. */
  total: number | null;
  /** Bytes received so far for all files, and their total when known. */
  loadedAll: number;
  totalAll: number | null;
  /** True when these bytes came from the local cache (the start of a resumed download does too). */
  fromCache: boolean;
  /**
   * Set when the browser refused to keep this file in Cache Storage (its storage quota for the site is
   * full, for example): the load goes on without caching it, and it will be downloaded again next time.
   */
  cacheError?: string;
}

export interface LoadOptions {
  /**
   * Weight storage: 'f32' (default, exact), 'f16' (half the memory; compute stays fp32) or 'q8'
   * (a quarter; approximate). A q8 checkpoint (`lmdbg convert --dtype q8`) is kept as stored with 'q8'
   * and dequantized with the others; an f32 or f16 checkpoint is quantized at load with 'q8'.
   */
  dtype?: Dtype;
  /** Called as bytes arrive, chunk by chunk, for every file. */
  onProgress?: (p: LoadProgress) => void;
  /**
   * Browser Cache Storage for downloaded files: true (default, cache "lmdbg-models"), false, or a cache
   * name. Large files are kept in parts as they arrive: a download that fails or is aborted resumes
   * from there on the next load (HTTP Range requests); a dropped connection is resumed at once.
   */
  cache?: boolean | string;
  /** Default "https://huggingface.co"; tests point it at a local server with the same layout. */
  hubHost?: string;
  /** Default "main". */
  revision?: string;
  /** Aborts the load, downloads included; load() then rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Location of lmdbg.wasm when the bundler does not resolve it. One wasm instance serves every model
   * of a page, Worker or process: the first load's location is the one used. Without it, the package
   * takes its relaxed-SIMD builds (lmdbg-relaxed*.wasm: fused multiply-add, same reference
   * tolerances, not bitwise the plain builds' numbers) where WebAssembly.validate accepts them, e.g.
   * Chrome/Edge 114+ and Node 22+; a wasmUrl names the exact build.
   */
  wasmUrl?: string | URL;
  /**
   * Browser: run the engine in a dedicated module Worker (its own wasm instance) so the page never
   * freezes (default false). The returned Debugger is the same API; calls are queued in order, not
   * interleaved. In Node this option throws.
   */
  worker?: boolean;
  /**
   * Threads for the engine's matrix products: the threaded build (lmdbg-threads.wasm, its Workers
   * pre-started) instead of the single-threaded lmdbg.wasm. Default: automatic, i.e. the hardware
   * threads (at most 8) on a cross-origin isolated page or Worker (`crossOriginIsolated`, served
   * with `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: require-corp`),
   * 1 elsewhere and in Node. `false` or 1: single-threaded; `true`: the hardware threads (at most
   * 8); n: n threads. More than 1 where SharedArrayBuffer is missing throws. Like wasmUrl, the
   * first load of a page, Worker or process decides; with threads, wasmUrl names
   * lmdbg-threads.wasm, beside which lmdbg-threads.mjs and lmdbg-threads.worker.js must be served.
   * Results are bitwise the same for every thread count.
   */
  threads?: boolean | number;
  /**
   * Use idle time to prepare for later calls (default false): first the keyword-search statistics,
   * then every value vector's top and bottom tokens, largest ‖v‖ first, so that later traces and the
   * first search() need no projections. It runs in slices of about 25 ms, only after 100 ms without
   * a call, and stops at dispose(). GPT-2 small: about 1.5 s of CPU for search, then about 3 TFLOP
   * for all 36,864 value vectors (minutes on one thread). Then, when the model came without
   * value_clusters.json, the clusters of value vectors (`lmdbg cluster`'s k-means with its defaults;
   * GPT-2 small: about 20 × 1.3·10^11 multiply-adds, many minutes). Progress: memory().
   */
  precompute?: boolean;
}

export interface Token {
  id: number;
  /** The token's bytes decoded as UTF-8 (U+FFFD where a token holds part of a character). */
  text: string;
}

export interface ScoredToken extends Token {
  logit: number;
  /** Softmax probability, where it has a meaning (lens and prediction lists). */
  prob?: number;
}

// <generated by `npm run gen:tables` from the engine's tables: do not edit>
/**
 * Intervention modes, acting on FFN coefficient m_i (mlp.hook_post) or its input u_i (mlp.hook_pre):
 *   off: m_i := 0
 *   on: LM-Debugger's switch: u_i := S*_l + 0.01, with S*_l = max_j |m_j|·‖v_j‖ of layer l at the last position of the clean run (this sets the c_fc output, so it can also lower a large coefficient)
 *   set=value: m_i := value
 *   pre=value: u_i := value, so m_i = gelu(value)
 *   scale=value: m_i := m_i · value
 *   add=value: m_i := m_i + value
 */
export type InterventionMode =
  | 'off'
  | 'on'
  | 'set'
  | 'pre'
  | 'scale'
  | 'add';

/**
 * The modes an attention head accepts, acting on its slice z_h of attn.hook_z:
 *   off: z_h := 0, so the head adds nothing (zero ablation)
 *   scale=value: z_h := z_h · value, so the head's output hook_result is scaled by value
 */
export type HeadInterventionMode =
  | 'off'
  | 'scale';

/**
 * Hook names after "blocks.{layer}.", with the shape of one layer's activation and what it holds:
 *   hook_resid_pre [pos, d_model]: the residual stream entering the block
 *   ln1.hook_normalized [pos, d_model]: ln_1's output, after its gamma and beta
 *   attn.hook_q [pos, head, d_head]: queries: ln_1's output · W_Q + b_Q
 *   attn.hook_k [pos, head, d_head]: keys: ln_1's output · W_K + b_K
 *   attn.hook_v [pos, head, d_head]: values: ln_1's output · W_V + b_V
 *   attn.hook_attn_scores [head, query_pos, key_pos] (not editable): q·k / sqrt(d_head) after the causal mask (masked entries are -inf) and before the softmax, as TransformerLens defines it
 *   attn.hook_pattern [head, query_pos, key_pos] (not editable): the softmax of the scores over the keys
 *   attn.hook_z [pos, head, d_head]: each head's pattern-weighted sum of values
 *   attn.hook_result [pos, head, d_model]: each head's output: z_h times its d_head rows of W_O, without the bias; summed over heads, plus b_O, it is hook_attn_out
 *   hook_attn_out [pos, d_model]: the attention's output, with b_O
 *   hook_resid_mid [pos, d_model]: resid_pre + attn_out
 *   ln2.hook_normalized [pos, d_model]: ln_2's output, after its gamma and beta
 *   mlp.hook_pre [pos, d_mlp]: c_fc's output u, before the GELU
 *   mlp.hook_post [pos, d_mlp]: the coefficients m = gelu(u)
 *   hook_mlp_out [pos, d_model]: the FFN's output, sum_i m_i v_i + b_out
 *   hook_resid_post [pos, d_model]: resid_mid + mlp_out
 */
export type PerLayerHook =
  | 'hook_resid_pre'
  | 'ln1.hook_normalized'
  | 'attn.hook_q'
  | 'attn.hook_k'
  | 'attn.hook_v'
  | 'attn.hook_attn_scores'
  | 'attn.hook_pattern'
  | 'attn.hook_z'
  | 'attn.hook_result'
  | 'hook_attn_out'
  | 'hook_resid_mid'
  | 'ln2.hook_normalized'
  | 'mlp.hook_pre'
  | 'mlp.hook_post'
  | 'hook_mlp_out'
  | 'hook_resid_post';

/**
 * Hook names outside the blocks:
 *   hook_embed [pos, d_model]: token embeddings W_E[token]
 *   hook_pos_embed [pos, d_model]: position embeddings W_pos[pos]
 *   ln_final.hook_normalized [pos, d_model]: ln_f's output, after its gamma and beta
 */
export type GlobalHook =
  | 'hook_embed'
  | 'hook_pos_embed'
  | 'ln_final.hook_normalized';

/** get_act_name-style short names. */
export type ActName =
  | 'embed'
  | 'pos_embed'
  | 'resid_pre'
  | 'normalized1'
  | 'q'
  | 'k'
  | 'v'
  | 'attn_scores'
  | 'pattern'
  | 'z'
  | 'result'
  | 'attn_out'
  | 'resid_mid'
  | 'normalized2'
  | 'pre'
  | 'post'
  | 'mlp_out'
  | 'resid_post'
  | 'ln_final';

/** The views a snapshot can open (SnapshotView.open). */
export type ViewName =
  | 'prediction'
  | 'layers'
  | 'lens'
  | 'rank'
  | 'attention'
  | 'compare';
// </generated>

/** What an intervention acts on: an FFN neuron (`index`) or an attention head (`head`). */
export type InterventionTarget = 'neuron' | 'head';

export interface InterventionModeInfo {
  name: InterventionMode;
  /** Whether the spec carries a value ("scale=2"). */
  takesValue: boolean;
  /** The hook it acts on for a neuron: mlp.hook_post (m_i) or mlp.hook_pre (u_i). */
  hook: string;
  /** What it does to a neuron, e.g. "m_i := m_i · value". */
  effect: string;
  /** What it accepts: every mode acts on neurons; `off` and `scale` also on heads. */
  targets: InterventionTarget[];
  /** For a head: the hook it acts on (attn.hook_z, the head's d_head slice). */
  headHook?: string;
  /** For a head: what it does, e.g. "z_h := 0, so the head adds nothing (zero ablation)". */
  headEffect?: string;
}

/**
 * An intervention on FFN coefficient m_i of `layer` (see InterventionMode for what each mode does).
 * `positions` null/absent = every position (also every generated one).
 */
export interface NeuronIntervention {
  layer: number;
  index: number;
  head?: undefined;
  mode: InterventionMode;
  value?: number;
  positions?: number[] | null;
}

/**
 * An intervention on attention head `head` of `layer`: its slice of attn.hook_z, so its output
 * (attn.hook_result) is switched off or scaled exactly. Modes: HeadInterventionMode.
 */
export interface HeadIntervention {
  layer: number;
  head: number;
  index?: undefined;
  mode: HeadInterventionMode;
  value?: number;
  positions?: number[] | null;
}

/** `{layer, index, mode, value?, positions?}` on a neuron or `{layer, head, mode, ...}` on a head. */
export type Intervention = NeuronIntervention | HeadIntervention;

export interface TraceOptions {
  /** Tokens per list (default 10). */
  topK?: number;
  /** 'last' (default), 'all', or a list of positions. */
  positions?: 'last' | 'all' | number[];
  /** Dominant sub-updates per layer (default 10). */
  subUpdates?: number;
  /** Top tokens per sub-update's value vector (default 10; 0 = none). */
  valueTopK?: number;
  /** Also the logit lens without ln_f. */
  rawLens?: boolean;
  /** Also every head's attention pattern. */
  attention?: boolean;
  /** Also the logit lens alone (no sub-updates) at these positions, in `Trace.lens`: 'all' or a list. */
  lensPositions?: 'all' | number[];
  /** Tokens per list of that lens (default 1). */
  lensTopK?: number;
  /** With interventions: also the clean run's layers, in `PositionTrace.clean.layers`. */
  cleanLayers?: boolean;
  /**
   * Token ids to follow through the layers beside the predicted one (at most 64, distinct): each
   * layer's `tracked` gives their rank and probability before and after the FFN.
   */
  track?: number[];
  /**
   * Attention heads per layer in `LayerTrace.heads`, largest ‖result_h‖ first (0 = none). Default:
   * every head of a model with at most 64 heads in all (nLayers·nHeads), else the 3 largest of each
   * layer (each listed head costs a projection onto the vocabulary when valueTopK > 0).
   */
  heads?: number;
  /**
   * Also the direct logit attribution of this run (`Trace.attribution`), as attribute() computes it,
   * at no extra forward pass.
   */
  attribute?: Omit<AttributeOptions, 'interventions'>;
  interventions?: Intervention[];
  /**
   * Trace the prompt with one activation patched in from `source` (see `patch()`); the `clean`
   * entries then describe the prompt without the patch (and without interventions).
   */
  patch?: TracePatch;
}

/**
 * Hooks whose activation a patch can replace (TransformerLens short names). `result` is one head's
 * output (`attn.hook_result`, the `head` given beside it); the other heads keep the target's.
 */
export type PatchHook = 'resid_pre' | 'attn_out' | 'resid_mid' | 'mlp_out' | 'resid_post' | 'result';

/**
 * What a patch measures, at the last position of a run: the logit or probability of `token`, or the
 * logit difference token − distractor.
 */
export type PatchMetric =
  | { type: 'logit' | 'prob'; token: number }
  | { type: 'logitDiff'; token: number; distractor: number };

export interface PatchOptions {
  hook: PatchHook;
  layer: number;
  /** With hook 'result' (required there, refused elsewhere): the head whose output is patched. */
  head?: number;
  /**
   * Target positions to patch (default 'all': every position that has a source position). The
   * prompts are aligned at their ends: target position p takes source position
   * p + (source length − target length).
   */
  positions?: 'all' | number[];
  metric: PatchMetric;
}

export interface TracePatch {
  /** The prompt the activation comes from. */
  source: string | number[];
  hook: PatchHook;
  layer: number;
  /** With hook 'result': the head. */
  head?: number;
  positions?: 'all' | number[];
}

export interface PatchResult {
  schema: 'lmdbg.patch/1';
  options: { hook: PatchHook; layer: number; head?: number; positions: number[]; metric: PatchMetric };
  /** Source length − target length: target position p reads source position p + offset. */
  offset: number;
  /** The metric of the patched target run. */
  metric: number;
  /** The metric of the source run (the clean prompt). */
  clean: number;
  /** The metric of the target run without the patch (the corrupted prompt). */
  corrupt: number;
  /** Argmax of the patched run's final logits. */
  predicted: Token;
  source: { tokens: Token[] };
  target: { tokens: Token[] };
}

export interface PatchSweepOptions {
  hook: PatchHook;
  /** With hook 'result': the head whose output is patched at each layer × position. */
  head?: number;
  metric: PatchMetric;
}

export interface PatchSweep {
  schema: 'lmdbg.patch-sweep/1';
  options: PatchSweepOptions;
  offset: number;
  /**
   * metric[layer][p]: the target with position p of `hook` at `layer` patched alone; null where p
   * has no source position (p + offset < 0).
   */
  metric: (number | null)[][];
  clean: number;
  corrupt: number;
  source: { tokens: Token[] };
  target: { tokens: Token[] };
}

/** A token followed through the layers (`TraceOptions.track`). */
export interface TrackedToken extends Token {
  /** 0-based rank (the number of tokens with a strictly larger logit) under each lens. */
  rank: { before: number; after: number };
  prob: { before: number; after: number };
}

export interface SubUpdate {
  /** "L{layer}D{index}" */
  name: string;
  layer: number;
  index: number;
  /** Signed coefficient m_i. */
  coef: number;
  /** ||v_i||_2 */
  norm: number;
  /** |m_i| · ||v_i|| */
  score: number;
  /** m_i · (wte[predicted] · v_i): direct effect on the predicted token's logit. */
  direct: number;
  topTokens?: ScoredToken[];
}

/**
 * An attention head's output at the traced position (attn.hook_result of head h, "L{layer}H{head}"):
 * one additive term of the residual stream, like a sub-update m_i·v_i, so heads rank by its norm.
 */
export interface HeadUpdate {
  /** "L{layer}H{head}" */
  name: string;
  layer: number;
  head: number;
  /** ‖result_h‖₂ */
  norm: number;
  /** wte[predicted] · result_h: direct effect on the predicted token's logit (no layer norm, as a sub-update's). */
  direct: number;
  /** Largest and smallest logits of wte · result_h (no layer norm), with valueTopK > 0. */
  topTokens?: ScoredToken[];
  bottomTokens?: ScoredToken[];
}

export interface LayerTrace {
  layer: number;
  /** Logit lens of resid_mid (before the FFN) and resid_post (after it). */
  before: ScoredToken[];
  after: ScoredToken[];
  rawBefore?: ScoredToken[];
  rawAfter?: ScoredToken[];
  /** Rank (0 = top) and probability of the predicted token under each lens. */
  predictedRank: { before: number; after: number };
  predictedProb: { before: number; after: number };
  /** S*_l = max_j |m_j|·||v_j||, the value LM-Debugger's `on` builds on. */
  maxScore: number;
  subUpdates: SubUpdate[];
  /** With `track`: the tracked tokens under this layer's lens, in the order asked. */
  tracked?: TrackedToken[];
  /** The attention heads (TraceOptions.heads of them), largest norm first; absent with heads: 0. */
  heads?: HeadUpdate[];
}

export interface PositionTrace {
  position: number;
  token: Token;
  predicted: Token;
  prediction: ScoredToken[];
  /** With interventions: the clean run at this position (its layers with `cleanLayers`). */
  clean?: { predicted: Token; prediction: ScoredToken[]; changed: boolean; layers?: LayerTrace[] };
  layers: LayerTrace[];
}

/** A position of the light lens (`lensPositions`): the prediction and each layer's lens, no sub-updates. */
export interface LensTrace {
  position: number;
  token: Token;
  predicted: Token;
  prediction: ScoredToken[];
  layers: Omit<LayerTrace, 'maxScore' | 'subUpdates' | 'heads'>[];
}

export interface Tensor {
  dims: number[];
  data: Float32Array;
}

export interface Trace {
  schema: 'lmdbg.trace/1';
  model: Omit<ModelConfig, 'dHead' | 'lnEps'>;
  tokens: Token[];
  options: Required<Omit<TraceOptions, 'interventions' | 'positions' | 'lensPositions' | 'lensTopK' | 'cleanLayers' | 'track' | 'patch' | 'attribute'>> & {
    positions: number[];
    lensPositions?: number[];
    lensTopK?: number;
    cleanLayers?: boolean;
    track?: number[];
    patch?: { source: Token[]; hook: PatchHook; layer: number; head?: number; positions: number[]; offset: number };
  };
  interventions: Intervention[];
  /** As applied: `on` replaced by `pre` with its value. */
  resolvedInterventions: Intervention[];
  positions: PositionTrace[];
  /** With `lensPositions`: the lens at those positions, ascending. */
  lens?: LensTrace[];
  /** [nLayers, nHeads, T, T] when options.attention. */
  attention?: Tensor;
  /** With the option `attribute`. */
  attribution?: Attribution;
}

export interface ClusterInfo {
  id: number;
  size: number;
  /** Computed in this session (precompute's idle time) rather than read from value_clusters.json. */
  computed: boolean;
  members: { name: string; layer: number; index: number }[];
  /** Top tokens of wte · (sum of the members' value vectors). */
  topTokens: ScoredToken[];
}

export interface ValueVector {
  name: string;
  layer: number;
  index: number;
  norm: number;
  /** Largest and smallest logits of wte · v (no layer norm). */
  top: ScoredToken[];
  bottom: ScoredToken[];
  cluster?: ClusterInfo;
}

export interface SearchOptions {
  /** Hits (default 20). */
  limit?: number;
  /** Top tokens per hit (default 10, 0 = none). */
  topK?: number;
  /**
   * 'zscore' (default): the sum over keywords of the best z-score of a keyword's token within the
   * vector's projection. 'lmdebugger': LM-Debugger's, the number of keywords with a token among the
   * vector's top 50 (ties by the z sum); exact, it needs every value vector projected once per model
   * (idle time with `precompute`, else the first such search does it: seconds to minutes).
   */
  ranking?: 'zscore' | 'lmdebugger';
}

export interface SearchMatch extends Token {
  keyword: string;
  /** z-score of this token within the vector's projection wte · v. */
  z: number;
  /** z below `SearchResult.weakZ`: not among the vector's top tokens in any useful sense. */
  weak: boolean;
  /** LM-Debugger ranking: a token of the keyword is among the vector's top 50. */
  inTop50?: boolean;
}

export interface SearchHit {
  name: string;
  layer: number;
  index: number;
  /** The ranking's score: the z sum, or (LM-Debugger's) the number of keywords in the top 50. */
  score: number;
  /** Sum over keywords of the best z-score. */
  zSum: number;
  /** Every match is weak. */
  weak: boolean;
  /** One per keyword, in the order given: its best token for this vector. */
  matched: SearchMatch[];
  topTokens?: ScoredToken[];
}

export interface SearchResult {
  schema: 'lmdbg.search/1';
  ranking: 'zscore' | 'lmdebugger';
  /** Matches below this z-score are weak (3). */
  weakZ: number;
  /**
   * Each keyword's tokens: its single-token spellings (every case, with and without a leading
   * space), or, when it has none (`multiToken`), the first token of each spelling, with `pieces`:
   * the keyword with a leading space, token by token.
   */
  keywords: { keyword: string; tokens: Token[]; multiToken: boolean; pieces?: Token[] }[];
  hits: SearchHit[];
}

export interface SamplingOptions {
  /** > 0; default 1. */
  temperature?: number;
  /** 0 = whole vocabulary. */
  topK?: number;
  /** Non-negative integer; the same seed gives the same tokens. Default: a random seed. */
  seed?: number;
}

export interface GenerateOptions {
  /** Default 20; stops early at the end of the context. */
  maxNewTokens?: number;
  interventions?: Intervention[];
  /** 'greedy' (default) or sampling parameters. */
  sampling?: 'greedy' | SamplingOptions;
  /** Stop after <|endoftext|> (default true). */
  stopAtEndOfText?: boolean;
  /** Cancels between two tokens: the iterator then throws the signal's reason (an AbortError). */
  signal?: AbortSignal;
}

export interface GeneratedToken extends Token {
  /** 0-based index among the new tokens. */
  index: number;
}

/** An intervention of a saved view: inactive ones are listed (switched off) but not applied. */
export type SnapshotIntervention = Intervention & { active: boolean };

/** What a saved view shows: one of `snapshotViews`, the selected layer, the open value vector. */
export interface SnapshotView {
  open: ViewName;
  layer: number | null;
  detail: { layer: number; index: number } | null;
}

export interface SnapshotOptions {
  /** Tokenize "<|endoftext|>" in the prompt as the special token (default false, as trace()). */
  allowSpecial?: boolean;
  /** Every intervention of the view; those with `active: false` are saved but not applied. */
  interventions?: (Intervention & { active?: boolean })[];
  /**
   * The trace's options (without interventions). Default: what a figure needs: top 10, ten
   * sub-updates with 8 tokens each, the clean run's layers when intervened, the lens over the last
   * positions (all of them for a short prompt), and attention while L·H·T² <= 2^18.
   */
  trace?: Omit<TraceOptions, 'interventions'>;
  /** Value vectors to save with their tokens (e.g. the one open beside the figure). */
  valueVectors?: [layer: number, index: number][];
  /** Top and bottom tokens per value vector (default 15). */
  valueTopK?: number;
  /** Also a generation from the prompt, with the active interventions (a sampling seed is saved). */
  generate?: { maxNewTokens?: number; sampling?: 'greedy' | SamplingOptions; stopAtEndOfText?: boolean };
  /** Saved as they are: a display name, and where "Make it live" loads the model from (a Hub id as "hub:ID", or a URL). */
  model?: { name?: string; source?: string };
  /** Names of value vectors, {"L3D120": "French cities"}. */
  names?: Record<string, string>;
  view?: Partial<SnapshotView>;
}

/** Float32 data as little-endian bytes in base64. */
export interface EncodedTensor {
  dims: number[];
  dtype: 'f32';
  base64: string;
}

/**
 * A saved view, "lmdbg.snapshot/1" (docs/snapshot-schema.md): plain JSON, drawn by the demo page, its
 * embed and `<lm-debugger>` with no model. `snapshotTrace()` gives its trace as `trace()` returns one.
 */
export interface Snapshot {
  schema: 'lmdbg.snapshot/1';
  /** The lmdbg version that wrote it. */
  lmdbg: string;
  model: {
    name: string | null;
    source: string | null;
    config: ModelConfig;
    fingerprint: string;
    checkpointBytes: number;
    dtype: Dtype;
  };
  prompt: string;
  tokens: Token[];
  interventions: SnapshotIntervention[];
  names: Record<string, string>;
  view: SnapshotView;
  /** The trace of the active interventions; its attention, when present, encoded. */
  trace: Omit<Trace, 'attention'> & { attention?: EncodedTensor };
  valueVectors: ValueVector[];
  generation: {
    maxNewTokens: number;
    sampling: 'greedy' | { temperature: number; topK: number; seed: number };
    stopAtEndOfText: boolean;
    tokens: Token[];
    text: string;
  } | null;
}

/** TransformerLens hook names. */
export type HookName = GlobalHook | `blocks.${number}.${PerLayerHook}`;

export interface RunWithCacheOptions {
  /** Hooks to keep (default: all). */
  names?: HookName[];
  interventions?: Intervention[];
}

export interface ActivationCache {
  /**
   * Hook name -> its activation, shaped as TransformerLens's without the batch: [pos, dModel],
   * [pos, dMlp] for mlp.hook_pre/post, [pos, nHeads, dHead] for attn.hook_q/k/v/z, [nHeads, pos, pos]
   * for attn.hook_attn_scores and attn.hook_pattern, [pos, nHeads, dModel] for attn.hook_result.
   */
  hooks: Record<string, Tensor>;
  /** [pos, dVocab] */
  logits: Tensor;
}

export interface AttributeOptions {
  /** The token whose final logit is decomposed: an id, or its text (exactly one token, e.g. " Paris"). */
  target: number | string;
  /** Decompose logit(target) − logit(distractor) instead. */
  distractor?: number | string | null;
  /** Where (default 'last'): ln_f's scale is frozen at this position. */
  position?: number | 'last';
  /** FFN sub-updates listed by |value| over all layers (default 10); the rest are summed per layer. */
  neurons?: number;
  /** The run to decompose (default: the clean one). */
  interventions?: Intervention[];
}

/** One additive part of an attribution. */
export interface AttributionComponent {
  /** "embed", "pos_embed", "L3H5", "L3 attn bias", "L3D120", "L3 other neurons", "L3 mlp bias", "ln_final bias". */
  name: string;
  kind: 'embed' | 'pos_embed' | 'head' | 'attn_bias' | 'neuron' | 'neurons' | 'mlp_bias' | 'ln_final_bias';
  layer?: number;
  head?: number;
  /** The neuron of a 'neuron' part. */
  index?: number;
  /** How many sub-updates a 'neurons' part sums. */
  count?: number;
  value: number;
}

/**
 * Direct logit attribution: the final logit of `target` (minus `distractor`'s) at `position`, split into
 * parts whose values sum to `logit` (up to float rounding). ln_f's scale σ is frozen at that position
 * (TransformerLens's apply_ln_to_stack); centring is linear, so a residual component c contributes
 * u · (γ ⊙ (c − mean(c))) / σ, with u = wte[target] (− wte[distractor]), and ln_f's bias u · β.
 */
export interface Attribution {
  schema: 'lmdbg.attribution/1';
  position: number;
  /** The token at `position`. */
  token: Token;
  target: Token;
  distractor: Token | null;
  /** The model's logit of target (minus distractor's) at position. */
  logit: number;
  /** ln_f's σ = sqrt(var(x) + eps) of the final residual at position, frozen. */
  scale: number;
  /** In forward order: embeddings, then per layer its heads, attention bias, sub-updates and FFN bias; then ln_f's bias. */
  components: AttributionComponent[];
}

export interface MemoryInfo {
  /** Size of the wasm memory, bytes in use by the engine, bytes of packed weights. */
  heapBytes: number;
  heapUsed: number;
  weightBytes: number;
  /** Threads of the engine's matrix products (1: the single-threaded build; see LoadOptions.threads). */
  threads: number;
  /** Value vectors whose top/bottom tokens are kept (computed by traces, valueVector(s) or precompute). */
  valueIndex: { filled: number; total: number };
  /** Whether keyword search is prepared (prepareSearch(), a first search() or precompute). */
  searchReady: boolean;
  /**
   * Clusters of value vectors: 1 once there are some (value_clusters.json, loadClusters() or
   * computed by precompute after the value index); in between, how far precompute has got (0..1).
   */
  clusters: number;
  /**
   * Forward passes run so far: a trace, runWithCache or generation costs one without interventions
   * and two with any (the clean run beside them also resolves `on`).
   */
  forwardPasses: number;
}

/**
 * The debugger API; the same in the page, in a Worker host and in Node. A prompt is a string
 * (tokenized without special tokens) or token ids.
 */
export interface Debugger {
  readonly config: ModelConfig;
  readonly info: ModelInfo;
  /** GPT-2 byte-level BPE; `allowSpecial` turns "<|endoftext|>" into its token (default false). */
  tokenize(text: string, options?: { allowSpecial?: boolean }): Promise<number[]>;
  /** UTF-8 text of the tokens' bytes (U+FFFD for incomplete characters). */
  decode(ids: number[]): Promise<string>;
  /** One string per token (TransformerLens to_str_tokens). */
  toStrTokens(input: string | number[]): Promise<string[]>;
  /** LM-Debugger's view of one forward pass: lens before/after each FFN, dominant sub-updates, predictions. */
  trace(prompt: string | number[], options?: TraceOptions): Promise<Trace>;
  /** The tokens value vector v[layer][index] promotes (top) and suppresses (bottom); topK default 10. */
  valueVector(layer: number, index: number, options?: { topK?: number }): Promise<ValueVector>;
  valueVectors(refs: [layer: number, index: number][], options?: { topK?: number }): Promise<ValueVector[]>;
  /** Precomputes the search statistics (seconds for big models); search() does it on first use. */
  prepareSearch(): Promise<void>;
  /**
   * Value vectors that promote the keywords' tokens, best first, matched in every case and with or
   * without a leading space ("paris" finds " Paris"). A string is split on commas.
   */
  search(keywords: string | string[], options?: SearchOptions): Promise<SearchResult>;
  /** New tokens one by one (KV cache), interventions active at every step. Leaving the loop stops it. */
  generate(prompt: string | number[], options?: GenerateOptions): AsyncGenerator<GeneratedToken, void, void>;
  /** Activations at the named hooks (default: all) and the logits at every position. */
  runWithCache(prompt: string | number[], options?: RunWithCacheOptions): Promise<ActivationCache>;
  /**
   * Activation patching: runs `target` with the activation at `hook` of `layer` replaced by the
   * `source` run's, at `positions` (prompts aligned at their ends), and measures `metric` at the last
   * position. Three forward passes: the source, the clean target and the patched target (which
   * reruns only the positions and layers the patch can change).
   */
  patch(source: string | number[], target: string | number[], options: PatchOptions): Promise<PatchResult>;
  /**
   * `patch()` at every layer × target position of one hook, one position at a time: the source
   * pass, the clean target pass and one patched pass per cell.
   */
  patchSweep(source: string | number[], target: string | number[], options: PatchSweepOptions): Promise<PatchSweep>;
  /**
   * Why this token: the final logit of `target` (or target − distractor) split into additive parts,
   * the embeddings, each head, each FFN sub-update (the largest listed) and the biases, whose values
   * sum to the logit. One forward pass.
   */
  attribute(prompt: string | number[], options: AttributeOptions): Promise<Attribution>;
  /** Loads value_clusters.json written by `lmdbg cluster` (its text, bytes, Blob or parsed object). */
  loadClusters(data: FileData | object): Promise<void>;
  /** A cluster of value vectors: members (default at most 50) and top tokens (default 10). */
  cluster(id: number, options?: { topK?: number; members?: number }): Promise<ClusterInfo>;
  /**
   * A saved view of `prompt` (its text is saved too): the trace of the active interventions and
   * whatever else the options ask for, with the model's identity, as one JSON-ready object. Costs
   * what those calls cost (a trace: one forward pass, two with interventions).
   */
  snapshot(prompt: string, options?: SnapshotOptions): Promise<Snapshot>;
  /** Sizes of the wasm heap, for memory checks. */
  memory(): Promise<MemoryInfo>;
  /**
   * Frees the model's memory. Idempotent; any later call throws. (Where the runtime defines
   * Symbol.asyncDispose, the object also has that method; it is left out of these types so that
   * they compile without the esnext.disposable lib.)
   */
  dispose(): Promise<void>;
}

/** The entry point: `await LMDebugger.load(source, options)`. */
export declare class LMDebugger {
  /**
   * Loads a GPT-2 checkpoint (config.json, model.safetensors, vocab.json, merges.txt, and
   * value_clusters.json and value_index.bin when present; a value_index.bin
   * written for other weights or another dtype is not used, with a console warning naming why). model.safetensors streams straight into wasm memory;
   * a checkpoint too large for wasm32 memory is refused, with its size, before anything is allocated.
   */
  static load(source: ModelSource, options?: LoadOptions): Promise<Debugger>;
  private constructor();
}
export interface LMDebugger extends Debugger {}

/** TransformerLens get_act_name: getActName('post', 5) === 'blocks.5.mlp.hook_post'. */
export declare function getActName(name: ActName, layer?: number): HookName;
/** Every hook name of a model, in forward order. */
export declare function hookNames(nLayers: number): HookName[];
/**
 * "L12D34:off", "l12d34:scale=2@3,4" or "12:34:set=1.5" (a neuron), "L3H5:off" or "3:h5:scale=0.5@2"
 * (an attention head) -> Intervention. Throws an Error that quotes the wrong part as typed (the name,
 * the mode, the value or a position), or names the modes a head accepts.
 */
export declare function parseIntervention(spec: string): Intervention;
/** The engine's intervention modes, from its one table. */
export declare const interventionModes: readonly InterventionModeInfo[];
/** "L12D34" for (12, 34). */
export declare function valueVectorName(layer: number, index: number): string;
/** "L3H5" for attention head 5 of layer 3. */
export declare function headName(layer: number, head: number): string;
/**
 * Checks a saved view (its JSON text or the parsed object) and returns it typed. Needs no model and
 * no WebAssembly. Throws an Error that names what is wrong (not a snapshot, a newer schema, a field).
 */
export declare function readSnapshot(data: string | object): Snapshot;
/** A snapshot's trace as `trace()` returns it (attention decoded into a Float32Array). */
export declare function snapshotTrace(snapshot: Snapshot): Trace;
/** The views a snapshot can open, from the engine's table. */
export declare const snapshotViews: readonly { name: ViewName; shows: string }[];
/** True when this environment can run the wasm SIMD build. */
export declare function simdSupported(): boolean;
