// q8 against f32 on held-out text, through the package (Node): every position's logits of both, compared.
//
//   /usr/bin/python3 weights_tools/prepare_corpus.py --node-modules node_modules --out /tmp/corpus.json
//   npm run build:wasm:single && npm run build:js
//   node tests/bench/q8_accuracy.mjs --corpus /tmp/corpus.json [--model DIR] [--q8 DIR] [--docs N] [--window T]
//
// --model: the f32 reference (default: the bundled demo model); --q8: a folder from `lmdbg convert --dtype q8`
// loaded with dtype 'q8' (default: --model loaded with dtype 'q8', which is the same model bitwise,
// tests/native/q8_test.cpp). Text: the first --docs held-out documents of the corpus (default 5 of the
// 25 Brown held-out files), tokenized, cut into windows of --window tokens (default the model's n_ctx).
// Reported: top-1 agreement over all positions, the largest |logit difference|, KL(f32 || q8) of the
// next-token distributions (mean and max over positions), and the perplexity of each on the text.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LMDebugger } from '../../dist/index.js';
import { options } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { opt } = options(process.argv.slice(2));
const modelDir = path.resolve(opt('--model', path.join(root, 'demo/public/models/lmdbg-mini')));
const q8Dir = opt('--q8', null);
const corpus = opt('--corpus', null);
if (!corpus) throw new Error('--corpus FILE is required (see the header of this file)');
const nDocs = Number(opt('--docs', '5'));

const ref = await LMDebugger.load(modelDir, { cache: false });
const q8 = await LMDebugger.load(q8Dir ? path.resolve(q8Dir) : modelDir, { dtype: 'q8', cache: false });
const T = Number(opt('--window', String(ref.config.nCtx)));
const V = ref.config.dVocab;

// Row r of a [T, V] logits array: max, log-sum-exp and the probabilities (in double).
function softmax(d, r, p) {
  let m = -Infinity;
  for (let i = 0; i < V; i++) m = Math.max(m, d[r * V + i]);
  let s = 0;
  for (let i = 0; i < V; i++) s += p[i] = Math.exp(d[r * V + i] - m);
  for (let i = 0; i < V; i++) p[i] /= s;
  return m + Math.log(s);
}
const pa = new Float64Array(V), pb = new Float64Array(V);

const docs = JSON.parse(readFileSync(corpus, 'utf8')).heldout.slice(0, nDocs);
let positions = 0, agree = 0, maxErr = 0, klSum = 0, klMax = 0, nllRef = 0, nllQ8 = 0, predicted = 0;
for (const doc of docs) {
  const ids = await ref.tokenize(doc);
  for (let s = 0; s + 2 <= ids.length; s += T) {
    const w = ids.slice(s, s + T);
    const a = (await ref.runWithCache(w, { names: ['hook_embed'] })).logits.data;
    const b = (await q8.runWithCache(w, { names: ['hook_embed'] })).logits.data;
    for (let t = 0; t < w.length; t++) {
      let ia = 0, ib = 0;
      for (let i = 0; i < V; i++) {
        const x = a[t * V + i], y = b[t * V + i];
        maxErr = Math.max(maxErr, Math.abs(x - y));
        if (x > a[t * V + ia]) ia = i;
        if (y > b[t * V + ib]) ib = i;
      }
      agree += ia === ib;
      // KL(pa || pb) = sum pa (log pa - log pb) = sum pa (a - b) - lse_a + lse_b.
      const lsea = softmax(a, t, pa), lseb = softmax(b, t, pb);
      let kl = lseb - lsea;
      for (let i = 0; i < V; i++) kl += pa[i] * (a[t * V + i] - b[t * V + i]);
      klSum += kl;
      klMax = Math.max(klMax, kl);
      if (t + 1 < w.length) {
        nllRef -= Math.log(pa[w[t + 1]]);
        nllQ8 -= Math.log(pb[w[t + 1]]);
        predicted++;
      }
      positions++;
    }
  }
}
const report = {
  model: path.relative(root, modelDir),
  q8: q8Dir ? path.relative(root, path.resolve(q8Dir)) : "dtype 'q8' at load",
  docs: docs.length,
  window: T,
  positions,
  top1Agreement: agree / positions,
  maxAbsLogitError: maxErr,
  klMean: klSum / positions,
  klMax,
  perplexityF32: Math.exp(nllRef / predicted),
  perplexityQ8: Math.exp(nllQ8 / predicted),
};
console.log(JSON.stringify(report, null, 1));
await ref.dispose();
await q8.dispose();
