/**
 * Aggregate-index and dedupe records of applied entries, deferred in memory until the store writes
 * them in bulk.
 *
 * Every applied command entry needs two derived records: `[aggregate, seq] -> position` (how
 * activation finds an aggregate's entries) and `[aggregate, player, commandId] -> seq` (how a
 * retried command finds its first answer). Both keys are scattered over their B-trees, so
 * written with each entry they dirty two random pages per command in every transaction, on
 * every replica (docs/benchmarks.md measured what that cost). Written a few thousand at a time
 * they share pages and one transaction.
 *
 * Nothing is lost by deferring: the records are derived from log entries that are already on
 * disk. The store keeps, per partition tracked here, the position up to which its records are
 * on disk (`indexed`); a node that restarts reads the entries after it again and rebuilds this
 * (LogStore.open). Readers consult this and the on-disk records together, so what they see does
 * not depend on when the records were last written out.
 *
 * Only small references are deferred (seq and position; the dedupe record), not the entries: the
 * store reads an entry when a reader asks for it, so memory stays small whatever the entries
 * carry, and every reader gets its own decoded copy, as it did when the records were on disk.
 *
 * Adding is idempotent: an entry at or below its partition's indexed position, or at or below
 * its aggregate's newest deferred seq, is ignored (a replica may apply an entry again after a
 * restart; its records are then already here or on disk, and readers merge by seq).
 */
import type { DedupeRecord, LogEntry } from './types.ts';

/** Where a deferred aggregate entry is. */
export interface DeferredRef {
  readonly seq: number;
  readonly position: number;
}

export interface DeferredDedupe {
  readonly aggregate: string;
  readonly playerId: string;
  readonly commandId: string;
  readonly record: DedupeRecord;
}

export class DeferredIndex {
  /** Deferred references per aggregate, in seq order. */
  readonly #byAggregate = new Map<string, DeferredRef[]>();
  readonly #dedupe = new Map<string, DeferredDedupe>();
  /** Per tracked partition: the last position whose records are on disk (its `indexed` record). */
  readonly #indexedTo = new Map<number, number>();
  #size = 0;

  /** Deferred entries, all partitions together. */
  get size(): number {
    return this.#size;
  }

  /** Whether `partition` is tracked, and so has an `indexed` record on disk. */
  tracks(partition: number): boolean {
    return this.#indexedTo.has(partition);
  }

  /** Tracked partitions and where their on-disk records end. */
  indexedPositions(): ReadonlyMap<number, number> {
    return this.#indexedTo;
  }

  /**
   * Starts tracking `partition`, whose on-disk records end at `indexedTo`, once the store has
   * written its `indexed` record; a partition already tracked keeps its position.
   */
  track(partition: number, indexedTo: number): void {
    if (!this.#indexedTo.has(partition)) this.#indexedTo.set(partition, indexedTo);
  }

  /** Defers `entry`'s records; its partition must be tracked. */
  add(entry: LogEntry): void {
    const indexedTo = this.#indexedTo.get(entry.partition);
    if (indexedTo === undefined) throw new Error(`deferred index: partition ${entry.partition} is not tracked`);
    if (entry.position <= indexedTo) return;
    let refs = this.#byAggregate.get(entry.aggregate);
    if (refs === undefined) {
      refs = [];
      this.#byAggregate.set(entry.aggregate, refs);
    }
    const last = refs.at(-1);
    if (last !== undefined && entry.seq <= last.seq) return;
    if (last !== undefined && entry.seq !== last.seq + 1) throw new Error(`deferred index: ${entry.aggregate} seq ${entry.seq} follows ${last.seq}`);
    refs.push({ seq: entry.seq, position: entry.position });
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

  /** The aggregate's deferred references in seq order (empty when none). */
  refsOf(aggregate: string): readonly DeferredRef[] {
    return this.#byAggregate.get(aggregate) ?? [];
  }

  /** Every deferred aggregate-index record, for writing them out. */
  *indexRecords(): IterableIterator<{ readonly aggregate: string; readonly ref: DeferredRef }> {
    for (const [aggregate, refs] of this.#byAggregate) {
      for (const ref of refs) yield { aggregate, ref };
    }
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

  /** Forgets everything, once the records are on disk and the `indexed` records removed. */
  clear(): void {
    this.#byAggregate.clear();
    this.#dedupe.clear();
    this.#indexedTo.clear();
    this.#size = 0;
  }
}

export function dedupeRecord(entry: LogEntry): DedupeRecord {
  const record = { seq: entry.seq, position: entry.position, timestampMs: entry.timestampMs };
  return entry.commandDigest === undefined ? record : { ...record, commandDigest: entry.commandDigest };
}

/** Length-prefixed, so no choice of ids (NUL characters included) makes two triples collide. */
function dedupeKey(aggregate: string, playerId: string, commandId: string): string {
  return `${aggregate.length}:${aggregate}${playerId.length}:${playerId}${commandId}`;
}
