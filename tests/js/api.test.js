// Every debugger entry point against the PyTorch reference (tests/fixtures/ref), through the public
// API of the built package, with the native tolerance (1e-4, max abs).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { lmdbg, modelDir, readModelFiles, readReference, readSafetensors, maxAbsDiff, TOL, ids, tinyGpt2 } from './helpers.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const { LMDebugger } = await lmdbg();

function near(got, want, what) {
  const d = Math.abs(got - want);
  if (!(d <= TOL)) throw new Error(`${what}: got ${got}, want ${want} (diff ${d.toExponential(2)})`);
}

/** Compares a top-k list with the reference: the same ids in the same order, values within TOL. */
function sameList(got, want, what, keys = ['logit', 'prob']) {
  expect(ids(got).slice(0, want.length), what).toEqual(ids(want));
  want.forEach((w, i) => {
    for (const k of keys) if (w[k] !== undefined && w[k] !== null) near(got[i][k], w[k], `${what}[${i}].${k}`);
  });
}

for (const variant of ['l4-f32', 'l2-f16']) {
  describe(`${variant}: debugger vs PyTorch reference`, () => {
    let dbg;
    const { meta, tensors } = readReference(variant);
    const caseIds = (name) => meta.cases.find((c) => c.name === name).ids;
    beforeAll(async () => {
      dbg = await LMDebugger.load(modelDir(variant));
    });
    afterAll(() => dbg?.dispose());

    it('config', () => {
      expect(dbg.config).toMatchObject({ nLayers: meta.n_layer, dVocab: meta.vocab_size, dModel: 64, nHeads: 4, dHead: 16, dMlp: 256, nCtx: 64 });
    });

    it('tokenize / decode / toStrTokens on the reference cases', async () => {
      for (const c of meta.cases) {
        expect(await dbg.tokenize(c.text)).toEqual(c.ids);
        expect(await dbg.decode(c.ids)).toBe(c.text);
        const strs = await dbg.toStrTokens(c.text);
        expect(strs.length).toBe(c.ids.length);
        if (!strs.some((s) => s.includes('\uFFFD'))) expect(strs.join('')).toBe(c.text);
      }
    });

    it('logit lens before/after (with and without ln_f) and the predicted-token curve', async () => {
      let worst = 0;
      for (const ref of meta.lens) {
        const t = await dbg.trace(caseIds(ref.case), { topK: 10, rawLens: true });
        expect(t.schema).toBe('lmdbg.trace/1');
        const p = t.positions.at(-1);
        expect(p.position).toBe(ref.position);
        for (const rl of ref.layers) {
          const l = p.layers[rl.layer];
          expect(l.layer).toBe(rl.layer);
          sameList(l.before, rl.before, `${ref.case} L${rl.layer} before`);
          sameList(l.after, rl.after, `${ref.case} L${rl.layer} after`);
          sameList(l.rawBefore, rl.rawBefore, `${ref.case} L${rl.layer} rawBefore`, ['logit']);
          sameList(l.rawAfter, rl.rawAfter, `${ref.case} L${rl.layer} rawAfter`, ['logit']);
          for (const k of ['before', 'after']) worst = Math.max(worst, ...rl[k].map((w, i) => Math.abs(l[k][i].logit - w.logit)));
        }
        const pred = meta.predicted.find((x) => x.case === ref.case);
        expect(p.predicted.id).toBe(pred.id);
        near(p.prediction[0].logit, pred.logit, 'prediction logit');
        near(p.prediction[0].prob, pred.prob, 'prediction prob');
        for (const pl of pred.layers) {
          expect(p.layers[pl.layer].predictedRank.after).toBe(pl.rank);
          near(p.layers[pl.layer].predictedProb.after, pl.prob, `predictedProb L${pl.layer}`);
        }
      }
      console.log(`${variant} lens maxdiff ${worst.toExponential(2)}`);
    });

    it('sub-updates: top-10 by |m|·||v||, signed coefficient, norm, direct effect, S*', async () => {
      let worst = 0;
      for (const ref of meta.subUpdates) {
        const t = await dbg.trace(caseIds(ref.case), { subUpdates: 10, valueTopK: 0 });
        const p = t.positions.at(-1);
        expect(p.predicted.id).toBe(ref.pred);
        for (const rl of ref.layers) {
          const l = p.layers[rl.layer];
          near(l.maxScore, rl.maxScore, `${ref.case} L${rl.layer} maxScore`);
          expect(l.subUpdates.map((s) => s.index)).toEqual(rl.top.map((s) => s.index));
          rl.top.forEach((w, i) => {
            const s = l.subUpdates[i];
            expect(s.name).toBe(`L${rl.layer}D${w.index}`);
            expect(s.topTokens).toBeUndefined();
            for (const k of ['coef', 'norm', 'score', 'direct']) {
              near(s[k], w[k], `${ref.case} L${rl.layer} ${s.name}.${k}`);
              worst = Math.max(worst, Math.abs(s[k] - w[k]));
            }
          });
        }
      }
      console.log(`${variant} sub-updates maxdiff ${worst.toExponential(2)}`);
    });

    it('interventions (off/set/scale/add/pre/on, positions, several at once): argmax, clean comparison and logits', async () => {
      let worst = 0;
      for (const iv of meta.interventions) {
        const c = caseIds(iv.case);
        const t = await dbg.trace(c, { interventions: iv.interventions });
        const p = t.positions.at(-1);
        expect(p.predicted.id, iv.name).toBe(iv.argmax);
        expect(p.clean.changed, iv.name).toBe(iv.changed);
        expect(t.interventions.length).toBe(iv.interventions.length);
        for (const r of iv.resolvedOn ?? []) {
          const got = t.resolvedInterventions.find((x) => x.layer === r.layer && x.index === r.index);
          expect(got.mode).toBe('pre');
          near(got.value, r.preValue, `${iv.name} resolved on`);
        }
        const cache = await dbg.runWithCache(c, { names: ['hook_embed'], interventions: iv.interventions });
        const d = maxAbsDiff(cache.logits.data, tensors[`${iv.name}.logits`].data);
        worst = Math.max(worst, d);
        expect(d, `${iv.name} logits`).toBeLessThan(TOL);
      }
      console.log(`${variant} intervention logits maxdiff ${worst.toExponential(2)}`);
    });

    it('runWithCache: every hook of every case vs the hook dumps', async () => {
      let worst = 0;
      for (const c of meta.cases) {
        const cache = await dbg.runWithCache(c.ids);
        const T = c.ids.length;
        expect(cache.logits.dims).toEqual([T, meta.vocab_size]);
        worst = Math.max(worst, maxAbsDiff(cache.logits.data, tensors[`${c.name}.logits`].data));
        const names = Object.keys(cache.hooks);
        expect(names.length).toBe(3 + 16 * meta.n_layer);
        for (const name of names) {
          const ref = tensors[`${c.name}.${name}`];
          expect(ref, name).toBeDefined();
          const h = cache.hooks[name];
          expect(h.dims, name).toEqual(ref.shape);
          expect(h.data).toBeInstanceOf(Float32Array);
          const d = maxAbsDiff(h.data, ref.data);
          worst = Math.max(worst, d);
          expect(d, `${c.name}.${name}`).toBeLessThan(TOL);
        }
      }
      console.log(`${variant} runWithCache maxdiff ${worst.toExponential(2)}`);
    });

    it('runWithCache: selected names only; unknown names are errors', async () => {
      const c = caseIds('c1');
      const cache = await dbg.runWithCache(c, { names: ['blocks.1.attn.hook_pattern', 'ln_final.hook_normalized'] });
      expect(Object.keys(cache.hooks)).toEqual(['blocks.1.attn.hook_pattern', 'ln_final.hook_normalized']);
      expect(cache.hooks['blocks.1.attn.hook_pattern'].dims).toEqual([4, c.length, c.length]);
      await expect(dbg.runWithCache(c, { names: ['blocks.9.hook_resid_pre'] })).rejects.toThrow(/unknown hook name/);
    });

    it('value vectors: norm and top/bottom tokens of wte·v', async () => {
      const got = await dbg.valueVectors(meta.valueVectors.map((v) => [v.layer, v.index]), { topK: 10 });
      meta.valueVectors.forEach((w, i) => {
        const v = got[i];
        expect([v.layer, v.index, v.name]).toEqual([w.layer, w.index, `L${w.layer}D${w.index}`]);
        near(v.norm, w.norm, `${v.name} norm`);
        sameList(v.top, w.top, `${v.name} top`, ['logit']);
        sameList(v.bottom, w.bottom, `${v.name} bottom`, ['logit']);
      });
      const one = await dbg.valueVector(meta.valueVectors[1].layer, meta.valueVectors[1].index, { topK: 3 });
      expect(one.top.length).toBe(3);
      expect(ids(one.top)).toEqual(ids(meta.valueVectors[1].top.slice(0, 3)));
      await expect(dbg.valueVector(meta.n_layer, 0)).rejects.toThrow(/layer/);
      await expect(dbg.valueVector(0, 256)).rejects.toThrow(/index|neuron/);
    });

    it('generate: greedy, with and without an intervention, matches the reference ids', async () => {
      for (const g of meta.generation) {
        const out = [];
        for await (const t of dbg.generate(g.prompt_ids, { maxNewTokens: g.new_ids.length, interventions: g.interventions, stopAtEndOfText: false })) out.push(t);
        expect(out.map((t) => t.id)).toEqual(g.new_ids);
        expect(out.map((t) => t.index)).toEqual(g.new_ids.map((_, i) => i));
        expect(out.map((t) => t.text).join('')).toBe(await dbg.decode(g.new_ids));
      }
    });
  });
}

describe('l4-f32: search, clusters, generation control', () => {
  let dbg;
  const st = readSafetensors(new Uint8Array(readFileSync(path.join(modelDir('l4-f32'), 'model.safetensors'))));
  const d = 64, V = 507, L = 4, M = 256;
  const wte = st['wte.weight'].data;
  const proj = (l) => st[`h.${l}.mlp.c_proj.weight`].data; // [M, d]
  beforeAll(async () => {
    dbg = await LMDebugger.load(modelDir('l4-f32'));
  });
  afterAll(() => dbg?.dispose());

  it('search ranks value vectors by the exact z-score of the keyword tokens (float64 recomputation)', async () => {
    // Population mean and covariance of the rows of wte.
    const mu = new Float64Array(d);
    for (let t = 0; t < V; t++) for (let j = 0; j < d; j++) mu[j] += wte[t * d + j] / V;
    const cov = new Float64Array(d * d);
    for (let t = 0; t < V; t++)
      for (let a = 0; a < d; a++) {
        const xa = wte[t * d + a] - mu[a];
        for (let b = 0; b < d; b++) cov[a * d + b] += (xa * (wte[t * d + b] - mu[b])) / V;
      }
    const res = await dbg.search(['river', 'children'], { limit: 8, topK: 5 });
    expect(res.schema).toBe('lmdbg.search/1');
    expect(res.keywords.map((k) => k.keyword)).toEqual(['river', 'children']);
    const cands = res.keywords.map((k) => ids(k.tokens));
    expect(cands[0]).toContain(408); // " river"
    const scored = [];
    for (let l = 0; l < L; l++)
      for (let i = 0; i < M; i++) {
        const v = proj(l).subarray(i * d, (i + 1) * d);
        let mean = 0, varr = 0;
        for (let a = 0; a < d; a++) {
          mean += mu[a] * v[a];
          for (let b = 0; b < d; b++) varr += v[a] * cov[a * d + b] * v[b];
        }
        const sd = Math.sqrt(varr);
        let score = 0;
        for (const toks of cands) {
          let best = -Infinity;
          for (const t of toks) {
            let dot = 0;
            for (let a = 0; a < d; a++) dot += wte[t * d + a] * v[a];
            best = Math.max(best, (dot - mean) / sd);
          }
          score += best;
        }
        scored.push({ layer: l, index: i, score });
      }
    scored.sort((a, b) => b.score - a.score);
    expect(res.hits.length).toBe(8);
    res.hits.forEach((h, k) => {
      expect([h.layer, h.index], `hit ${k}`).toEqual([scored[k].layer, scored[k].index]);
      near(h.score, scored[k].score, `hit ${k} score`);
      expect(h.matched.map((m) => m.keyword)).toEqual(['river', 'children']);
      expect(h.topTokens.length).toBe(5);
    });
    // A comma-separated string is a keyword list.
    const again = await dbg.search('river, children', { limit: 8 });
    expect(again.hits.map((h) => h.name)).toEqual(res.hits.map((h) => h.name));
    await expect(dbg.search([])).rejects.toThrow(/keyword/);
  });

  it('clusters: loadClusters, valueVector(...).cluster and cluster(id) with the summed vector\'s top tokens', async () => {
    const k = 8;
    const assignment = Array.from({ length: L * M }, (_, j) => (j * 7) % k);
    await expect(dbg.cluster(0)).rejects.toThrow(/no clusters/);
    await dbg.loadClusters({ schema: 'lmdbg.clusters/1', nLayers: L, dMlp: M, k, assignment });
    const c = await dbg.cluster(3, { topK: 5, members: 1000 });
    const members = assignment.map((a, j) => [a, j]).filter(([a]) => a === 3).map(([, j]) => j);
    expect(c.id).toBe(3);
    expect(c.size).toBe(members.length);
    expect(c.members.map((m) => m.layer * M + m.index)).toEqual(members);
    const sum = new Float64Array(d);
    for (const j of members) for (let a = 0; a < d; a++) sum[a] += proj(Math.floor(j / M))[(j % M) * d + a];
    const logits = Array.from({ length: V }, (_, t) => {
      let s = 0;
      for (let a = 0; a < d; a++) s += wte[t * d + a] * sum[a];
      return { id: t, logit: s };
    }).sort((a, b) => b.logit - a.logit);
    sameList(c.topTokens, logits.slice(0, 5), 'cluster top tokens', ['logit']);
    const v = await dbg.valueVector(0, 3);
    expect(v.cluster.id).toBe(assignment[3]);
    expect((await dbg.cluster(3, { members: 2 })).members.length).toBe(2);
    await expect(dbg.loadClusters('{"schema":"lmdbg.clusters/1","nLayers":2,"dMlp":256,"k":1,"assignment":[]}')).rejects.toThrow(/value_clusters.json: made for 2x256/);
  });

  it('trace options: positions, attention tensor, value top tokens; errors keep the engine message', async () => {
    const prompt = 'The old man walked to the river';
    const T = (await dbg.tokenize(prompt)).length;
    const all = await dbg.trace(prompt, { positions: 'all', topK: 3, attention: true });
    expect(all.positions.map((p) => p.position)).toEqual([...Array(T).keys()]);
    expect(all.positions[0].prediction.length).toBe(3);
    expect(all.attention.dims).toEqual([4, 4, T, T]);
    expect(all.attention.data).toBeInstanceOf(Float32Array);
    expect(all.attention.data.length).toBe(16 * T * T);
    const cache = await dbg.runWithCache(prompt, { names: ['blocks.2.attn.hook_pattern'] });
    const off = 2 * 4 * T * T;
    expect(maxAbsDiff(all.attention.data.subarray(off, off + 4 * T * T), cache.hooks['blocks.2.attn.hook_pattern'].data)).toBeLessThan(1e-6);
    const some = await dbg.trace(prompt, { positions: [0, 2], valueTopK: 4 });
    expect(some.positions.map((p) => p.position)).toEqual([0, 2]);
    expect(some.positions[0].layers[0].subUpdates[0].topTokens.length).toBe(4);
    expect(some.options.positions).toEqual([0, 2]);
    await expect(dbg.trace(prompt, { topk: 3 })).rejects.toThrow('trace options: unknown option "topk"');
    await expect(dbg.trace(prompt, { positions: [99] })).rejects.toThrow(/position/);
    await expect(dbg.trace([1, 99999])).rejects.toThrow(/token id 99999/);
    await expect(dbg.trace([1.5])).rejects.toThrow(/not an integer/);
    await expect(dbg.trace('x'.repeat(200))).rejects.toThrow(/exceeds the model/);
    await expect(dbg.trace(prompt, { interventions: [{ layer: 9, index: 0, mode: 'off' }] })).rejects.toThrow(/layer 9 out of range/);
    await expect(dbg.trace(prompt, { interventions: [{ layer: 0, index: 0, mode: 'zap' }] })).rejects.toThrow(/unknown mode/);
    const err = await dbg.trace('').catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/empty/);
    // Still usable.
    expect((await dbg.trace(prompt)).positions[0].position).toBe(T - 1);
  });

  it('results are copies: typed arrays do not view the wasm heap and survive heap growth', async () => {
    const c = await dbg.runWithCache('The old man', { names: ['blocks.0.mlp.hook_post'] });
    const h = c.hooks['blocks.0.mlp.hook_post'];
    const before = Float32Array.from(h.data);
    const heap0 = (await dbg.memory()).heapBytes;
    // Grow the heap: a big runWithCache on another model instance in the same module.
    const other = await LMDebugger.load(modelDir('l4-f32'));
    const big = [];
    for (let i = 0; i < 6; i++) big.push(await other.runWithCache('x '.repeat(30)));
    await other.dispose();
    expect(h.data.buffer.byteLength).toBe(h.data.byteLength); // its own buffer
    expect(h.data.byteLength).toBeGreaterThan(0);
    expect(Array.from(h.data)).toEqual(Array.from(before));
    expect((await dbg.memory()).heapBytes).toBeGreaterThanOrEqual(heap0);
  });

  it('generate: sampling is deterministic for a seed; stopAtEndOfText; maxNewTokens; end of context', async () => {
    const run = async (opts) => {
      const out = [];
      for await (const t of dbg.generate('The old man', opts)) out.push(t.id);
      return out;
    };
    const s1 = await run({ maxNewTokens: 12, sampling: { temperature: 1.5, topK: 50, seed: 7 } });
    const s2 = await run({ maxNewTokens: 12, sampling: { temperature: 1.5, topK: 50, seed: 7 } });
    expect(s1).toEqual(s2);
    expect(s1.length).toBe(12);
    const s3 = await run({ maxNewTokens: 12, sampling: { temperature: 1.5, seed: 8 } });
    expect(s3).not.toEqual(s1);
    expect(await run({ maxNewTokens: 0 })).toEqual([]);
    // The context is 64: a 60-token prompt leaves 4 steps.
    const ctxOut = [];
    for await (const t of dbg.generate(Array(60).fill(262), { maxNewTokens: 20, stopAtEndOfText: false })) ctxOut.push(t);
    expect(ctxOut.length).toBe(4);
    await expect(run({ sampling: { temperature: 0 } })).rejects.toThrow(/temperature/);
    await expect(run({ maxNewTokens: -1 })).rejects.toThrow(/maxNewTokens/);
  });

  it('generate: stops after <|endoftext|> unless told otherwise', async () => {
    // A synthetic model whose ln_f bias points at wte[506] (<|endoftext|>), so it always predicts it.
    const { config, weights } = tinyGpt2({
      vocabSize: 507,
      mutate: (ts) => {
        const wte = ts.find((t) => t.name === 'wte.weight').data;
        for (let a = 0; a < 8; a++) wte[506 * 8 + a] = a % 2 ? 2 : -2;
        const b = ts.find((t) => t.name === 'ln_f.bias').data;
        for (let a = 0; a < 8; a++) b[a] = wte[506 * 8 + a] * 10;
      },
    });
    const f = readModelFiles('l4-f32');
    const eot = await LMDebugger.load({ config, weights, vocab: f.vocab, merges: f.merges });
    try {
      const run = async (opts) => {
        const out = [];
        for await (const t of eot.generate('The old man', { maxNewTokens: 5, ...opts })) out.push(t);
        return out;
      };
      const stop = await run({});
      expect(stop.map((t) => t.id)).toEqual([506]);
      expect(stop[0].text).toBe('<|endoftext|>');
      expect((await run({ stopAtEndOfText: false })).map((t) => t.id)).toEqual([506, 506, 506, 506, 506]);
    } finally {
      await eot.dispose();
    }
  });

  it('generate: cancelled by an AbortSignal or by leaving the loop, without leaking wasm memory', async () => {
    const used0 = (await dbg.memory()).heapUsed;
    const ctl = new AbortController();
    const got = [];
    const err = await (async () => {
      for await (const t of dbg.generate('The old man', { maxNewTokens: 30, signal: ctl.signal })) {
        got.push(t);
        if (got.length === 3) ctl.abort();
      }
    })().catch((e) => e);
    expect(err?.name).toBe('AbortError');
    expect(got.length).toBe(3);
    // An abort from another task (a timer) lands between two steps.
    const ctl2 = new AbortController();
    let n = 0;
    setTimeout(() => ctl2.abort(), 5);
    const err2 = await (async () => {
      for await (const _ of dbg.generate('The old man', { maxNewTokens: 60, signal: ctl2.signal })) {
        n++;
        const t0 = Date.now();
        while (Date.now() - t0 < 2); // a slow consumer
      }
    })().catch((e) => e);
    expect(err2?.name).toBe('AbortError');
    expect(n).toBeLessThan(60);
    for await (const t of dbg.generate('The old man', { maxNewTokens: 30 })) if (t.index === 1) break;
    const aborted = new AbortController();
    aborted.abort();
    await expect(dbg.generate('x', { signal: aborted.signal }).next()).rejects.toMatchObject({ name: 'AbortError' });
    expect((await dbg.memory()).heapUsed).toBe(used0);
  });
});
