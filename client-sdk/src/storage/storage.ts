/**
 * Pluggable key-value storage for what the SDK keeps between app launches (the cached host
 * list, from the host-failover work on). Values are strings; callers serialize.
 *
 * Every operation is async because the slowest backends (React Native AsyncStorage, files)
 * are. The core imports only this file; the Node file store lives in `file-storage.ts`, a
 * separate entry point, so browser and React Native bundles never see `node:fs`.
 */
export interface KeyValueStorage {
  /** The stored value, or undefined when the key is absent. */
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Removing an absent key is not an error. */
  remove(key: string): Promise<void>;
}

/** Keys the SDK writes all start with this, so they are easy to find and clear. */
export const STORAGE_KEY_PREFIX = 'ringstate:';

/** Keeps values in memory for the life of the object: the default, and for tests. */
export class MemoryStorage implements KeyValueStorage {
  readonly #values = new Map<string, string>();

  async get(key: string): Promise<string | undefined> {
    return this.#values.get(key);
  }

  async set(key: string, value: string): Promise<void> {
    this.#values.set(key, value);
  }

  async remove(key: string): Promise<void> {
    this.#values.delete(key);
  }
}

/** The part of the Web Storage API (`window.localStorage`) this adapter uses. */
export interface WebStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/**
 * Browser `localStorage` (or `sessionStorage`). Synchronous exceptions (quota exceeded,
 * storage disabled in private mode) become rejected promises, like every other backend.
 */
export class WebStorageAdapter implements KeyValueStorage {
  readonly #storage: WebStorageLike;
  readonly #prefix: string;

  constructor(storage?: WebStorageLike, options: { prefix?: string } = {}) {
    const resolved = storage ?? (globalThis as { localStorage?: WebStorageLike }).localStorage;
    if (resolved === undefined) {
      throw new TypeError('ringstate: no localStorage in this environment; pass a storage object');
    }
    this.#storage = resolved;
    this.#prefix = options.prefix ?? STORAGE_KEY_PREFIX;
  }

  async get(key: string): Promise<string | undefined> {
    return this.#storage.getItem(this.#prefix + key) ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    this.#storage.setItem(this.#prefix + key, value);
  }

  async remove(key: string): Promise<void> {
    this.#storage.removeItem(this.#prefix + key);
  }
}

/**
 * The part of React Native's AsyncStorage (`@react-native-async-storage/async-storage`) this
 * adapter uses. Any object with these promise-returning methods works.
 */
export interface AsyncStorageLike {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

export class AsyncStorageAdapter implements KeyValueStorage {
  readonly #storage: AsyncStorageLike;
  readonly #prefix: string;

  constructor(storage: AsyncStorageLike, options: { prefix?: string } = {}) {
    this.#storage = storage;
    this.#prefix = options.prefix ?? STORAGE_KEY_PREFIX;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#storage.getItem(this.#prefix + key)) ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#storage.setItem(this.#prefix + key, value);
  }

  async remove(key: string): Promise<void> {
    await this.#storage.removeItem(this.#prefix + key);
  }
}
