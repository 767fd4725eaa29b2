// The package in Chromium (Debian's /usr/bin/chromium driven by playwright-core): Cache Storage,
// the Worker host, Files, and a Vite build of an app that imports the package.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  // Chromium validates relaxed SIMD and so runs lmdbg-relaxed*.wasm; the Node side, whose traces the
  // page's must equal bitwise, runs the same builds with the flag (same CPU: the same FMA).
  test: { include: ['tests/js/browser/*.test.js'], environment: 'node', testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false,
    execArgv: ['--experimental-wasm-relaxed-simd'] },
});
