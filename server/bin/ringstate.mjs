#!/usr/bin/env node
// Runs the bundled server (npm run build). In a source checkout, `npx tsx server/src/cli.ts` works too.
await import('../dist/ringstate.mjs');
