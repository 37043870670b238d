import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { RingstateClient as RingstateClientClass } from '../../../client-sdk/src/index.ts';
import { FakeServer } from './helpers/fake-server.ts';

const directory = await mkdtemp(join(tmpdir(), 'ringstate-bundle-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

describe('client-sdk browser bundle', () => {
  it('browser bundle - builds without Node built-ins and the bundled client completes a handshake', async () => {
    // A variable specifier keeps TypeScript from type-checking the plain .mjs script.
    const scriptPath: string = pathToFileURL(join(import.meta.dirname, '../../../client-sdk/scripts/build-browser.mjs')).href;
    const script = (await import(scriptPath)) as { buildBrowserBundle(outfile: string): Promise<number> };
    const outfile = join(directory, 'ringstate-client.js');

    const bytes = await script.buildBrowserBundle(outfile);
    expect(bytes).toBeGreaterThan(10_000);

    // The bundle carries its own yjs, which warns when a second copy loads into one process;
    // expected here, since this test process already holds the source build.
    const originalError = console.error;
    console.error = (...args: unknown[]) => {
      if (!String(args[0]).startsWith('Yjs was already imported')) originalError(...args);
    };
    const bundle = await import(pathToFileURL(outfile).href).finally(() => {
      console.error = originalError;
    }) as { RingstateClient: typeof RingstateClientClass };
    const server = new FakeServer();
    const client = new bundle.RingstateClient({ url: 'ws://bundle.test/v1/ws', token: 'bob', WebSocket: server.WebSocket });
    await client.connect();
    expect(await client.send('player', 'bob', { type: 'move' })).toEqual({ seq: 1, duplicate: false });
    client.close();
  }, 30_000);
});
