/**
 * The durable log's record types.
 *
 * A partition's log is a gapless sequence of positions 1, 2, 3, ... Each entry records one
 * committed command on one aggregate. `epoch` is the ownership epoch the entry was written in
 * (always 1 on a single node; the replication layer raises it on every failover).
 */
import type { HardState } from '../replication/index.ts';
export interface AggregateSnapshot {
  /** Aggregate sequence number the snapshot reflects (state after entry `seq`). */
  readonly seq: number;
  /** The aggregate's state (plain data). */
  readonly state: unknown;
  /** The aggregate's public Yjs document, `Y.encodeStateAsUpdate(doc)`. */
  readonly doc: Uint8Array;
  /** `eventVersion` of the definition that produced the state. */
  readonly eventVersion: number;
}

export interface LogEntry {
  /** Absent or 'command' (older entries have no kind). */
  readonly kind?: 'command';
  readonly partition: number;
  readonly position: number;
  readonly epoch: number;
  /** `type/id` of the aggregate (see aggregateKey). */
  readonly aggregate: string;
  /** Gapless per-aggregate sequence number: 1 for the aggregate's first entry. */
  readonly seq: number;
  readonly commandId: string;
  readonly playerId: string;
  /**
   * Digest of the command (aggregate/command-digest.ts), so a later command under the same id
   * with another body is recognised as a reuse, on this node and on every replica. Absent in
   * entries written before digests existed.
   */
  readonly commandDigest?: Uint8Array;
  /** Empty for a command that decided nothing: logged so that its command id is deduplicated too. */
  readonly events: readonly unknown[];
  readonly eventVersion: number;
  /** Yjs update that moves the public document from seq-1 to seq; produced once, by the owner. */
  readonly update: Uint8Array;
  /** Present every `snapshotEveryEvents` events: the aggregate after this entry. */
  readonly snapshot?: AggregateSnapshot;
  readonly timestampMs: number;
  /** What the entry changes in its aggregate's outbox (sends, timers, cancels, settled deliveries); absent when nothing. */
  readonly outbox?: OutboxChange;
  /**
   * Set on the entry that records a delivery (a command another aggregate sent) refused for
   * good: no events; every later attempt under the same command id gets this answer.
   */
  readonly refusal?: RecordedRefusal;
}

export interface RecordedRefusal {
  readonly code: string;
  readonly message: string;
  readonly reason?: string;
}

/**
 * One command an aggregate asked to deliver (a send, or a timer when `dueMs` is set), pending in
 * its aggregate's outbox from the entry that added it until an entry settles or cancels it.
 */
export interface OutboxItem {
  /** `seq.index`: the adding entry's seq and the item's index in it; unique within the aggregate. */
  readonly id: string;
  readonly to: { readonly type: string; readonly id: string };
  readonly command: unknown;
  /** Timers: not delivered before this wall-clock time (ms since epoch). */
  readonly dueMs?: number;
  /** Timers: the name that `cancel` and a later timer of the same key replace. */
  readonly key?: string;
  /** A command of the sending aggregate to run if the target refuses this one for good. */
  readonly onRejected?: unknown;
  /** The player whose command emitted this item (the target's `context.playerId`). */
  readonly playerId: string;
}

/**
 * An entry's outbox change, applied in this order (log/outbox.ts): `cancel` removes pending
 * timers by key, `settle` removes delivered or refused items by id, then `add` adds items
 * (an added timer replaces a pending one of the same key).
 */
export interface OutboxChange {
  readonly add?: readonly OutboxItem[];
  readonly cancel?: readonly string[];
  readonly settle?: readonly string[];
}

/** A pending outbox item with the aggregate that sends it (`type/id`). */
export interface PendingDelivery {
  readonly aggregate: string;
  readonly item: OutboxItem;
}

/** What a command id resolved to; stored so a retried command returns its first answer. */
export interface DedupeRecord {
  readonly seq: number;
  readonly position: number;
  readonly timestampMs: number;
  /** The entry's `commandDigest`; absent (unknown) for entries and records older than digests. */
  readonly commandDigest?: Uint8Array;
}

/**
 * A replication control entry: `noop` (a new owner commits one of its own epoch) or a
 * `membership` change of the partition's replica set. They take positions in the partition's
 * log like commands but touch no aggregate.
 */
export interface ControlEntry {
  readonly kind: 'noop' | 'membership';
  readonly partition: number;
  readonly position: number;
  readonly epoch: number;
  readonly membership?: { readonly voters: readonly string[]; readonly learners: readonly string[] };
}

export type StoredEntry = LogEntry | ControlEntry;

export function isCommandEntry(entry: StoredEntry): entry is LogEntry {
  return entry.kind === undefined || entry.kind === 'command';
}

/**
 * Durable per-partition replication state: the replication core's hard state (epoch, vote,
 * commit, amnesia), stored as the core gives it.
 */
export type { HardState };

/**
 * One atomic write of the replicated log: per partition, drop the stored suffix from
 * `truncateFrom`, store `entries`, store `hardState`; then apply `applied` command entries
 * (aggregate index, dedupe, aggregate snapshots) and record `appliedPosition`.
 */
export interface ReplicaBatch {
  readonly partitions: ReadonlyArray<{
    readonly partition: number;
    readonly truncateFrom?: number;
    readonly entries: readonly StoredEntry[];
    readonly hardState?: HardState;
    readonly applied: readonly StoredEntry[];
    /** A replication snapshot taken (compaction) or installed at this batch. */
    readonly snapshot?: ReplicaSnapshotMeta;
  }>;
}

/**
 * A replication snapshot's metadata: the replication log of this replica starts after
 * `position`. The entries up to it stay on disk (they are the aggregates' event history); a
 * replica that installs a snapshot has fetched and applied them first.
 */
export interface ReplicaSnapshotMeta {
  readonly position: number;
  readonly epoch: number;
  readonly membership: { readonly voters: readonly string[]; readonly learners: readonly string[] };
}
