// `npm run bench`: runs the benchmarks, keeps their raw JSON in build/bench-results/ and rewrites the
// generated blocks of docs/BENCHMARKS.md (between `<!-- generated:NAME -->` and `<!-- /generated:NAME -->`;
// everything outside them is hand-written and left alone).
//
//   npm run bench [-- [browser] [wasm] [ort] [native] [--quick] [--rounds N] [--render] [--model DIR]]
//     browser tests/bench/browser_bench.mjs: lmdbg and onnxruntime-web in one cross-origin isolated
//             Chromium page per thread count (1, 2), and lmdbg on the plain SIMD build beside its
//             relaxed-SIMD build
//     wasm    tests/bench/engine_wasm_bench.mjs (cold load, forward/trace/generation, value tokens, search)
//             and the f32/f16 checkpoint sizes (build/lmdbg convert)
//     ort     tests/bench/ort_bench.mjs: lmdbg 1t/2t beside onnxruntime-web 1t/2t, and ggml-1t when
//             LMDBG_GGML and LMDBG_GGML_MODEL are set (see docs/BENCHMARKS.md)
//     native  build/lmdbg_bench (Google Benchmark): Engine_*, and Gemm/Xnnpack (ours vs XNNPACK)
//     --quick fewer rounds and repetitions (for trying the pipeline, not for the doc)
//     --rounds N rounds of browser_bench, engine_wasm_bench and ort_bench (defaults 7, 7 and 5)
//     --render only rewrite docs/BENCHMARKS.md from the JSON already in build/bench-results/
// Sections not run keep their previous JSON, so one section can be refreshed alone.
// Needs `npm run build` (dist/ and dist/wasm/); builds build/lmdbg_bench itself (cmake, Release).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(root, 'build/bench-results');
const docPath = path.join(root, 'docs/BENCHMARKS.md');
const argv = process.argv.slice(2);
const flag = (f) => (argv.includes(f) ? (argv.splice(argv.indexOf(f), 1), true) : false);
const quick = flag('--quick');
const renderOnly = flag('--render');
const mi = argv.indexOf('--model');
const modelDir = path.resolve(mi >= 0 ? argv.splice(mi, 2)[1] : path.join(root, 'build/bench-models/gpt2-small'));
const ri = argv.indexOf('--rounds');
const rounds = ri >= 0 ? argv.splice(ri, 2)[1] : null;
const SECTIONS = ['browser', 'wasm', 'ort', 'native'];
const sections = argv.length ? argv : SECTIONS;
for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s} (${SECTIONS.join(', ')})`);

const out = (name) => path.join(outDir, name);
const readJson = (name) => (existsSync(out(name)) ? JSON.parse(readFileSync(out(name), 'utf8')) : null);

function sh(cmd, args, opts = {}) {
  console.error(`\n$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
  return r;
}
const git = (...a) => spawnSync('git', a, { cwd: root, encoding: 'utf8' }).stdout.trim();

// ------------------------------------------------------------------------------------------ running
function buildNative() {
  if (!existsSync(path.join(root, 'build/CMakeCache.txt')))
    sh('cmake', ['-S', '.', '-B', 'build', '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=Release']);
  sh('cmake', ['--build', 'build', '--target', 'lmdbg_bench', 'lmdbg']);
}

function runWasm() {
  const args = ['tests/bench/engine_wasm_bench.mjs', '--model', modelDir, '--json', out('engine_wasm.json')];
  if (quick) args.push('--rounds', '3', '--cold', '1');
  else if (rounds) args.push('--rounds', rounds);
  sh(process.execPath, args);
  // Download sizes: the f32 checkpoint beside its F16 conversion (made once).
  const f16Dir = `${modelDir}-f16`;
  if (!existsSync(path.join(f16Dir, 'model.safetensors'))) {
    buildNative();
    sh(path.join(root, 'build/lmdbg'), ['convert', modelDir, '-o', f16Dir]);
  }
  const size = (d) => statSync(path.join(d, 'model.safetensors')).size;
  writeFileSync(out('files.json'), JSON.stringify({ f32: size(modelDir), f16: size(f16Dir), f16Dir }));
}

function runBrowser() {
  const args = ['tests/bench/browser_bench.mjs', '--model', modelDir, '--json', out('browser.json')];
  args.push('--rounds', quick ? '2' : rounds ?? '7');
  sh(process.execPath, args);
}

function runOrt() {
  const args = ['tests/bench/ort_bench.mjs', '--model', modelDir, '--json', out('ort.json')];
  if (quick) args.push('--rounds', '2');
  else if (rounds) args.push('--rounds', rounds);
  if (!process.env.LMDBG_GGML) console.error('LMDBG_GGML unset: no ggml column (see docs/BENCHMARKS.md)');
  sh(process.execPath, args);
}

function runNative() {
  buildNative();
  const bin = path.join(root, 'build/lmdbg_bench');
  const common = ['--benchmark_report_aggregates_only=true', '--benchmark_out_format=json'];
  sh(bin, ['--benchmark_filter=^Engine_', `--benchmark_repetitions=${quick ? 1 : 3}`, ...common,
    `--benchmark_out=${out('native_engine.json')}`], { env: { ...process.env, LMDBG_BENCH_MODEL: modelDir } });
  sh(bin, ['--benchmark_filter=^(Gemm|Xnnpack)/', `--benchmark_repetitions=${quick ? 1 : 5}`,
    '--benchmark_enable_random_interleaving=true', `--benchmark_min_time=${quick ? 0.02 : 0.1}`, ...common,
    `--benchmark_out=${out('native_kernels.json')}`]);
}

if (!renderOnly) {
  mkdirSync(outDir, { recursive: true });
  const meta = readJson('meta.json') ?? {};
  const dirty = git('status', '--porcelain', '--untracked-files=no', 'core', 'wasm', 'js/src', 'tests/bench') !== '';
  for (const s of sections) {
    const m = { start: new Date().toISOString(), commit: git('rev-parse', '--short', 'HEAD') + (dirty ? '+local changes' : ''),
      cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadavgStart: os.loadavg(), quick,
      wasmBuilt: existsSync(path.join(root, 'dist/wasm/lmdbg.wasm')) ? statSync(path.join(root, 'dist/wasm/lmdbg.wasm')).mtime : null };
    ({ browser: runBrowser, wasm: runWasm, ort: runOrt, native: runNative })[s]();
    meta[s] = { ...m, end: new Date().toISOString(), loadavgEnd: os.loadavg() };
    writeFileSync(out('meta.json'), JSON.stringify(meta, null, 1));
  }
}

// ------------------------------------------------------------------------------------------ figures
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const num = (x, d) => (Number.isFinite(x) ? x.toFixed(d ?? (Math.abs(x) < 1 ? 3 : Math.abs(x) < 10 ? 2 : Math.abs(x) < 100 ? 1 : 0)) : '—');
const xr = (r) => `x${num(r, 2)}`;
const range = (xs) => (xs.length > 1 ? ` (rounds ${xr(Math.min(...xs))}-${xr(Math.max(...xs))})` : '');
const msRange = (xs) => (xs.length > 1 ? ` (${num(Math.min(...xs))}-${num(Math.max(...xs))})` : '');
// Per-round ratios a/b of two sample series measured alternately in the same rounds.
const perRound = (a, b) => a.map((x, i) => x / b[i]).filter(Number.isFinite);
const MB = (b) => b / 1e6;

const B = readJson('browser.json');
const E = readJson('engine_wasm.json');
const O = readJson('ort.json');
const F = readJson('files.json');
const NE = readJson('native_engine.json');
const NK = readJson('native_kernels.json');
const META = readJson('meta.json') ?? {};

// ort_bench: a candidate's per-round medians (wall ms) for a workload.
const ortRounds = (w, c) => O?.results?.[w]?.[c]?.perRound ?? null;
// How many times faster lmdbg (a) is than another candidate (b), from per-round medians.
function ortRatio(wa, a, wb, b) {
  const ra = ortRounds(wa, a), rb = ortRounds(wb, b);
  if (!ra || !rb) return null;
  return { ratio: O.results[wb][b].wall / O.results[wa][a].wall, per: perRound(rb, ra), a: O.results[wa][a].wall, b: O.results[wb][b].wall };
}
const engineOp = (dtype, name) => E?.engine?.[dtype]?.[name] ?? null;

const CMD = { browser: '`npm run bench -- browser`', wasm: '`npm run bench -- wasm`', ort: '`npm run bench -- ort`', native: '`npm run bench -- native`' };
let goals = [];
function goal(name, target, measured, met, cmd) {
  goals.push({ name, target, measured: measured ?? 'not measured', met: measured == null ? null : met, cmd });
}

// Chromium (browser_bench): how many times faster a is than b, and the figures behind it.
function browserRatio(w, a, b, wb = w) {
  const r = B?.ratios?.find((x) => x.workload === w && x.a === a && x.b === b && x.bWorkload === wb);
  return r ? { ...r, ma: B.results[w][a].median, mb: B.results[wb][b].median } : null;
}
const brMeasured = (r, la, lb) => r && `${xr(r.ratio)} (rounds ${xr(r.min)}-${xr(r.max)}); ${la} ${num(r.ma)} ms, ${lb} ${num(r.mb)} ms`;
for (const t of [1, 2]) {
  const r = browserRatio('fwd32', `lmdbg-${t}t`, `ort-${t}t`);
  goal(`Chromium: 32-token forward (all logits), ${t} thread${t > 1 ? 's' : ''}, vs onnxruntime-web`, '≥ x1.5 faster',
    brMeasured(r, 'lmdbg', 'ORT'), r?.ratio >= 1.5, CMD.browser);
}
{
  const r = browserRatio('fwd128', 'lmdbg-2t', 'ort-2t');
  goal('Chromium: 128-token forward (all logits), 2 threads, vs onnxruntime-web', '≥ x1.3 faster', brMeasured(r, 'lmdbg', 'ORT'), r?.ratio >= 1.3, CMD.browser);
  const s = browserRatio('fwd128', 'lmdbg-2t', 'lmdbg-1t');
  goal('Chromium: 128-token forward, 2 threads vs 1 thread', '≥ x1.8 faster', brMeasured(s, '2 threads', '1 thread'), s?.ratio >= 1.8, CMD.browser);
  const g = browserRatio('gen', 'lmdbg-1t', 'ort-1t', 'fwd1');
  goal('Chromium: generation step (32-token prompt), 1 thread, vs onnxruntime-web 1-token pass', '≥ x1.5 faster',
    brMeasured(g, 'lmdbg', 'ORT'), g?.ratio >= 1.5, CMD.browser);
  const res = B?.results;
  const t1 = res?.trace1?.['lmdbg-1t'], t2 = res?.trace2?.['lmdbg-1t'], ld = res?.load?.['lmdbg-1t'];
  goal('Chromium: first trace after load / repeated trace (32 tokens, 1 thread)', '≤ x1.5',
    t1 && t2 && `${xr(t1.median / t2.median)}; first ${num(t1.median)} ms, repeated ${num(t2.median)} ms`, t1 && t2 && t1.median / t2.median <= 1.5, CMD.browser);
  goal('Chromium: bytes in memory -> model ready, GPT-2 small f32 (1 thread)', '≤ 0.5 s',
    ld && `${num(ld.median)} ms (${num(ld.min)}-${num(ld.max)})`, ld && ld.median <= 500, CMD.browser);
}

const browserGoals = goals;
goals = [];

// Speed against onnxruntime-web and ggml in Node (ort_bench).
{
  const r = ortRatio('prompt32', 'lmdbg-1t', 'prompt32', 'ort-1t');
  goal('Node: 32-token prompt, 1 thread, vs onnxruntime-web', '≥ x1.5 faster',
    r && `${xr(r.ratio)}${range(r.per)}; lmdbg ${num(r.a)} ms, ORT ${num(r.b)} ms`, r?.ratio >= 1.5, CMD.ort);
  const g = ortRatio('prompt32all', 'lmdbg-1t', 'prompt32all', 'ggml-1t');
  goal('Node: 32-token prompt, 1 thread, vs ggml (both: logits of all 32 positions)', '≥ x2 faster',
    g && `${xr(g.ratio)}${range(g.per)}; lmdbg ${num(g.a)} ms, ggml ${num(g.b)} ms` +
      ((l) => (l ? ` (lmdbg's own forward, last-position logits: ${xr(l.ratio)}${range(l.per)})` : ''))(ortRatio('prompt32', 'lmdbg-1t', 'prompt32all', 'ggml-1t')),
    g?.ratio >= 2, CMD.ort + ' with LMDBG_GGML');
  const t = ortRatio('prompt32', 'lmdbg-2t', 'prompt32', 'ort-2t');
  goal('Node: 32-token prompt, 2 threads, vs onnxruntime-web 2 threads', '≥ x1.5 faster',
    t && `${xr(t.ratio)}${range(t.per)}; lmdbg ${num(t.a)} ms, ORT ${num(t.b)} ms`, t?.ratio >= 1.5, CMD.ort);
}

// Trace overhead (engine_wasm_bench, CPU time, ratios per round).
for (const [label, op] of [['first trace (value tokens not cached)', 'trace 32 (value tokens not cached)'],
  ['repeated trace (value tokens cached)', 'trace 32 (warm cache)']]) {
  const tr = engineOp('f32', op), fw = engineOp('f32', 'forward 32');
  const per = tr && fw ? perRound(tr.cpu, fw.cpu) : null;
  goal(`Node: full trace / forward, 32 tokens, ${label}`, '≤ x1.3',
    per && `${xr(median(per))}${range(per)}; trace ${num(median(tr.cpu))} ms, forward ${num(median(fw.cpu))} ms`,
    median(per ?? []) <= 1.3, CMD.wasm);
}

// Generation.
{
  const o = ortRatio('step32', 'lmdbg-1t', 'pass1', 'ort-1t');
  goal('Node: generation step f32 (32-token KV cache) vs onnxruntime-web 1-token pass', '≥ x1 (no slower)',
    o && `${xr(o.ratio)}${range(o.per)}; lmdbg ${num(o.a)} ms/token, ORT ${num(o.b)} ms`, o?.ratio >= 1, CMD.ort);
  const g = ortRatio('step32', 'lmdbg-1t', 'step32', 'ggml-1t');
  goal('Node: generation step f32 vs ggml per-token time (32-token context)', '≥ x1 (no slower)',
    g && `${xr(g.ratio)}${range(g.per)}; lmdbg ${num(g.a)} ms, ggml ${num(g.b)} ms`, g?.ratio >= 1, CMD.ort + ' with LMDBG_GGML');
  const s = E?.gen?.f16;
  goal('Node: generation step f16 (32-token KV cache)', '≤ 12 ms',
    s && `${num(median(s.cpu), 1)} ms CPU${msRange(s.cpu)}, wall ${num(median(s.wall), 1)} ms`, median(s?.cpu ?? []) <= 12, CMD.wasm);
}

// fp16 storage.
{
  const c = E?.cold;
  const w = c && median(c.f16.map((r) => r.weightBytes)) / median(c.f32.map((r) => r.weightBytes));
  const h = c && Math.max(...c.f16.map((r) => r.heapPeak)) / Math.max(...c.f32.map((r) => r.heapPeak));
  const peak = (d) => MB(Math.max(...c[d].map((r) => r.heapPeak)));
  goal('f16 memory / f32: peak wasm heap of load + first trace (packed weights beside)', '≤ x0.5',
    c && `heap ${xr(h)} (${num(peak('f16'))} / ${num(peak('f32'))} MB); packed weights ${xr(w)} (${num(MB(c.f16[0].weightBytes))} / ${num(MB(c.f32[0].weightBytes))} MB)`,
    h <= 0.5, CMD.wasm);
  goal('f16 download / f32 (model.safetensors)', '≤ x0.5',
    F && `${xr(F.f16 / F.f32)} (${num(MB(F.f16))} / ${num(MB(F.f32))} MB)`, F && F.f16 / F.f32 <= 0.505, CMD.wasm);
  const pairs = [['forward 32', 'forward 32'], ['forward 128', 'forward 128'], ['trace 32', 'trace 32 (warm cache)']]
    .map(([l, op]) => [l, engineOp('f16', op) && perRound(engineOp('f16', op).cpu, engineOp('f32', op).cpu)]);
  if (E?.gen) pairs.push(['generation step', perRound(E.gen.f16.cpu, E.gen.f32.cpu)]);
  const have = pairs.filter(([, p]) => p);
  goal('f16 time / f32 time', '≤ x1.25',
    have.length ? have.map(([l, p]) => `${l} ${xr(median(p))}${range(p)}`).join('; ') : null,
    have.every(([, p]) => median(p) <= 1.25), CMD.wasm);
}

// Search, load, memory.
{
  const s = E?.search?.f32;
  goal('Keyword search over 36,864 value vectors (river, water; top 20 with their top tokens)', '< 100 ms',
    s && `${num(median(s.search.cpu), 1)} ms CPU${msRange(s.search.cpu)} (f16: ${num(median(E.search.f16?.search.cpu ?? []), 1)} ms); ` +
      `one-off prepareSearch ${num(s.prepare.cpu)} ms (f16 ${num(E.search.f16?.prepare.cpu)} ms)`,
    median(s?.search.cpu ?? []) < 100, CMD.wasm);
  const c = E?.cold;
  const tot = (d) => c[d].map((r) => r.loadMs + r.traceMs);
  goal('Node: load, bytes in memory -> first trace, f32 checkpoint, packing included', '< 1 s',
    c && `${num(median(tot('f32')))} ms wall${msRange(tot('f32'))} (load ${num(median(c.f32.map((r) => r.loadMs)))} + first trace ` +
      `${num(median(c.f32.map((r) => r.traceMs)))}; module start ${num(median(c.f32.map((r) => r.startMs)))} ms not included); as f16: ${num(median(tot('f16')))} ms`,
    c && median(tot('f32')) < 1000, CMD.wasm);
  const peak = c && Math.max(...c.f16.map((r) => r.heapPeak));
  goal('Peak wasm heap, f16, load + first trace', '< 400 MB',
    c && `${num(MB(peak))} MB (${num(peak / 2 ** 20)} MiB); f32: ${num(MB(Math.max(...c.f32.map((r) => r.heapPeak))))} MB`, peak < 400e6, CMD.wasm);
}

// ------------------------------------------------------------------------------------------ markdown
const runLine = (s) => {
  const m = META[s];
  if (!m) return '';
  const built = s !== 'native' && m.wasmBuilt ? ` (dist/wasm built ${new Date(m.wasmBuilt).toISOString().slice(11, 16)})` : '';
  return `_${s}: ${m.start.slice(0, 16).replace('T', ' ')} UTC, commit ${m.commit}${built}, ${m.cpu}, ${m.cores} cores, Node ${m.node}, ` +
    `load average ${m.loadavgStart[0].toFixed(1)} -> ${m.loadavgEnd[0].toFixed(1)}${m.quick ? ', **--quick**' : ''}._`;
};

function goalsBlock(goals, sections) {
  const met = goals.filter((g) => g.met === true).length, measured = goals.filter((g) => g.met !== null).length;
  const timing = sections.includes('browser')
    ? ['with the range of the per-round ratios; wall time in the page (performance.now()).']
    : ['with the range of the per-round ratios. Wall time for the comparisons (ort_bench) and cold loads, process CPU time',
      'for the warm single-thread operations of engine_wasm_bench (so that time descheduled on the shared cores does not count).'];
  return [
    `**${met} of ${measured} measured goals met**${measured < goals.length ? ` (${goals.length} in all)` : ''}. Every ratio is "how many times faster" or`,
    '"how many times the time", taken within one run between operations measured alternately; figures are medians,',
    ...timing,
    '',
    '| goal | target | measured | | command |',
    '|---|---|---|---|---|',
    ...goals.map((g) => `| ${g.name} | ${g.target} | ${g.measured} | ${g.met === null ? '—' : g.met ? 'met' : '**not met**'} | ${g.cmd} |`),
    '',
    ...sections.map(runLine).filter(Boolean).flatMap((l) => [l, '']),
  ].join('\n').trimEnd();
}

function engineBlock() {
  if (!E) return '_No results: `npm run bench -- wasm`._';
  const L = [runLine('wasm'), '', `Warm operations: median CPU ms over ${E.rounds} rounds (wall in brackets); ratios per round to the forward pass of the same rounds.`, '',
    '| operation | f32 | f16 | f32 time / forward 32 | f16 time / f32 time |', '|---|---|---|---|---|'];
  for (const name of Object.keys(E.engine?.f32 ?? {})) {
    const a = E.engine.f32[name], b = E.engine.f16[name], fw = E.engine.f32['forward 32'];
    const pf = perRound(a.cpu, fw.cpu), p16 = perRound(b.cpu, a.cpu);
    L.push(`| ${name} | ${num(median(a.cpu))} (${num(median(a.wall))}) | ${num(median(b.cpu))} (${num(median(b.wall))}) | ` +
      `${name === 'forward 32' ? '' : xr(median(pf)) + range(pf)} | ${xr(median(p16))}${range(p16)} |`);
  }
  if (E.gen) {
    const p = perRound(E.gen.f16.cpu, E.gen.f32.cpu);
    L.push(`| generation step, 32-token context | ${num(median(E.gen.f32.cpu))} (${num(median(E.gen.f32.wall))}) | ` +
      `${num(median(E.gen.f16.cpu))} (${num(median(E.gen.f16.wall))}) | | ${xr(median(p))}${range(p)} |`);
  }
  if (E.search) {
    const s = (d) => E.search[d];
    L.push(`| search river,water (limit 20, top 10 tokens each) | ${num(median(s('f32').search.cpu))} | ${num(median(s('f16').search.cpu))} | | |`);
    L.push(`| search, no top tokens | ${num(median(s('f32').searchNoTokens.cpu))} | ${num(median(s('f16').searchNoTokens.cpu))} | | |`);
    L.push(`| prepareSearch, once per model | ${num(s('f32').prepare.cpu)} (${num(s('f32').prepare.wall)}) | ${num(s('f16').prepare.cpu)} (${num(s('f16').prepare.wall)}) | | |`);
  }
  if (E.vtokens) {
    const v = E.vtokens;
    L.push('', `Top tokens of 120 value vectors (f32, \`valueVectors\`): ${num(median(v.cold.cpu))} ms when not cached, ${num(median(v.warm.cpu), 2)} ms cached` +
      (v.fill ? `; background fill ${num(v.fill.cpu / v.fill.vectors, 2)} ms per vector (all ${v.fill.total}: ~${num((v.fill.cpu / v.fill.vectors) * v.fill.total / 1000)} s).` : '.'));
  }
  if (E.cold) {
    L.push('', `Cold: a fresh Node process per run (${E.cold.f32.length} per dtype), the f32 checkpoint's bytes in memory -> model -> first trace; medians, wall ms (CPU in brackets).`, '',
      '| load as | module start | load (packing included) | first trace | load + first trace | peak wasm heap | packed weights |', '|---|---|---|---|---|---|---|');
    for (const d of ['f32', 'f16']) {
      const c = E.cold[d], m = (k) => median(c.map((r) => r[k]));
      L.push(`| ${d} | ${num(m('startMs'))} | ${num(m('loadMs'))} (${num(m('loadCpu'))}) | ${num(m('traceMs'))} (${num(m('traceCpu'))}) | ` +
        `${num(median(c.map((r) => r.loadMs + r.traceMs)))} | ${num(MB(Math.max(...c.map((r) => r.heapPeak))))} MB | ${num(MB(m('weightBytes')))} MB |`);
    }
  }
  if (F) L.push('', `Checkpoint files: f32 ${num(MB(F.f32))} MB, f16 (\`lmdbg convert\`) ${num(MB(F.f16))} MB (x${num(F.f16 / F.f32, 3)}).`);
  return L.join('\n');
}

const BLABEL = {
  fwd1: '1-token forward, all logits', fwd32: '32-token forward, all logits', fwd128: '128-token forward, all logits',
  gen: 'generation step, 32-token prompt (per token)', load: 'load: bytes in memory -> model',
  trace1: 'first trace, 32 tokens (value index empty)', trace2: 'repeated trace, 32 tokens',
};
function browserBlock() {
  if (!B) return '_No results: `npm run bench -- browser`._';
  const cands = ['lmdbg-1t', 'ort-1t', 'lmdbg-simd-1t', 'lmdbg-2t', 'ort-2t', 'lmdbg-simd-2t', 'lmdbg-base-1t', 'lmdbg-base-2t']
    .filter((c) => Object.values(B.results).some((r) => r[c]));
  const pages = Object.entries(B.pages).map(([p, i]) => `${p}: ${i.wasm.map((u) => u.split('/').pop()).join(', ')}`).join('; ');
  const L = [runLine('browser'), '',
    `Chromium ${B.browser} (headless), onnxruntime-web ${B.ort} (wasm EP). Median wall ms per call over ${B.rounds} rounds, ` +
      '[min-max] of all samples below it. lmdbg-Nt is the package\'s own choice of build (relaxed SIMD here), lmdbg-simd-Nt the plain SIMD build ' +
      `in a page of its own. Builds loaded: ${pages}.`, '',
    `| workload | ${cands.join(' | ')} |`, `|---|${cands.map(() => '---|').join('')}`];
  for (const [w, by] of Object.entries(B.results))
    L.push(`| ${BLABEL[w] ?? w} | ${cands.map((c) => (by[c] ? `${num(by[c].median)}<br>[${num(by[c].min)}-${num(by[c].max)}]` : '')).join(' | ')} |`);
  L.push('', 'Ratios (how many times faster the first is; range of the per-round ratios):', '', '| workload | pair | ratio |', '|---|---|---|');
  for (const r of B.ratios) L.push(`| ${BLABEL[r.workload] ?? r.workload} | ${r.a} vs ${r.b}${r.bWorkload !== r.workload ? ` (${BLABEL[r.bWorkload]})` : ''} | ${xr(r.ratio)} (${xr(r.min)}-${xr(r.max)}) |`);
  L.push('', 'Correctness before timing (lmdbg vs onnxruntime-web, every position\'s logits): ' +
    B.checks.map((c) => `${c.page} T=${c.T}: max |diff| ${c.maxAbsDiff.toExponential(1)}, same argmax ${c.sameArgmax}`).join('; ') + '.');
  return L.join('\n');
}

const LABEL = {
  prompt32: '32-token prompt, last-position logits', prompt128: '128-token prompt, last-position logits',
  pass1: '1-token pass, empty cache', step32: 'generation step, 32-token KV cache (per token)',
  prompt32all: '32-token prompt, all logits', prompt128all: '128-token prompt, all logits',
};
function compareBlock() {
  if (!O) return '_No results: `npm run bench -- ort`._';
  const cands = ['lmdbg-1t', 'lmdbg-2t', 'ort-1t', 'ort-2t', 'ggml-1t'].filter((c) => Object.values(O.results).some((r) => r[c]));
  const L = [runLine('ort'), '', `onnxruntime-web ${O.ort} (wasm EP). Median wall ms per call over ${O.rounds} rounds; "x" = how many times faster lmdbg is, per-round range in brackets.`, '',
    `| workload | ${cands.join(' | ')} | ratios |`, `|---|${cands.map(() => '---|').join('')}---|`];
  for (const [w, by] of Object.entries(O.results)) {
    const rs = O.ratios.filter((r) => r.workload === w && r.a.startsWith('lmdbg') && !r.b.startsWith('lmdbg') && r.a.slice(-2) === r.b.slice(-2));
    L.push(`| ${LABEL[w] ?? w} | ${cands.map((c) => num(by[c]?.wall)).join(' | ')} | ` +
      rs.map((r) => `${r.b}/${r.a} ${xr(r.ratio)} (${xr(r.min)}-${xr(r.max)})`).join('; ') + ' |');
  }
  L.push('', 'Correctness before timing (32-token prompt, against lmdbg-1t): ' +
    O.checks.map((c) => `${c.phase} ${c.candidate} ${c.maxAbsDiff !== undefined ? `max |logit diff| ${c.maxAbsDiff.toExponential(1)}, ` : ''}same argmax: ${c.sameArgmax}`).join('; ') + '.');
  for (const n of O.notes ?? []) L.push('', `Note: ${n}`);
  return L.join('\n');
}

// Google Benchmark JSON: the median aggregate when there were repetitions, else the single run.
function gbRows(j) {
  const rows = new Map();
  for (const b of j?.benchmarks ?? []) {
    const name = b.run_name ?? b.name;
    if (b.run_type === 'aggregate' ? b.aggregate_name === 'median' : !rows.has(name)) rows.set(name, b);
  }
  return rows;
}
function nativeEngineBlock() {
  if (!NE) return '_No results: `npm run bench -- native`._';
  const L = [runLine('native'), '', 'Google Benchmark (`build/lmdbg_bench --benchmark_filter=^Engine_`), the same checkpoint, one thread, AVX2/FMA/F16C, Release (-O3); median CPU ms. (Debian\'s libbenchmark warns that it was built as DEBUG: that is the harness, not the code timed.)', '',
    '| benchmark | storage | CPU ms | wall ms |', '|---|---|---|---|'];
  const label = { Load: 'load (bytes -> packed model)', Forward: 'forward, T-token prompt', Trace: 'full trace, T-token prompt',
    GenerateStep: 'generation step, 32-token context', SearchStats: 'prepareSearch (search statistics)', Search: 'search river,water' };
  for (const [name, b] of gbRows(NE)) {
    const [fn, st, T] = name.replace(/\/iterations:\d+/, '').split('/');
    const k = b.time_unit === 'ms' ? 1 : b.time_unit === 'us' ? 1e-3 : b.time_unit === 'ns' ? 1e-6 : 1e3;
    const l = label[fn.replace('Engine_', '')] ?? fn;
    L.push(`| ${l.replace('T', T ?? '')} | ${st === '16' ? 'f16' : 'f32'} | ${num(b.cpu_time * k)} | ${num(b.real_time * k)} |`);
  }
  return L.join('\n');
}
function nativeKernelsBlock() {
  if (!NK) return '_No results: `npm run bench -- native`._';
  const rows = gbRows(NK), g = (impl, s) => rows.get(`${impl}/${s}`)?.FLOPS / 1e9;
  // In the order of kernels_bench.cpp's gpt2_shapes (the JSON follows the random interleaving).
  const KN = ['768/2304', '768/768', '768/3072', '3072/768', '768/50257'];
  const key = (s) => { const [M, K, N] = s.match(/\d+/g); return Number(M) * 10 + KN.indexOf(`${K}/${N}`); };
  const shapes = [...rows.keys()].filter((k) => k.startsWith('Gemm/f32/')).map((k) => k.slice('Gemm/f32/'.length))
    .sort((a, b) => key(a) - key(b));
  const L = [runLine('native'), '', 'This run, GFLOP/s per CPU second, medians:', '',
    '| shape | ours f32 | ours f16 | XNNPACK f32 | ours f32 / XNNPACK |', '|---|---|---|---|---|'];
  for (const s of shapes) L.push(`| ${s.replace(/[MKN]:/g, (m) => m[0] + '=').replace(/\//g, ' ')} | ${num(g('Gemm/f32', s), 1)} | ${num(g('Gemm/f16', s), 1)} | ${num(g('Xnnpack/f32', s), 1)} | ${xr(g('Gemm/f32', s) / g('Xnnpack/f32', s))} |`);
  return L.join('\n');
}

// A block whose results are missing (its section never ran here) keeps what the page has.
let doc = readFileSync(docPath, 'utf8');
for (const [name, have, block] of [['goals-browser', B, () => goalsBlock(browserGoals, ['browser'])],
  ['goals', E || O || F || NE, () => goalsBlock(goals, ['wasm', 'ort', 'native'])], ['browser', B, browserBlock],
  ['engine', E, engineBlock], ['compare', O, compareBlock], ['native-engine', NE, nativeEngineBlock], ['native-kernels', NK, nativeKernelsBlock]]) {
  if (!have) continue;
  const re = new RegExp(`(<!-- generated:${name} -->\\n)[\\s\\S]*?(<!-- /generated:${name} -->)`);
  if (!re.test(doc)) throw new Error(`docs/BENCHMARKS.md has no <!-- generated:${name} --> ... <!-- /generated:${name} --> block`);
  doc = doc.replace(re, (_, a, b) => `${a}${block()}\n${b}`);
}
writeFileSync(docPath, doc);
console.error(`\nwrote ${path.relative(root, docPath)}; raw results in ${path.relative(root, outDir)}/`);
for (const g of [...browserGoals, ...goals]) console.error(`${g.met === null ? '  -  ' : g.met ? ' met ' : ' NOT '} ${g.name}: ${g.measured}`);
