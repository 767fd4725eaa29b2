// A strict TypeScript consumer of the installed package: compiled with `strict: true` (no emit).
// The @ts-expect-error lines check that the types reject what the engine would reject.
import {
  LMDebugger,
  getActName,
  hookNames,
  parseIntervention,
  valueVectorName,
  simdSupported,
  type Debugger,
  type Intervention,
  type LoadProgress,
  type Trace,
  type HookName,
  type ActivationCache,
  type SearchResult,
  type ValueVector,
  type GeneratedToken,
  type ModelFiles,
} from 'lmdbg';

export async function run(source: string | URL | ModelFiles | File[]): Promise<string> {
  const seen: LoadProgress[] = [];
  const dbg: Debugger = await LMDebugger.load(source, {
    dtype: 'f16',
    cache: 'my-cache',
    hubHost: 'http://127.0.0.1:8080',
    revision: 'main',
    onProgress: (p) => seen.push(p),
    signal: new AbortController().signal,
    worker: false,
  });
  const n: number = dbg.config.nLayers + dbg.config.dMlp + dbg.config.dHead;
  const ivs: Intervention[] = [{ layer: 0, index: 1, mode: 'on' }, parseIntervention('L0D1:scale=2@0,1'), { layer: 1, index: 2, mode: 'set', value: 3, positions: null }];
  const t: Trace = await dbg.trace('hello', { topK: 5, positions: 'all', interventions: ivs, attention: true, rawLens: true });
  const rank: number = t.positions[0]!.layers[0]!.predictedRank.after;
  const changed: boolean | undefined = t.positions[0]!.clean?.changed;
  const att: Float32Array | undefined = t.attention?.data;
  const topSub: string | undefined = t.positions[0]!.layers[0]!.subUpdates[0]?.name;
  const names: HookName[] = [getActName('post', 0), 'blocks.0.hook_resid_post', ...hookNames(n)];
  const cache: ActivationCache = await dbg.runWithCache([1, 2, 3], { names, interventions: ivs });
  const dims: number[] = cache.hooks['blocks.0.mlp.hook_post']!.dims;
  const s: SearchResult = await dbg.search(['river', 'water'], { limit: 5, topK: 3 });
  const v: ValueVector = await dbg.valueVector(0, 1, { topK: 3 });
  const vs: ValueVector[] = await dbg.valueVectors([[0, 1], [1, 2]]);
  const out: GeneratedToken[] = [];
  for await (const tok of dbg.generate('hi', { maxNewTokens: 3, sampling: { temperature: 0.8, topK: 40, seed: 1 }, stopAtEndOfText: false, signal: AbortSignal.timeout(1000) }))
    out.push(tok);
  const greedy = dbg.generate([1, 2], { sampling: 'greedy' });
  await greedy.return();
  const mem = await dbg.memory();
  await dbg.loadClusters({ schema: 'lmdbg.clusters/1' });
  const strs: string[] = await dbg.toStrTokens('hello');
  const text: string = await dbg.decode(await dbg.tokenize('<|endoftext|>', { allowSpecial: true }));
  await dbg.dispose();

  // @ts-expect-error: not an intervention mode
  const bad: Intervention = { layer: 0, index: 0, mode: 'zap' };
  // @ts-expect-error: not a hook name
  const badHook: HookName = 'blocks.0.hook_nothing';
  // @ts-expect-error: dtype
  await LMDebugger.load('gpt2', { dtype: 'f8' });
  // @ts-expect-error: the constructor is private
  new LMDebugger();
  // @ts-expect-error: positions
  await dbg.trace('x', { positions: 'first' });

  return [rank, changed, att?.length, topSub, dims.join(), s.hits[0]?.name, v.top[0]?.text, vs.length, out.length, mem.heapBytes,
    strs.length, text, valueVectorName(1, 2), simdSupported(), seen.length, bad, badHook].join(' ');
}
