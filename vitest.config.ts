import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // test/ holds the project's tests by level; a game's aggregate tests may sit next to the
    // aggregate anywhere under server/ (server/example-game/arena.test.ts, docs/game-developers.md).
    include: ['test/**/*.test.ts', 'server/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/.git/**', 'server/dist/**'],
    setupFiles: ['server/src/polyfills.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real-socket and real-process tests bind ports and spawn nodes: keep parallelism modest on 2 cores.
    maxWorkers: 2,
    // Files run one at a time: the end-to-end files start real clusters and measure recovery
    // times, and two of them at once on 2 cores would measure each other.
    fileParallelism: false,
    reporters: ['default'],
  },
});
