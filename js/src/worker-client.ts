// The page side of the Worker host: the same Debugger interface, each call posted to a dedicated
// module Worker that owns the wasm instance and the model, so the page never freezes.
import type { Debugger, GenerateOptions, GeneratedToken, LoadOptions, ModelConfig, ModelInfo, ModelSource } from '../types/index.js';
import { abortError, defineAsyncDispose } from './env.js';
import { CALL_METHODS, type CallMethod, type FromWorker, type ToWorker, type WorkerSource } from './protocol.js';
import { absoluteUrl, isHubId } from './sources.js';

type Listener = (msg: FromWorker) => void;

function toWorkerSource(source: ModelSource): WorkerSource {
  if (source instanceof URL) return source.href;
  if (typeof source === 'string') {
    const s = source.trim();
    // Relative URLs must be resolved against the page, not against the Worker's script.
    return isHubId(s) && !s.startsWith('.') ? s : absoluteUrl(s);
  }
  if (!Array.isArray(source) && typeof source === 'object' && source !== null && !('weights' in source))
    return Array.from(source as ArrayLike<File>); // a FileList
  return source as WorkerSource;
}

function errorFrom(msg: { message: string; name: string }): Error {
  if (msg.name === 'AbortError') return new DOMException(msg.message, 'AbortError') as unknown as Error;
  return new Error(msg.message);
}

// The plain calls (CALL_METHODS) are forwarded by name; see the static block.
export interface WorkerDebugger extends Pick<Debugger, CallMethod> {}

export class WorkerDebugger implements Debugger {
  readonly config: ModelConfig;
  readonly info: ModelInfo;
  #worker: Worker;
  #listeners = new Map<number, Listener>();
  #nextId = 1;
  #disposed = false;
  #broken: Error | null = null;
  #generating = new Set<number>();

  private constructor(worker: Worker, config: ModelConfig, info: ModelInfo) {
    this.#worker = worker;
    this.config = Object.freeze(config);
    this.info = Object.freeze(info);
  }

  static async load(source: ModelSource, options: LoadOptions): Promise<Debugger> {
    const { signal } = options;
    if (signal?.aborted) throw abortError(signal);
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'lmdbg' });
    const msg: ToWorker = {
      type: 'load',
      id: 0,
      source: toWorkerSource(source),
      options: {
        ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
        ...(options.cache !== undefined ? { cache: options.cache } : {}),
        ...(options.hubHost !== undefined ? { hubHost: absoluteUrl(options.hubHost) } : {}),
        ...(options.revision !== undefined ? { revision: options.revision } : {}),
        ...(options.wasmUrl !== undefined ? { wasmUrl: absoluteUrl(options.wasmUrl) } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.precompute !== undefined ? { precompute: options.precompute } : {}),
        progress: typeof options.onProgress === 'function',
      },
    };
    try {
      const { config, info } = await new Promise<{ config: ModelConfig; info: ModelInfo }>((resolve, reject) => {
        const onAbort = () => reject(abortError(signal!));
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = () => {
          signal?.removeEventListener('abort', onAbort);
          worker.onmessage = null;
          worker.onerror = null;
        };
        worker.onmessage = (ev: MessageEvent<FromWorker>) => {
          const m = ev.data;
          if (m.type === 'progress') options.onProgress?.(m.progress);
          else if (m.type === 'loaded') {
            done();
            resolve({ config: m.config, info: m.info });
          } else if (m.type === 'error') {
            done();
            reject(errorFrom(m));
          }
        };
        worker.onerror = (ev: ErrorEvent) => {
          done();
          ev.preventDefault();
          reject(new Error(`lmdbg: the worker failed to start: ${ev.message || 'could not load worker.js'}`));
        };
        worker.postMessage(msg);
      });
      const d = new WorkerDebugger(worker, config, info);
      d.#listen();
      return d;
    } catch (e) {
      worker.terminate();
      throw e;
    }
  }

  #listen(): void {
    this.#worker.onmessage = (ev: MessageEvent<FromWorker>) => this.#listeners.get(ev.data.id)?.(ev.data);
    this.#worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      this.#break(new Error(`lmdbg: the worker failed: ${ev.message}`));
    };
  }

  #break(err: Error): void {
    this.#broken = err;
    for (const l of [...this.#listeners.values()]) l({ type: 'error', id: -1, message: err.message, name: 'Error' });
    this.#listeners.clear();
  }

  #check(): void {
    if (this.#disposed) throw new Error('lmdbg: this model has been disposed');
    if (this.#broken) throw this.#broken;
  }

  #send(msg: ToWorker): void {
    this.#worker.postMessage(msg);
  }

  #call<T>(method: CallMethod | 'dispose', args: unknown[]): Promise<T> {
    try {
      this.#check();
    } catch (e) {
      return Promise.reject(e);
    }
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#listeners.set(id, (m) => {
        this.#listeners.delete(id);
        if (m.type === 'result') resolve(m.value as T);
        else if (m.type === 'error') reject(errorFrom(m));
      });
      try {
        this.#send({ type: 'call', id, method, args });
      } catch (e) {
        this.#listeners.delete(id);
        reject(e); // e.g. arguments that cannot be cloned
      }
    });
  }

  static {
    for (const method of CALL_METHODS)
      Object.defineProperty(WorkerDebugger.prototype, method, {
        value(this: WorkerDebugger, ...args: unknown[]) {
          return this.#call(method, args);
        },
        writable: true,
        configurable: true,
      });
  }

  async *generate(prompt: string | number[], options: GenerateOptions = {}): AsyncGenerator<GeneratedToken, void, void> {
    this.#check();
    const { signal, ...rest } = options;
    if (signal?.aborted) throw abortError(signal);
    const id = this.#nextId++;
    const tokens: GeneratedToken[] = [];
    let finished = false;
    let error: Error | null = null;
    let wake: (() => void) | null = null;
    this.#listeners.set(id, (m) => {
      if (m.type === 'token') tokens.push(m.token);
      else if (m.type === 'done') finished = true;
      else if (m.type === 'error') error = errorFrom(m);
      else return;
      wake?.();
    });
    const cancel = () => {
      if (!finished && !error && !this.#disposed && !this.#broken) this.#send({ type: 'cancel', id });
      wake?.();
    };
    signal?.addEventListener('abort', cancel, { once: true });
    this.#generating.add(id);
    try {
      this.#send({ type: 'generate', id, prompt, options: rest });
      for (;;) {
        // A disposed model yields nothing more, not even tokens that already arrived.
        if (this.#disposed) throw new Error('lmdbg: this model has been disposed');
        if (tokens.length) {
          if (signal?.aborted) throw abortError(signal);
          yield tokens.shift()!;
          continue;
        }
        if (error) throw error;
        if (signal?.aborted) throw abortError(signal);
        if (finished) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
      cancel(); // stops the worker when the consumer leaves early
      this.#generating.delete(id);
      this.#listeners.delete(id);
    }
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    for (const id of this.#generating) this.#send({ type: 'cancel', id });
    const done = this.#broken ? Promise.resolve() : this.#call<void>('dispose', []).catch(() => {});
    this.#disposed = true;
    for (const id of this.#generating)
      this.#listeners.get(id)?.({ type: 'error', id, message: 'lmdbg: this model has been disposed', name: 'Error' });
    await done;
    this.#worker.terminate();
    this.#break(new Error('lmdbg: this model has been disposed'));
    this.#broken = null;
  }

  declare [Symbol.asyncDispose]: () => Promise<void>;
}

defineAsyncDispose(WorkerDebugger.prototype);
