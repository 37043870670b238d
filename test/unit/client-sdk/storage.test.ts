import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AsyncStorageAdapter, MemoryStorage, WebStorageAdapter } from '../../../client-sdk/src/index.ts';
import type { AsyncStorageLike, KeyValueStorage, WebStorageLike } from '../../../client-sdk/src/index.ts';
import { FileStorage } from '../../../client-sdk/src/storage/file-storage.ts';

class FakeWebStorage implements WebStorageLike {
  readonly items = new Map<string, string>();
  failWrites = false;
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    if (this.failWrites) throw new Error('QuotaExceededError');
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

class FakeAsyncStorage implements AsyncStorageLike {
  readonly items = new Map<string, string>();
  async getItem(key: string): Promise<string | null> {
    return this.items.get(key) ?? null;
  }
  async setItem(key: string, value: string): Promise<void> {
    this.items.set(key, value);
  }
  async removeItem(key: string): Promise<void> {
    this.items.delete(key);
  }
}

const directories: string[] = [];
async function temporaryFile(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'ringstate-sdk-'));
  directories.push(directory);
  return join(directory, 'nested', 'store.json');
}

afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

const backends: [string, () => Promise<KeyValueStorage>][] = [
  ['memory', async () => new MemoryStorage()],
  ['web storage', async () => new WebStorageAdapter(new FakeWebStorage())],
  ['async storage', async () => new AsyncStorageAdapter(new FakeAsyncStorage())],
  ['file', async () => new FileStorage(await temporaryFile())],
];

describe('client-sdk storage', () => {
  for (const [name, create] of backends) {
    it(`storage - ${name}: get/set/remove round-trip, absent keys read as undefined`, async () => {
      const storage = await create();
      expect(await storage.get('hosts')).toBeUndefined();
      await storage.set('hosts', '["a.example","b.example"]');
      await storage.set('other', 'x');
      expect(await storage.get('hosts')).toBe('["a.example","b.example"]');
      await storage.set('hosts', '[]');
      expect(await storage.get('hosts')).toBe('[]');
      await storage.remove('hosts');
      await storage.remove('never-set');
      expect(await storage.get('hosts')).toBeUndefined();
      expect(await storage.get('other')).toBe('x');
    });
  }

  it('storage - web and async adapters prefix keys with ringstate: (or a custom prefix)', async () => {
    const web = new FakeWebStorage();
    await new WebStorageAdapter(web).set('hosts', 'v');
    await new WebStorageAdapter(web, { prefix: 'game1/' }).set('hosts', 'w');
    expect([...web.items]).toEqual([
      ['ringstate:hosts', 'v'],
      ['game1/hosts', 'w'],
    ]);
    const native = new FakeAsyncStorage();
    await new AsyncStorageAdapter(native).set('hosts', 'v');
    expect([...native.items]).toEqual([['ringstate:hosts', 'v']]);
  });

  it('storage - web storage errors (quota, private mode) become rejected promises', async () => {
    const web = new FakeWebStorage();
    web.failWrites = true;
    await expect(new WebStorageAdapter(web).set('hosts', 'v')).rejects.toThrow('QuotaExceededError');
  });

  it('storage - WebStorageAdapter without localStorage in the environment throws a clear TypeError', () => {
    expect(() => new WebStorageAdapter()).toThrow(/no localStorage/);
  });

  it('storage - file: values survive a new FileStorage on the same path', async () => {
    const path = await temporaryFile();
    await new FileStorage(path).set('hosts', 'a,b');
    expect(await new FileStorage(path).get('hosts')).toBe('a,b');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ hosts: 'a,b' });
  });

  it('storage - file: concurrent writes apply in call order', async () => {
    const path = await temporaryFile();
    const storage = new FileStorage(path);
    await Promise.all(Array.from({ length: 20 }, (_, n) => storage.set(`k${n % 3}`, String(n))));
    const reread = new FileStorage(path);
    expect([await reread.get('k0'), await reread.get('k1'), await reread.get('k2')]).toEqual(['18', '19', '17']);
  });

  it('storage - file: a corrupt file reads as empty and is replaced on the next write', async () => {
    const path = await temporaryFile();
    await new FileStorage(path).set('seed', '1');
    await writeFile(path, '{not json', 'utf8');
    const storage = new FileStorage(path);
    expect(await storage.get('seed')).toBeUndefined();
    await storage.set('hosts', 'a');
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ hosts: 'a' });
  });

  it('storage - the client accepts a storage and hands it to the host provider', async () => {
    const { RingstateClient } = await import('../../../client-sdk/src/index.ts');
    const storage = new MemoryStorage();
    let seen: KeyValueStorage | undefined;
    const client = new RingstateClient({
      token: 't',
      storage,
      WebSocket: class {} as never,
      randomBytes: (length) => new Uint8Array(length),
      hostProvider: (components) => {
        seen = components.storage;
        return { pick: () => 'ws://x/v1/ws' };
      },
    });
    expect(seen).toBe(storage);
    client.close();
  });
});
