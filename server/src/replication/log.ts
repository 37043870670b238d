/**
 * One partition's log as the core sees it: the driver's stable storage plus an in-memory
 * unstable suffix (entries, or a received snapshot, handed out in a Ready but not yet
 * confirmed durable by `advance()`). This is etcd raft's raftLog/unstable split.
 *
 *   storage:   [snapshot] first ............ offset-1 | (stale stored entries >= offset)
 *   unstable:                                 offset ... last
 *
 * Unstable entries shadow stored entries at the same positions: after a conflict the core
 * truncates by replacing the unstable suffix from an earlier offset, and the driver deletes
 * the stale stored entries when it persists the replacement.
 *
 * Persisted entries stay in memory (the stable cache) until they are applied, and the last one
 * stays always: applying committed entries, answering appends and the epoch lookups of the
 * vote rule then read memory, not the store (a read decodes the whole entry).
 *
 *   storage:   ... [cacheOffset ... cacheOffset + cache.length) ... | unstable
 */
import { assert } from './assert.ts';
import type { ReplicationStorage } from './storage.ts';
import type { Entry, Snapshot } from './types.ts';

/** Persisted entries the stable cache holds at most (a replica far behind reads the rest from storage). */
export const STABLE_CACHE_MAX = 8192;

export class ReplicatedLog<P> {
  private readonly storage: ReplicationStorage<P>;
  private readonly partition: number;
  private readonly entryBytes: (entry: Entry<P>) => number;
  private unstableSnapshot: Snapshot | null = null;
  private unstableOffset: number;
  private unstableEntries: Entry<P>[] = [];
  /** Stored entries from cacheOffset on, contiguous; empty when nothing is cached. */
  private cache: Entry<P>[] = [];
  private cacheOffset = 0;
  /** Highest position known to be committed. */
  committed: number;
  /** Highest position handed to the application (confirmed by `advance()`). */
  applied: number;

  constructor(
    storage: ReplicationStorage<P>,
    partition: number,
    entryBytes: (entry: Entry<P>) => number,
  ) {
    this.storage = storage;
    this.partition = partition;
    this.entryBytes = entryBytes;
    const storedLast = storage.lastPosition(partition);
    const snapshotPosition = storage.firstPosition(partition) - 1;
    this.unstableOffset = storedLast + 1;
    const hardState = storage.hardState(partition);
    this.applied = storage.appliedPosition(partition);
    // The stored commit is only a lower bound (group.ts, sameHardState); what was applied was committed.
    this.committed = Math.max(hardState?.commit ?? 0, snapshotPosition, this.applied);
    assert(this.committed <= storedLast, `partition ${partition}: stored commit beyond the stored log`);
    assert(
      this.applied >= snapshotPosition && this.applied <= this.committed,
      `partition ${partition}: applied position ${this.applied} outside [snapshot ${snapshotPosition}, commit ${this.committed}]`,
    );
  }

  snapshotPosition(): number {
    return this.unstableSnapshot?.position ?? this.storage.firstPosition(this.partition) - 1;
  }

  firstPosition(): number {
    return this.snapshotPosition() + 1;
  }

  lastPosition(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot !== null) return this.unstableSnapshot.position;
    return this.storage.lastPosition(this.partition);
  }

  lastEpoch(): number {
    const epoch = this.epochAt(this.lastPosition());
    assert(epoch !== undefined, 'the last entry of the log has no epoch');
    return epoch;
  }

  /** Epoch of the entry at `position`; undefined when compacted away or beyond the end. */
  epochAt(position: number): number | undefined {
    const unstableIndex = position - this.unstableOffset;
    if (unstableIndex >= 0) return this.unstableEntries[unstableIndex]?.epoch;
    if (this.unstableSnapshot !== null) {
      return position === this.unstableSnapshot.position ? this.unstableSnapshot.epoch : undefined;
    }
    const first = this.storage.firstPosition(this.partition);
    if (position < first - 1 || position > this.storage.lastPosition(this.partition)) return undefined;
    const cached = this.cache[position - this.cacheOffset];
    if (cached !== undefined && position >= this.cacheOffset) return cached.epoch;
    return this.storage.epochAt(this.partition, position);
  }

  matchesEpoch(position: number, epoch: number): boolean {
    return this.epochAt(position) === epoch;
  }

  /** Raft's vote rule: is a log ending at (lastPosition, lastEpoch) at least as complete? */
  isUpToDate(lastPosition: number, lastEpoch: number): boolean {
    const myLastEpoch = this.lastEpoch();
    return lastEpoch > myLastEpoch || (lastEpoch === myLastEpoch && lastPosition >= this.lastPosition());
  }

  /**
   * Entries in [from, to), at most `countMax` and about `bytesMax` payload bytes (always at
   * least one). Undefined when `from` was compacted into a snapshot.
   */
  entries(from: number, to: number, countMax: number, bytesMax: number): Entry<P>[] | undefined {
    if (from < this.firstPosition()) return undefined;
    const end = Math.min(to, this.lastPosition() + 1, from + countMax);
    if (from >= end) return [];
    const result: Entry<P>[] = [];
    if (from < this.unstableOffset) {
      const storedEnd = Math.min(end, this.unstableOffset);
      this.readStable(from, storedEnd, result);
      assert(result.length === storedEnd - from, `partition ${this.partition}: storage returned a gap`);
    }
    for (let position = Math.max(from, this.unstableOffset); position < end; position += 1) {
      const entry = this.unstableEntries[position - this.unstableOffset];
      assert(entry !== undefined, 'unstable entries have a gap');
      result.push(entry);
    }
    return limitBytes(result, bytesMax, this.entryBytes);
  }

  /** Appends the stored entries [from, to) to `out`: the cached part from memory, the rest from storage. */
  private readStable(from: number, to: number, out: Entry<P>[]): void {
    const cacheEnd = this.cacheOffset + this.cache.length;
    const cachedFrom = Math.max(from, this.cacheOffset);
    const cachedTo = Math.min(to, cacheEnd);
    if (cachedFrom >= cachedTo) {
      for (const entry of this.storage.entries(this.partition, from, to)) out.push(entry);
      return;
    }
    if (from < cachedFrom) for (const entry of this.storage.entries(this.partition, from, cachedFrom)) out.push(entry);
    for (let position = cachedFrom; position < cachedTo; position += 1) out.push(this.cache[position - this.cacheOffset] as Entry<P>);
    if (cachedTo < to) for (const entry of this.storage.entries(this.partition, cachedTo, to)) out.push(entry);
  }

  /** Drops cached entries up to the applied position, keeping the last one (see the header). */
  trimCache(): void {
    const drop = Math.min(this.applied, this.cacheOffset + this.cache.length - 2) - this.cacheOffset + 1;
    if (drop <= 0) return;
    this.cache = this.cache.slice(drop);
    this.cacheOffset += drop;
  }

  /** Forgets cached entries from `position` on (they are being replaced). */
  private truncateCache(position: number): void {
    if (position < this.cacheOffset) {
      this.cache = [];
      this.cacheOffset = 0;
    } else if (position < this.cacheOffset + this.cache.length) {
      this.cache = this.cache.slice(0, position - this.cacheOffset);
    }
  }

  /**
   * Follower side of an append: if the log holds (prevPosition, prevEpoch), make the log
   * match `entries` after it, truncating a conflicting suffix. Returns the last position now
   * known to match the owner, or undefined when prevPosition does not match.
   */
  tryAppend(
    prevPosition: number,
    prevEpoch: number,
    entries: readonly Entry<P>[],
  ): { lastMatched: number; appendedFrom: number } | undefined {
    if (!this.matchesEpoch(prevPosition, prevEpoch)) return undefined;
    const lastMatched = prevPosition + entries.length;
    const conflict = entries.find((entry) => !this.matchesEpoch(entry.position, entry.epoch));
    if (conflict === undefined) return { lastMatched, appendedFrom: 0 };
    assert(
      conflict.position > this.committed,
      `partition ${this.partition}: entry ${conflict.position} conflicts with committed ${this.committed}`,
    );
    this.append(entries.slice(conflict.position - prevPosition - 1));
    return { lastMatched, appendedFrom: conflict.position };
  }

  /** Appends entries after `entries[0].position - 1`, dropping anything after that point. */
  append(entries: readonly Entry<P>[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.position;
    assert(after > this.committed, `partition ${this.partition}: append at ${after} would overwrite committed ${this.committed}`);
    assert(after <= this.lastPosition() + 1, `partition ${this.partition}: append at ${after} leaves a gap`);
    const unstableEnd = this.unstableOffset + this.unstableEntries.length;
    if (after === unstableEnd) {
      for (const entry of entries) this.unstableEntries.push(entry);
    } else if (after <= this.unstableOffset) {
      // Replaces stored entries from `after` on; the driver deletes them on persist.
      this.truncateCache(after);
      this.unstableOffset = after;
      this.unstableEntries = [...entries];
    } else {
      this.unstableEntries = this.unstableEntries.slice(0, after - this.unstableOffset).concat(entries);
    }
  }

  commitTo(position: number): boolean {
    if (position <= this.committed) return false;
    assert(position <= this.lastPosition(), `partition ${this.partition}: commit ${position} beyond last ${this.lastPosition()}`);
    this.committed = position;
    return true;
  }

  /** Replaces the whole log with a snapshot received from the owner. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.position > this.committed, 'restoring a snapshot older than the commit position');
    this.unstableSnapshot = snapshot;
    this.unstableOffset = snapshot.position + 1;
    this.unstableEntries = [];
    this.truncateCache(0);
    this.committed = snapshot.position;
  }

  /**
   * Raft's fast log backtracking: the largest position <= `position` whose epoch is <=
   * `epoch`, with its epoch (0 when the search reaches compacted entries).
   */
  findConflictByEpoch(position: number, epoch: number): { position: number; epoch: number } {
    let candidate = Math.min(position, this.lastPosition());
    for (;;) {
      const found = this.epochAt(candidate);
      if (found === undefined) return { position: candidate, epoch: 0 };
      if (found <= epoch) return { position: candidate, epoch: found };
      candidate -= 1;
    }
  }

  /** Last position durable on this node and still part of the log. */
  persistedLast(): number {
    return this.unstableSnapshot !== null ? 0 : this.unstableOffset - 1;
  }

  unstableSnapshotToPersist(): Snapshot | null {
    return this.unstableSnapshot;
  }

  unstableEntriesToPersist(): readonly Entry<P>[] {
    return this.unstableEntries;
  }

  /** The driver persisted entries through (position, epoch); drop them from memory. */
  stableTo(position: number, epoch: number): void {
    if (position < this.unstableOffset) return;
    const entry = this.unstableEntries[position - this.unstableOffset];
    // A newer conflicting suffix replaced the persisted entries meanwhile; it is persisted
    // (over them) by the next Ready.
    if (entry === undefined || entry.epoch !== epoch) return;
    const persisted = position + 1 - this.unstableOffset;
    // The cache stays contiguous and bounded: when full (a replica far behind its commit) or
    // no longer adjacent, it restarts here, and the older unapplied entries come from storage.
    if (this.cacheOffset + this.cache.length !== this.unstableOffset || this.cache.length >= STABLE_CACHE_MAX) {
      this.cache = [];
      this.cacheOffset = this.unstableOffset;
    }
    for (let index = 0; index < persisted; index += 1) this.cache.push(this.unstableEntries[index] as Entry<P>);
    this.unstableEntries = this.unstableEntries.slice(persisted);
    this.unstableOffset = position + 1;
    this.trimCache();
  }

  stableSnapshotTo(position: number): void {
    if (this.unstableSnapshot?.position === position) this.unstableSnapshot = null;
  }
}

function limitBytes<P>(entries: Entry<P>[], bytesMax: number, entryBytes: (entry: Entry<P>) => number): Entry<P>[] {
  let total = 0;
  for (let index = 0; index < entries.length; index += 1) {
    const entry = entries[index];
    assert(entry !== undefined, 'entry list has a hole');
    total += entryBytes(entry);
    if (total > bytesMax && index > 0) return entries.slice(0, index);
  }
  return entries;
}
