// Vitest for the npm package, in Node, against the built dist/ (npm run build:js) and dist/wasm.
// The browser suite (browser/) and the packed-tarball suite (pack/) have their own configs.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['tests/js/*.test.js'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
