/**
 * Data types of the replication core: log entries, persisted state, snapshots and the
 * `Ready` batch a driver processes. Everything here is plain data (numbers, strings, arrays,
 * `Uint8Array`, and the application's payload type `P`) so that it can be persisted and sent
 * over the wire as msgpack without conversion.
 */

/** A cluster node's stable identifier (the ring member name). */
export type NodeId = string;

/**
 * The replica set of a partition as recorded in its log. Voters elect the owner and form
 * write quorums; learners receive the log but do not count until promoted.
 */
export interface Membership {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

interface EntryBase {
  /** Position in the partition's log (the Raft index), starting at 1. */
  readonly position: number;
  /** Epoch (the Raft term) of the owner that created the entry. */
  readonly epoch: number;
}

/** An application command. The payload is opaque to the core. */
export interface CommandEntry<P> extends EntryBase {
  readonly kind: 'command';
  readonly payload: P;
}

/**
 * An empty entry. A new owner appends one to commit something of its own epoch (Raft's
 * rule for committing earlier entries), and to fence a replica that lost its disk.
 */
export interface NoopEntry extends EntryBase {
  readonly kind: 'noop';
}

/** A replica-set change. It takes effect as soon as it is appended, committed or not. */
export interface MembershipEntry extends EntryBase {
  readonly kind: 'membership';
  readonly membership: Membership;
}

export type Entry<P> = CommandEntry<P> | NoopEntry | MembershipEntry;

/** State that must be durable before any message produced with it is sent. */
export interface HardState {
  readonly epoch: number;
  /** The node this replica voted for in `epoch`, if any. */
  readonly vote: NodeId | null;
  /** A lower bound of the commit position: written along with the other fields, not on every move (group.ts, sameHardState). */
  readonly commit: number;
  /**
   * Non-zero while this replica may have forgotten votes it cast (it started with empty
   * storage): a random id of this amnesia episode, so that an owner never readmits a later
   * episode on the strength of a fence it set up for an earlier one. An amnesiac replica
   * neither votes nor counts towards any quorum until the owner readmits it; see `group.ts`
   * for the rule and why it is safe. 0 once readmitted (or when bootstrapped).
   */
  readonly amnesia: number;
}

export interface SnapshotMeta {
  /** The last position the snapshot covers. */
  readonly position: number;
  /** Epoch of the entry at `position`. */
  readonly epoch: number;
  /** Membership in effect at `position`. */
  readonly membership: Membership;
}

/** Application state up to `position`, as opaque bytes produced by the application. */
export interface Snapshot extends SnapshotMeta {
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'owner';

/** Why ownership of a partition changed on this node (for logs and metrics). */
export type OwnershipReason =
  | 'campaign'
  | 'elected'
  | 'ready'
  | 'owner-discovered'
  | 'higher-epoch'
  | 'check-quorum-lost'
  | 'election-lost';

export interface OwnershipChange {
  readonly partition: number;
  readonly epoch: number;
  readonly role: Role;
  /** The owner this node knows of, if any (itself when owner). */
  readonly owner: NodeId | null;
  /** True when this node is the owner and may serve: it committed an entry of its epoch. */
  readonly ready: boolean;
  readonly reason: OwnershipReason;
}

/**
 * One partition's durable writes. The driver applies the parts in this order, atomically:
 * 1. `snapshot`: store it as the partition's snapshot and delete every stored entry at or
 *    below its position; for `install` delete every other stored entry too (the log now
 *    starts after the snapshot).
 * 2. `entries`: delete every stored entry at or after `entries[0].position`, then store them.
 * 3. `hardState`: store it.
 */
export interface PartitionWrite<P> {
  readonly partition: number;
  readonly snapshot?: { readonly kind: 'install' | 'compact'; readonly snapshot: Snapshot };
  readonly entries: readonly Entry<P>[];
  readonly hardState?: HardState;
}

/** Committed work to hand to the application state machine, in order. */
export interface PartitionApply<P> {
  readonly partition: number;
  /** Replace the application state with this snapshot before applying `entries`. */
  readonly snapshot?: Snapshot;
  readonly entries: readonly Entry<P>[];
}

/**
 * The answer to `readIndex`: once the application has applied `position`, a read of the
 * partition's state is linearizable. On failure, `error` says why (the owner changed).
 */
export type ReadState =
  | { readonly partition: number; readonly requestId: number; readonly position: number }
  | { readonly partition: number; readonly requestId: number; readonly error: Error };

/** The read-only view of a partition for status pages, tests and the simulator. */
export interface PartitionStatus {
  readonly partition: number;
  readonly role: Role;
  readonly epoch: number;
  readonly owner: NodeId | null;
  /** Owner that has committed an entry of its own epoch: may serve reads and writes. */
  readonly ready: boolean;
  readonly amnesiac: boolean;
  readonly commit: number;
  readonly applied: number;
  readonly lastPosition: number;
  readonly snapshotPosition: number;
  /** Last position durable in this replica's log (what compaction may cover). */
  readonly persistedPosition: number;
  readonly membership: Membership;
  /**
   * The latest membership change is not committed yet. A node removed from a partition may
   * be shut down only once a membership without it is in effect and not pending.
   */
  readonly membershipPending: boolean;
  /** The replica set the ring wants, first node preferred; null until told. */
  readonly desired: readonly NodeId[] | null;
  /**
   * This replica stepped down as owner, or failed to campaign, for lack of a quorum, and has
   * heard from no owner since: it refuses commands with NO_QUORUM.
   */
  readonly quorumLost: boolean;
  /** Idle without heartbeats (owner), or expecting none from a quiesced owner (replica); see group.ts. */
  readonly quiesced: boolean;
}
