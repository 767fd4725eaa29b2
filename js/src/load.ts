// The load pipeline: open the files, read the small ones, then stream model.safetensors chunk by
// chunk into the engine, which packs the weights as they arrive.
import type { Dtype, LoadOptions, LoadProgress, ModelSource } from '../types/index.js';
import type { RawLoader, RawModel, RawModule } from './raw.js';
import { formatBytes, throwIfAborted } from './env.js';
import { getModule, resolveThreads } from './module.js';
import { concat, resolveSource, type FileKey, type OpenedFile } from './sources.js';

class Progress {
  private readonly files = new Map<string, { loaded: number; total: number | null; cached: number; file: OpenedFile }>();
  constructor(private readonly cb: ((p: LoadProgress) => void) | undefined) {}

  add(f: OpenedFile): void {
    this.files.set(f.name, { loaded: 0, total: f.size, cached: f.fromCache ? Infinity : (f.cachedBytes ?? 0), file: f });
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
    // A resumed download's first bytes come from the cache, the rest from the network.
    const p: LoadProgress = { file: name, loaded: e.loaded, total: e.total, loadedAll, totalAll, fromCache: e.cached > 0 && e.loaded <= e.cached };
    const refused = e.file.cacheError;
    if (refused) p.cacheError = refused;
    this.cb(p);
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
  return concat(parts, n);
}

/** Chunks are copied into one reusable heap buffer of this size and fed to the engine. */
const FEED_BYTES = 4 * 2 ** 20;

function malloc(M: RawModule, n: number): number {
  const p = M._malloc(Math.max(n, 1)) >>> 0;
  if (p === 0) throw new Error(`lmdbg: out of memory: could not allocate ${formatBytes(n)} in the WebAssembly heap`);
  return p;
}

/**
 * Streams model.safetensors into the engine: the header is gathered first (it is small), then the
 * bytes of each large tensor are written straight into the engine's staging place for it (the
 * engine then packs it without another copy) and everything else goes through one reusable 4 MiB heap
 * buffer. Neither JS nor the heap ever holds the whole file. The engine refuses, before allocating,
 * weights that do not fit in wasm32 memory, naming the sizes.
 */
async function streamWeights(
  M: RawModule,
  loader: RawLoader,
  f: OpenedFile,
  progress: Progress,
  signal?: AbortSignal,
): Promise<RawModel> {
  const buf = malloc(M, FEED_BYTES);
  try {
    let head: Uint8Array | null = new Uint8Array(0); // the header's bytes, gathered until complete
    let received = 0;
    const fileSize = f.size ?? (f.bytes ? f.bytes.byteLength : -1);
    const feed = (c: Uint8Array) => {
      for (let o = 0; o < c.byteLength; ) {
        const place = loader.place(c.byteLength - o);
        const part = c.subarray(o, o + (place.ptr ? place.bytes : Math.min(place.bytes, FEED_BYTES)));
        // HEAPU8 re-read each time: memory may have grown meanwhile.
        M.HEAPU8.set(part, place.ptr || buf);
        loader.feed(place.ptr || buf, part.byteLength);
        o += part.byteLength;
      }
    };
    // The header bytes through a temporary heap copy (the engine parses them at once).
    const setHeader = (bytes: Uint8Array, size: number): void => {
      const hp = malloc(M, bytes.byteLength);
      try {
        M.HEAPU8.set(bytes, hp);
        loader.setHeader(hp, bytes.byteLength, size);
      } finally {
        M._free(hp);
      }
    };
    // Bytes the header still needs: 8 for its length, then the length; 0 when the header is complete or
    // its length is impossible (past the end of the file, over 100 MiB: the engine names the problem).
    const headerWants = (h: Uint8Array): number => {
      if (h.byteLength < 8) return 8 - h.byteLength;
      const n = Number(new DataView(h.buffer, h.byteOffset, 8).getBigUint64(0, true));
      const need = 8 + n;
      if (h.byteLength >= need || (fileSize >= 0 && need > fileSize) || n > 100 * 2 ** 20) return 0;
      return need - h.byteLength;
    };
    const take = (c: Uint8Array) => {
      received += c.byteLength;
      while (head !== null && c.byteLength > 0) {
        const k = Math.min(c.byteLength, headerWants(head)); // only the header's bytes are copied here
        const joined = new Uint8Array(head.byteLength + k);
        joined.set(head);
        joined.set(c.subarray(0, k), head.byteLength);
        head = joined;
        c = c.subarray(k);
        if (headerWants(head) > 0) continue;
        setHeader(head, fileSize);
        head = null;
      }
      if (head === null && c.byteLength > 0) feed(c);
    };
    if (f.bytes) {
      take(f.bytes);
      progress.advance(f.name, f.bytes.byteLength, true);
    } else {
      for await (const c of f.chunks(signal)) {
        take(c);
        progress.advance(f.name, c.byteLength);
      }
      progress.advance(f.name, 0, true);
    }
    // Fewer bytes than the header needs: let the engine name the problem.
    if (head !== null) setHeader(head, received);
    if (f.size !== null && received < f.size) throw new Error(`lmdbg: ${f.name} is truncated: received ${received} of ${f.size} bytes`);
    throwIfAborted(signal);
    return loader.finish();
  } finally {
    M._free(buf);
  }
}

export interface Loaded {
  M: RawModule;
  model: RawModel;
}

export async function loadModel(source: ModelSource, options: LoadOptions): Promise<Loaded> {
  const { signal } = options;
  const dtype: Dtype = options.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'q8')
    throw new Error(`lmdbg: dtype must be "f32", "f16" or "q8", got ${JSON.stringify(dtype)}`);
  throwIfAborted(signal);
  const modulePromise = resolveThreads(options.threads, options.wasmUrl).then((n) => getModule(options.wasmUrl, n));
  modulePromise.catch(() => {}); // reported below, after the files
  const provider = await resolveSource(source, options);
  // The small files first; model.safetensors is opened only when they are in, so that a download
  // teed into Cache Storage never runs ahead into JS memory while we wait.
  const keys: FileKey[] = ['config', 'vocab', 'merges', 'clusters', 'valueIndex'];
  const opened = new Map<FileKey, OpenedFile>();
  const progress = new Progress(options.onProgress);
  const openSome = async (ks: FileKey[]) => {
    const results = await Promise.allSettled(ks.map((k) => provider.open(k, k === 'clusters' || k === 'valueIndex', signal)));
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
    const valueIndexFile = opened.get('valueIndex');
    const valueIndex = valueIndexFile ? await readAll(valueIndexFile, progress, signal) : null;
    const M = await modulePromise;
    // The engine checks config, tokenizer and the memory the weights need before the big file is opened.
    const loader = M.Loader.create(config, vocab, merges, JSON.stringify({ dtype }));
    let model: RawModel;
    try {
      await openSome(['weights']);
      model = await streamWeights(M, loader, get('weights'), progress, signal);
    } finally {
      loader.delete();
    }
    if (valueIndex) {
      // The index only saves work: one for other weights or another dtype is left out, saying why,
      // and the model computes its value vectors' top tokens itself (the same tokens).
      try {
        model.loadValueIndex(valueIndex);
      } catch (e) {
        console.warn(`${(e as Error).message}; it is not used (the top tokens of value vectors are computed instead)`);
      }
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
    await provider.discard(e).catch(() => {});
    throw e;
  }
}
