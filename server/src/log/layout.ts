/**
 * The store's LMDB layout in one place: the environment's options and its named databases with
 * their key and value types (log-store.ts documents what each holds). The running store
 * (LogStore) and the offline tools (store-check.ts, store-repair.ts) open the same layout, so
 * they read the same encodings.
 */
import { open, type Database, type Key, type RootDatabase } from 'lmdb';
import type { AggregateSnapshot, DedupeRecord, HardState, OutboxItem, ReplicaSnapshotMeta, StoredEntry } from './types.ts';

export type EntryKey = [number, number];
export type AggregateIndexKey = [string, number];
export type DedupeKey = [string, string, string];
export type OutboxKey = [number, string, string];

export interface StoreDatabases {
  readonly entries: Database<StoredEntry, EntryKey>;
  readonly replicas: Database<HardState, number>;
  readonly applied: Database<number, number>;
  readonly replicaSnapshots: Database<ReplicaSnapshotMeta, number>;
  readonly aggregates: Database<number, AggregateIndexKey>;
  readonly snapshots: Database<AggregateSnapshot, string>;
  readonly dedupe: Database<DedupeRecord, DedupeKey>;
  readonly outbox: Database<OutboxItem, OutboxKey>;
  readonly meta: Database<unknown, string>;
  readonly indexed: Database<number, number>;
}

export type DatabaseName = keyof StoreDatabases;

export const DATABASE_NAMES: readonly DatabaseName[] = ['entries', 'replicas', 'applied', 'replicaSnapshots', 'aggregates', 'snapshots', 'dedupe', 'outbox', 'meta', 'indexed'];

/** What the offline check reads of a database: lookups and ordered scans. */
export type ReadableDatabase<V, K extends Key> = Pick<Database<V, K>, 'get' | 'getRange' | 'getKeys'>;

export interface ReadableDatabases {
  readonly entries: ReadableDatabase<StoredEntry, EntryKey>;
  readonly replicas: ReadableDatabase<HardState, number>;
  readonly applied: ReadableDatabase<number, number>;
  readonly replicaSnapshots: ReadableDatabase<ReplicaSnapshotMeta, number>;
  readonly aggregates: ReadableDatabase<number, AggregateIndexKey>;
  readonly snapshots: ReadableDatabase<AggregateSnapshot, string>;
  readonly dedupe: ReadableDatabase<DedupeRecord, DedupeKey>;
  readonly outbox: ReadableDatabase<OutboxItem, OutboxKey>;
  readonly meta: ReadableDatabase<unknown, string>;
  readonly indexed: ReadableDatabase<number, number>;
}

/** The meta record holding the store's format number (log-store.ts, "Formats"). */
export const FORMAT_KEY = 'formatVersion';
export const FORMAT_PLAIN = 1;
export const FORMAT_DEFERRED = 2;

/**
 * Opens the environment in the directory `path`. `noSync` is the `os` durability policy;
 * `readOnly` opens without writing anything (the offline check), which LMDB allows only for
 * databases that exist.
 */
export function openEnvironment(path: string, options: { readonly noSync?: boolean; readonly readOnly?: boolean } = {}): RootDatabase {
  // overlappingSync off: a commit's promise then resolves only once the commit is synced
  // (fsync policy), and LMDB still group-commits every write queued while a sync runs.
  return open({ path, maxDbs: 12, noSync: options.noSync === true, overlappingSync: false, compression: false, ...(options.readOnly === true ? { readOnly: true } : {}) });
}

/** Opens (creating) every named database. */
export function openDatabases(root: RootDatabase): StoreDatabases {
  return {
    entries: root.openDB<StoredEntry, EntryKey>({ name: 'entries' }),
    replicas: root.openDB<HardState, number>({ name: 'replicas' }),
    applied: root.openDB<number, number>({ name: 'applied' }),
    replicaSnapshots: root.openDB<ReplicaSnapshotMeta, number>({ name: 'replicaSnapshots' }),
    aggregates: root.openDB<number, AggregateIndexKey>({ name: 'aggregates' }),
    snapshots: root.openDB<AggregateSnapshot, string>({ name: 'snapshots' }),
    dedupe: root.openDB<DedupeRecord, DedupeKey>({ name: 'dedupe' }),
    outbox: root.openDB<OutboxItem, OutboxKey>({ name: 'outbox' }),
    meta: root.openDB<unknown, string>({ name: 'meta' }),
    indexed: root.openDB<number, number>({ name: 'indexed' }),
  };
}

/** A database that does not exist yet reads as empty. */
const EMPTY_DATABASE: ReadableDatabase<never, never> = {
  get: () => undefined,
  getRange: () => [] as never,
  getKeys: () => [] as never,
};

/** Opens the databases of a read-only environment; those never created read as empty. */
export function openDatabasesReadOnly(root: RootDatabase): ReadableDatabases {
  const existing = new Set<string>();
  for (const name of root.getKeys({})) existing.add(String(name));
  const readable = (name: DatabaseName): ReadableDatabase<any, any> => (existing.has(name) ? root.openDB({ name }) : EMPTY_DATABASE);
  return Object.fromEntries(DATABASE_NAMES.map((name) => [name, readable(name)])) as unknown as ReadableDatabases;
}
