// Where model files come from: the Hugging Face Hub or any base URL (with Cache Storage in
// browsers), a folder in Node, or bytes/Blobs/Files given by the caller. Each source is a
// FileProvider that opens one file at a time and streams it in chunks, so the big
// model.safetensors never has to be held whole in JS.
import type { FileData, LoadOptions, ModelFiles, ModelSource } from '../types/index.js';
import { abortError, isNode, nodeFs, throwIfAborted } from './env.js';

export const FILE_NAMES = {
  config: 'config.json',
  weights: 'model.safetensors',
  vocab: 'vocab.json',
  merges: 'merges.txt',
  clusters: 'value_clusters.json',
} as const;
export type FileKey = keyof typeof FILE_NAMES;
export const REQUIRED: readonly FileKey[] = ['config', 'vocab', 'merges', 'weights'];

export const DEFAULT_HUB = 'https://huggingface.co';
export const DEFAULT_CACHE = 'lmdbg-models';

export interface OpenedFile {
  name: string;
  /** Size in bytes when known before reading (Content-Length, Blob.size, fs.stat). */
  size: number | null;
  fromCache: boolean;
  /** The whole content, when the caller handed it over in memory. */
  bytes?: Uint8Array;
  /** The content in chunks; each chunk is a fresh array (may be kept). Iterate once. */
  chunks(signal?: AbortSignal): AsyncIterable<Uint8Array>;
  /** Stops a download or closes a file that will not be read (idempotent). */
  cancel(): void;
}

export interface FileProvider {
  /** Opens a file; null when `optional` and absent. Throws an Error naming the file otherwise. */
  open(key: FileKey, optional: boolean, signal?: AbortSignal): Promise<OpenedFile | null>;
  /** After a successful load: wait for cache writes to finish. */
  commit(): Promise<void>;
  /** After a failed load: forget what this load put in the cache. */
  discard(): Promise<void>;
}

// ---------------------------------------------------------------- classification of strings

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

export function isHubId(s: string): boolean {
  return s.length <= 96 && HUB_ID.test(s) && !s.includes('..') && !s.includes('--') && !/[.-]$/.test(s);
}

function looksLikeUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(blob|data):/i.test(s);
}
function looksLikePath(s: string): boolean {
  return s.startsWith('/') || s.startsWith('./') || s.startsWith('../') || s === '.' || s === '..' ||
    /^[A-Za-z]:[\\/]/.test(s) || s.startsWith('\\\\') || s.startsWith('~');
}

function pageBase(): string | undefined {
  return (globalThis as { location?: { href: string } }).location?.href;
}

/** Resolves a relative URL against the page (not the Worker script, which would be wrong). */
export function absoluteUrl(s: string | URL): string {
  return new URL(String(s), pageBase()).href;
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : u + '/';
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await (await nodeFs()).stat(p)).isDirectory();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- resolve

export async function resolveSource(source: ModelSource, options: LoadOptions): Promise<FileProvider> {
  const cacheName = options.cache === false ? null : typeof options.cache === 'string' ? options.cache : DEFAULT_CACHE;
  if (source instanceof URL) source = source.href;
  if (typeof source === 'string') {
    const s = source.trim();
    if (s === '') throw new Error('lmdbg: empty model source');
    if (isNode) {
      if (/^file:/i.test(s)) return new NodeDirProvider(decodeURIComponent(new URL(s).pathname));
      if (looksLikePath(s)) return new NodeDirProvider(s);
      if (!looksLikeUrl(s) && (await isDirectory(s))) return new NodeDirProvider(s);
    }
    if (looksLikeUrl(s) || looksLikePath(s)) {
      if (looksLikePath(s) && pageBase() === undefined) throw new Error(`lmdbg: cannot resolve the relative URL "${s}" here`);
      const base = withSlash(absoluteUrl(s));
      return new HttpProvider((name) => new URL(name, base).href, cacheName, null);
    }
    if (!isHubId(s))
      throw new Error(
        `lmdbg: "${s}" is not a Hugging Face model id (like "openai-community/gpt2" or "gpt2"), a URL` +
          (isNode ? ' or an existing folder' : ''),
      );
    const host = (options.hubHost ?? DEFAULT_HUB).replace(/\/+$/, '');
    const revision = encodeURIComponent(options.revision ?? 'main');
    const hostUrl = absoluteUrl(host).replace(/\/+$/, '');
    return new HttpProvider(
      (name) => `${hostUrl}/${s}/resolve/${revision}/${name}`,
      cacheName,
      { id: s, host: hostUrl },
    );
  }
  if (source !== null && typeof source === 'object' && 'weights' in source) return new MemoryProvider(source);
  if (isFileCollection(source)) return new MemoryProvider(filesByName(source));
  throw new Error('lmdbg: unsupported model source; expected a Hub id, a URL, a folder path (Node), Files or a ModelFiles object');
}

function isFileCollection(s: unknown): s is ArrayLike<File> {
  if (Array.isArray(s)) return true;
  if (typeof FileList !== 'undefined' && s instanceof FileList) return true;
  return typeof s === 'object' && s !== null && !('weights' in s) && typeof (s as { length?: unknown }).length === 'number';
}

function filesByName(list: ArrayLike<File>): ModelFiles {
  const byName = new Map<string, File>();
  for (let i = 0; i < list.length; i++) {
    const f = list[i]!;
    if (typeof Blob === 'undefined' || !(f instanceof Blob) || typeof (f as File).name !== 'string')
      throw new Error('lmdbg: a file list must hold File objects');
    byName.set(f.name, f);
  }
  const missing = REQUIRED.map((k) => FILE_NAMES[k]).filter((n) => !byName.has(n));
  if (missing.length)
    throw new Error(`lmdbg: missing file${missing.length > 1 ? 's' : ''} ${missing.join(', ')} among the given files (${[...byName.keys()].join(', ') || 'none'})`);
  const clusters = byName.get(FILE_NAMES.clusters);
  return {
    config: byName.get(FILE_NAMES.config)!,
    weights: byName.get(FILE_NAMES.weights)!,
    vocab: byName.get(FILE_NAMES.vocab)!,
    merges: byName.get(FILE_NAMES.merges)!,
    ...(clusters ? { clusters } : {}),
  };
}

// ---------------------------------------------------------------- streams

async function* readStream(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      throwIfAborted(signal);
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      if (value.byteLength) yield value;
    }
  } finally {
    if (!finished) reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
}

// ---------------------------------------------------------------- HTTP (Hub and base URLs)

interface HubInfo {
  id: string;
  host: string;
}

class HttpProvider implements FileProvider {
  private cachePromise: Promise<Cache | null> | null = null;
  private readonly puts: Promise<unknown>[] = [];
  private readonly cleanups: (() => void)[] = [];
  private readonly written: string[] = [];

  constructor(
    private readonly urlFor: (name: string) => string,
    private readonly cacheName: string | null,
    private readonly hub: HubInfo | null,
  ) {}

  private cache(): Promise<Cache | null> {
    this.cachePromise ??= (async () => {
      if (!this.cacheName || typeof caches === 'undefined') return null;
      try {
        return await caches.open(this.cacheName);
      } catch {
        return null; // e.g. an insecure context or storage disabled: work without a cache
      }
    })();
    return this.cachePromise;
  }

  async open(key: FileKey, optional: boolean, signal?: AbortSignal): Promise<OpenedFile | null> {
    const name = FILE_NAMES[key];
    const url = this.urlFor(name);
    const cache = await this.cache();
    if (cache) {
      const hit = await cache.match(url).catch(() => undefined);
      if (hit && optional && hit.status === 404) return null;
      if (hit && hit.ok && hit.body) return this.opened(name, hit, true, null);
    }
    throwIfAborted(signal);
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.cleanups.push(() => signal?.removeEventListener('abort', onAbort));
    let res: Response;
    try {
      res = await fetch(url, { signal: ctl.signal });
    } catch (e) {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) throw abortError(signal);
      if (optional) return null;
      throw new Error(`lmdbg: could not fetch ${url}: ${(e as Error).message}${(e as Error).cause ? ` (${String((e as Error).cause)})` : ''}`);
    }
    if (!res.ok) {
      signal?.removeEventListener('abort', onAbort);
      res.body?.cancel().catch(() => {});
      if (optional && (res.status === 404 || res.status === 403)) {
        if (cache && res.status === 404) this.track(url, cache.put(url, new Response(null, { status: 404 })));
        return null;
      }
      throw this.httpError(name, url, res);
    }
    if (!res.body) throw new Error(`lmdbg: ${url}: empty response`);
    let body: ReadableStream<Uint8Array> = res.body;
    if (cache) {
      const [mine, cached] = body.tee();
      body = mine;
      const headers = new Headers(res.headers);
      this.track(url, cache.put(url, new Response(cached, { status: res.status, statusText: res.statusText, headers })));
    }
    const stop = () => {
      signal?.removeEventListener('abort', onAbort);
      ctl.abort();
    };
    return this.opened(name, new Response(body, { headers: res.headers }), false, stop);
  }

  private opened(name: string, res: Response, fromCache: boolean, stop: (() => void) | null): OpenedFile {
    const encoding = res.headers.get('content-encoding');
    const len = res.headers.get('content-length');
    const size = len !== null && /^\d+$/.test(len) && (!encoding || encoding === 'identity') ? Number(len) : null;
    const body = res.body!;
    let cancelled = false;
    return {
      name,
      size,
      fromCache,
      chunks: (signal) => readStream(body, signal),
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        if (!body.locked) body.cancel().catch(() => {});
        stop?.();
      },
    };
  }

  private track(url: string, put: Promise<void>): void {
    this.written.push(url);
    this.puts.push(put.catch((e) => console.warn(`lmdbg: could not cache ${url}: ${(e as Error).message}`)));
  }

  private httpError(name: string, url: string, res: Response): Error {
    const status = `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`;
    if (this.hub && name === FILE_NAMES.config && (res.status === 401 || res.status === 404))
      return new Error(
        `lmdbg: no model "${this.hub.id}" on ${this.hub.host} (${status} for ${url}); check the id ` +
          '(private and gated models are not supported)',
      );
    if (res.status === 404) return new Error(`lmdbg: missing file ${name}: ${url} returned ${status}`);
    return new Error(`lmdbg: could not fetch ${name} from ${url}: ${status}`);
  }

  async commit(): Promise<void> {
    for (const f of this.cleanups.splice(0)) f();
    await Promise.all(this.puts);
  }

  async discard(): Promise<void> {
    for (const f of this.cleanups.splice(0)) f();
    await Promise.all(this.puts);
    const cache = await this.cache();
    if (cache) await Promise.all(this.written.map((u) => cache.delete(u).catch(() => false)));
  }
}

// ---------------------------------------------------------------- Node folder

const FS_CHUNK = 4 << 20;

class NodeDirProvider implements FileProvider {
  constructor(private readonly dir: string) {}

  async open(key: FileKey, optional: boolean): Promise<OpenedFile | null> {
    const fs = await nodeFs();
    const name = FILE_NAMES[key];
    const path = `${this.dir.replace(/[\\/]+$/, '')}/${name}`;
    let fh;
    try {
      fh = await fs.open(path, 'r');
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') {
        if (optional) return null;
        if (!(await isDirectory(this.dir))) throw new Error(`lmdbg: no such folder: ${this.dir}`);
        throw new Error(`lmdbg: missing file ${name} in ${this.dir}`);
      }
      throw new Error(`lmdbg: cannot open ${path}: ${(e as Error).message}`);
    }
    const handle = fh;
    const size = (await handle.stat()).size;
    let closed = false;
    const close = () => {
      if (closed) return Promise.resolve();
      closed = true;
      return handle.close().catch(() => {});
    };
    async function* chunks(signal?: AbortSignal): AsyncIterable<Uint8Array> {
      let pos = 0;
      try {
        while (pos < size) {
          throwIfAborted(signal);
          const n = Math.min(FS_CHUNK, size - pos);
          const buf = new Uint8Array(n);
          const { bytesRead } = await handle.read(buf, 0, n, pos);
          if (bytesRead === 0) throw new Error(`lmdbg: ${path} shrank while being read`);
          pos += bytesRead;
          yield bytesRead === n ? buf : buf.subarray(0, bytesRead);
        }
      } finally {
        await close();
      }
    }
    return { name, size, fromCache: false, chunks, cancel: () => void close() };
  }

  async commit(): Promise<void> {}
  async discard(): Promise<void> {}
}

// ---------------------------------------------------------------- caller's bytes, Blobs and Files

class MemoryProvider implements FileProvider {
  constructor(private readonly files: ModelFiles) {
    for (const k of REQUIRED)
      if (files[k] === undefined || files[k] === null) throw new Error(`lmdbg: ModelFiles.${k} (${FILE_NAMES[k]}) is missing`);
  }

  async open(key: FileKey): Promise<OpenedFile | null> {
    const data = this.files[key];
    if (data === undefined || data === null) return null;
    return fromFileData(FILE_NAMES[key], data, key === 'weights');
  }

  async commit(): Promise<void> {}
  async discard(): Promise<void> {}
}

export function fromFileData(name: string, data: FileData, binary: boolean): OpenedFile {
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    return {
      name,
      size: data.size,
      fromCache: false,
      chunks: (signal) => readStream(data.stream() as ReadableStream<Uint8Array>, signal),
      cancel: () => {},
    };
  }
  let bytes: Uint8Array;
  if (typeof data === 'string') {
    if (binary) throw new Error(`lmdbg: ${name} must be bytes (ArrayBuffer, Uint8Array or Blob), not a string`);
    bytes = new TextEncoder().encode(data);
  } else if (data instanceof ArrayBuffer) {
    bytes = new Uint8Array(data);
  } else if (ArrayBuffer.isView(data)) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    throw new Error(`lmdbg: ${name}: expected a string, ArrayBuffer, Uint8Array or Blob`);
  }
  return {
    name,
    size: bytes.byteLength,
    fromCache: false,
    bytes,
    async *chunks() {
      yield bytes;
    },
    cancel: () => {},
  };
}
