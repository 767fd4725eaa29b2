// The load pipeline: open the files, read the small ones, stream model.safetensors straight into a
// malloc'ed region of the wasm heap (checked against what wasm32 memory can still hold), build the
// model, free the region.
import type { Dtype, LoadOptions, LoadProgress, ModelSource } from '../types/index.js';
import type { RawModel, RawModule } from './raw.js';
import { formatBytes, throwIfAborted } from './env.js';
import { getModule } from './module.js';
import { FILE_NAMES, resolveSource, type FileKey, type OpenedFile } from './sources.js';

/** One allocation above this fails in 3.1.6's wasm32 (ENV.md pitfall 6). */
const MAX_ALLOCATION = 2 ** 31 - 2 ** 16;
/** Room kept free for activations and the engine's own bookkeeping (as the engine does). */
const HEAP_MARGIN = 64 * 2 ** 20;

class Progress {
  private readonly files = new Map<string, { loaded: number; total: number | null; fromCache: boolean }>();
  constructor(private readonly cb: ((p: LoadProgress) => void) | undefined) {}

  add(f: OpenedFile): void {
    this.files.set(f.name, { loaded: 0, total: f.size, fromCache: f.fromCache });
  }
  advance(name: string, bytes: number, done = false): void {
    const e = this.files.get(name)!;
    e.loaded += bytes;
    if (done) e.total = e.loaded;
    if (!this.cb) return;
    let loadedAll = 0;
    let totalAll: number | null = 0;
    for (const f of this.files.values()) {
      loadedAll += f.loaded;
      totalAll = totalAll === null || f.total === null ? null : totalAll + f.total;
    }
    this.cb({ file: name, loaded: e.loaded, total: e.total, loadedAll, totalAll, fromCache: e.fromCache });
  }
}

async function readAll(f: OpenedFile, progress: Progress, signal?: AbortSignal): Promise<Uint8Array> {
  if (f.bytes) {
    progress.advance(f.name, f.bytes.byteLength, true);
    return f.bytes;
  }
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of f.chunks(signal)) {
    parts.push(c);
    n += c.byteLength;
    progress.advance(f.name, c.byteLength);
  }
  progress.advance(f.name, 0, true);
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Bytes of packed weights the engine will allocate: mirrors estimate_weight_bytes (core/model/weights.cpp), without panel padding. */
export function estimateWeightBytes(configText: Uint8Array, dtype: Dtype): number {
  try {
    const c = JSON.parse(new TextDecoder().decode(configText)) as Record<string, unknown>;
    const int = (k: string): number | null => (Number.isInteger(c[k]) ? (c[k] as number) : null);
    const d = int('n_embd'), L = int('n_layer'), V = int('vocab_size');
    const ctx = int('n_positions') ?? int('n_ctx');
    if (d === null || L === null || V === null || ctx === null) return 0;
    const m = int('n_inner') ?? 4 * d;
    const b = dtype === 'f16' ? 2 : 4;
    const perLayer = (d * 3 * d + d * d + d * m + m * d + 3 * d + d + m + d) * b + (4 * d + m) * 4;
    return V * d * b + ctx * d * 4 + 2 * d * 4 + L * perLayer;
  } catch {
    return 0; // the engine reports the bad config
  }
}

function checkFits(M: RawModule, size: number, packed: number, dtype: Dtype): void {
  const max = M.heapMax();
  const free = Math.max(0, max - M.heapUsed() - HEAP_MARGIN);
  const name = FILE_NAMES.weights;
  if (size > MAX_ALLOCATION)
    throw new Error(
      `lmdbg: ${name} is ${formatBytes(size)}; WebAssembly (wasm32) can hold at most ${formatBytes(MAX_ALLOCATION)} in one ` +
        'piece, so this checkpoint cannot be loaded. Use an F16 checkpoint of the model.',
    );
  if (size + packed > free)
    throw new Error(
      `lmdbg: ${name} is ${formatBytes(size)}; loading it needs about ${formatBytes(size + packed)} of WebAssembly ` +
        `memory (the file, then ${formatBytes(packed)} of ${dtype} weights) but wasm32 memory is limited to ` +
        `${formatBytes(max)}, of which ${formatBytes(free)} are free` +
        (dtype === 'f32' ? '; try { dtype: "f16" }, which halves the weights.' : '.'),
    );
}

function malloc(M: RawModule, n: number): number {
  const p = M._malloc(Math.max(n, 1)) >>> 0;
  if (p === 0) throw new Error(`lmdbg: out of memory: could not allocate ${formatBytes(n)} in the WebAssembly heap for ${FILE_NAMES.weights}`);
  return p;
}

/** Streams model.safetensors into the heap; returns the region (the caller frees it). */
async function readWeights(
  M: RawModule,
  f: OpenedFile,
  packed: number,
  dtype: Dtype,
  progress: Progress,
  signal?: AbortSignal,
): Promise<{ ptr: number; len: number }> {
  if (f.bytes) {
    checkFits(M, f.bytes.byteLength, packed, dtype);
    const ptr = malloc(M, f.bytes.byteLength);
    M.HEAPU8.set(f.bytes, ptr);
    progress.advance(f.name, f.bytes.byteLength, true);
    return { ptr, len: f.bytes.byteLength };
  }
  if (f.size === null) {
    // Unknown size (chunked or compressed transfer): the only case where the bytes gather in JS first.
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const c of f.chunks(signal)) {
      parts.push(c);
      n += c.byteLength;
      progress.advance(f.name, c.byteLength);
    }
    progress.advance(f.name, 0, true);
    checkFits(M, n, packed, dtype);
    const ptr = malloc(M, n);
    let o = 0;
    for (let i = 0; i < parts.length; i++) {
      M.HEAPU8.set(parts[i]!, ptr + o);
      o += parts[i]!.byteLength;
      parts[i] = new Uint8Array(0); // let the chunk go now
    }
    return { ptr, len: n };
  }
  checkFits(M, f.size, packed, dtype);
  let cap = f.size;
  let ptr = malloc(M, cap);
  let len = 0;
  try {
    for await (const c of f.chunks(signal)) {
      if (len + c.byteLength > cap) {
        // More bytes than announced: grow inside the heap (never a JS copy of the whole file).
        const next = Math.max(cap * 2, len + c.byteLength);
        checkFits(M, next, packed, dtype);
        const p2 = malloc(M, next);
        M.HEAPU8.copyWithin(p2, ptr, ptr + len);
        M._free(ptr);
        ptr = p2;
        cap = next;
      }
      M.HEAPU8.set(c, ptr + len); // HEAPU8 re-read for every chunk: memory may have grown meanwhile
      len += c.byteLength;
      progress.advance(f.name, c.byteLength);
    }
    if (len < f.size)
      throw new Error(`lmdbg: ${f.name} is truncated: received ${len} of ${f.size} bytes`);
    progress.advance(f.name, 0, true);
    return { ptr, len };
  } catch (e) {
    M._free(ptr);
    throw e;
  }
}

export interface Loaded {
  M: RawModule;
  model: RawModel;
}

export async function loadModel(source: ModelSource, options: LoadOptions): Promise<Loaded> {
  const { signal } = options;
  const dtype: Dtype = options.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`lmdbg: dtype must be "f32" or "f16", got ${JSON.stringify(dtype)}`);
  throwIfAborted(signal);
  const modulePromise = getModule(options.wasmUrl);
  modulePromise.catch(() => {}); // reported below, after the files
  const provider = await resolveSource(source, options);
  // The small files first; model.safetensors is opened only when they are in, so that a download
  // teed into Cache Storage never runs ahead into JS memory while we wait.
  const keys: FileKey[] = ['config', 'vocab', 'merges', 'clusters'];
  const opened = new Map<FileKey, OpenedFile>();
  const progress = new Progress(options.onProgress);
  const openSome = async (ks: FileKey[]) => {
    const results = await Promise.allSettled(ks.map((k) => provider.open(k, k === 'clusters', signal)));
    results.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value) {
        opened.set(ks[i]!, r.value);
        progress.add(r.value);
      }
    });
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    await openSome(keys);
    const get = (k: FileKey) => opened.get(k)!;
    const config = await readAll(get('config'), progress, signal);
    const vocab = await readAll(get('vocab'), progress, signal);
    const merges = await readAll(get('merges'), progress, signal);
    const clustersFile = opened.get('clusters');
    const clusters = clustersFile ? await readAll(clustersFile, progress, signal) : null;
    await openSome(['weights']);
    const M = await modulePromise;
    const region = await readWeights(M, get('weights'), estimateWeightBytes(config, dtype), dtype, progress, signal);
    let model: RawModel;
    try {
      throwIfAborted(signal);
      model = M.Model.load(config, region.ptr, region.len, vocab, merges, JSON.stringify({ dtype }));
    } finally {
      M._free(region.ptr);
    }
    if (clusters) {
      try {
        model.loadClusters(clusters);
      } catch (e) {
        model.delete();
        throw e;
      }
    }
    await provider.commit();
    return { M, model };
  } catch (e) {
    for (const f of opened.values()) f.cancel();
    await provider.discard().catch(() => {});
    throw e;
  }
}
