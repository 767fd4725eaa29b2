// The packed tarball: npm pack, install into an empty project (offline: no runtime dependencies),
// run the README example with plain node, and compile a strict TypeScript consumer.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('../../..', import.meta.url)),
  test: { include: ['tests/js/pack/*.test.js'], environment: 'node', testTimeout: 180_000, hookTimeout: 180_000 },
});
