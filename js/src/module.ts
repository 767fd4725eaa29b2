// The wasm instance: one per host (page, Worker or Node process), created on first use and shared
// by every model loaded there.
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

export function simdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** The default location of the single-threaded SIMD build, next to this file (bundlers follow it). */
export function defaultWasmUrl(): URL {
  return new URL('./wasm/lmdbg.wasm', import.meta.url);
}

let instance: Promise<RawModule> | null = null;
let instanceUrl: string | null = null;

/**
 * The shared module. The first caller's wasmUrl wins; a later, different one is ignored (the
 * module is already running), which is what several models on one page want.
 */
export function getModule(wasmUrl?: string | URL): Promise<RawModule> {
  if (instance) return instance;
  const url = wasmUrl === undefined ? defaultWasmUrl() : new URL(String(wasmUrl), baseUrl());
  instanceUrl = url.href;
  instance = instantiate(url);
  instance.catch(() => {
    instance = null; // a failed start (network, missing file) may be retried
    instanceUrl = null;
  });
  return instance;
}

/** For diagnostics: where the running module came from. */
export function moduleUrl(): string | null {
  return instanceUrl;
}

function baseUrl(): string | undefined {
  const loc = (globalThis as { location?: { href: string } }).location;
  return loc?.href ?? import.meta.url;
}

async function instantiate(url: URL): Promise<RawModule> {
  if (typeof WebAssembly !== 'object') throw new Error('lmdbg: this JavaScript engine has no WebAssembly');
  if (!simdSupported()) {
    throw new Error(
      'lmdbg: this browser does not support WebAssembly SIMD (fixed-width 128-bit), which lmdbg needs. ' +
        'It is available in Chrome/Edge 91+, Firefox 89+, Safari 16.4+ and Node 16.4+; on older versions ' +
        'it may be turned off by a flag or policy.',
    );
  }
  const opts: FactoryOptions = {};
  if (isNode && url.protocol === 'file:') {
    // Node's fetch() cannot read file: URLs (ENV.md pitfall 2): hand the bytes to the glue.
    const fs = await nodeFs();
    try {
      opts.wasmBinary = await fs.readFile(url);
    } catch (e) {
      throw new Error(`lmdbg: cannot read the WebAssembly module ${url.href}: ${(e as Error).message}`);
    }
  } else {
    opts.locateFile = () => url.href;
  }
  let failure = '';
  opts.printErr = (text) => {
    failure = text;
    console.warn(text);
  };
  try {
    return await createLmdbgModule(opts);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`lmdbg: could not start the WebAssembly module from ${url.href}: ${failure || why}`);
  }
}
