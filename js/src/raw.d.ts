// The raw Embind API of wasm/bindings.cpp, as seen from JS. Internal: the public API wraps it.
// Every call may throw a JS Error carrying the engine's message. Typed arrays returned here are
// already copies (the bindings copy out of the heap).

export interface RawTraceResult {
  json: string;
  /** [nLayers, nHeads, T, T] when the options asked for attention. */
  attention: Float32Array | null;
}

export interface RawTensor {
  dims: number[];
  data: Float32Array;
}

export interface RawCache {
  hooks: (RawTensor & { name: string })[];
  logits: RawTensor;
}

/** Text passed to std::string: a JS string (encoded as UTF-8) or the UTF-8 bytes themselves. */
export type RawText = string | Uint8Array;

export interface RawModel {
  configJson(): string;
  /** {"fingerprint", "checkpointBytes", "dtype"} */
  infoJson(): string;
  /** A snapshot (docs/snapshot-schema.md) as JSON text. */
  snapshot(optionsJson: string): string;
  weightBytes(): number;
  tokenize(text: string, allowSpecial: boolean): Int32Array;
  decode(ids: ArrayLike<number>): Uint8Array;
  tokenBytes(id: number): Uint8Array;
  logits(ids: ArrayLike<number>, all: boolean): Float32Array;
  trace(ids: ArrayLike<number>, optionsJson: string): RawTraceResult;
  valueVectors(refsJson: string, topK: number, bottomK: number): string;
  patch(source: ArrayLike<number>, target: ArrayLike<number>, optionsJson: string): string;
  patchSweep(source: ArrayLike<number>, target: ArrayLike<number>, optionsJson: string): string;
  prepareSearch(): void;
  searchReady(): boolean;
  fillValueIndex(maxVectors: number): number;
  valueIndexFilled(): number;
  valueIndexTotal(): number;
  searchStatsStep(units: number): boolean;
  forwardPasses(): number;
  search(keywordsJson: string, limit: number, topK: number, ranking: string): string;
  runWithCache(ids: ArrayLike<number>, namesJson: string, interventionsJson: string): RawCache;
  attribute(ids: ArrayLike<number>, optionsJson: string, interventionsJson: string): string;
  loadClusters(text: RawText): void;
  loadValueIndex(bytes: RawText): void;
  hasClusters(): boolean;
  clusterStep(units: number): boolean;
  clusterProgress(): number;
  cluster(id: number, topK: number, membersLimit: number): string;
  delete(): void;
}

/** Streaming load: header first, then the data section in order, chunk by chunk. */
export interface RawLoader {
  /** ptr/len hold at least the first 8 + header-length bytes; fileSize < 0 when unknown. */
  setHeader(ptr: number, len: number, fileSize: number): void;
  /** 8 + header length, after setHeader. */
  headerBytes(): number;
  /**
   * Where the next at most `max` bytes of the data section may be written in place (a large tensor's
   * staging buffer, sparing the engine a copy): write at most `bytes` there, then feed(ptr, written).
   * ptr 0: feed the next `bytes` bytes from any buffer, then ask again.
   */
  place(max: number): { ptr: number; bytes: number };
  feed(ptr: number, len: number): void;
  finish(): RawModel;
  delete(): void;
}

export interface RawGenerator {
  next(): number;
  remaining(): number;
  delete(): void;
}

export interface RawModule {
  Model: {
    load(config: RawText, weightsPtr: number, weightsLen: number, vocab: RawText, merges: RawText, optionsJson: string): RawModel;
  };
  Loader: { create(config: RawText, vocab: RawText, merges: RawText, optionsJson: string): RawLoader };
  createGenerator(model: RawModel, ids: ArrayLike<number>, interventionsJson: string, samplingJson: string): RawGenerator;
  /** JSON array of every hook name, in forward order. */
  hookNames(nLayers: number): string;
  heapBytes(): number;
  heapUsed(): number;
  heapMax(): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  /** Re-read after anything that may allocate: memory growth replaces the view. */
  HEAPU8: Uint8Array;
}
