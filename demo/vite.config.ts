// Vite build of the demo page (plain TypeScript + DOM) and of its <lm-debugger> element
// (demo/dist/lm-debugger.js, beside the page: the same views). `npm run build:demo` -> demo/dist/.
// The plugin below (1) lists the bundled models (models/manifest.json), (2) writes the service worker with
// the exact files to keep offline, and (3) keeps the CSP meta tag out of the dev server (HMR needs inline
// styles), so it applies to every build.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const publicDir = path.join(here, 'public');
// Overrides for trying another build of the package or writing the site elsewhere (default: dist/, demo/dist/).
const pkgDist = process.env.LMDBG_PACKAGE_DIST ? path.resolve(process.env.LMDBG_PACKAGE_DIST) : path.join(repo, 'dist');
const outDir = process.env.LMDBG_DEMO_OUT ? path.resolve(process.env.LMDBG_DEMO_OUT) : path.join(here, 'dist');
const MODEL_FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];
const OPTIONAL_FILES = ['value_clusters.json', 'README.md'];

interface Bundled { dir: string; files: Record<string, number> }

function bundledModels(): Bundled[] {
  const root = path.join(publicDir, 'models');
  if (!existsSync(root)) return [];
  const out: Bundled[] = [];
  for (const dir of readdirSync(root).sort()) {
    const d = path.join(root, dir);
    if (!statSync(d).isDirectory() || !MODEL_FILES.every((f) => existsSync(path.join(d, f)))) continue;
    const files: Record<string, number> = {};
    for (const f of [...MODEL_FILES, ...OPTIONAL_FILES]) if (existsSync(path.join(d, f))) files[f] = statSync(path.join(d, f)).size;
    out.push({ dir, files });
  }
  // lmdbg-mini first: it is the offline default.
  return out.sort((a, b) => Number(b.dir === 'lmdbg-mini') - Number(a.dir === 'lmdbg-mini'));
}

function listPublic(dir = publicDir, rel = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    const r = rel ? `${rel}/${name}` : name;
    if (r === 'models' || name.startsWith('.')) continue;
    if (statSync(p).isDirectory()) out.push(...listPublic(p, r));
    else out.push(r);
  }
  return out;
}

function lmdbgSite(): Plugin {
  let command: 'build' | 'serve' = 'build';
  return {
    name: 'lmdbg-site',
    enforce: 'post',
    configResolved(c) {
      command = c.command;
    },
    transformIndexHtml(html) {
      if (command === 'serve') return html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '');
      return html;
    },
    configureServer(server) {
      server.middlewares.use('/models/manifest.json', (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ models: bundledModels() }));
      });
    },
    generateBundle(_options, bundle) {
      const models = bundledModels();
      const manifest = JSON.stringify({ schema: 'lmdbg.site-models/1', models }, null, 1);
      this.emitFile({ type: 'asset', fileName: 'models/manifest.json', source: manifest });
      const shell = ['./', ...Object.keys(bundle).filter((f) => !f.endsWith('.map')), ...listPublic(), 'models/manifest.json'];
      const uniq = [...new Set(shell)].filter((f) => f !== 'index.html').sort();
      const modelFiles = models.flatMap((m) => Object.keys(m.files).map((f) => `models/${m.dir}/${f}`));
      // The version changes with any shell file name (hashed), the page, or the bundled model's bytes
      // (a retrained model of the same size must still replace the cached one).
      const hash = createHash('sha256');
      for (const f of uniq) hash.update(f);
      hash.update(manifest);
      for (const f of modelFiles) hash.update(readFileSync(path.join(publicDir, f)));
      const html = bundle['index.html'];
      if (html && html.type === 'asset') hash.update(String(html.source));
      const sw = readFileSync(path.join(here, 'sw/sw.js'), 'utf8')
        .replace('__LMDBG_VERSION__', hash.digest('hex').slice(0, 12))
        .replace('__LMDBG_SHELL__', JSON.stringify(uniq))
        .replace('__LMDBG_MODELS__', JSON.stringify(modelFiles));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: sw });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  publicDir,
  resolve: {
    alias: [{ find: /^lmdbg$/, replacement: path.join(pkgDist, 'index.js') }],
  },
  worker: { format: 'es' },
  // The site's element knows its full page ("Open in lmdbg"); the npm package's does not (vite.element.config.ts).
  define: { __LMDBG_SITE__: 'true' },
  build: {
    rollupOptions: {
      input: { main: path.join(here, 'index.html'), 'lm-debugger': path.join(here, 'src/element.ts') },
      // A stable name, for one <script type="module" src=".../lm-debugger.js"> in a blog post.
      output: { entryFileNames: (chunk) => (chunk.name === 'lm-debugger' ? 'lm-debugger.js' : 'assets/[name]-[hash].js') },
    },
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
  },
  server: { fs: { allow: [repo, pkgDist] } },
  plugins: [lmdbgSite()],
});
