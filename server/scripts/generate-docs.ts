/**
 * Regenerates the reference docs that are derived from code: docs/configuration.md (config
 * schema) and docs/errors.md (shared error codes). Tests fail when a committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigDocs } from '../src/config/docs.ts';
import { renderErrorDocs } from '../src/gateway/error-docs.ts';

for (const [file, render] of [
  ['configuration.md', renderConfigDocs],
  ['errors.md', renderErrorDocs],
] as const) {
  const target = fileURLToPath(new URL(`../../docs/${file}`, import.meta.url));
  writeFileSync(target, render());
  console.log(`wrote ${target}`);
}
