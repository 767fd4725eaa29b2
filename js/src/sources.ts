// Where model files come from: the Hugging Face Hub or any base URL (with Cache Storage in
// browsers), a folder in Node, or bytes/Blobs/Files given by the caller. Each source is a
// FileProvider that opens one file at a time and streams it in chunks, so the big
// model.safetensors never has to be held whole in JS.
import type { FileData, LoadOptions, ModelFiles, ModelSource } from '../types/index.js';
import { abortError, formatBytes, isNode, nodeFs, throwIfAborted } from './env.js';

export const FILE_NAMES = {
  config: 'config.json',
  weights: 'model.safetensors',
  vocab: 'vocab.json',
  merges: 'merges.txt',
  clusters: 'value_clusters.json',
  valueIndex: 'value_index.bin',
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
  /** The first bytes that come from Cache Storage (all of them when fromCache; a resumed download's start). */
  cachedBytes?: number;
  /** Why the browser would not keep this download in Cache Storage (set while it is read). */
  readonly cacheError?: string | null;
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
  /**
   * After a failed load: a network failure or an abort keeps what was downloaded (the next load
   * resumes); any other error forgets what this load put in the cache.
   */
  discard(error?: unknown): Promise<void>;
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
  const valueIndex = byName.get(FILE_NAMES.valueIndex);
  return {
    config: byName.get(FILE_NAMES.config)!,
    weights: byName.get(FILE_NAMES.weights)!,
    vocab: byName.get(FILE_NAMES.vocab)!,
    merges: byName.get(FILE_NAMES.merges)!,
    ...(clusters ? { clusters } : {}),
    ...(valueIndex ? { valueIndex } : {}),
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One array of the chunks (fetch's chunks are never views of a SharedArrayBuffer). */
export function concat(parts: Uint8Array[], n: number): Uint8Array<ArrayBuffer> {
  if (parts.length === 1) return parts[0]! as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------- HTTP (Hub and base URLs)

/**
 * A download that failed on the network (as opposed to a file the engine refused): the load keeps
 * what it received, so that loading again resumes where this one stopped.
 */
export class DownloadError extends Error {}

const isAbort = (e: unknown) => (e as Error | null)?.name === 'AbortError';

/**
 * Downloads are kept in Cache Storage in parts of this size as they arrive, so that an interrupted one
 * resumes: a closed tab or a terminated Worker loses less than one part.
 */
const PART_BYTES = 2 ** 20;
/** Failed attempts in a row (no byte received in between) before a download gives up. */
const RETRIES = 5;
const PART_PARAM = 'lmdbg-bytes';
const MANIFEST = 'x-lmdbg-parts';

const partUrl = (url: string, start: number) => `${url}${url.includes('?') ? '&' : '?'}${PART_PARAM}=${start}`;

interface HubInfo {
  id: string;
  host: string;
}

interface FileMeta {
  /** Total size in bytes, when the server says it. */
  total: number | null;
  /** The server's ETag: a resumed download must continue the same file. */
  etag: string | null;
}

interface Part {
  start: number;
  end: number;
  url: string;
}

/** What a 206 answer says about itself: "bytes START-END/TOTAL" (null when the header is not readable). */
function contentRange(res: Response): { start: number; total: number | null } | null {
  const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
  return m ? { start: Number(m[1]), total: m[2] === '*' ? null : Number(m[2]) } : null;
}

function metaOf(res: Response, offset: number): FileMeta {
  const len = res.headers.get('content-length');
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  const range = res.status === 206 ? contentRange(res) : null;
  let total: number | null = null;
  if (range?.total != null) total = range.total;
  else if (len !== null && /^\d+$/.test(len) && !encoded) total = Number(len) + (res.status === 206 ? offset : 0);
  return { total, etag: res.headers.get('etag') };
}

/**
 * A file's bytes on their way into Cache Storage: in parts of PART_BYTES (each its own entry, so that an
 * interrupted download keeps what it received), then a manifest at the file's URL once it is complete.
 * A small file is one plain entry. When the browser refuses to store (quota), the copy is dropped and
 * `refused` says why; the download goes on.
 */
class CacheWriter {
  private buf: Uint8Array[] = [];
  private n = 0;
  refused: string | null = null;
  readonly written: string[] = [];

  constructor(
    private readonly cache: Cache,
    private readonly url: string,
    private readonly name: string,
    private readonly meta: FileMeta,
    private readonly headers: Headers,
    private readonly parts: Part[],
    private readonly onRefused: (why: string) => void,
  ) {}

  private get end(): number {
    return this.parts.length ? this.parts[this.parts.length - 1]!.end : 0;
  }

  async push(c: Uint8Array): Promise<void> {
    if (this.refused) return;
    this.buf.push(c);
    this.n += c.byteLength;
    if (this.n >= PART_BYTES) await this.flush();
  }

  /** Stores the bytes received so far as a part (also after a failure: loading again resumes from them). */
  async flush(): Promise<void> {
    if (this.refused || this.n === 0) return;
    const body = concat(this.buf, this.n);
    const start = this.end;
    const url = partUrl(this.url, start);
    this.buf = [];
    this.n = 0;
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': String(body.byteLength),
      'x-lmdbg-total': String(this.meta.total ?? ''),
      'x-lmdbg-etag': this.meta.etag ?? '',
    };
    if (await this.put(url, new Response(body, { headers }))) this.parts.push({ start, end: start + body.byteLength, url });
  }

  async finish(): Promise<void> {
    if (this.refused) return;
    if (this.parts.length === 0) {
      // Small: one plain entry, with the server's headers but the length of the (decoded) bytes kept.
      const headers = new Headers(this.headers);
      headers.delete('content-encoding');
      headers.set('content-length', String(this.n));
      await this.put(this.url, new Response(concat(this.buf, this.n), { status: 200, headers }));
      this.buf = [];
      this.n = 0;
      return;
    }
    await this.flush();
    const manifest = JSON.stringify({ total: this.end, etag: this.meta.etag, parts: this.parts.map((p) => [p.start, p.end]) });
    await this.put(this.url, new Response(manifest, { headers: { 'content-type': 'application/json', [MANIFEST]: '1' } }));
  }

  private async put(url: string, res: Response): Promise<boolean> {
    try {
      await this.cache.put(url, res);
      this.written.push(url);
      return true;
    } catch (e) {
      const quota = (e as Error).name === 'QuotaExceededError';
      this.refused = `the browser refused to keep ${this.name} in Cache Storage (${quota ? 'its storage quota for this site is full' : (e as Error).message}), so it will be downloaded again next time`;
      this.buf = [];
      this.n = 0;
      // Free what this file took: a partial copy is of no use without room for the rest.
      await Promise.all([...this.parts.map((p) => p.url), ...this.written].map((u) => this.cache.delete(u).catch(() => false)));
      this.parts.length = 0;
      this.onRefused(this.refused);
      return false;
    }
  }
}

/** The parts of an interrupted download kept in the cache, contiguous from byte 0, and what they are of. */
async function keptParts(cache: Cache, url: string): Promise<{ parts: Part[]; meta: FileMeta }> {
  const none = { parts: [], meta: { total: null, etag: null } };
  const reqs = await cache.keys(url, { ignoreSearch: true }).catch(() => [] as readonly Request[]);
  const found: (Part & FileMeta)[] = [];
  for (const r of reqs) {
    const start = Number(new URL(r.url).searchParams.get(PART_PARAM));
    if (r.url !== partUrl(url, start)) continue;
    const res = await cache.match(r).catch(() => undefined);
    const size = Number(res?.headers.get('content-length') ?? NaN);
    if (!res || !Number.isFinite(size)) continue;
    const total = res.headers.get('x-lmdbg-total');
    found.push({ start, end: start + size, url: r.url, total: total ? Number(total) : null, etag: res.headers.get('x-lmdbg-etag') || null });
  }
  found.sort((a, b) => a.start - b.start);
  const parts: Part[] = [];
  for (const p of found) {
    if (p.start !== (parts.length ? parts[parts.length - 1]!.end : 0) || p.total !== found[0]!.total || p.etag !== found[0]!.etag) break;
    parts.push({ start: p.start, end: p.end, url: p.url });
  }
  // Parts that do not continue the prefix are of no use.
  for (const p of found) if (!parts.some((q) => q.url === p.url)) await cache.delete(p.url).catch(() => false);
  return parts.length ? { parts, meta: { total: found[0]!.total, etag: found[0]!.etag } } : none;
}

async function* cachedParts(cache: Cache, parts: Part[], name: string, signal?: AbortSignal): AsyncIterable<Uint8Array> {
  for (const p of parts) {
    const res = await cache.match(p.url);
    if (!res?.body) throw new DownloadError(`lmdbg: part of the cached copy of ${name} is missing; load again to download it`);
    yield* readStream(res.body, signal);
  }
}

class HttpProvider implements FileProvider {
  private cachePromise: Promise<Cache | null> | null = null;
  private readonly writers: CacheWriter[] = [];
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

  /**
   * fetch() with this load's signal and, from byte `start` on, a Range request. Past the browser's HTTP
   * cache when Cache Storage keeps the files (a second copy), and for every Range request (that cache
   * would answer or rewrite it from a partial copy of its own).
   */
  private async request(url: string, start: number, signal: AbortSignal, cached: boolean): Promise<Response> {
    const init: RequestInit = { signal };
    if (cached || start > 0) init.cache = 'no-store';
    if (start > 0) init.headers = { range: `bytes=${start}-` };
    try {
      return await fetch(url, init);
    } catch (e) {
      if (signal.aborted) throw abortError(signal);
      throw new DownloadError(`lmdbg: could not fetch ${url}: ${(e as Error).message}${(e as Error).cause ? ` (${String((e as Error).cause)})` : ''}`);
    }
  }

  async open(key: FileKey, optional: boolean, signal?: AbortSignal): Promise<OpenedFile | null> {
    const name = FILE_NAMES[key];
    const url = this.urlFor(name);
    const cache = await this.cache();
    let kept: { parts: Part[]; meta: FileMeta } = { parts: [], meta: { total: null, etag: null } };
    if (cache) {
      const hit = await cache.match(url).catch(() => undefined);
      if (hit && optional && hit.status === 404) return null;
      if (hit?.ok && hit.body) {
        if (hit.headers.get(MANIFEST) !== '1') return this.fromCache(name, hit);
        const m = (await hit.json().catch(() => null)) as { total?: number; parts?: [number, number][] } | null;
        const parts = (m?.parts ?? []).map(([a, b]) => ({ start: a, end: b, url: partUrl(url, a) }));
        if (m && typeof m.total === 'number' && parts.length) return this.streamed(name, m.total, true, parts.at(-1)!.end, cachedParts(cache, parts, name, signal), () => {});
      }
      kept = await keptParts(cache, url);
    }
    throwIfAborted(signal);
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const stop = () => {
      signal?.removeEventListener('abort', onAbort);
      ctl.abort();
    };
    this.cleanups.push(() => signal?.removeEventListener('abort', onAbort));
    let from = kept.parts.length ? kept.parts[kept.parts.length - 1]!.end : 0;
    let res: Response;
    try {
      res = await this.request(url, from, ctl.signal, !!cache);
      if (from > 0) {
        // Resume only the same file: a 206 for our offset, of the same size and ETag (when readable).
        const meta = metaOf(res, from);
        const range = contentRange(res);
        const same = res.status === 206 && (!range || range.start === from) && meta.total === kept.meta.total && (!meta.etag || !kept.meta.etag || meta.etag === kept.meta.etag);
        if (!same) {
          res.body?.cancel().catch(() => {});
          await Promise.all(kept.parts.map((p) => cache!.delete(p.url).catch(() => false)));
          kept = { parts: [], meta: { total: null, etag: null } };
          from = 0;
          res = await this.request(url, 0, ctl.signal, !!cache);
        }
      }
    } catch (e) {
      signal?.removeEventListener('abort', onAbort);
      if (signal?.aborted) throw abortError(signal);
      if (optional && !isAbort(e)) return null;
      throw e;
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
    if (!res.body) throw new DownloadError(`lmdbg: ${url}: empty response`);
    const meta = from > 0 ? kept.meta : metaOf(res, 0);
    let refused: string | null = null;
    const writer = cache ? new CacheWriter(cache, url, name, meta, new Headers(res.headers), kept.parts, (why) => (refused = why)) : null;
    if (writer) this.writers.push(writer);
    const net = this.resumable(name, url, res, from, meta, ctl.signal);
    const parts = kept.parts.slice();
    async function* chunks(sig?: AbortSignal): AsyncIterable<Uint8Array> {
      if (parts.length && cache) yield* cachedParts(cache, parts, name, sig);
      for await (const c of net) {
        throwIfAborted(sig);
        await writer?.push(c);
        yield c;
      }
      await writer?.finish();
    }
    const opened = this.streamed(name, meta.total, false, from, chunks(signal), stop);
    return Object.defineProperty(opened, 'cacheError', { get: () => refused });
  }

  /**
   * The network bytes of a file from `from` on. When the connection drops, it asks again for the rest
   * with an HTTP Range request (after 0.3, 0.6, 1.2... s), as long as some bytes arrive in between.
   */
  private async *resumable(name: string, url: string, first: Response, from: number, meta: FileMeta, signal: AbortSignal): AsyncIterable<Uint8Array> {
    let res: Response | null = first;
    let pos = from;
    let failures = 0;
    let skip = 0; // bytes to drop from a server that answered a Range request with the whole file
    const canResume = meta.total !== null && (first.headers.get('content-encoding') ?? 'identity') === 'identity';
    for (;;) {
      let why: unknown = null;
      if (res) {
        try {
          for await (let c of readStream(res.body!, signal)) {
            if (skip) {
              const k = Math.min(skip, c.byteLength);
              skip -= k;
              c = c.subarray(k);
              if (!c.byteLength) continue;
            }
            pos += c.byteLength;
            failures = 0;
            yield c;
          }
          if (meta.total === null || pos >= meta.total) return;
          why = new Error('the connection closed early');
        } catch (e) {
          if (signal.aborted) throw abortError(signal);
          why = e;
        }
      }
      const at = `${formatBytes(pos)}${meta.total !== null ? ` of ${formatBytes(meta.total)}` : ''}`;
      if (!canResume || ++failures > RETRIES)
        throw new DownloadError(`lmdbg: the download of ${name} failed at ${at}: ${(why as Error).message}${canResume ? ` (after ${RETRIES} attempts to resume it)` : ''}. Load again to resume it.`);
      await sleep(300 * 2 ** (failures - 1), signal);
      try {
        res = await this.request(url, pos, signal, true);
        const range = contentRange(res);
        const etag = res.headers.get('etag');
        if (res.status === 206 && (!range || range.start === pos) && (!etag || !meta.etag || etag === meta.etag)) skip = 0;
        else if (res.status === 200 && metaOf(res, 0).total === meta.total) skip = pos;
        else {
          res.body?.cancel().catch(() => {});
          throw new Error(res.ok ? 'the file changed on the server meanwhile' : `HTTP ${res.status} when resuming`);
        }
      } catch (e) {
        if (signal.aborted) throw abortError(signal);
        res = null;
        why = e;
      }
    }
  }

  private streamed(name: string, size: number | null, fromCache: boolean, cachedBytes: number, body: AsyncIterable<Uint8Array>, stop: () => void): OpenedFile {
    let cancelled = false;
    let used = false;
    return {
      name,
      size,
      fromCache,
      cachedBytes,
      chunks: () => {
        if (used) throw new Error(`lmdbg: ${name} was read twice`);
        used = true;
        return body;
      },
      cancel: () => {
        if (cancelled) return;
        cancelled = true;
        stop();
      },
    };
  }

  private fromCache(name: string, res: Response): OpenedFile {
    const encoding = res.headers.get('content-encoding');
    const len = res.headers.get('content-length');
    const size = len !== null && /^\d+$/.test(len) && (!encoding || encoding === 'identity') ? Number(len) : null;
    const body = res.body!;
    return {
      name,
      size,
      fromCache: true,
      cachedBytes: size ?? 0,
      chunks: (signal) => readStream(body, signal),
      cancel: () => {
        if (!body.locked) body.cancel().catch(() => {});
      },
    };
  }

  private track(url: string, put: Promise<void>): void {
    this.written.push(url);
    put.catch(() => {});
  }

  private httpError(name: string, url: string, res: Response): Error {
    const status = `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''}`;
    if (this.hub && name === FILE_NAMES.config && (res.status === 401 || res.status === 404))
      return new Error(
        `lmdbg: no model "${this.hub.id}" on ${this.hub.host} (${status} for ${url}); check the id ` +
          '(private and gated models are not supported)',
      );
    if (res.status === 404) return new Error(`lmdbg: missing file ${name}: ${url} returned ${status}`);
    return new DownloadError(`lmdbg: could not fetch ${name} from ${url}: ${status}`);
  }

  async commit(): Promise<void> {
    for (const f of this.cleanups.splice(0)) f();
  }

  async discard(error?: unknown): Promise<void> {
    for (const f of this.cleanups.splice(0)) f();
    const cache = await this.cache();
    if (!cache) return;
    if (error instanceof DownloadError || isAbort(error)) {
      // The network failed or the user stopped: keep every byte, so that loading again resumes.
      await Promise.all(this.writers.map((w) => w.flush()));
      return;
    }
    // The files themselves were refused: forget them.
    const urls = [...this.written, ...this.writers.flatMap((w) => w.written)];
    await Promise.all(urls.map((u) => cache.delete(u).catch(() => false)));
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
