// Types of the Emscripten glue dist/wasm/lmdbg.mjs (built by CMake, not by tsc). Emscripten 3.1.6
// has no --emit-tsd, so this is written by hand against wasm/bindings.cpp.
import type { RawModule } from '../raw.js';

export interface FactoryOptions {
  wasmBinary?: ArrayBuffer | Uint8Array;
  locateFile?: (path: string, prefix: string) => string;
  instantiateWasm?: (
    imports: WebAssembly.Imports,
    done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
  ) => object | false;
  print?: (text: string) => void;
  printErr?: (text: string) => void;
}

declare function createLmdbgModule(options?: FactoryOptions): Promise<RawModule>;
export default createLmdbgModule;
