// The page side of browser_bench.mjs: lmdbg (the npm package's public API, from dist/) and, when
// asked, onnxruntime-web (wasm EP) in one cross-origin isolated page, driven by the Node side through
// window.bench. URL parameters: threads=N, ort=1 (also load onnxruntime-web), wasm=URL (a build to
// force, e.g. the plain SIMD one; default: the package's own choice), dtype=f16|q8 (weight storage),
// pkg=URL (the package's JS from another build; default /dist/index.js).
import { promptText } from './common.mjs';

const q = new URLSearchParams(location.search);
const { LMDebugger } = await import(q.get('pkg') ?? '/dist/index.js');
const threads = Number(q.get('threads') ?? 1);
const withOrt = q.get('ort') === '1';
const wasmUrl = q.get('wasm') ?? undefined;
const dtype = q.get('dtype') ?? undefined;

let files = null; // the checkpoint's bytes, fetched once: loads are timed from memory
let dbg = null;
let ids = null; // 128 token ids
let ort = null;
const sessions = {};

async function bytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function loadLmdbg() {
  return LMDebugger.load({ ...files }, { threads, wasmUrl, dtype, cache: false });
}

async function setup() {
  if (!crossOriginIsolated) throw new Error('the page is not cross-origin isolated');
  files = {
    config: await (await fetch('/model/config.json')).text(),
    vocab: await (await fetch('/model/vocab.json')).text(),
    merges: await (await fetch('/model/merges.txt')).text(),
    weights: await bytes('/model/model.safetensors'),
  };
  dbg = await loadLmdbg();
  ids = await dbg.tokenize(promptText(128));
  if (ids.length !== 128) throw new Error(`the prompt is ${ids.length} tokens, not 128`);
  const mem = await dbg.memory();
  const info = { threads: mem.threads, wasm: performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.wasm')) };
  if (withOrt) {
    ort = await import('/ort/ort.wasm.min.mjs');
    ort.env.wasm.wasmPaths = '/ort/';
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.proxy = false;
    for (const k of ['full', 'prefill', 'decode'])
      sessions[k] = await ort.InferenceSession.create(await bytes(`/model/onnx/gpt2-${k}.onnx`), {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
    info.ort = ort.env.versions?.web ?? ort.env.versions?.common;
  }
  return info;
}

const tensor = (a) => new ort.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), [1, a.length]);
const argmax = (d) => {
  let b = 0;
  for (let i = 1; i < d.length; i++) if (d[i] > d[b]) b = i;
  return b;
};

// Every position's logits of a T-token prompt, as a Float32Array [T * V]. lmdbg: runWithCache keeping
// one small hook (no names would mean every hook of every layer).
async function logits(engine, T) {
  if (engine === 'lmdbg') return (await dbg.runWithCache(ids.slice(0, T), { names: ['hook_embed'] })).logits.data;
  return (await sessions.full.run({ input_ids: tensor(ids.slice(0, T)) })).logits.data;
}

// Largest |difference| between lmdbg's and onnxruntime-web's logits, and whether every position's argmax agrees.
async function check(T) {
  const a = await logits('lmdbg', T);
  const b = await logits('ort', T);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  const V = a.length / T;
  let same = true;
  for (let t = 0; t < T; t++) same &&= argmax(a.subarray(t * V, (t + 1) * V)) === argmax(b.subarray(t * V, (t + 1) * V));
  return { maxAbsDiff: d, sameArgmax: same };
}

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

// `reps` samples (ms) of one workload on one engine.
async function run(engine, workload, reps) {
  const out = [];
  const fwd = /^fwd(\d+)$/.exec(workload);
  if (fwd) {
    for (let i = 0; i < reps; i++) out.push(await timed(() => logits(engine, Number(fwd[1]))));
  } else if (workload === 'gen' && engine === 'lmdbg') {
    // Greedy steps over a 32-token prompt (contexts 32, 33, ...); the prompt pass is not timed.
    const it = dbg.generate(ids.slice(0, 32), { maxNewTokens: reps + 1, stopAtEndOfText: false });
    await it.next();
    for (let i = 0; i < reps; i++) out.push(await timed(() => it.next()));
    await it.return();
  } else if (workload === 'gen') {
    let res = await sessions.prefill.run({ input_ids: tensor(ids.slice(0, 32)) });
    let tok = argmax(res.logits.data);
    for (let i = 0; i < reps; i++) {
      out.push(
        await timed(async () => {
          const feeds = { input_ids: tensor([tok]) };
          for (const [k, v] of Object.entries(res)) if (k.startsWith('present.')) feeds['past.' + k.slice(8)] = v;
          res = await sessions.decode.run(feeds);
          tok = argmax(res.logits.data);
        }),
      );
    }
  } else if (workload === 'load' && engine === 'lmdbg') {
    // A fresh model from the bytes in memory, its first trace (the value index is empty), a repeated trace.
    for (let i = 0; i < reps; i++) {
      let m = null;
      const load = await timed(async () => (m = await loadLmdbg()));
      const trace1 = await timed(() => m.trace(ids.slice(0, 32)));
      const trace2 = await timed(() => m.trace(ids.slice(0, 32)));
      await m.dispose();
      out.push({ load, trace1, trace2 });
    }
  } else {
    throw new Error(`no workload ${workload} for ${engine}`);
  }
  return out;
}

// For browser_profile.mjs: a fresh model from the bytes in memory (not timed), then its traces one by one.
let fresh = null;
async function freshModel() {
  if (fresh) await fresh.dispose();
  fresh = await loadLmdbg();
}
const traceFresh = () => fresh.trace(ids.slice(0, 32));

window.bench = { setup, check, run, freshModel, traceFresh };
window.benchReady = true;
