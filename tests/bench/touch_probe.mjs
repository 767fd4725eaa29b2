// What touching fresh memory costs on this machine, in Chromium: a wasm memory grown by 512 MB, one write
// per 4 KiB page (the floor of any load that places ~500 MB of weights in a wasm heap), and fresh
// Float32Arrays the size of a 32- and a 128-token forward's logits filled by copy, against a reused one.
// Usage: node tests/bench/touch_probe.mjs   (docs/BENCHMARKS.md, "What this machine allows")
import { launch } from '../e2e/lib.mjs';
const { context, close } = await launch('touchprobe');
const page = await context.newPage();
await page.goto('about:blank');
const r = await page.evaluate(() => {
  const med = (t) => { t.sort((a, b) => a - b); return +t[t.length >> 1].toFixed(2); };
  const out = {};
  const grow = [];
  for (let i = 0; i < 3; i++) {
    const mem = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
    mem.grow(8192);  // 512 MB
    const b = new Uint8Array(mem.buffer);
    const t0 = performance.now();
    for (let j = 0; j < b.length; j += 4096) b[j] = 1;
    grow.push(performance.now() - t0);
  }
  out['touch 512 MB of grown wasm memory, ms'] = med(grow);
  out['per 4 KiB page, us'] = +(out['touch 512 MB of grown wasm memory, ms'] * 1000 / (512 * 256)).toFixed(2);
  const time = (f) => { for (let i = 0; i < 3; i++) f(); const t = []; for (let i = 0; i < 15; i++) { const t0 = performance.now(); f(); t.push(performance.now() - t0); } return med(t); };
  for (const T of [32, 128]) {
    const src = new Float32Array(T * 50257).fill(1);
    const mb = (src.byteLength / 2 ** 20).toFixed(1);
    out[`fresh ${mb} MB array (${T}-token logits), filled by copy, ms`] = time(() => src.slice());
    const reuse = new Float32Array(src.length);
    out[`reused ${mb} MB array, filled by copy, ms`] = time(() => { reuse.set(src); return reuse; });
  }
  return out;
});
console.log(JSON.stringify(r, null, 1));
await close();
