// The package in Chromium (Debian's /usr/bin/chromium driven by playwright-core): Cache Storage,
// the Worker host, Files, and a Vite build of an app that imports the package.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: { include: ['tests/js/browser/*.test.js'], environment: 'node', testTimeout: 120_000, hookTimeout: 120_000, fileParallelism: false },
});
