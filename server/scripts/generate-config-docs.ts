/**
 * Writes docs/configuration.md from the config schema, so the docs cannot drift from the code.
 * `npm run docs:config` regenerates it; test/unit/config/config-docs.test.ts fails when stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/docs.ts';

const target = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
writeFileSync(target, renderConfigDocs());
console.log(`wrote ${target}`);
