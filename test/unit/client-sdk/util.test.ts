import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consoleLogger, fetchDevToken } from '../../../client-sdk/src/index.ts';
import { createCommandIdGenerator } from '../../../client-sdk/src/util/command-id.ts';
import { Emitter } from '../../../client-sdk/src/util/emitter.ts';

describe('client-sdk utilities', () => {
  it('emitter - on/once/off deliver typed payloads; a throwing listener does not stop the others', () => {
    const failures: unknown[] = [];
    const emitter = new Emitter<{ tick: number; done: undefined }>((error) => failures.push(error));
    const seen: string[] = [];
    const unlisten = emitter.on('tick', (n) => seen.push(`a${n}`));
    emitter.on('tick', () => {
      throw new Error('boom');
    });
    emitter.once('tick', (n) => seen.push(`once${n}`));
    emitter.on('done', () => seen.push('done'));

    emitter.emit('tick', 1);
    unlisten();
    unlisten();
    emitter.emit('tick', 2);
    emitter.emit('done', undefined);

    expect(seen).toEqual(['a1', 'once1', 'done']);
    expect(failures).toHaveLength(2);
    expect(emitter.listenerCount('tick')).toBe(1);
  });

  it('command ids - distinct per call, distinct prefixes per instance', () => {
    let n = 0;
    const next = createCommandIdGenerator((length) => Uint8Array.from({ length }, () => n++));
    const other = createCommandIdGenerator((length) => Uint8Array.from({ length }, () => n++));
    const ids = Array.from({ length: 1_000 }, () => next());
    expect(new Set(ids).size).toBe(1_000);
    expect(ids[0]).toBe('0001020304050607.1');
    expect(ids[999]).toBe('0001020304050607.rs');
    expect(other()).toBe('08090a0b0c0d0e0f.1');
  });

  it('command ids - the default generator uses crypto.getRandomValues', async () => {
    const { defaultRandomBytes } = await import('../../../client-sdk/src/util/command-id.ts');
    const bytes = defaultRandomBytes()(8);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes).toHaveLength(8);
  });

  it('logger - consoleLogger filters below its level', () => {
    const lines: unknown[][] = [];
    const original = console.info;
    console.info = (...args: unknown[]) => lines.push(args);
    try {
      consoleLogger('warn')('info', 'hidden');
      consoleLogger('debug')('info', 'shown', { a: 1 });
    } finally {
      console.info = original;
    }
    expect(lines).toEqual([['[ringstate] shown', { a: 1 }]]);
  });

  it('portability - the SDK core imports no Node built-ins (only storage/file-storage.ts may)', async () => {
    const root = join(import.meta.dirname, '../../../client-sdk/src');
    const offenders: string[] = [];
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const path = relative(root, join(entry.parentPath, entry.name));
      if (path === join('storage', 'file-storage.ts')) continue;
      const text = await readFile(join(root, path), 'utf8');
      const builtin = /^\s*(?:import|export)\b[^;]*?from\s+['"](?:node:|fs|path|os|events|crypto|net|tls|http|https|ws)['"/]/m;
      if (builtin.test(text)) offenders.push(path);
      if (/\bprocess\.|\bBuffer\./.test(text)) offenders.push(`${path} (process/Buffer)`);
    }
    expect(offenders).toEqual([]);
  });

  it('dev token - POSTs the player name to /v1/dev/token and returns the token', async () => {
    const calls: { url: string; init: RequestInit | undefined }[] = [];
    const fakeFetch = (async (url: string, init?: RequestInit) => {
      calls.push({ url, init });
      return new Response(JSON.stringify({ token: 'tok', expiresAtMs: 123 }), { status: 200 });
    }) as typeof fetch;
    expect(await fetchDevToken({ host: 'localhost:9001', player: 'alice', fetch: fakeFetch })).toEqual({
      token: 'tok',
      expiresAtMs: 123,
    });
    expect(calls[0]?.url).toBe('http://localhost:9001/v1/dev/token');
    expect(calls[0]?.init?.method).toBe('POST');
    expect(calls[0]?.init?.body).toBe('{"player":"alice"}');

    const refusing = (async () => new Response('not found', { status: 404 })) as typeof fetch;
    await expect(fetchDevToken({ host: 'h', player: 'a', fetch: refusing })).rejects.toMatchObject({
      code: 'AUTH_INVALID_TOKEN',
    });
  });
});
