/**
 * The replication seam: how the aggregate runtime writes to a partition's log.
 *
 * The runtime never knows whether a partition is replicated. It asks whether this node may
 * serve a partition, appends drafts, and is told (through the returned promise) when an entry
 * is committed under the configured policy: durable locally for the single-node log, durable on
 * a write quorum of the replica set for the cluster. Appends to one partition commit in the
 * order they were made; if one fails, every later pending append of that partition fails too,
 * so the runtime can drop its speculative state and re-activate from committed entries.
 */
import type { LogEntry } from '../log/index.ts';

export type EntryDraft = Omit<LogEntry, 'position' | 'epoch'>;

export interface PartitionOwnership {
  /** This node may append to the partition now (owner with a committed entry in its epoch). */
  readonly serving: boolean;
  readonly epoch: number;
  /** The node believed to own the partition when it is not this one. */
  readonly ownerHint?: string;
  /** Not serving because no quorum of the replica set is reachable from here: commands get NO_QUORUM. */
  readonly quorumLost?: boolean;
}

export interface PartitionLog {
  ownership(partition: number): PartitionOwnership;
  /** This node holds a replica of the partition (committed entries are applied here). */
  replicates(partition: number): boolean;
  /** Resolves with the committed entry; rejects with a RingstateError (UNAVAILABLE, NO_QUORUM). */
  append(draft: EntryDraft): Promise<LogEntry>;
  /** Called with every entry once it is committed, on every node that holds the partition. */
  onCommitted(listener: (entry: LogEntry) => void): void;
  /** Called when this node stops serving a partition it served (deposed, moved). */
  onOwnershipLost(listener: (partition: number) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}
