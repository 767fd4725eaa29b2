// The package on the relaxed-SIMD builds (dist/wasm/lmdbg-relaxed*) in Node 20, which validates
// relaxed SIMD only with --experimental-wasm-relaxed-simd: the package then picks them by itself.
// Runs the reference checks of every entry point (api.test.js, the same tolerances as the plain
// build) and the bitwise agreement of thread counts within the build (threads.test.js).
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['tests/js/relaxed/*.test.js', 'tests/js/api.test.js', 'tests/js/threads.test.js'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    execArgv: ['--experimental-wasm-relaxed-simd'],
    maxWorkers: 2,
  },
});
