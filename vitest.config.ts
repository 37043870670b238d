import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['server/src/polyfills.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real-socket and real-process tests bind ports and spawn nodes: keep parallelism modest on 2 cores.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
