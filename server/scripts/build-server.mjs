// Bundles the server CLI (our TypeScript, the client-sdk protocol and the example game) into
// server/dist/ringstate.mjs so production runs plain `node` without a TypeScript loader.
// npm dependencies stay external: several ship native binaries (uWebSockets.js, lmdb).
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const external = Object.keys(manifest.dependencies).filter((name) => !name.startsWith('@ringstate/'));

await build({
  entryPoints: [new URL('../src/cli.ts', import.meta.url).pathname],
  outfile: new URL('../dist/ringstate.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: [...external, 'lib0/*'],
  sourcemap: true,
  logLevel: 'info',
});
