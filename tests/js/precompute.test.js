// LoadOptions.precompute: idle-time search statistics and value-vector index. It must change
// nothing but speed: every result equals the one of a model loaded without it.
import { describe, it, expect, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { lmdbg, modelDir, distIndex } from './helpers.js';

const { LMDebugger } = await lmdbg();
const PROMPT = 'The old man walked to the river';

async function until(cond, what, ms = 60000) {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('precompute (main-thread host)', () => {
  const open = [];
  afterAll(async () => Promise.all(open.map((d) => d.dispose())));
  const load = async (options) => {
    const d = await LMDebugger.load(modelDir('l4-f32'), options);
    open.push(d);
    return d;
  };

  it('off by default: nothing is indexed until a call needs it, then only what it needed', async () => {
    const d = await load();
    await new Promise((r) => setTimeout(r, 300));
    let m = await d.memory();
    expect(m.valueIndex).toEqual({ filled: 0, total: 4 * 256 });
    expect(m.searchReady).toBe(false);
    await d.trace(PROMPT, { subUpdates: 3, valueTopK: 5 });
    m = await d.memory();
    expect(m.valueIndex.filled).toBeGreaterThan(0);
    expect(m.valueIndex.filled).toBeLessThanOrEqual(12);
  });

  it('fills the search statistics and every value vector when idle; results are unchanged', async () => {
    const plain = await load();
    const pre = await load({ precompute: true });
    await until(async () => {
      const m = await pre.memory();
      return m.searchReady && m.valueIndex.filled === m.valueIndex.total;
    }, 'precompute to finish');
    const opts = { positions: 'all', valueTopK: 10, subUpdates: 10 };
    expect(await pre.trace(PROMPT, opts)).toEqual(await plain.trace(PROMPT, opts));
    expect(await pre.search(['river', 'old'], { limit: 10 })).toEqual(await plain.search(['river', 'old'], { limit: 10 }));
    // (Idle time goes on to clusters, which the plain model has not: compare the rest.)
    const { cluster: _c, ...vv } = await pre.valueVector(3, 17, { topK: 16 });
    expect(vv).toEqual(await plain.valueVector(3, 17, { topK: 16 }));
  });

  it('then, without value_clusters.json, computes the clusters, with progress', async () => {
    const pre = await load({ precompute: true });
    await expect(pre.cluster(0)).rejects.toThrow(/no clusters/);
    const seen = [];
    await until(async () => {
      seen.push((await pre.memory()).clusters);
      return seen.at(-1) === 1;
    }, 'the clusters');
    // (Small here: a slice or two. tests/native/session_test.cpp checks the steps themselves.)
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    expect(seen[0]).toBeGreaterThanOrEqual(0);
    const v = await pre.valueVector(3, 17, { topK: 5 });
    expect(v.cluster.computed).toBe(true);
    const c = await pre.cluster(v.cluster.id, { members: 1024 });
    expect(c.members.map((m) => m.name)).toContain('L3D17');
    expect(c.size).toBe(c.members.length);
    expect(c.topTokens.length).toBe(10);
  });

  it('calls keep working while it runs, and dispose stops it', async () => {
    const pre = await load({ precompute: true });
    const want = await (await load()).trace(PROMPT);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 120)); // let a slice run in between
      expect(await pre.trace(PROMPT)).toEqual(want);
    }
    await pre.dispose();
    await new Promise((r) => setTimeout(r, 300)); // a pending slice must find the model gone quietly
    await expect(pre.memory()).rejects.toThrow(/disposed/);
  });

  it('rejects a non-boolean, and never keeps Node alive', async () => {
    await expect(LMDebugger.load(modelDir('l4-f32'), { precompute: 'yes' })).rejects.toThrow(/precompute must be true or false/);
    const script = `const { LMDebugger } = await import(${JSON.stringify(distIndex)});
      const d = await LMDebugger.load(${JSON.stringify(path.resolve(modelDir('l4-f32')))}, { precompute: true });
      console.log((await d.trace('The river')).positions.length);
      console.log(JSON.stringify(process.getActiveResourcesInfo()));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
    expect(r.stderr).toBe('');
    const [n, resources] = r.stdout.trim().split('\n');
    expect(n).toBe('1');
    expect(JSON.parse(resources)).not.toContain('Timeout'); // its pending slice is unref'd
    expect(r.status).toBe(0); // exited by itself (a timeout would leave status null)
  });
});
