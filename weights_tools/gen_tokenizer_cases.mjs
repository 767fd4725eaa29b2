#!/usr/bin/env node
// Generates tests/fixtures/tokenizer_cases.json: strings and their GPT-2 token ids, from js-tiktoken's
// "gpt2" encoding (the oracle), cross-checked against gpt-3-encoder (a port of OpenAI's encoder.py).
//
//   node weights_tools/gen_tokenizer_cases.mjs [out.json]
//
// Format: {"encoding":"gpt2",
//          "cases":[{"text":"...","ids":[...]}, ...],          // encoded with special tokens NOT allowed
//                                                              // ("<|endoftext|>" is plain text)
//          "special_cases":[{"text":"...","ids":[...]}, ...]}  // "<|endoftext|>" allowed -> 50256
// Everything is deterministic (fixed seeds), so re-running gives the same file.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getEncoding } from 'js-tiktoken';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const out = process.argv[2] ?? path.join(root, 'tests', 'fixtures', 'tokenizer_cases.json');
const require = createRequire(import.meta.url);
const gpt3 = require('gpt-3-encoder');
const enc = getEncoding('gpt2');

// ---- deterministic PRNG (mulberry32) ----
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (r, arr) => arr[Math.floor(r() * arr.length)];

// ---- hand-written cases ----
const fixed = [
  // basics
  '', 'a', ' ', 'Hello world', 'Hello, world!', ' Hello', 'hello', 'HELLO WORLD', 'The quick brown fox jumps over the lazy dog.',
  'GPT-2 is a language model.', 'Mr. Smith went to Washington.', 'e.g. i.e. etc.', 'A', 'Z', 'x y z',
  // whitespace runs
  '  ', '   ', '    ', '\n', '\n\n', '\n\n\n', ' \n', '\n ', ' \n ', 'a  b', 'a   b', 'a    b', 'a \n b', 'a\n\nb',
  'a\n\n\nb', 'a   ', '   a', 'a\n', '\na', 'a \n', 'a\n \n b', '\t', '\ta', 'a\tb', 'a\t\tb', '\t\t\tx', ' \t x',
  '\r\n', 'a\r\nb', 'line1\r\nline2\r\n', '\u00a0', 'a\u00a0b', 'a \u00a0b', '\u3000', 'a\u3000b', 'a\u2003b',
  'x\u2028y', 'x\u2029y', '\u000b\u000c', 'a\u000bb', '\u001c\u001d\u001e\u001f', 'a\u0085b', 'a\u200bb',
  '\ufeffBOM', 'a\u180eb', 'a\u202fb', 'a\u205fb', '\u1680x', '\u2000\u2001\u2002\u200a', '  \u00a0 x',
  'end with spaces  ', 'end with newline\n', 'indented\n    code\n        more', '\n\n\n\n\n\n\n\n\n\n',
  ' '.repeat(17) + 'x', 'a' + ' '.repeat(33),
  // contractions
  "don't", "DON'T", "Don't", "I'm", "I'M", "we'll", "WE'LL", "they're", "THEY'RE", "you've", "YOU'VE", "it's", "IT'S",
  "It'S", "he'd", "HE'D", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", "''", "'''s", "' s", "rock 'n' roll",
  "y'all", "o'clock", "John's book", "the students' books", "’s curly", "don’t", "I've been there, we'd go, you'll see",
  "'sss", "'tis", "'reading", "'llama", "'d'd'd", " 's", "x's'", "O'Neil's",
  // digits and numbers
  '0', '123', '1234567890', ' 42', '3.14159', '1,000,000', '2024-01-15', '12:30:45', '+1 (555) 123-4567', '$1.99',
  '100%', '1e-5', '0x1F', 'abc123def', '12abc', 'a1b2c3', '٠١٢٣٤٥٦٧٨٩', '۱۲۳۴۵', 'सन् १९४७', '১২৩', '๑๒๓',
  '１２３４５', 'x²+y³', '½ ¾ ⅓', 'Ⅻ Ⅳ', '①②③', '٣ apples', '𝟘𝟙𝟚', '߁߂', '〇一二', '፩፪',
  // emoji
  '😀', '😀😀😀', 'hello 😀 world', '👍🏽', '👍🏿👍🏻', '👨‍👩‍👧‍👦', '👩🏽‍💻', '🏳️‍🌈', '🏴‍☠️', '🇺🇸', '🇺🇸🇯🇵🇩🇪', '❤️', '❤', '1️⃣',
  '#️⃣', '🫠', '🧑‍🤝‍🧑', '✨ sparkle ✨', '🙂🙃', ' 🎉', '🎉 ',
  // scripts
  '你好，世界', '日本語のテキストです。', 'カタカナ', '한국어 텍스트', 'GPT-2は言語モデルです', 'مرحبا بالعالم', 'שלום עולם',
  'עִבְרִית', 'Привет, мир!', 'Γειά σου Κόσμε', 'สวัสดีชาวโลก', 'नमस्ते दुनिया', 'हिन्दी', 'தமிழ்', 'ქართული', 'Հայերեն',
  'ሰላም', 'Tiếng Việt', 'Türkçe ığüşöç', 'Straße', 'Ærøskøbing', 'ǅemal', 'ﬁne ﬂow', 'x\u200fy', '\u202eRTL override',
  // combining marks
  'e\u0301', 'Ame\u0301lie', 'cafe\u0301', 'n\u0303', 'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u0334\u0335\u031c\u0330\u0354L\u0328\u0357\u0361\u0358G\u0327\u0325O',
  '\u0301', ' \u0301', 'a\u20dd', 'क्ष', 'ไม้',
  // control characters
  '\u0000', 'a\u0000b', 'a\u0001b', '\u007f', '\u001b[31mred\u001b[0m', '\u0080\u009f', 'tab\tand\bbackspace', '\u0007bell',
  // special token text (plain here)
  '<|endoftext|>', 'a<|endoftext|>b', '<|endoftext|><|endoftext|>', '<|endoftext|', 'endoftext|>', '<|endoftext|> hi',
  ' <|endoftext|>', 'text\n<|endoftext|>\nmore', '<|im_start|>', '<|',
  // symbols, code, markup
  '!!!', '...', '?!?!', '---', '___', '***', '//', '/*', '#include <stdio.h>', 'int main() { return 0; }',
  'def f(x):\n    return x ** 2\n', 'if (a && b || !c) {}', '<div class="x">hi</div>', '{"key": [1, 2, 3]}',
  'https://example.com/path?query=1&b=2#frag', 'user@example.com', 'C:\\Windows\\System32', '~/.bashrc',
  '∑ᵢ xᵢ² ≤ ∞', 'α β γ', '→ ← ↔', '© ® ™', '€£¥₹', '“quoted”', '‘single’', '— – -', '…', '«»', '¿Qué?', '¡Hola!',
  '|||', '^_^', ':-)', '<3', '#hashtag', '@mention', '$$$', '%%', '&&', '==', '!=', '>=', '<=>',
  // mixed
  'The price is $42.50 (20% off) — buy now!!! 😀\n\nThanks, 日本',
  "It's 2024; we're 100% sure they'll win 3-0 :)",
  'Ünïcödé   mixed\tscripts: русский, 中文, العربية, 123, ١٢٣',
];

// ---- natural text (nlp-corpus, MIT) ----
const natural = [];
{
  const docs = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'nlp-corpus', 'builds', 'doc-0.json'), 'utf8'));
  for (let i = 0; i < docs.length && natural.length < 150; i += 3) natural.push(docs[i]);
}

// ---- random mixes from a palette of interesting pieces ----
const palette = [
  ' ', ' ', ' ', '  ', '\n', '\n\n', '\t', '\r\n', '\u00a0', '\u3000', "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
  "'S", "'LL", 'a', 'the', 'The', 'ing', 'tion', 'Hello', 'WORLD', 'x', 'é', 'e\u0301', 'ß', 'ñ', '0', '7', '42', '٣',
  '१', '１', '½', '²', '.', ',', '!', '?', '-', '—', '(', ')', '"', '“', '#', '$', '%', '<|endoftext|>', '<', '|', '>',
  '😀', '👍🏽', '👨‍👩‍👧', '🇯🇵', '❤️', '中', '文', 'の', '한', 'ب', 'ש', 'ж', 'λ', 'ก', 'न', '्', '\u0301', '\u200b',
  '\u200d', '\ufe0f', '\u0000', '\u001b', '\u007f', '\u0085', '𝐀', '𝟘', '\u2028', '\u000b',
];
const randoms = [];
{
  const r = rng(12345);
  for (let i = 0; i < 250; i++) {
    const n = 1 + Math.floor(r() * 24);
    let s = '';
    for (let j = 0; j < n; j++) s += pick(r, palette);
    randoms.push(s);
  }
}

// ---- long strings ----
const long = [];
{
  const r = rng(777);
  let s = '';
  while (s.length < 40000) {
    s += pick(r, natural);
    s += pick(r, [' ', ' ', '\n', '\n\n', '  ', ' ' + pick(r, palette) + ' ', '\t']);
  }
  long.push(s);
  long.push('Supercalifragilisticexpialidocious'.repeat(120));  // one 4 kB "word"
  long.push('a'.repeat(5000));
  long.push('0123456789'.repeat(300));
  long.push('!?'.repeat(1500));
  long.push(' '.repeat(3000) + 'x' + ' '.repeat(3000));
  long.push('\n'.repeat(2000));
  long.push('日本語'.repeat(700));
  long.push('😀'.repeat(500));
  let w = '';
  while (w.length < 3000) w += pick(r, ['ab', 'ba', 'the', 'an', 'ing', 'x', 'qu', 'e', 'st', 'ion']);
  long.push(w);
}

const special = [
  '<|endoftext|>', 'a<|endoftext|>b', '<|endoftext|><|endoftext|>', 'Hello world<|endoftext|>', '<|endoftext|>Hello world',
  'first doc\n\n<|endoftext|>\n\nsecond doc', 'x  <|endoftext|>  y', '<|endoftext|', ' <|endoftext|> ', "it's<|endoftext|>'s",
  'no special token here', '', '<|endoftext|>\n', 'a \n<|endoftext|>',
];

// js-tiktoken's decode() drops a leading BOM (TextDecoder's default); check round trips without that.
const keepBom = new TextDecoder('utf-8', { ignoreBOM: true });
const decodeKeepBom = (ids) => keepBom.decode(Buffer.concat(ids.map((id) => enc.textMap.get(id))));

// ---- build, cross-check the two oracles ----
const seen = new Set();
const cases = [];
let disagreements = 0;
for (const text of [...fixed, ...natural, ...randoms, ...long]) {
  if (seen.has(text)) continue;
  seen.add(text);
  const ids = enc.encode(text, [], []);
  const other = gpt3.encode(text);
  if (ids.length !== other.length || ids.some((v, i) => v !== other[i])) {
    disagreements++;
    console.warn('js-tiktoken and gpt-3-encoder disagree on', JSON.stringify(text.slice(0, 80)));
  }
  if (decodeKeepBom(ids) !== text) throw new Error('js-tiktoken does not round-trip ' + JSON.stringify(text));
  cases.push({ text, ids });
}
const special_cases = special.map((text) => ({ text, ids: enc.encode(text, 'all') }));

let json = '{"encoding":"gpt2",\n"cases":[\n';
json += cases.map((c) => JSON.stringify(c)).join(',\n');
json += '\n],\n"special_cases":[\n';
json += special_cases.map((c) => JSON.stringify(c)).join(',\n');
json += '\n]}\n';
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, json);
console.log(`wrote ${out}: ${cases.length} cases, ${special_cases.length} special cases, ` +
            `${disagreements} disagreements between js-tiktoken and gpt-3-encoder`);
