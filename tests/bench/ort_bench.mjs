// lmdbg's wasm build beside onnxruntime-web (and, optionally, ggml's gpt-2 example compiled to wasm)
// on the same GPT-2-small-shaped checkpoint (random fp32 weights), in Node, 1 and 2 threads.
//
//   /usr/bin/python3 weights_tools/make_gpt2_shaped.py --out build/bench-models/gpt2-small
//   /usr/bin/python3 weights_tools/export_onnx.py build/bench-models/gpt2-small        # -> .../onnx/*.onnx
//   npm run build:wasm && npm run build:js      # dist/wasm/lmdbg.wasm (+ lmdbg-threads.wasm for 2 threads)
//   node tests/bench/ort_bench.mjs [--rounds N] [--model DIR] [--json FILE] [--phase last|all]...
//   LMDBG_GGML=/path/gpt-2-ctx.js LMDBG_GGML_MODEL=/path/ggml-model-f32.bin node tests/bench/ort_bench.mjs
//
// Candidates, each in its own Node process (so that thread pools and heaps do not interact):
//   lmdbg-1t  the package's loader (dist/load.js) with threads: 1  -> dist/wasm/lmdbg.wasm
//   lmdbg-2t  threads: 2 -> dist/wasm/lmdbg-threads.wasm (skipped when that build is missing)
//   ort-1t    onnxruntime-web (devDependency), dist/ort.node.min.mjs, wasm EP, env.wasm.numThreads = 1
//   ort-2t    the same with numThreads = 2
//   ggml-1t   only with LMDBG_GGML: ggml's examples/gpt-2 main-ctx built with emcc -msimd128 (not part of
//             this repository; see docs/BENCHMARKS.md for how it was built and converted), run as
//             `node --no-liftoff --no-experimental-fetch $LMDBG_GGML -m $LMDBG_GGML_MODEL -t 1 ...`
//             once per sample (it loads the model each time); its own timer ("predict time") is used.
//
// Workloads (the same token ids everywhere: 32 or 128 common words that are single GPT-2 tokens,
// so that ggml's own tokenizer produces the same ids):
//   phase "last" (what lmdbg's forward pass computes: logits of the last position only)
//     prompt32 / prompt128  a forward pass over the prompt. ORT: gpt2-prefill.onnx (same work).
//     pass1                 one token, empty cache. ORT: gpt2-prefill.onnx with T = 1.
//     step32                one generated token over a 32-token KV cache, greedy (8 successive steps
//                           per sample: contexts 32..39). lmdbg: Generator.next(); ORT: gpt2-decode.onnx
//                           fed its own present keys/values, argmax in JS; ggml: (predict time of
//                           -n 33 minus that of -n 1) / 32 generated tokens, over a 32-token prompt.
//   phase "all" (every position's logits, as an HF export and ggml's gpt-2 example compute)
//     prompt32all / prompt128all. ORT: gpt2-full.onnx; ggml: -n 1 -b T (one batch of T tokens).
//
// Method. Every candidate is warmed up on every workload (V8 compiles wasm in a baseline tier first),
// its logits are checked against lmdbg-1t's (max |diff|, same argmax), then the candidates run
// alternately, round after round, in a rotating order. Figures are medians of wall-clock time per
// call (performance.now(); CPU time of the process beside it for the single-threaded candidates).
// A ratio is median(B) / median(A) over all rounds, with the range of the per-round ratios.
import { fork, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, options, promptText } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { args: argv, opt } = options(process.argv.slice(2));
function opts(name) {
  const out = [];
  for (let v; (v = opt(name, null)) !== null; ) out.push(v);
  return out;
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// ------------------------------------------------------------------------------------------------
// Child: one engine.
// ------------------------------------------------------------------------------------------------
async function child() {
  const init = JSON.parse(opt('--child'));
  const { engine, threads, model } = init;
  let E;
  if (engine === 'lmdbg') {
    const { loadModel } = await import(pathToFileURL(path.join(root, 'dist/load.js')).href);
    const { moduleThreads } = await import(pathToFileURL(path.join(root, 'dist/module.js')).href);
    const { M, model: m } = await loadModel(model, { threads });
    if (moduleThreads() !== threads) throw new Error(`lmdbg runs ${moduleThreads()} threads, not ${threads}`);
    const ids = (n) => Array.from(m.tokenize(promptText(n), false));
    const prompts = { 32: ids(32), 128: ids(128) };
    E = {
      info: () => ({ ids32: prompts[32], ids128: prompts[128] }),
      prepare() {},
      logits: (T, all) => m.logits(prompts[T], all),
      prompt(T, all) {
        m.logits(prompts[T], all);
      },
      pass1() {
        m.logits(prompts[32].slice(0, 1), false);
      },
      async steps(n, time) {
        const g = M.createGenerator(m, prompts[32], '[]', '{"greedy":true}');
        try {
          g.next(); // the prompt
          // Awaited: `time` is async, and un-awaited samples would each run until all n steps were done.
          for (let i = 0; i < n; i++) await time(() => g.next());
        } finally {
          g.delete();
        }
      },
    };
  } else if (engine === 'ort') {
    const ort = await import(pathToFileURL(path.join(root, 'node_modules/onnxruntime-web/dist/ort.node.min.mjs')).href);
    ort.env.wasm.numThreads = threads;
    const onnxDir = path.join(model, 'onnx');
    const sessions = {};
    const ids = (n) => init.ids[n];
    const tensor = (a) => new ort.Tensor('int64', BigInt64Array.from(a, (x) => BigInt(x)), [1, a.length]);
    const argmax = (d) => {
      let b = 0;
      for (let i = 1; i < d.length; i++) if (d[i] > d[b]) b = i;
      return b;
    };
    E = {
      info: () => ({ version: ort.env.versions?.web ?? ort.env.versions?.common }),
      async prepare(names) {
        for (const k of Object.keys(sessions))
          if (!names.includes(k)) {
            await sessions[k].release();
            delete sessions[k];
          }
        for (const k of names)
          sessions[k] ??= await ort.InferenceSession.create(readFileSync(path.join(onnxDir, `gpt2-${k}.onnx`)), {
            executionProviders: ['wasm'],
            graphOptimizationLevel: 'all',
          });
      },
      async logits(T, all) {
        const out = await sessions[all ? 'full' : 'prefill'].run({ input_ids: tensor(ids(T)) });
        return out.logits.data;
      },
      async prompt(T, all) {
        await sessions[all ? 'full' : 'prefill'].run({ input_ids: tensor(ids(T)) });
      },
      async pass1() {
        await sessions.prefill.run({ input_ids: tensor(ids(32).slice(0, 1)) });
      },
      async steps(n, time) {
        let out = await sessions.prefill.run({ input_ids: tensor(ids(32)) });
        let tok = argmax(out.logits.data);
        for (let i = 0; i < n; i++) {
          await time(async () => {
            const feeds = { input_ids: tensor([tok]) };
            for (const [k, v] of Object.entries(out)) if (k.startsWith('present.')) feeds['past.' + k.slice(8)] = v;
            out = await sessions.decode.run(feeds);
            tok = argmax(out.logits.data);
          });
        }
      },
    };
  } else {
    throw new Error('unknown engine ' + engine);
  }
  const sample = async (fn) => {
    const c0 = cpuMs();
    const t0 = performance.now();
    await fn();
    return { wall: performance.now() - t0, cpu: cpuMs() - c0 };
  };
  const handlers = {
    info: () => E.info(),
    prepare: (m) => E.prepare(m.sessions),
    async check(m) {
      const l = await E.logits(m.T, m.all);
      const V = 50257;
      return { logits: Array.from(l.subarray(l.length - V)) };
    },
    async run(m) {
      const out = [];
      const w = m.workload;
      if (w === 'step32') {
        await E.steps(m.reps, async (fn) => out.push(await sample(fn)));
      } else {
        for (let i = 0; i < m.reps; i++) {
          if (w === 'pass1') out.push(await sample(() => E.pass1()));
          else out.push(await sample(() => E.prompt(w.startsWith('prompt128') ? 128 : 32, w.endsWith('all'))));
        }
      }
      return { samples: out };
    },
  };
  process.on('message', async (m) => {
    try {
      const r = await handlers[m.cmd](m);
      process.send({ id: m.id, ok: true, result: r });
    } catch (e) {
      process.send({ id: m.id, ok: false, error: String(e?.stack ?? e) });
    }
  });
  process.send({ id: 0, ok: true, result: 'ready' });
}

// ------------------------------------------------------------------------------------------------
// Parent.
// ------------------------------------------------------------------------------------------------
class Child {
  constructor(name, init) {
    this.name = name;
    this.init = init;
    this.pending = new Map();
    this.nextId = 1;
  }
  async start() {
    // The ORT candidates' heaps hold three ~650 MB graphs at most; lmdbg's ~0.5 GB.
    this.proc = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(this.init)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: ['--max-old-space-size=4096'],
    });
    const ready = new Promise((resolve, reject) => {
      this.pending.set(0, { resolve, reject });
      this.proc.on('exit', (code) => {
        for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited (${code})`));
        this.pending.clear();
      });
    });
    this.proc.on('message', (m) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${this.name}: ${m.error}`));
    });
    await ready;
  }
  call(cmd, extra = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ id, cmd, ...extra });
    });
  }
  stop() {
    this.proc?.kill();
  }
}

// ggml's gpt-2 example: one process per sample, its own "predict time" (wall clock, ggml_time_us).
class Ggml {
  constructor(js, model) {
    this.name = 'ggml-1t';
    this.js = js;
    this.model = model;
  }
  exec(T, n) {
    const r = spawnSync(
      process.execPath,
      ['--no-liftoff', '--no-experimental-fetch', this.js, '-m', this.model, '-t', '1', '-n', String(n), '-b', String(T),
        '--top_k', '1', '-s', '1', '-p', promptText(T)],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    const out = (r.stdout ?? '') + (r.stderr ?? '');
    const m = out.match(/predict time =\s*([\d.]+) ms \/\s*([\d.]+) ms per token/);
    const k = out.match(/number of tokens in prompt = (\d+)/);
    if (r.status !== 0 || !m || !k) throw new Error(`ggml failed (status ${r.status}):\n${out.slice(-2000)}`);
    if (Number(k[1]) !== T) throw new Error(`ggml tokenized the ${T}-token prompt into ${k[1]} tokens`);
    const predict = Number(m[1]);
    const nPast = Math.round(predict / Number(m[2]));
    const text = out.split(promptText(T)).pop()?.split('\n')[0] ?? '';
    return { predict, nPast, text };
  }
  run(workload) {
    if (workload === 'step32') {
      const a = this.exec(32, 1);
      const b = this.exec(32, 33);
      return [{ wall: (b.predict - a.predict) / (b.nPast - a.nPast), cpu: NaN }];
    }
    const T = workload.startsWith('prompt128') ? 128 : 32;
    return [{ wall: this.exec(T, 1).predict, cpu: NaN }];
  }
}

const PHASES = {
  last: { sessions: ['prefill', 'decode'], workloads: ['prompt32', 'prompt128', 'pass1', 'step32'], ggml: ['step32'] },
  all: { sessions: ['full'], workloads: ['prompt32all', 'prompt128all'], ggml: ['prompt32all', 'prompt128all'] },
};
const REPS = { prompt32: 3, prompt128: 1, pass1: 5, step32: 8, prompt32all: 3, prompt128all: 1 };
export const WORKLOAD_LABEL = {
  prompt32: '32-token prompt, last-position logits',
  prompt128: '128-token prompt, last-position logits',
  pass1: '1-token pass, empty cache',
  step32: 'generation step, 32-token KV cache (per token)',
  prompt32all: '32-token prompt, all logits',
  prompt128all: '128-token prompt, all logits',
};

async function parent() {
  const modelDir = path.resolve(opt('--model', path.join(root, 'build/bench-models/gpt2-small')));
  const rounds = Number(opt('--rounds', '5'));
  const jsonOut = opt('--json', null);
  const phases = opts('--phase');
  const ggmlJs = process.env.LMDBG_GGML;
  const ggmlModel = process.env.LMDBG_GGML_MODEL;
  for (const f of ['model.safetensors', 'onnx/gpt2-prefill.onnx', 'onnx/gpt2-decode.onnx', 'onnx/gpt2-full.onnx'])
    if (!existsSync(path.join(modelDir, f))) throw new Error(`missing ${path.join(modelDir, f)} (see the header of ${path.relative(root, fileURLToPath(import.meta.url))})`);
  if (!existsSync(path.join(root, 'dist/load.js'))) throw new Error('dist/load.js missing: npm run build:js');
  const haveThreads = existsSync(path.join(root, 'dist/wasm/lmdbg-threads.wasm'));
  if (ggmlJs && !ggmlModel) throw new Error('LMDBG_GGML needs LMDBG_GGML_MODEL (a ggml-model-f32.bin)');

  const report = {
    date: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavgStart: os.loadavg() },
    ort: null,
    rounds,
    checks: [],
    results: {},
    ratios: [],
    notes: [],
  };
  if (!haveThreads) report.notes.push('dist/wasm/lmdbg-threads.wasm missing: no lmdbg-2t column (cmake -DLMDBG_THREADS=ON)');

  // lmdbg-1t first: it tokenizes the prompts for everyone.
  const defs = [['lmdbg-1t', { engine: 'lmdbg', threads: 1 }]];
  if (haveThreads) defs.push(['lmdbg-2t', { engine: 'lmdbg', threads: 2 }]);
  defs.push(['ort-1t', { engine: 'ort', threads: 1 }], ['ort-2t', { engine: 'ort', threads: 2 }]);
  const children = [];
  try {
    let ids = null;
    for (const [name, init] of defs) {
      const c = new Child(name, { ...init, model: modelDir, ids });
      process.stderr.write(`starting ${name}\n`);
      await c.start();
      const info = await c.call('info');
      if (name === 'lmdbg-1t') {
        ids = { 32: info.ids32, 128: info.ids128 };
        if (ids[32].length !== 32 || ids[128].length !== 128) throw new Error('prompt is not 32/128 tokens');
      }
      if (init.engine === 'ort') report.ort = info.version;
      children.push(c);
    }
    const ggml = ggmlJs ? new Ggml(ggmlJs, ggmlModel) : null;
    const ref = children[0];

    for (const phaseName of phases.length ? phases : Object.keys(PHASES)) {
      const phase = PHASES[phaseName];
      for (const c of children) await c.call('prepare', { sessions: phase.sessions });
      // Correctness: every candidate's logits against lmdbg-1t's (32-token prompt).
      const all = phaseName === 'all';
      const want = (await ref.call('check', { T: 32, all })).logits;
      const argmax = (a) => a.reduce((b, x, i) => (x > a[b] ? i : b), 0);
      for (const c of children.slice(1)) {
        const got = (await c.call('check', { T: 32, all })).logits;
        let d = 0;
        for (let i = 0; i < got.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
        report.checks.push({ phase: phaseName, candidate: c.name, maxAbsDiff: d, sameArgmax: argmax(got) === argmax(want) });
        process.stderr.write(`check ${phaseName} ${c.name}: max |logit diff| ${d.toExponential(2)} vs lmdbg-1t\n`);
      }
      if (ggml && phase.ggml.length) {
        const r = ggml.exec(32, 1);
        const tokText = refDecode(modelDir, argmax(want));
        report.checks.push({ phase: phaseName, candidate: 'ggml-1t', sameArgmax: r.text.trim() === tokText.trim(), ggmlNext: r.text, lmdbgNext: tokText });
      }
      // Warm-up.
      for (const w of phase.workloads) for (const c of children) await c.call('run', { workload: w, reps: w === 'step32' ? 4 : 2 });
      const cands = [...children, ...(ggml ? [ggml] : [])];
      const samples = {};
      for (let r = 0; r < rounds; r++) {
        process.stderr.write(`${phaseName} round ${r + 1}/${rounds}\n`);
        for (const w of phase.workloads) {
          const order = cands.slice(r % cands.length).concat(cands.slice(0, r % cands.length));
          for (const c of order) {
            let s;
            if (c instanceof Ggml) {
              if (!phase.ggml.includes(w)) continue;
              s = c.run(w);
            } else {
              s = (await c.call('run', { workload: w, reps: REPS[w] })).samples;
            }
            ((samples[w] ??= {})[c.name] ??= []).push(s);
          }
        }
      }
      for (const [w, byCand] of Object.entries(samples)) {
        report.results[w] = {};
        for (const [c, perRound] of Object.entries(byCand)) {
          const flat = perRound.flat();
          report.results[w][c] = {
            wall: median(flat.map((s) => s.wall)),
            cpu: median(flat.map((s) => s.cpu)),
            min: Math.min(...flat.map((s) => s.wall)),
            n: flat.length,
            perRound: perRound.map((ss) => median(ss.map((s) => s.wall))),
          };
        }
      }
    }
  } finally {
    for (const c of children) c.stop();
  }
  // Ratios: how many times faster lmdbg is (other / lmdbg), medians and per-round range.
  const pairs = [
    ['lmdbg-1t', 'ort-1t'],
    ['lmdbg-1t', 'ggml-1t'],
    ['lmdbg-2t', 'ort-2t'],
    ['lmdbg-2t', 'ort-1t'],
    ['lmdbg-1t', 'lmdbg-2t'],
    ['ort-1t', 'ort-2t'],
  ];
  for (const [w, byCand] of Object.entries(report.results))
    for (const [a, b] of pairs) {
      if (!byCand[a] || !byCand[b]) continue;
      const per = byCand[a].perRound.map((x, i) => byCand[b].perRound[i] / x).filter(Number.isFinite);
      report.ratios.push({ workload: w, a, b, ratio: byCand[b].wall / byCand[a].wall, min: Math.min(...per), max: Math.max(...per) });
    }
  report.machine.loadavgEnd = os.loadavg();
  printReport(report);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report, null, 1));
}

// A token's text from vocab.json (GPT-2's byte symbols; enough for the common words used here).
function refDecode(modelDir, id) {
  const vocab = JSON.parse(readFileSync(path.join(modelDir, 'vocab.json'), 'utf8'));
  const inv = Object.fromEntries(Object.entries(vocab).map(([k, v]) => [v, k]));
  return (inv[id] ?? '').replace(/\u0120/g, ' ');
}

function printReport(r) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '—');
  console.log(`\n${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, onnxruntime-web ${r.ort}, ${r.rounds} rounds`);
  console.log(`load average ${r.machine.loadavgStart.map((x) => x.toFixed(1)).join(' ')} -> ${r.machine.loadavgEnd.map((x) => x.toFixed(1)).join(' ')}`);
  for (const c of r.checks)
    console.log(`check ${c.phase} ${c.candidate}: ${c.maxAbsDiff !== undefined ? `max |logit diff| ${c.maxAbsDiff.toExponential(2)}, ` : ''}same argmax ${c.sameArgmax}`);
  for (const [w, byCand] of Object.entries(r.results)) {
    console.log(`\n${WORKLOAD_LABEL[w]} (ms, median wall; cpu)`);
    for (const [c, s] of Object.entries(byCand)) console.log(`  ${c.padEnd(9)} ${f(s.wall).padStart(8)}  cpu ${f(s.cpu).padStart(8)}  n=${s.n}`);
  }
  console.log('\nratios (b / a: > 1 means a is faster)');
  for (const x of r.ratios) console.log(`  ${x.workload.padEnd(13)} ${x.b.padEnd(9)} / ${x.a.padEnd(9)} x${x.ratio.toFixed(2)}  (rounds x${x.min.toFixed(2)}-${x.max.toFixed(2)})`);
  for (const n of r.notes) console.log('note: ' + n);
}

if (argv.includes('--child')) await child();
else await parent();
