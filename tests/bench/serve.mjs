// Node only (common.mjs is also served to the page): the static server of the Chromium benchmarks.
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };
const BENCH_PAGE = '<!doctype html><meta charset="utf-8"><title>lmdbg bench</title><script type="module" src="/bench/browser_page.mjs"></script>';

// A cross-origin isolated static server on 127.0.0.1 (COOP same-origin + COEP require-corp: threads need
// SharedArrayBuffer): `/` is the bench page (browser_page.mjs), mounts map URL prefixes to a folder or a
// list of folders (the first prefix that matches wins; in a list, the first folder holding the file).
// Resolves to the listening http.Server.
export function serveIsolated(mounts) {
  const server = http.createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-store',
    };
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
      res.end(BENCH_PAGE);
      return;
    }
    const mount = Object.keys(mounts).find((m) => url.pathname.startsWith(m));
    const rel = mount ? decodeURIComponent(url.pathname.slice(mount.length)) : '';
    const file = (mount ? [mounts[mount]].flat() : [])
      .map((dir) => ({ dir, f: path.join(dir, rel) }))
      .find(({ dir, f }) => f.startsWith(dir) && existsSync(f) && statSync(f).isFile())?.f;
    if (!file) {
      res.writeHead(404, headers);
      res.end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
