#!/usr/bin/env node
// A small static server for the built demo (no dependencies): correct MIME types (application/wasm),
// ETag/Last-Modified revalidation, byte ranges, long caching of hashed assets, no directory listings, no
// path traversal. Optionally mirrors a Hugging Face-style Hub under /_hub/ (same origin, for tests).
//
//   node demo/serve.mjs [--port 8787] [--host 127.0.0.1] [--root demo/dist] [--open] [--path '?m=bundled']
//                       [--hub-proxy http://127.0.0.1:9000 [--hub-rate BYTES_PER_SECOND]]
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.safetensors': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.webmanifest': 'application/manifest+json',
};

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(body);
}

function resolvePath(root, urlPath) {
  let p;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (p.includes('\0')) return null;
  const full = path.resolve(root, '.' + path.posix.normalize('/' + p));
  if (full !== root && !full.startsWith(root + path.sep)) return null;
  // No dotfiles (.git, .env, ...).
  if (path.relative(root, full).split(path.sep).some((s) => s.startsWith('.'))) return null;
  return full;
}

/** Paces a response to about `rate` bytes per second (simulates a slow network for the progress bar). */
function throttled(src, res, rate) {
  let sent = 0;
  const t0 = Date.now();
  src.on('data', (chunk) => {
    sent += chunk.length;
    res.write(chunk);
    const ahead = (sent / rate) * 1000 - (Date.now() - t0);
    if (ahead > 5) {
      src.pause();
      setTimeout(() => src.resume(), ahead);
    }
  });
  src.on('end', () => res.end());
  src.on('error', () => res.destroy());
}

function proxy(req, res, url, target, prefix, rate) {
  // Always the configured host: only the path and query come from the request.
  const upstream = new URL(target);
  upstream.pathname = url.pathname.slice(prefix.length - 1);
  upstream.search = url.search;
  const headers = {};
  for (const h of ['range', 'if-none-match', 'if-modified-since', 'accept']) if (req.headers[h]) headers[h] = req.headers[h];
  const up = httpRequest(upstream, { method: req.method, headers }, (r) => {
    const out = {};
    for (const [k, v] of Object.entries(r.headers)) {
      if (['connection', 'keep-alive', 'transfer-encoding'].includes(k)) continue;
      out[k] = v;
    }
    // Keep redirects on this origin.
    if (out.location) {
      const loc = new URL(out.location, upstream);
      if (loc.origin === new URL(target).origin) out.location = prefix.slice(0, -1) + loc.pathname + loc.search;
    }
    res.writeHead(r.statusCode ?? 502, out);
    // A connection the upstream drops midway is dropped here too (the client then resumes it).
    r.on('close', () => {
      if (!r.complete) res.destroy();
    });
    if (rate > 0) throttled(r, res, rate);
    else r.pipe(res);
  });
  up.on('error', (e) => send(res, 502, `hub proxy: ${e.message}\n`));
  up.end();
}

/** Starts the server; resolves to { server, url, close() }. */
export function startServer({ root = path.join(here, 'dist'), port = 8787, host = '127.0.0.1', hubProxy = null, hubRate = 0, log = false } = {}) {
  root = path.resolve(root);
  // The page's CSP (its meta tag) is also sent as a header: for pages, and for scripts, because a meta tag
  // does not reach a Worker (its policy comes from its own script's response). Embind glue built without
  // -sDYNAMIC_EXECUTION=0 creates functions with `new Function`, so the scripts' policy then allows eval.
  let csp = null;
  let scriptCsp = null;
  try {
    csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(readFileSync(path.join(root, 'index.html'), 'utf8'))?.[1] ?? null;
    const assets = path.join(root, 'assets');
    const needsEval = readdirSync(assets).some((f) => f.endsWith('.js') && /new Function\(/.test(readFileSync(path.join(assets, f), 'utf8')));
    scriptCsp = csp && needsEval ? csp.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'") : csp;
  } catch {
    /* no built page yet */
  }
  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
      console.error(e);
    }
  });
  function handle(req, res) {
    const started = Date.now();
    if (log) res.on('finish', () => console.log(`${res.statusCode} ${req.method} ${req.url} ${Date.now() - started}ms`));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD' });
    let url;
    try {
      // Parse the path only: a request target such as "//x" must not be read as a host.
      url = new URL(`http://localhost/${(req.url ?? '/').replace(/^\/+/, '')}`);
    } catch {
      return send(res, 400, 'bad request\n');
    }
    if (hubProxy && url.pathname.startsWith('/_hub/')) return proxy(req, res, url, hubProxy, '/_hub/', hubRate);
    let file = resolvePath(root, url.pathname);
    if (!file) return send(res, 400, 'bad path\n');
    let st;
    try {
      st = statSync(file);
      if (st.isDirectory()) {
        if (!url.pathname.endsWith('/')) return send(res, 301, '', { Location: url.pathname + '/' + url.search });
        file = path.join(file, 'index.html');
        st = statSync(file);
      }
    } catch {
      return send(res, 404, 'not found\n');
    }
    const type = MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const rel = path.relative(root, file).split(path.sep).join('/');
    const headers = {
      'Content-Type': type,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      ETag: etag,
      'Last-Modified': st.mtime.toUTCString(),
      'Accept-Ranges': 'bytes',
      // Hashed build assets never change; everything else revalidates (cheap 304s).
      'Cache-Control': rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    if (rel === 'sw.js') headers['Service-Worker-Allowed'] = '/';
    if (csp && type.startsWith('text/html')) headers['Content-Security-Policy'] = csp;
    else if (scriptCsp && type.startsWith('text/javascript')) headers['Content-Security-Policy'] = scriptCsp;
    if (req.headers['if-none-match'] === etag) return send(res, 304, '', headers);
    let start = 0, end = st.size - 1, status = 200;
    const range = req.headers.range && /^bytes=(\d*)-(\d*)$/.exec(req.headers.range);
    if (range && (range[1] || range[2])) {
      if (range[1]) {
        start = Number(range[1]);
        if (range[2]) end = Math.min(Number(range[2]), st.size - 1);
      } else {
        start = Math.max(0, st.size - Number(range[2]));
      }
      if (start > end || start >= st.size) return send(res, 416, '', { 'Content-Range': `bytes */${st.size}` });
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['Content-Length'] = String(st.size ? end - start + 1 : 0);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || st.size === 0) return res.end();
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }
  server.keepAliveTimeout = 2000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${a.port}/`;
      resolve({
        server,
        url,
        port: a.port,
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            server.closeAllConnections?.();
          }),
      });
    });
  });
}

function openBrowser(url) {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    const p = spawn(cmd, args, { stdio: 'ignore', detached: true });
    p.on('error', () => {});
    p.unref();
  } catch {
    /* no browser here: the URL is printed */
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
  };
  const port = Number(opt('port', process.env.PORT ?? 8787));
  const host = opt('host', '127.0.0.1');
  const root = path.resolve(opt('root', path.join(here, 'dist')));
  const pagePath = opt('path', '?m=bundled');
  try {
    statSync(path.join(root, 'index.html'));
  } catch {
    console.error(`No built demo in ${root}: run \`npm run build:demo\` first.`);
    process.exit(1);
  }
  const tryListen = async (p, attempts) => {
    try {
      return await startServer({ root, port: p, host, hubProxy: opt('hub-proxy', null), hubRate: Number(opt('hub-rate', 0)), log: args.includes('--log') });
    } catch (e) {
      if (e.code === 'EADDRINUSE' && attempts > 0) return tryListen(p + 1, attempts - 1);
      throw e;
    }
  };
  const s = await tryListen(port, 10);
  const pageUrl = new URL(pagePath, s.url).href;
  console.log(`lmdbg demo: ${pageUrl}`);
  console.log(`(serving ${path.relative(process.cwd(), root) || root}; Ctrl+C stops)`);
  if (args.includes('--open')) openBrowser(pageUrl);
}
