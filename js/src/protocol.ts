// Messages between WorkerDebugger (the page) and the Worker host (worker.ts). Requests are served
// one at a time, in order; `cancel` is the only message that jumps the queue.
import type { Debugger, Dtype, GenerateOptions, GeneratedToken, LoadProgress, ModelConfig, ModelFiles, ModelInfo } from '../types/index.js';

/**
 * The Debugger methods a Worker host serves as one request and one result. The page side forwards
 * exactly these (worker-client.ts); generate() streams and dispose() ends the Worker, so they have
 * messages of their own. Adding a method to Debugger without listing it here fails to compile.
 */
export const CALL_METHODS = [
  'tokenize',
  'decode',
  'toStrTokens',
  'trace',
  'valueVector',
  'valueVectors',
  'prepareSearch',
  'search',
  'runWithCache',
  'patch',
  'patchSweep',
  'attribute',
  'loadClusters',
  'cluster',
  'snapshot',
  'memory',
] as const satisfies readonly (keyof Debugger)[];
export type CallMethod = (typeof CALL_METHODS)[number];
type DebuggerMethod = { [K in keyof Debugger]: Debugger[K] extends (...a: never[]) => unknown ? K : never }[keyof Debugger];
type Unlisted = Exclude<DebuggerMethod, CallMethod | 'generate' | 'dispose'>;
export const _everyMethodListed: [Unlisted] extends [never] ? true : { unlisted: Unlisted } = true;

/** What can cross to a Worker: an absolute URL or Hub id, files, or a ModelFiles of cloneable data. */
export type WorkerSource = string | File[] | ModelFiles;

export interface WorkerLoadOptions {
  dtype?: Dtype;
  cache?: boolean | string;
  hubHost?: string;
  revision?: string;
  wasmUrl?: string;
  threads?: boolean | number;
  precompute?: boolean;
  progress: boolean;
}

export type ToWorker =
  | { type: 'load'; id: number; source: WorkerSource; options: WorkerLoadOptions }
  | { type: 'call'; id: number; method: CallMethod | 'dispose'; args: unknown[] }
  | { type: 'generate'; id: number; prompt: string | number[]; options: Omit<GenerateOptions, 'signal'> }
  | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'progress'; id: number; progress: LoadProgress }
  | { type: 'loaded'; id: number; config: ModelConfig; info: ModelInfo }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'token'; id: number; token: GeneratedToken }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; message: string; name: string };

/** The typed-array buffers inside a result, to transfer instead of copying (results never view the heap). */
export function transferables(value: unknown): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (x: unknown, depth: number): void => {
    if (x === null || typeof x !== 'object' || depth > 3) return;
    if (ArrayBuffer.isView(x)) {
      if (x.buffer instanceof ArrayBuffer) out.add(x.buffer);
      return;
    }
    if (Array.isArray(x)) {
      if (depth < 2) for (const e of x) visit(e, depth + 1);
      return;
    }
    for (const v of Object.values(x)) visit(v, depth + 1);
  };
  visit(value, 0);
  return [...out];
}
