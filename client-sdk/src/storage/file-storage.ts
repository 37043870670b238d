/**
 * A KeyValueStorage backed by one JSON file, for Node clients (bots, the load tester, CLIs).
 *
 * This is a separate entry point: the SDK core never imports it, so browser and React Native
 * bundles stay free of `node:fs`. Import it as `@ringstate/client-sdk/storage/file-storage`.
 *
 * The file holds a small JSON object of string values. Writes go to a temporary file that is
 * then renamed over the old one, so a crash mid-write leaves the previous content intact.
 * Operations on one FileStorage run one at a time, in call order; two processes sharing a
 * file is not supported (the last writer wins). The store holds caches, so a file that is not
 * a JSON object is read as empty and replaced on the next write rather than failing forever.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KeyValueStorage } from './storage.ts';

export class FileStorage implements KeyValueStorage {
  readonly path: string;
  #values: Map<string, string> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  get(key: string): Promise<string | undefined> {
    return this.#serialized(async () => (await this.#load()).get(key));
  }

  set(key: string, value: string): Promise<void> {
    return this.#serialized(async () => {
      const values = await this.#load();
      values.set(key, value);
      await this.#save(values);
    });
  }

  remove(key: string): Promise<void> {
    return this.#serialized(async () => {
      const values = await this.#load();
      if (!values.delete(key)) return;
      await this.#save(values);
    });
  }

  #serialized<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    // A failed operation must not block the ones queued after it.
    this.#queue = result.catch(() => {});
    return result;
  }

  async #load(): Promise<Map<string, string>> {
    if (this.#values !== undefined) return this.#values;
    this.#values = parseValues(await readOptional(this.path));
    return this.#values;
  }

  async #save(values: Map<string, string>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const temporaryPath = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporaryPath, JSON.stringify(Object.fromEntries(values)), 'utf8');
    await rename(temporaryPath, this.path);
  }
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseValues(text: string | undefined): Map<string, string> {
  const values = new Map<string, string>();
  if (text === undefined) return values;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return values;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return values;
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string') values.set(key, value);
  }
  return values;
}
