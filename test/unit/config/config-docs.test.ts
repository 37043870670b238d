import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigDocs } from '../../../server/src/config/docs.ts';
import { renderErrorDocs } from '../../../server/src/gateway/error-docs.ts';

const committed = (file: string): string => readFileSync(new URL(`../../../docs/${file}`, import.meta.url), 'utf8');

describe('generated docs', () => {
  it('docs - docs/configuration.md matches the config schema (run npm run docs:generate)', () => {
    expect(committed('configuration.md')).toBe(renderConfigDocs());
  });

  it('docs - docs/errors.md matches the shared error codes (run npm run docs:generate)', () => {
    expect(committed('errors.md')).toBe(renderErrorDocs());
  });
});
