// Where the page's main thread spends a workload's time: a CPU profile (Chrome DevTools protocol) of
// lmdbg in headless Chromium, through the package as browser_bench.mjs runs it. Prints self time per
// function (the top 25) and writes the .cpuprofile (DevTools' Performance panel opens it).
//
//   node tests/bench/browser_profile.mjs [--workload fwd32] [--threads 1] [--reps 10] [--model DIR]
//                                        [--wasm-dir DIR] [--out FILE]
//
// Workloads: fwd1, fwd32, fwd128, gen (browser_bench.mjs's, after a warm-up; gen's profile also holds
// the untimed prompt pass before its steps), trace1 (a fresh model's
// first trace; not warmed up: V8 compiles what runs first) and trace2 (its repeat). The main thread
// only: with threads, the Workers' share shows as the caller's wait in parallel_for_impl.
// Function names need a wasm that keeps its name section: build one with -DLMDBG_KEEP_NAMES=ON into
// its own folder and pass it as --wasm-dir, e.g. for the package's choice in Chromium (relaxed):
//   emcmake cmake -S . -B build-wasm-names -G Ninja -DCMAKE_BUILD_TYPE=Release -DLMDBG_RELAXED=ON \
//     -DLMDBG_THREADS=ON -DLMDBG_KEEP_NAMES=ON -DLMDBG_WASM_OUT=$PWD/build/wasm-names
//   cmake --build build-wasm-names --target lmdbg_wasm
// (and the same without -DLMDBG_THREADS=ON for one thread). Files missing there come from dist/wasm.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../e2e/lib.mjs';
import { options } from './common.mjs';
import { serveIsolated } from './serve.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { opt } = options(process.argv.slice(2));
const workload = opt('--workload', 'fwd32');
const threads = Number(opt('--threads', '1'));
const reps = Number(opt('--reps', '10'));
const modelDir = path.resolve(opt('--model', path.join(root, 'build/bench-models/gpt2-small')));
const wasmDir = opt('--wasm-dir', null);
const out = path.resolve(opt('--out', path.join(root, `build/bench-results/profile-${workload}-${threads}t.cpuprofile`)));
if (!['fwd1', 'fwd32', 'fwd128', 'gen', 'trace1', 'trace2'].includes(workload)) throw new Error(`no workload ${workload}`);
if (!existsSync(path.join(modelDir, 'model.safetensors'))) throw new Error(`missing ${modelDir}/model.safetensors (see browser_bench.mjs)`);

// The names folder first; what it lacks comes from dist/wasm.
const mounts = {
  ...(wasmDir ? { '/dist/wasm/': [path.resolve(wasmDir), path.join(root, 'dist/wasm')] } : {}),
  '/dist/': path.join(root, 'dist'),
  '/model/': modelDir,
  '/bench/': path.join(root, 'tests/bench'),
};
const server = await serveIsolated(mounts);
const { context, close } = await launch('bench');
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/?threads=${threads}&ort=0`);
  await page.waitForFunction(() => window.benchReady);
  const info = await page.evaluate(() => window.bench.setup());
  console.log(`${threads} thread(s), ${info.wasm.join(', ')}`);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 }); // µs
  let ms;
  if (workload.startsWith('trace')) {
    await page.evaluate(() => window.bench.freshModel());
    if (workload === 'trace2') await page.evaluate(() => window.bench.traceFresh());
    await cdp.send('Profiler.start');
    ms = [await page.evaluate(async () => { const t0 = performance.now(); await window.bench.traceFresh(); return performance.now() - t0; })];
  } else {
    await page.evaluate(([w]) => window.bench.run('lmdbg', w, 3), [workload]); // warm-up: V8's tiers
    await cdp.send('Profiler.start');
    ms = await page.evaluate(([w, n]) => window.bench.run('lmdbg', w, n), [workload, reps]);
  }
  const { profile } = await cdp.send('Profiler.stop');
  writeFileSync(out, JSON.stringify(profile));
  const sorted = [...ms].sort((a, b) => a - b);
  console.log(`${workload}: ${ms.length} run(s), median ${sorted[sorted.length >> 1].toFixed(1)} ms (wall, while profiled)`);
  // Self time per function name (sampled intervals attributed to the sample's leaf).
  const node = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const f = node.get(id).callFrame;
    const name = f.functionName || `(${f.url.split('/').pop() || 'anonymous'})`;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`${(t / 1000 / ms.length).toFixed(2).padStart(9)} ms/run ${((100 * t) / total).toFixed(1).padStart(5)}%  ${name.slice(0, 110)}`);
  console.log(`profile: ${out}`);
} finally {
  await close();
  server.close();
}
