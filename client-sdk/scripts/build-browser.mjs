#!/usr/bin/env node
/**
 * Builds the browser bundle: client-sdk/dist/ringstate-client.js, one minified ES module with
 * yjs and msgpackr inside, for <script type="module"> or any bundler-less page.
 *
 *   node client-sdk/scripts/build-browser.mjs
 *
 * Tests import `buildBrowserBundle` to build into a temporary directory.
 *
 * The core imports nothing from Node; with `platform: 'browser'` esbuild fails on any Node
 * built-in, and the check below also refuses a bundle that pulled in the Node file store.
 */
import { build } from 'esbuild';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdkRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const defaultOutfile = join(sdkRoot, 'dist', 'ringstate-client.js');

/** Builds the bundle to `outfile`; returns its size in bytes. Throws on a forbidden input. */
export async function buildBrowserBundle(outfile = defaultOutfile) {
  const result = await build({
    entryPoints: [join(sdkRoot, 'src', 'index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs);
  const forbidden = inputs.filter((input) => input.startsWith('node:') || input.endsWith('file-storage.ts'));
  if (forbidden.length > 0) throw new Error(`browser bundle must not include: ${forbidden.join(', ')}`);
  const output = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('.js'));
  return output?.[1].bytes ?? 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bytes = await buildBrowserBundle();
  console.log(`built ${relative(process.cwd(), defaultOutfile)} (${bytes} bytes)`);
}
