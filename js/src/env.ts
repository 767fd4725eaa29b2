// What the host offers: Node or a browser (page or Worker), and small helpers that depend on it.
// Node modules are imported dynamically under a computed name, so bundlers never try to resolve
// them for the browser.

interface NodeProcess {
  versions?: { node?: string };
}

/** True in Node (and Node-compatible runtimes), false in a page or a Web Worker. */
export const isNode: boolean = (() => {
  const p = (globalThis as { process?: NodeProcess }).process;
  return typeof p?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';
})();

/** The part of node:fs/promises that lmdbg uses. */
export interface NodeFileHandle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}
export interface NodeFs {
  open(path: string | URL, flags?: string): Promise<NodeFileHandle>;
  stat(path: string | URL): Promise<{ size: number; isDirectory(): boolean; isFile(): boolean }>;
  readFile(path: string | URL): Promise<Uint8Array>;
}

let fsPromise: Promise<NodeFs> | null = null;
export function nodeFs(): Promise<NodeFs> {
  if (!isNode) return Promise.reject(new Error('lmdbg: file system access needs Node'));
  const name = 'node:fs/promises';
  fsPromise ??= import(/* @vite-ignore */ name) as Promise<NodeFs>;
  return fsPromise;
}

/** Lets other tasks run (abort events, worker messages, repaints) between long synchronous steps. */
export function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  if (typeof g.setImmediate === 'function') {
    const setImmediate = g.setImmediate;
    return new Promise((resolve) => setImmediate(resolve));
  }
  if (typeof MessageChannel !== 'undefined') {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** `Symbol.asyncDispose` where the runtime has it (Node 20.4+, current browsers). */
export function defineAsyncDispose(proto: { dispose(): Promise<void> }): void {
  const sym = (Symbol as { asyncDispose?: symbol }).asyncDispose;
  if (sym && !Object.prototype.hasOwnProperty.call(proto, sym))
    Object.defineProperty(proto, sym, {
      value: function (this: { dispose(): Promise<void> }) {
        return this.dispose();
      },
      configurable: true,
      writable: true,
    });
}
