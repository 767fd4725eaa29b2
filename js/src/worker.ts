// The Worker host: one wasm instance and one model per dedicated module Worker. Requests run one at
// a time, in arrival order; a running generate() checks for `cancel` between tokens.
import type { Debugger, GenerateOptions } from '../types/index.js';
import { LMDebugger } from './debugger.js';
import { CALL_METHODS, transferables, type FromWorker, type ToWorker } from './protocol.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<ToWorker>) => void): void;
}
const scope = globalThis as unknown as WorkerScope;

let dbg: Debugger | null = null;
let queue: Promise<void> = Promise.resolve();
const controllers = new Map<number, AbortController>();
const cancelledEarly = new Set<number>(); // cancelled while still waiting in the queue

function post(msg: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

function fail(id: number, e: unknown): void {
  const err = e instanceof Error ? e : new Error(String(e));
  post({ type: 'error', id, message: err.message, name: err.name });
}

function controller(id: number): AbortController {
  const ctl = new AbortController();
  controllers.set(id, ctl);
  if (cancelledEarly.delete(id)) ctl.abort();
  return ctl;
}

async function handle(msg: ToWorker): Promise<void> {
  const { id } = msg;
  try {
    switch (msg.type) {
      case 'load': {
        const ctl = controller(id);
        try {
          if (dbg) throw new Error('lmdbg worker: a model is already loaded here');
          const { progress, ...options } = msg.options;
          dbg = await LMDebugger.load(msg.source, {
            ...options,
            signal: ctl.signal,
            ...(progress ? { onProgress: (p) => post({ type: 'progress', id, progress: p }) } : {}),
          });
          post({ type: 'loaded', id, config: dbg.config, info: dbg.info });
        } finally {
          controllers.delete(id);
        }
        return;
      }
      case 'call': {
        if (!dbg) throw new Error('lmdbg worker: no model loaded');
        if (msg.method !== 'dispose' && !(CALL_METHODS as readonly string[]).includes(msg.method))
          throw new Error(`lmdbg worker: unknown method ${String(msg.method)}`);
        const fn = (dbg as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[msg.method]!;
        const value = await fn.apply(dbg, msg.args);
        post({ type: 'result', id, value }, transferables(value));
        return;
      }
      case 'generate': {
        if (!dbg) throw new Error('lmdbg worker: no model loaded');
        const ctl = controller(id);
        try {
          const options: GenerateOptions = { ...msg.options, signal: ctl.signal };
          for await (const token of dbg.generate(msg.prompt, options)) post({ type: 'token', id, token });
        } catch (e) {
          if (!ctl.signal.aborted) throw e;
        } finally {
          controllers.delete(id);
        }
        post({ type: 'done', id });
        return;
      }
      default:
        throw new Error(`lmdbg worker: unexpected message ${(msg as { type: string }).type}`);
    }
  } catch (e) {
    fail(id, e);
  }
}

scope.addEventListener('message', (ev) => {
  const msg = ev.data;
  if (msg.type === 'cancel') {
    const ctl = controllers.get(msg.id);
    if (ctl) ctl.abort();
    else cancelledEarly.add(msg.id);
    return;
  }
  queue = queue.then(() => handle(msg));
});
