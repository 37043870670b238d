/**
 * Durable storage for partition logs on LMDB.
 *
 * Databases inside one LMDB environment (all writes of a batch commit in one transaction, so a
 * kill -9 at any moment leaves either the whole batch or none of it):
 *
 *   entries    [partition, position]             -> LogEntry (msgpack)
 *   aggregates [aggregateKey, seq]                -> position
 *   snapshots  aggregateKey                       -> AggregateSnapshot (latest only)
 *   dedupe     [aggregateKey, playerId, commandId] -> DedupeRecord (seq, position, timestamp,
 *                                                    and the entry's command digest if it has one)
 *   replicas   partition                          -> HardState (replicated mode: epoch, vote, commit)
 *   applied    partition                          -> last applied position (replicated mode)
 *   replicaSnapshots partition                    -> ReplicaSnapshotMeta: where the replication
 *                                                    log starts (entries before it are kept: they
 *                                                    are the event store)
 *   outbox     [partition, aggregateKey, itemId]  -> OutboxItem: what the aggregate still has to
 *                                                    deliver (sends, timers), folded from applied
 *                                                    entries in their transaction (log/outbox.ts)
 *   indexed    partition                          -> the last position whose aggregate-index and
 *                                                    dedupe records are written; present only
 *                                                    while later applied entries have theirs
 *                                                    deferred (deferred-index.ts)
 *   meta       string                             -> small records (format version, node id)
 *
 * Two ways to write. Single node: `append` stores entries and applies them in one transaction
 * (stored = committed). Replicated: `writeReplicaBatch` stores entries that may still be
 * truncated (not yet committed), and applies only committed ones; readers of aggregates see
 * applied entries only, through the `aggregates` index.
 *
 * Index and dedupe records are derived from the entries, so they are written in bulk: up to
 * `indexBatchEntries` applied entries keep theirs in memory (DeferredIndex), readers merge them
 * with the stored ones, and open() rebuilds them from the entries after each `indexed` position.
 *
 * Durability policy: `fsync` resolves `append` only after the commit is synced to disk;
 * `os` resolves after the commit is visible, with LMDB's noSync (survives a process crash,
 * not a power loss or kernel crash). Under `fsync` LMDB's copy-on-write B-tree means the file
 * is never torn; under `os` a power loss may leave it stale or damaged, so the store refuses to
 * open after one (run-marker.ts).
 *
 * One process at a time: open() takes the directory's lock before anything else and close()
 * gives it back last (directory-lock.ts).
 */
import type { Database, RootDatabase } from 'lmdb';
import { DeferredIndex, dedupeRecord } from './deferred-index.ts';
import { FORMAT_DEFERRED, FORMAT_PLAIN, openDatabases, openEnvironment, type AggregateIndexKey, type DedupeKey, type EntryKey, type OutboxKey } from './layout.ts';
import { foldOutbox, touchesOutbox } from './outbox.ts';
import type { LogStorage } from './log-storage.ts';
import { lockDirectory, type DirectoryLock } from './directory-lock.ts';
import { StoreDamagedError } from './store-damage.ts';
import { checkRunMarker, currentBoot, removeRunMarker, writeRunMarker, type BootIdentity } from './run-marker.ts';
import { isCommandEntry, type AggregateSnapshot, type DedupeRecord, type LogEntry, type OutboxItem, type PendingDelivery, type ReplicaBatch, type ReplicaSnapshotMeta, type HardState, type StoredEntry } from './types.ts';

export type DurabilityPolicy = 'fsync' | 'os';

export interface LogStoreOptions {
  readonly path: string;
  readonly durability: DurabilityPolicy;
  /**
   * Applied entries whose aggregate-index and dedupe records wait in memory to be written
   * together; 1 writes them with their entries. Default 2048.
   */
  readonly indexBatchEntries?: number;
  /** The machine's boot, for the run marker (run-marker.ts); tests pass another to play a reboot. Default: this machine's. */
  readonly boot?: BootIdentity;
  /** What opens the store, for the message a second process gets (directory-lock.ts). Default "ringstate store". */
  readonly holder?: string;
  /**
   * Called when a read finds a record that disagrees with the log, before the reader gets the
   * error (STORE_DAMAGED): the node logs it with the repair command (store-damage.ts).
   */
  readonly onDamage?: (error: StoreDamagedError) => void;
}

const INDEX_BATCH_ENTRIES_DEFAULT = 2048;

/** Command entries applied in one transaction, and where their partition's records ended before it. */
interface AppliedCommands {
  readonly partition: number;
  readonly entries: readonly LogEntry[];
  readonly indexedTo: number;
}

/**
 * Format 2 marks a store that may hold `indexed` records, whose deferred index and dedupe
 * records only a build that knows them rebuilds; a build that reads only format 1 refuses it
 * instead of missing them. The store writes 2 in the transaction that writes its first
 * `indexed` record and 1 in the one that writes the deferred records out (close() does that
 * too), so a cleanly closed store is format 1 and opens under either build. (FORMAT_PLAIN and
 * FORMAT_DEFERRED are in layout.ts, which the offline check and repair share.)
 */

/** The writes a transaction makes; synchronous or asynchronous depending on the policy. */
interface Writer {
  put(db: Database<any, any>, key: unknown, value: unknown): void;
  remove(db: Database<any, any>, key: unknown): void;
}

const SYNC_WRITER: Writer = {
  put: (db, key, value) => {
    db.putSync(key as never, value as never);
  },
  remove: (db, key) => {
    db.removeSync(key as never);
  },
};

/** mdb_env_sync(force) on LMDB's thread pool (lmdb-js's `sync`, missing from its typings). */
function syncToDisk(root: RootDatabase): Promise<void> {
  return new Promise((resolve, reject) => {
    (root as unknown as { sync(callback: (error?: Error) => void): void }).sync((error) => (error ? reject(error) : resolve()));
  });
}

export class LogStore implements LogStorage {
  private readonly root: RootDatabase;
  private readonly entries: Database<StoredEntry, EntryKey>;
  private readonly replicas: Database<HardState, number>;
  private readonly applied: Database<number, number>;
  private readonly replicaSnapshots: Database<ReplicaSnapshotMeta, number>;
  private readonly aggregates: Database<number, AggregateIndexKey>;
  private readonly snapshots: Database<AggregateSnapshot, string>;
  private readonly dedupe: Database<DedupeRecord, DedupeKey>;
  private readonly outbox: Database<OutboxItem, OutboxKey>;
  private readonly meta: Database<unknown, string>;
  private readonly indexed: Database<number, number>;
  private readonly deferred = new DeferredIndex();
  /** The format number on disk is FORMAT_DEFERRED. */
  private formatDeferred = false;
  /** The last commit started, so close() can let it finish before writing deferred records out. */
  private lastCommit: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private readonly indexBatchEntries: number;
  private closed = false;
  private readonly durability: DurabilityPolicy;
  private readonly path: string;
  private readonly onDamage: ((error: StoreDamagedError) => void) | undefined;
  /** This store wrote a run marker (run-marker.ts): a clean close syncs, then removes it. */
  private readonly marked: boolean;
  /** This process's lock on the directory (directory-lock.ts), released once LMDB is closed. */
  private readonly lock: DirectoryLock;
  /** Last position on disk per partition, kept after the first read so appends need no lookup. */
  private readonly lastPositions = new Map<number, number>();
  /**
   * Replication snapshot records, kept after the first read (null: none): the replication core
   * asks where a partition's log starts on most Readies, and a store read per question showed
   * up in CPU profiles. Only writeReplicaBatch writes them, and it updates this after the commit.
   */
  private readonly replicaSnapshotCache = new Map<number, ReplicaSnapshotMeta | null>();

  private constructor(options: LogStoreOptions, marked: boolean, lock: DirectoryLock) {
    // overlappingSync off: a commit's promise then resolves only once the commit is synced
    // (fsync policy), and LMDB still group-commits every write queued while a sync runs.
    this.durability = options.durability;
    this.path = options.path;
    this.onDamage = options.onDamage;
    this.marked = marked;
    this.lock = lock;
    this.indexBatchEntries = options.indexBatchEntries ?? INDEX_BATCH_ENTRIES_DEFAULT;
    if (!Number.isInteger(this.indexBatchEntries) || this.indexBatchEntries < 1) throw new Error(`indexBatchEntries must be a positive integer, got ${this.indexBatchEntries}`);
    this.root = openEnvironment(options.path, { noSync: options.durability === 'os' });
    ({
      entries: this.entries,
      replicas: this.replicas,
      applied: this.applied,
      replicaSnapshots: this.replicaSnapshots,
      aggregates: this.aggregates,
      snapshots: this.snapshots,
      dedupe: this.dedupe,
      outbox: this.outbox,
      meta: this.meta,
      indexed: this.indexed,
    } = openDatabases(this.root));
  }

  /**
   * Opens (creating) the store in the directory `options.path`. Throws DirectoryInUseError (code
   * DATA_DIR_IN_USE) when another process has it open (directory-lock.ts), before reading or
   * writing anything in it, UncleanPowerLossError (code UNCLEAN_POWER_LOSS) when its last run
   * under `os` ended in a power loss (run-marker.ts), and StoreDamagedError (STORE_DAMAGED) when
   * its deferred records cannot be rebuilt from the log.
   */
  static open(options: LogStoreOptions): LogStore {
    // First: a second process must not even write the run marker of a store that is in use.
    const lock = lockDirectory(options.path, options.holder ?? 'ringstate store');
    try {
      return LogStore.openLocked(options, lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  private static openLocked(options: LogStoreOptions, lock: DirectoryLock): LogStore {
    const boot = options.boot ?? currentBoot();
    // A marker from this boot is a crashed run's unsynced writes, which this run inherits until
    // its clean close has synced them, whatever its own policy. Written before LMDB writes
    // anything (opening writes the format record).
    const marked = checkRunMarker(options.path, boot) !== undefined || options.durability === 'os';
    if (marked) writeRunMarker(options.path, { boot, pid: process.pid, startedAt: new Date().toISOString() });
    const store = new LogStore(options, marked, lock);
    const format = store.meta.get('formatVersion');
    if (format === undefined) {
      store.meta.putSync('formatVersion', FORMAT_PLAIN);
    } else if (format === FORMAT_DEFERRED) {
      store.formatDeferred = true;
    } else if (format !== FORMAT_PLAIN) {
      store.root.close();
      throw new Error(`log at ${options.path} has format ${String(format)}, this build reads ${FORMAT_PLAIN} and ${FORMAT_DEFERRED}`);
    }
    try {
      store.rebuildDeferredIndex();
    } catch (error) {
      // Only a log that breaks its own invariants (a seq out of order among the entries read
      // back) fails here: refuse to start with the command that checks and repairs it.
      store.root.close();
      throw new StoreDamagedError(options.path, `the deferred index records cannot be rebuilt from the log (${error instanceof Error ? error.message : String(error)})`, { cause: error });
    }
    // Deferred records on disk under format 1 cannot come from this store's transactions, which
    // write both together; mark the store so an older build refuses it rather than miss them.
    if (store.deferred.indexedPositions().size > 0 && !store.formatDeferred) {
      store.meta.putSync('formatVersion', FORMAT_DEFERRED);
      store.formatDeferred = true;
    }
    return store;
  }

  /**
   * Reads back the entries whose index and dedupe records were still in memory when the
   * process stopped: those after each partition's `indexed` position, up to what it applied.
   */
  private rebuildDeferredIndex(): void {
    for (const { key: partition, value: indexedTo } of this.indexed.getRange({})) {
      // A partition without replication state is a single node's: everything stored is applied.
      const appliedTo = this.replicas.get(partition) === undefined ? this.lastPosition(partition) : this.appliedPosition(partition);
      // Tracked even when nothing follows, so the next write-out removes the record.
      this.deferred.track(partition, indexedTo);
      for (const entry of this.storedEntries(partition, indexedTo + 1, appliedTo + 1)) {
        if (isCommandEntry(entry)) this.deferred.add(entry);
      }
    }
  }

  /** Applied entries whose index and dedupe records are still only in memory. */
  get deferredIndexEntries(): number {
    return this.deferred.size;
  }

  /** A small node-level record from the meta database (the ring membership, for one). */
  readMeta(key: string): unknown {
    this.assertOpen();
    return this.meta.get(key);
  }

  /** Stores a small node-level record in its own synchronous transaction (durable under the store's policy once this returns). */
  writeMeta(key: string, value: unknown): void {
    this.assertOpen();
    if (key === 'formatVersion') throw new Error('formatVersion is managed by the store');
    this.meta.putSync(key, value);
  }

  /**
   * Appends entries (any partitions) in one atomic transaction and resolves once they are
   * durable under the store's policy. Callers order positions and must not start an append
   * before the previous one settled; this checks, because a gap would be a broken invariant.
   */
  async append(batch: readonly LogEntry[]): Promise<void> {
    if (batch.length === 0) return;
    this.assertOpen();
    // Check the whole batch before the first write. Callers run one append at a time, so what
    // is on disk now is everything before this batch.
    // Stored is applied on a single node: each partition's records end where its log did.
    const expected = new Map<number, number>();
    const applied = new Map<number, { partition: number; entries: LogEntry[]; indexedTo: number }>();
    for (const entry of batch) {
      const next = expected.get(entry.partition) ?? this.lastPosition(entry.partition) + 1;
      if (entry.position !== next) {
        throw new Error(`log gap: partition ${entry.partition} expected position ${next}, got ${entry.position}`);
      }
      expected.set(entry.partition, next + 1);
      let commands = applied.get(entry.partition);
      if (commands === undefined) {
        commands = { partition: entry.partition, entries: [], indexedTo: next - 1 };
        applied.set(entry.partition, commands);
      }
      commands.entries.push(entry);
    }
    let afterCommit = (): void => {};
    await this.commit((write) => {
      for (const entry of batch) {
        write.put(this.entries, [entry.partition, entry.position], entry);
        if (entry.snapshot !== undefined) write.put(this.snapshots, entry.aggregate, entry.snapshot);
      }
      this.writeOutbox(write, batch);
      afterCommit = this.writeIndex(write, [...applied.values()]);
    });
    afterCommit();
    for (const [partition, next] of expected) this.lastPositions.set(partition, next - 1);
  }

  /**
   * Writes one batch of the replicated log atomically (one LMDB transaction) and resolves when
   * it is durable under the store's policy. Callers run one batch at a time.
   */
  async writeReplicaBatch(batch: ReplicaBatch): Promise<void> {
    this.assertOpen();
    // Validate everything before the first write: writes issued in this turn commit together,
    // so a throw after them would leave half a batch on disk.
    const plans = batch.partitions.map((part) => {
      const stored = this.lastPosition(part.partition);
      const first = part.truncateFrom ?? part.entries[0]?.position;
      const keepTo = first !== undefined && first <= stored ? first - 1 : stored;
      let next = keepTo + 1;
      for (const entry of part.entries) {
        if (entry.partition !== part.partition || entry.position !== next) {
          throw new Error(`log gap: partition ${part.partition} expected position ${next}, got ${entry.partition}/${entry.position}`);
        }
        next += 1;
      }
      const commands = part.applied.filter(isCommandEntry);
      // indexedTo counts only for a partition not tracked yet (deferIndex): read the disk then.
      const indexedTo = commands.length === 0 || this.deferred.tracks(part.partition) ? 0 : this.appliedPosition(part.partition);
      return { part, stored, keepTo, lastAfter: next - 1, applied: { partition: part.partition, entries: commands, indexedTo } };
    });
    let afterCommit = (): void => {};
    try {
      await this.commit((write) => {
        for (const plan of plans) {
          const { part, stored, keepTo } = plan;
          const { partition } = part;
          for (let position = keepTo + 1; position <= stored; position += 1) write.remove(this.entries, [partition, position]);
          for (const entry of part.entries) write.put(this.entries, [partition, entry.position], entry);
          if (part.hardState !== undefined) write.put(this.replicas, partition, part.hardState);
          if (part.snapshot !== undefined) write.put(this.replicaSnapshots, partition, part.snapshot);
          for (const entry of plan.applied.entries) {
            if (entry.snapshot !== undefined) write.put(this.snapshots, entry.aggregate, entry.snapshot);
          }
          const appliedTo = part.applied.at(-1)?.position;
          if (appliedTo !== undefined) write.put(this.applied, partition, appliedTo);
          this.writeOutbox(write, plan.applied.entries);
        }
        afterCommit = this.writeIndex(write, plans.map((plan) => plan.applied).filter((commands) => commands.entries.length > 0));
      });
    } catch (error) {
      for (const { part } of plans) {
        this.lastPositions.delete(part.partition);
        this.replicaSnapshotCache.delete(part.partition);
      }
      throw error;
    }
    afterCommit();
    for (const { part, lastAfter } of plans) {
      this.lastPositions.set(part.partition, lastAfter);
      if (part.snapshot !== undefined) this.replicaSnapshotCache.set(part.partition, part.snapshot);
    }
  }

  /**
   * Runs `work` as one atomic LMDB transaction and resolves once it is durable under the
   * policy. `os`: a synchronous transaction on this thread (no sync to disk, so it takes
   * microseconds, and a hop to LMDB's writer thread and back would cost more than the write).
   * `fsync`: LMDB's asynchronous, group-committed write on its writer thread, resolved after
   * the sync, so this thread keeps serving while the disk works.
   */
  private commit(work: (write: Writer) => void): Promise<void> {
    const done = this.commitNow(work).catch(async (error: unknown) => {
      await this.resyncDeferredIndex();
      throw error;
    });
    this.lastCommit = done;
    return done;
  }

  /**
   * After a failed commit the deferred records in memory may no longer match the disk: with the
   * `fsync` policy the writes queued before `work` threw still commit (lmdb-js commits each
   * event turn's writes together), and the after-commit step that updates memory did not run.
   * So memory is read again from the disk, as at open.
   */
  private async resyncDeferredIndex(): Promise<void> {
    try {
      await this.root.committed;
      this.forgetDeferredIndex();
      this.formatDeferred = this.meta.get('formatVersion') === FORMAT_DEFERRED;
      this.rebuildDeferredIndex();
    } catch {
      // The store itself is failing; the next open rebuilds from the disk.
    }
  }

  private async commitNow(work: (write: Writer) => void): Promise<void> {
    if (this.durability === 'os') {
      this.root.transactionSync(() => work(SYNC_WRITER));
      return;
    }
    let last: Promise<boolean> = Promise.resolve(true);
    work({
      put: (db, key, value) => {
        last = db.put(key, value);
      },
      remove: (db, key) => {
        last = db.remove(key);
      },
    });
    await last;
  }

  hardState(partition: number): HardState | undefined {
    return this.replicas.get(partition);
  }

  /** Where this replica's replication log starts (see replicaSnapshots above), or undefined. */
  replicaSnapshot(partition: number): ReplicaSnapshotMeta | undefined {
    let meta = this.replicaSnapshotCache.get(partition);
    if (meta === undefined) {
      meta = this.replicaSnapshots.get(partition) ?? null;
      this.replicaSnapshotCache.set(partition, meta);
    }
    return meta ?? undefined;
  }

  appliedPosition(partition: number): number {
    return this.applied.get(partition) ?? 0;
  }

  storedEntry(partition: number, position: number): StoredEntry | undefined {
    return this.entries.get([partition, position]);
  }

  /** Stored entries (commands and control entries) in [from, to). */
  storedEntries(partition: number, from: number, to: number): StoredEntry[] {
    const out: StoredEntry[] = [];
    if (to <= from) return out;
    for (const { value } of this.entries.getRange({ start: [partition, from], end: [partition, to] })) out.push(value);
    return out;
  }

  /**
   * The aggregate-index and dedupe records of command entries applied in this transaction:
   * deferred in memory while fewer than `indexBatchEntries` are, else written with every deferred one.
   * Returns what to do once the transaction has committed (readers see the records then, as
   * they see the entries).
   */
  private writeIndex(write: Writer, applied: readonly AppliedCommands[]): () => void {
    let count = 0;
    for (const commands of applied) count += commands.entries.length;
    if (count === 0) return () => {};
    if (this.deferred.size + count < this.indexBatchEntries) return this.deferIndex(write, applied);
    this.writeDeferredIndex(write);
    for (const { entries } of applied) {
      for (const entry of entries) this.writeIndexRecords(write, entry);
    }
    return () => this.forgetDeferredIndex();
  }

  /** Defers the records of `applied` in memory; partitions not tracked yet get their `indexed` record. */
  private deferIndex(write: Writer, applied: readonly AppliedCommands[]): () => void {
    const started = applied.filter(({ partition }) => !this.deferred.tracks(partition));
    for (const { partition, indexedTo } of started) write.put(this.indexed, partition, indexedTo);
    if (started.length > 0 && !this.formatDeferred) write.put(this.meta, 'formatVersion', FORMAT_DEFERRED);
    return () => {
      for (const { partition, indexedTo } of started) this.deferred.track(partition, indexedTo);
      if (started.length > 0) this.formatDeferred = true;
      for (const { entries } of applied) {
        for (const entry of entries) this.deferred.add(entry);
      }
    };
  }

  /** Writes every deferred record out and removes the `indexed` records; forgetDeferredIndex() once committed. */
  private writeDeferredIndex(write: Writer): void {
    for (const { aggregate, ref } of this.deferred.indexRecords()) write.put(this.aggregates, [aggregate, ref.seq], ref.position);
    for (const { aggregate, playerId, commandId, record } of this.deferred.dedupeRecords()) write.put(this.dedupe, [aggregate, playerId, commandId], record);
    for (const partition of this.deferred.indexedPositions().keys()) write.remove(this.indexed, partition);
    if (this.formatDeferred) write.put(this.meta, 'formatVersion', FORMAT_PLAIN);
  }

  private forgetDeferredIndex(): void {
    this.deferred.clear();
    this.formatDeferred = false;
  }

  private writeIndexRecords(write: Writer, entry: LogEntry): void {
    write.put(this.aggregates, [entry.aggregate, entry.seq], entry.position);
    write.put(this.dedupe, [entry.aggregate, entry.playerId, entry.commandId], dedupeRecord(entry));
  }

  /**
   * Folds the outbox changes of applied entries into the outbox records. The fold runs in
   * memory over what the disk holds plus this batch's earlier entries (with the `fsync`
   * policy the transaction's own writes are not readable before it commits), then writes
   * the difference.
   */
  private writeOutbox(write: Writer, applied: readonly LogEntry[]): void {
    let touched: Map<string, { partition: number; aggregate: string; before: Map<string, OutboxItem>; after: Map<string, OutboxItem> }> | undefined;
    for (const entry of applied) {
      if (!touchesOutbox(entry.outbox)) continue;
      touched ??= new Map();
      const at = `${entry.partition}\u0000${entry.aggregate}`;
      let state = touched.get(at);
      if (state === undefined) {
        const before = new Map(this.outboxOf(entry.partition, entry.aggregate).map((item) => [item.id, item]));
        state = { partition: entry.partition, aggregate: entry.aggregate, before, after: new Map(before) };
        touched.set(at, state);
      }
      foldOutbox(state.after, entry.outbox);
    }
    if (touched === undefined) return;
    for (const { partition, aggregate, before, after } of touched.values()) {
      for (const id of before.keys()) if (!after.has(id)) write.remove(this.outbox, [partition, aggregate, id]);
      for (const [id, item] of after) if (before.get(id) !== item) write.put(this.outbox, [partition, aggregate, id], item);
    }
  }

  outboxOf(partition: number, aggregate: string): OutboxItem[] {
    const out: OutboxItem[] = [];
    // A key prefix sorts before every key it starts (ordered-binary): start there, stop past it.
    for (const { key, value } of this.outbox.getRange({ start: [partition, aggregate] as unknown as OutboxKey })) {
      if (key[0] !== partition || key[1] !== aggregate) break;
      out.push(value);
    }
    return out;
  }

  pendingDeliveries(partition: number): PendingDelivery[] {
    const out: PendingDelivery[] = [];
    for (const { key, value } of this.outbox.getRange({ start: [partition] as unknown as OutboxKey })) {
      if (key[0] !== partition) break;
      out.push({ aggregate: key[1], item: value });
    }
    return out;
  }

  /** Highest position written for a partition, 0 when empty. */
  lastPosition(partition: number): number {
    const cached = this.lastPositions.get(partition);
    if (cached !== undefined) return cached;
    let last = 0;
    for (const key of this.entries.getKeys({ start: [partition, Number.MAX_SAFE_INTEGER], end: [partition, 0], reverse: true, limit: 1 })) {
      last = key[1];
    }
    this.lastPositions.set(partition, last);
    return last;
  }

  /** The command entry at a position (undefined for an empty position or a control entry). */
  entry(partition: number, position: number): LogEntry | undefined {
    const stored = this.entries.get([partition, position]);
    return stored !== undefined && isCommandEntry(stored) ? stored : undefined;
  }

  latestSnapshot(aggregate: string): AggregateSnapshot | undefined {
    return this.snapshots.get(aggregate);
  }

  /** The aggregate's entries with seq > afterSeq, in seq order. */
  aggregateEntries(partition: number, aggregate: string, afterSeq: number): LogEntry[] {
    const out: LogEntry[] = [];
    for (const { key, value: position } of this.aggregates.getRange({ start: [aggregate, afterSeq + 1], end: [aggregate, Number.MAX_SAFE_INTEGER] })) {
      out.push(this.indexedEntry(partition, aggregate, key[1], position));
    }
    // Deferred references continue the records on disk (a write-out may have put both in view).
    const storedTo = out.at(-1)?.seq ?? afterSeq;
    for (const ref of this.deferred.refsOf(aggregate)) {
      if (ref.seq > storedTo) out.push(this.indexedEntry(partition, aggregate, ref.seq, ref.position));
    }
    return out;
  }

  /** The entry an index record (on disk or deferred) points at; anything else is a damaged store (STORE_DAMAGED). */
  private indexedEntry(partition: number, aggregate: string, seq: number, position: number): LogEntry {
    const entry = this.entries.get([partition, position]);
    if (entry === undefined || !isCommandEntry(entry) || entry.aggregate !== aggregate || entry.seq !== seq) {
      // Not a broken invariant of this process (crashing would not help: the record is on
      // disk), but a damaged store: refuse this aggregate with a code and the way out.
      const error = new StoreDamagedError(this.path, `aggregate index points at a missing or foreign entry: ${aggregate} seq ${seq} -> ${partition}/${position}`, { aggregate });
      this.onDamage?.(error);
      throw error;
    }
    return entry;
  }

  /** Highest committed seq of an aggregate, 0 when it has none. */
  aggregateSeq(aggregate: string): number {
    const deferred = this.deferred.refsOf(aggregate).at(-1);
    if (deferred !== undefined) return deferred.seq;
    for (const key of this.aggregates.getKeys({ start: [aggregate, Number.MAX_SAFE_INTEGER], end: [aggregate, 0], reverse: true, limit: 1 })) {
      return key[1];
    }
    return 0;
  }

  findCommand(aggregate: string, playerId: string, commandId: string): DedupeRecord | undefined {
    return this.deferred.findCommand(aggregate, playerId, commandId) ?? this.dedupe.get([aggregate, playerId, commandId]);
  }

  /**
   * Forgets dedupe records older than `olderThanMs`, at most `limit` per call so a sweep never
   * stalls the event loop. Returns how many were removed.
   */
  async pruneDedupe(olderThanMs: number, limit: number): Promise<number> {
    const prunedInMemory = this.deferred.pruneDedupe(olderThanMs, limit);
    if (prunedInMemory >= limit) return prunedInMemory;
    const stale: DedupeKey[] = [];
    for (const { key, value } of this.dedupe.getRange({})) {
      if (value.timestampMs < olderThanMs) stale.push(key);
      if (stale.length >= limit - prunedInMemory) break;
    }
    if (stale.length === 0) return prunedInMemory;
    await this.root.transaction(() => {
      for (const key of stale) this.dedupe.removeSync(key);
    });
    return prunedInMemory + stale.length;
  }

  /** Partitions that have at least one entry, for recovery reporting. */
  partitions(): number[] {
    const found: number[] = [];
    let cursor = 0;
    for (;;) {
      let next: number | undefined;
      for (const key of this.entries.getKeys({ start: [cursor, 0], limit: 1 })) next = key[0];
      if (next === undefined) return found;
      found.push(next);
      cursor = next + 1;
    }
  }

  /**
   * Full consistency check used after crashes and by tests: per partition positions are gapless
   * from 1; per aggregate seqs are gapless from 1, and the index agrees with the entries. In
   * replicated mode only applied (committed) entries are checked: later ones may still be
   * replaced by the partition's owner.
   */
  verify(): { partitions: number; entries: number; aggregates: number } {
    const aggregateSeqs = new Map<string, number>();
    let entryCount = 0;
    const partitions = this.partitions();
    for (const partition of partitions) {
      let expected = 1;
      const checkedTo = this.replicas.get(partition) === undefined ? Number.MAX_SAFE_INTEGER : this.appliedPosition(partition);
      for (const { key, value } of this.entries.getRange({ start: [partition, 0], end: [partition, checkedTo + 1] })) {
        if (key[1] !== expected || value.position !== expected || value.partition !== partition) {
          throw new Error(`partition ${partition}: expected position ${expected}, found ${key[1]}`);
        }
        expected += 1;
        if (!isCommandEntry(value)) continue;
        const previousSeq = aggregateSeqs.get(value.aggregate) ?? 0;
        if (value.seq !== previousSeq + 1) throw new Error(`aggregate ${value.aggregate}: seq ${value.seq} follows ${previousSeq}`);
        aggregateSeqs.set(value.aggregate, value.seq);
        const indexedAt = this.aggregates.get([value.aggregate, value.seq]) ?? this.deferred.refsOf(value.aggregate).find((ref) => ref.seq === value.seq)?.position;
        if (indexedAt !== value.position) {
          throw new Error(`aggregate index disagrees for ${value.aggregate} seq ${value.seq}`);
        }
        entryCount += 1;
      }
    }
    for (const { key: partition, value: indexedTo } of this.indexed.getRange({})) {
      if (this.deferred.indexedPositions().get(partition) !== indexedTo) throw new Error(`partition ${partition}: indexed record ${indexedTo} is not tracked in memory`);
    }
    if (this.deferred.indexedPositions().size > 0 && !this.formatDeferred) throw new Error('deferred index records in a store marked format 1');
    return { partitions: partitions.length, entries: entryCount, aggregates: aggregateSeqs.size };
  }

  /**
   * Refuses further writes, lets the last commit finish, writes the deferred index records out
   * (which also sets format 1 again), and closes. If that last write fails nothing is lost:
   * the next open rebuilds the records from the log.
   */
  close(): Promise<void> {
    // Every caller waits for the one close, so none goes on with the store half closed.
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    try {
      await this.closeLocked();
    } finally {
      // Only once LMDB is closed (and the marker settled) may another process open the directory.
      this.lock.release();
    }
  }

  private async closeLocked(): Promise<void> {
    this.closed = true;
    await this.lastCommit.catch(() => undefined);
    if (this.deferred.indexedPositions().size > 0 || this.formatDeferred) {
      try {
        await this.commit((write) => this.writeDeferredIndex(write));
        this.forgetDeferredIndex();
      } catch {
        // Rebuilt at the next open (see above).
      }
    }
    if (!this.marked) {
      await this.root.close();
      return;
    }
    // LMDB's close does not sync a noSync environment; the marker may only go once everything
    // is on disk. If the sync or the removal fails the marker stays: the next open from this
    // boot is a crash (harmless), from another a refusal to open, which is the safe side.
    const synced = await syncToDisk(this.root).then(
      () => true,
      () => false,
    );
    await this.root.close();
    if (synced) {
      try {
        removeRunMarker(this.path);
      } catch {
        // As above.
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('log store is closed');
  }
}
