/**
 * Aggregate-index and dedupe records of applied entries, held in memory until the store writes
 * them in bulk.
 *
 * Every applied command entry needs two derived records: `[aggregate, seq] -> position` (how
 * activation finds an aggregate's entries) and `[aggregate, player, commandId] -> seq` (how a
 * retried command finds its first answer). Both keys are scattered over their B-trees, so
 * written with each entry they dirty two random leaf pages per command in every transaction:
 * the cluster spent about a fifth of its CPU per command on them (docs/benchmarks.md). Written
 * a few thousand at a time they share pages and a single transaction.
 *
 * Nothing is lost by deferring: the records are derived from log entries that are already on
 * disk. The store keeps, per partition with deferred records, the position up to which its
 * records are on disk (`indexed`); a node that restarts reads the entries after it again and
 * rebuilds this overlay (LogStore.open). Readers consult the overlay and the on-disk records
 * together, so what they see does not depend on when the overlay was last written out.
 *
 * Adding is idempotent: an entry at or below an aggregate's newest deferred seq is ignored
 * (a replica may apply an entry again after a restart; its records are then already here or
 * on disk, and readers merge by seq).
 */
import type { DedupeRecord, LogEntry } from './types.ts';

export class DeferredIndex {
  /** Deferred entries per aggregate, in seq order. */
  readonly #byAggregate = new Map<string, LogEntry[]>();
  readonly #dedupe = new Map<string, DeferredDedupe>();
  /** Per partition with deferred entries: the last position whose records are on disk. */
  readonly #indexedTo = new Map<number, number>();
  #size = 0;

  /** Deferred entries, all partitions together. */
  get size(): number {
    return this.#size;
  }

  /** Whether `partition` has deferred entries, and so an `indexed` record on disk. */
  defers(partition: number): boolean {
    return this.#indexedTo.has(partition);
  }

  /** Partitions with deferred entries and where their on-disk records end. */
  indexedPositions(): ReadonlyMap<number, number> {
    return this.#indexedTo;
  }

  /**
   * Holds `entry`'s records. `indexedTo` says where the partition's on-disk records end; it
   * counts for the partition's first deferred entry, and entries at or below it are ignored
   * (their records are on disk).
   */
  add(entry: LogEntry, indexedTo: number): void {
    const from = this.#indexedTo.get(entry.partition) ?? indexedTo;
    if (entry.position <= from) return;
    this.#indexedTo.set(entry.partition, from);
    let entries = this.#byAggregate.get(entry.aggregate);
    if (entries === undefined) {
      entries = [];
      this.#byAggregate.set(entry.aggregate, entries);
    }
    const last = entries.at(-1);
    if (last !== undefined && entry.seq <= last.seq) return;
    if (last !== undefined && entry.seq !== last.seq + 1) throw new Error(`deferred index: ${entry.aggregate} seq ${entry.seq} follows ${last.seq}`);
    entries.push(entry);
    this.#dedupe.set(dedupeKey(entry.aggregate, entry.playerId, entry.commandId), {
      aggregate: entry.aggregate,
      playerId: entry.playerId,
      commandId: entry.commandId,
      record: dedupeRecord(entry),
    });
    this.#size += 1;
  }

  findCommand(aggregate: string, playerId: string, commandId: string): DedupeRecord | undefined {
    return this.#dedupe.get(dedupeKey(aggregate, playerId, commandId))?.record;
  }

  /** The deferred dedupe records that were not pruned, for writing them out. */
  dedupeRecords(): IterableIterator<DeferredDedupe> {
    return this.#dedupe.values();
  }

  /**
   * Forgets at most `limit` dedupe records older than `olderThanMs`, as the store prunes its
   * own; returns how many. The index records stay. A restart before they are written out
   * brings them back from the log, to be pruned again: keeping one longer is safe.
   */
  pruneDedupe(olderThanMs: number, limit: number): number {
    let removed = 0;
    for (const [key, { record }] of this.#dedupe) {
      if (removed >= limit) break;
      if (record.timestampMs >= olderThanMs) continue;
      this.#dedupe.delete(key);
      removed += 1;
    }
    return removed;
  }

  /** The aggregate's deferred entries in seq order (empty when none). */
  entriesOf(aggregate: string): readonly LogEntry[] {
    return this.#byAggregate.get(aggregate) ?? [];
  }

  /** Every deferred entry, aggregate by aggregate, for writing their index records out. */
  *entries(): IterableIterator<LogEntry> {
    for (const entries of this.#byAggregate.values()) yield* entries;
  }

  /** Forgets everything, once the records are on disk. */
  clear(): void {
    this.#byAggregate.clear();
    this.#dedupe.clear();
    this.#indexedTo.clear();
    this.#size = 0;
  }
}

export interface DeferredDedupe {
  readonly aggregate: string;
  readonly playerId: string;
  readonly commandId: string;
  readonly record: DedupeRecord;
}

export function dedupeRecord(entry: LogEntry): DedupeRecord {
  return { seq: entry.seq, position: entry.position, timestampMs: entry.timestampMs };
}

function dedupeKey(aggregate: string, playerId: string, commandId: string): string {
  return `${aggregate}\u0000${playerId}\u0000${commandId}`;
}
