// The npm package's <lm-debugger> (`import 'lmdbg/element'`): the demo's compact figure and its views
// (demo/src/element.ts), built into dist/element.js beside the package, which it imports as ./index.js
// (so one page holds one copy of the package). Run by `npm run build:js`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');

export default defineConfig({
  root: here,
  publicDir: false,
  logLevel: 'warn',
  define: { __LMDBG_SITE__: 'false' },
  build: {
    outDir: path.join(repo, 'dist'),
    emptyOutDir: false,
    target: 'es2022',
    minify: false,
    reportCompressedSize: false,
    lib: { entry: path.join(here, 'src/element.ts'), formats: ['es'], fileName: () => 'element.js' },
    rollupOptions: { external: ['lmdbg'], output: { paths: { lmdbg: './index.js' } } },
  },
});
