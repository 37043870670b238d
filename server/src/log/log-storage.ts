/**
 * The storage seam of the data path: what the aggregate runtime and the replicated partition
 * log read and write. `LogStore` (LMDB) implements it in production; the simulator implements
 * it in memory, with a disk's failure semantics (simulation/memory-log-store.ts), so the
 * production runtime and partition log run unchanged over either.
 *
 * Only what those two callers need is here; the single-node log, recovery reporting, dedupe
 * pruning and the ring membership record stay on `LogStore` itself.
 */
import type { AggregateSnapshot, DedupeRecord, HardState, LogEntry, OutboxItem, PendingDelivery, ReplicaBatch, ReplicaSnapshotMeta, StoredEntry } from './types.ts';

export interface LogStorage {
  // The aggregate runtime: activation, dedupe, subscriptions (applied entries only).
  latestSnapshot(aggregate: string): AggregateSnapshot | undefined;
  /** The aggregate's applied entries with seq > afterSeq, in seq order. */
  aggregateEntries(partition: number, aggregate: string, afterSeq: number): LogEntry[];
  /** Highest applied seq of an aggregate, 0 when it has none. */
  aggregateSeq(aggregate: string): number;
  findCommand(aggregate: string, playerId: string, commandId: string): DedupeRecord | undefined;
  /** The aggregate's pending outbox items after its applied entries (log/outbox.ts). */
  outboxOf(partition: number, aggregate: string): OutboxItem[];

  // The outbox courier (outbox/): what a partition's aggregates still have to deliver.
  pendingDeliveries(partition: number): PendingDelivery[];

  // The replicated partition log and its snapshot transfer.
  hardState(partition: number): HardState | undefined;
  /** Where this replica's replication log starts, or undefined. */
  replicaSnapshot(partition: number): ReplicaSnapshotMeta | undefined;
  appliedPosition(partition: number): number;
  /** Highest position stored for a partition, 0 when empty. */
  lastPosition(partition: number): number;
  storedEntry(partition: number, position: number): StoredEntry | undefined;
  /** Stored entries (commands and control entries) in [from, to). */
  storedEntries(partition: number, from: number, to: number): StoredEntry[];
  /** One atomic write of the replicated log; resolves once durable. Callers run one at a time. */
  writeReplicaBatch(batch: ReplicaBatch): Promise<void>;
}
