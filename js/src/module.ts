// The wasm instance: one per host (page, Worker or Node process), created on first use and shared
// by every model loaded there. Two builds: lmdbg.wasm (single thread, the default) and
// lmdbg-threads.wasm (pthreads: its GEMMs split over Workers), chosen by LoadOptions.threads or,
// by default, where the page is cross-origin isolated (SharedArrayBuffer exists). Each also comes
// as a relaxed-SIMD build (lmdbg-relaxed*.wasm: FMA in the kernels), taken where it validates.
import createLmdbgModule from './wasm/lmdbg.mjs';
import type { FactoryOptions } from './wasm/lmdbg.mjs';
import type { RawModule } from './raw.js';
import { isNode, nodeFs } from './env.js';

// (module (func (result v128) i32.const 0 i8x16.splat)): valid only where wasm SIMD is supported.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, //       type section: () -> v128
  0x03, 0x02, 0x01, 0x00, //                         function section: one function of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b, // code: i32.const 0; i8x16.splat; end
]);

// (module (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)):
// valid only where relaxed SIMD is (Chrome/Edge 114+, Node 22+; Node 20 with --experimental-wasm-relaxed-simd).
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type section: (v128, v128, v128) -> v128
  0x03, 0x02, 0x01, 0x00, //                         function section: one function of type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // code
]);

function validates(bytes: BufferSource): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

export function simdSupported(): boolean {
  return validates(SIMD_PROBE);
}

/** True where the relaxed-SIMD builds (f32x4.relaxed_madd: FMA) run; the package then prefers them. */
export function relaxedSimdSupported(): boolean {
  return validates(RELAXED_PROBE);
}

/** The default location of the single-threaded SIMD build, next to this file (bundlers follow it). */
export function defaultWasmUrl(): URL {
  return new URL('./wasm/lmdbg.wasm', import.meta.url);
}

/**
 * The threaded builds' three files. Referenced with `new URL(..., import.meta.url)` so that bundlers
 * copy them as they are: the glue is imported at run time by URL, because each pthread Worker
 * imports the same glue again (Emscripten 3.1.6 passes it `mainScriptUrlOrBlob`).
 */
function threadsUrls(wasmUrl: URL | undefined, relaxed: boolean): { glue: URL; wasm: URL; worker: URL } {
  if (wasmUrl) {
    // A custom location names lmdbg-threads.wasm; the glue and the worker script sit beside it.
    return { glue: new URL('lmdbg-threads.mjs', wasmUrl), wasm: wasmUrl, worker: new URL('lmdbg-threads.worker.js', wasmUrl) };
  }
  if (relaxed) {
    return {
      glue: new URL('./wasm/lmdbg-relaxed-threads.mjs', import.meta.url),
      wasm: new URL('./wasm/lmdbg-relaxed-threads.wasm', import.meta.url),
      worker: new URL('./wasm/lmdbg-relaxed-threads.worker.js', import.meta.url),
    };
  }
  return {
    glue: new URL('./wasm/lmdbg-threads.mjs', import.meta.url),
    wasm: new URL('./wasm/lmdbg-threads.wasm', import.meta.url),
    worker: new URL('./wasm/lmdbg-threads.worker.js', import.meta.url),
  };
}

/** The single-threaded relaxed-SIMD build (its glue is imported by URL, like the threaded ones'). */
function relaxedUrls(): { glue: URL; wasm: URL } {
  return { glue: new URL('./wasm/lmdbg-relaxed.mjs', import.meta.url), wasm: new URL('./wasm/lmdbg-relaxed.wasm', import.meta.url) };
}

/** At most this many threads by default (`threads: true` or automatic). */
const DEFAULT_MAX_THREADS = 8;
/** The engine's own limit (core/kernels/parallel.h). */
const MAX_THREADS = 64;

function crossOriginIsolatedHere(): boolean {
  const g = globalThis as { crossOriginIsolated?: boolean };
  return typeof SharedArrayBuffer === 'function' && g.crossOriginIsolated === true;
}

async function hardwareThreads(): Promise<number> {
  if (isNode) {
    const name = 'node:os';
    const os = (await import(/* @vite-ignore */ name)) as { availableParallelism?: () => number; cpus(): unknown[] };
    return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  }
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}

/**
 * How many threads a load asks for: 1 means the single-threaded build. `threads` as in
 * LoadOptions: undefined = automatic (a cross-origin isolated page or Worker: the hardware threads,
 * at most 8; Node and other pages: 1), false = 1, true = the hardware threads (at most 8), n >= 1.
 */
export async function resolveThreads(threads: boolean | number | undefined, wasmUrl?: string | URL): Promise<number> {
  if (threads === undefined) {
    // A custom wasmUrl names the single-threaded file: keep it unless threads are asked for.
    if (isNode || wasmUrl !== undefined || !crossOriginIsolatedHere()) return 1;
    return Math.max(1, Math.min(DEFAULT_MAX_THREADS, await hardwareThreads()));
  }
  let n: number;
  if (threads === false) n = 1;
  else if (threads === true) n = Math.max(1, Math.min(DEFAULT_MAX_THREADS, await hardwareThreads()));
  else if (Number.isInteger(threads) && threads >= 1) n = Math.min(MAX_THREADS, threads);
  else throw new Error(`lmdbg: threads must be true, false or an integer >= 1, got ${String(threads)}`);
  if (n > 1 && typeof SharedArrayBuffer !== 'function') {
    throw new Error(
      'lmdbg: threads need SharedArrayBuffer, which browsers enable only on cross-origin isolated pages ' +
        '(served with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: ' +
        'require-corp). Load without `threads` to use the single-threaded build.',
    );
  }
  return n;
}

let instance: Promise<RawModule> | null = null;
let instanceUrl: string | null = null;
let instanceThreads = 1;

/**
 * The shared module. The first caller's wasmUrl and thread count win; a later, different one is
 * ignored (the module is already running), which is what several models on one page want.
 * `threads` is the resolved count (resolveThreads); 1 = the single-threaded build. Without a
 * wasmUrl, the relaxed-SIMD builds are taken where the engine validates them (results within the
 * same tolerances of the reference, not bitwise those of the plain SIMD builds); a wasmUrl names
 * the exact build.
 */
export function getModule(wasmUrl?: string | URL, threads = 1): Promise<RawModule> {
  if (instance) return instance;
  const url = wasmUrl === undefined ? undefined : new URL(String(wasmUrl), baseUrl());
  const relaxed = url === undefined && relaxedSimdSupported();
  if (threads > 1) {
    const urls = threadsUrls(url, relaxed);
    instanceUrl = urls.wasm.href;
    instanceThreads = threads;
    instance = instantiateThreads(urls, threads);
  } else if (relaxed) {
    const urls = relaxedUrls();
    instanceUrl = urls.wasm.href;
    instanceThreads = 1;
    instance = instantiate(urls.wasm, urls.glue);
  } else {
    const u = url ?? defaultWasmUrl();
    instanceUrl = u.href;
    instanceThreads = 1;
    instance = instantiate(u);
  }
  instance.catch(() => {
    instance = null; // a failed start (network, missing file) may be retried
    instanceUrl = null;
    instanceThreads = 1;
  });
  return instance;
}

/** For diagnostics: where the running module came from. */
export function moduleUrl(): string | null {
  return instanceUrl;
}

/** For diagnostics: the threads of the running module (1: the single-threaded build). */
export function moduleThreads(): number {
  return instanceThreads;
}

function baseUrl(): string | undefined {
  const loc = (globalThis as { location?: { href: string } }).location;
  return loc?.href ?? import.meta.url;
}

function checkSimd(): void {
  if (typeof WebAssembly !== 'object') throw new Error('lmdbg: this JavaScript engine has no WebAssembly');
  if (!simdSupported()) {
    throw new Error(
      'lmdbg: this browser does not support WebAssembly SIMD (fixed-width 128-bit), which lmdbg needs. ' +
        'It is available in Chrome/Edge 91+, Firefox 89+, Safari 16.4+ and Node 16.4+; on older versions ' +
        'it may be turned off by a flag or policy.',
    );
  }
}

async function readWasmFile(url: URL): Promise<Uint8Array> {
  const fs = await nodeFs();
  try {
    return await fs.readFile(url);
  } catch (e) {
    throw new Error(`lmdbg: cannot read the WebAssembly module ${url.href}: ${(e as Error).message}`);
  }
}

/** A single-threaded build: the plain SIMD glue imported above, or another build's glue (by URL). */
async function instantiate(url: URL, glue?: URL): Promise<RawModule> {
  checkSimd();
  let factory: (options: FactoryOptions) => Promise<RawModule> = createLmdbgModule;
  if (glue) {
    try {
      factory = ((await import(/* @vite-ignore */ glue.href)) as { default: typeof factory }).default;
    } catch (e) {
      throw new Error(`lmdbg: cannot load the WebAssembly glue ${glue.href}: ${(e as Error).message}`);
    }
  }
  const opts: FactoryOptions = {};
  if (isNode && url.protocol === 'file:') {
    // Node's fetch() cannot read file: URLs (ENV.md pitfall 2): hand the bytes to the glue.
    opts.wasmBinary = await readWasmFile(url);
  } else {
    opts.locateFile = () => url.href;
  }
  let failure = '';
  opts.printErr = (text) => {
    failure = text;
    console.warn(text);
  };
  try {
    return await factory(opts);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`lmdbg: could not start the WebAssembly module from ${url.href}: ${failure || why}`);
  }
}

/** The part of the threaded glue's Module that this file uses (Emscripten 3.1.6). */
interface ThreadsModule extends RawModule {
  _lmdbg_set_num_threads(n: number): number;
  wasmMemory: WebAssembly.Memory;
  PThread: { unusedWorkers: { unref?: () => void }[]; runningWorkers: { unref?: () => void }[] };
}
type ThreadsFactory = (options: FactoryOptions & { mainScriptUrlOrBlob?: string; lmdbgWorkers: number }) => Promise<ThreadsModule>;

interface NodeGlobals {
  require?: unknown;
  __dirname?: unknown;
  Worker?: unknown;
  process?: { listeners(e: string): unknown[]; removeListener(e: string, f: unknown): void };
}

async function instantiateThreads(urls: { glue: URL; wasm: URL; worker: URL }, threads: number): Promise<RawModule> {
  checkSimd();
  if (typeof SharedArrayBuffer !== 'function') throw new Error('lmdbg: the threaded build needs SharedArrayBuffer');
  const workers = threads - 1; // the calling thread is the first of `threads`
  const opts: FactoryOptions & { mainScriptUrlOrBlob?: string; lmdbgWorkers: number } = { lmdbgWorkers: workers };
  let failure = '';
  let rejectStart: (e: Error) => void = () => {};
  // A Worker that cannot start (blocked script, missing file) leaves the glue waiting forever; its
  // error arrives through printErr.
  const workerFailed = new Promise<never>((_, reject) => (rejectStart = reject));
  opts.printErr = (text) => {
    failure = text;
    console.warn(text);
    if (/worker sent an error|worker\.js onmessage\(\) captured|ailed to fetch|ailed to load/.test(text))
      rejectStart(new Error(text));
  };
  const g = globalThis as NodeGlobals;
  const restore: (() => void)[] = [];
  let factory: ThreadsFactory;
  try {
    if (isNode) {
      opts.wasmBinary = await readWasmFile(urls.wasm);
      // The glue's Node branch (ENV.md pitfall 2) reads `require` and `__dirname` while the factory
      // runs synchronously, and sets a global `Worker`; give it the first two for that span only,
      // then undo all three, and drop the process-wide handlers it installs.
      const mod = (await import(/* @vite-ignore */ 'node:' + 'module')) as { createRequire(u: URL): unknown };
      const path = (await import(/* @vite-ignore */ 'node:' + 'path')) as { dirname(p: string): string };
      const url = (await import(/* @vite-ignore */ 'node:' + 'url')) as { fileURLToPath(u: URL): string };
      for (const key of ['require', '__dirname', 'Worker'] as const) {
        const had = Object.prototype.hasOwnProperty.call(g, key);
        const old = g[key];
        restore.push(() => {
          if (had) g[key] = old;
          else delete g[key];
        });
      }
      g.require ??= mod.createRequire(urls.glue);
      g.__dirname ??= path.dirname(url.fileURLToPath(urls.glue));
      const before = new Map(['uncaughtException', 'unhandledRejection'].map((e) => [e, new Set(g.process!.listeners(e))]));
      restore.push(() => {
        for (const [e, old] of before) for (const f of g.process!.listeners(e)) if (!old.has(f)) g.process!.removeListener(e, f);
      });
    } else {
      opts.locateFile = (path) => (path.endsWith('.wasm') ? urls.wasm.href : path.endsWith('.worker.js') ? urls.worker.href : path);
    }
    opts.mainScriptUrlOrBlob = urls.glue.href;
    try {
      factory = ((await import(/* @vite-ignore */ urls.glue.href)) as { default: ThreadsFactory }).default;
    } catch (e) {
      throw new Error(`lmdbg: cannot load the threaded build's glue ${urls.glue.href}: ${(e as Error).message}`);
    }
    let started: Promise<ThreadsModule>;
    try {
      started = factory(opts);
    } finally {
      for (const r of restore.splice(0)) r(); // the synchronous part has run
    }
    const M = await Promise.race([started, workerFailed]);
    if (isNode) {
      // The pthread Workers must not keep Node alive (ENV.md pitfall 7).
      for (const w of [...M.PThread.unusedWorkers, ...M.PThread.runningWorkers]) w.unref?.();
    }
    const got = M._lmdbg_set_num_threads(threads);
    if (got !== threads) throw new Error(`lmdbg: the threaded build runs ${got} threads, not ${threads}`);
    // Memory grown by a pthread leaves this thread's views on the old (shorter) SharedArrayBuffer:
    // HEAPU8 always follows the memory's current buffer.
    let heap = new Uint8Array(M.wasmMemory.buffer);
    Object.defineProperty(M, 'HEAPU8', {
      configurable: true,
      get: () => (heap.buffer === M.wasmMemory.buffer ? heap : (heap = new Uint8Array(M.wasmMemory.buffer))),
      set: () => {},
    });
    return M;
  } catch (e) {
    for (const r of restore.splice(0)) r();
    const why = e instanceof Error ? e.message : String(e);
    if (why.startsWith('lmdbg:')) throw e;
    throw new Error(`lmdbg: could not start the threaded WebAssembly module from ${urls.wasm.href}: ${failure || why}`);
  }
}
