// Are the machine's CPUs separate cores? One process of FP work alone, then two at once: SMT siblings
// (or an oversubscribed host) would give each of the pair well under the solo rate. Figures are
// multiply-adds per microsecond of process CPU time and of wall time (docs/BENCHMARKS.md, "What this
// machine allows"). Usage: node tests/bench/cores_probe.mjs [seconds per run, default 3]
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const secs = Number(process.argv[2] ?? 3);
if (process.argv[3] === '--child') {
  // 8 independent multiply-add chains: bound by FP throughput, not latency.
  let a0 = 1, a1 = 1.1, a2 = 1.2, a3 = 1.3, a4 = 1.4, a5 = 1.5, a6 = 1.6, a7 = 1.7;
  const m = 0.9999999, c = 1e-7;
  const cpu0 = process.cpuUsage(), t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < secs * 1000) {
    for (let i = 0; i < 1e6; i++) {
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    }
    n += 8e6;
  }
  const cu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;
  if (!Number.isFinite(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7)) process.exit(1);
  console.log(JSON.stringify({ cpu: Math.round(n / (cu.user + cu.system)), wall: Math.round(n / (wall * 1000)) }));
} else {
  const self = fileURLToPath(import.meta.url);
  const child = () => new Promise((resolve) => {
    let out = '';
    const p = spawn(process.execPath, [self, String(secs), '--child']);
    p.stdout.on('data', (d) => { out += d; });
    p.on('close', () => resolve(JSON.parse(out)));
  });
  console.log(`load average ${execFileSync('cat', ['/proc/loadavg']).toString().split(' ').slice(0, 3).join(' ')}`);
  for (let r = 1; r <= 2; r++) {
    const solo = await child();
    const pair = await Promise.all([child(), child()]);
    console.log(`round ${r}: alone ${solo.cpu} (wall ${solo.wall}); two at once ${pair.map((x) => `${x.cpu} (wall ${x.wall})`).join(' + ')} multiply-adds/us`);
  }
}
