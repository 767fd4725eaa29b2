#!/usr/bin/env node
// Tokenizes the prepared demo-model corpus with the exact GPT-2 BPE (js-tiktoken's "gpt2" encoding).
//   node weights_tools/tokenize_corpus.mjs <corpus.json> <outdir>
// corpus.json is written by weights_tools/prepare_corpus.py: {"train": [doc...], "valid": [...], "heldout": [...]}.
// Writes <outdir>/train.bin, valid.bin and heldout.bin: little-endian uint16 token ids, every document
// preceded by <|endoftext|> (50256), the way GPT-2's training data was packed.
import fs from "node:fs";
import path from "node:path";
import { getEncoding } from "js-tiktoken";

const [corpusPath, outDir] = process.argv.slice(2);
if (!corpusPath || !outDir) {
  console.error("usage: node tokenize_corpus.mjs <corpus.json> <outdir>");
  process.exit(2);
}
const EOT = 50256;
const enc = getEncoding("gpt2");
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
fs.mkdirSync(outDir, { recursive: true });
const summary = {};
for (const split of ["train", "valid", "heldout"]) {
  const docs = corpus[split];
  const chunks = [];
  let total = 0;
  for (const doc of docs) {
    const ids = enc.encode(doc);
    const arr = new Uint16Array(ids.length + 1);
    arr[0] = EOT;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] > 65535) throw new Error("token id does not fit uint16");
      arr[i + 1] = ids[i];
    }
    chunks.push(arr);
    total += arr.length;
  }
  const all = new Uint16Array(total);
  let off = 0;
  for (const c of chunks) { all.set(c, off); off += c.length; }
  // write little-endian explicitly
  const buf = Buffer.alloc(total * 2);
  for (let i = 0; i < total; i++) buf.writeUInt16LE(all[i], i * 2);
  fs.writeFileSync(path.join(outDir, `${split}.bin`), buf);
  summary[split] = { docs: docs.length, tokens: total };
}
console.log(JSON.stringify(summary));
