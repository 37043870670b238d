/**
 * Node-to-node replication messages. See `index.ts` for the wire layout of each one.
 *
 * Every message belongs to one partition (one replication group) and carries the sender's
 * epoch; the receiver learns the sender from the authenticated connection, so no message
 * names its sender. Messages are plain data and must be treated as immutable: the simulator
 * delivers the same object to a node more than once.
 */
import type { Entry, NodeId, Snapshot } from './types.ts';

/** Asks whether the sender could win `epoch` without changing anyone's state (pre-vote). */
export interface PreVoteRequest {
  readonly type: 'pre-vote';
  readonly partition: number;
  /** The epoch the sender would campaign in (its epoch + 1). */
  readonly epoch: number;
  readonly lastPosition: number;
  readonly lastEpoch: number;
}

export interface PreVoteResponse {
  readonly type: 'pre-vote-response';
  readonly partition: number;
  /** The request's epoch when granted; the responder's epoch when refused. */
  readonly epoch: number;
  readonly granted: boolean;
}

export interface VoteRequest {
  readonly type: 'vote';
  readonly partition: number;
  readonly epoch: number;
  readonly lastPosition: number;
  readonly lastEpoch: number;
  /** Set when the owner handed ownership over, so voters skip their owner lease. */
  readonly transfer: boolean;
}

export interface VoteResponse {
  readonly type: 'vote-response';
  readonly partition: number;
  readonly epoch: number;
  readonly granted: boolean;
}

export interface AppendRequest<P> {
  readonly type: 'append';
  readonly partition: number;
  readonly epoch: number;
  /** Position and epoch of the entry just before `entries`; the receiver must hold it. */
  readonly prevPosition: number;
  readonly prevEpoch: number;
  readonly entries: readonly Entry<P>[];
  /** The owner's commit position. */
  readonly commit: number;
  /**
   * Non-zero: the owner committed the fencing entry for the receiver's amnesia episode with
   * this id, and the receiver may vote again. 0 otherwise.
   */
  readonly readmit: number;
}

export interface AppendResponse {
  readonly type: 'append-response';
  readonly partition: number;
  readonly epoch: number;
  readonly success: boolean;
  /** On success the last position known to match the owner; else the refused prevPosition. */
  readonly position: number;
  /** On refusal: the responder's best guess of the last matching position and its epoch. */
  readonly hintPosition: number;
  readonly hintEpoch: number;
  /** The responder's amnesia episode id (see HardState.amnesia); 0 when it votes. */
  readonly amnesia: number;
}

export interface HeartbeatRequest {
  readonly type: 'heartbeat';
  readonly partition: number;
  readonly epoch: number;
  /** min(owner commit, position the receiver is known to hold). */
  readonly commit: number;
  /** Echoed back; a quorum of echoes confirms the sender still owns the epoch (reads). */
  readonly seq: number;
  /** As AppendRequest.readmit. */
  readonly readmit: number;
  /**
   * The owner's last heartbeat for now: the partition is idle and every replica holds its
   * whole log. A replica that agrees stops expecting heartbeats while the owner's node stays
   * live (see "Quiescence" in group.ts). Absent on the wire from older builds: false.
   */
  readonly quiesce: boolean;
}

export interface HeartbeatResponse {
  readonly type: 'heartbeat-response';
  readonly partition: number;
  readonly epoch: number;
  readonly seq: number;
  /** The responder's commit position; if it lags, the owner sends an append to verify. */
  readonly commit: number;
  readonly amnesia: number;
}

export interface SnapshotRequest {
  readonly type: 'snapshot';
  readonly partition: number;
  readonly epoch: number;
  readonly snapshot: Snapshot;
}

/** Ownership transfer: the receiver campaigns at once, skipping pre-vote. */
export interface TimeoutNowRequest {
  readonly type: 'timeout-now';
  readonly partition: number;
  readonly epoch: number;
}

export type Message<P> =
  | PreVoteRequest
  | PreVoteResponse
  | VoteRequest
  | VoteResponse
  | AppendRequest<P>
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotRequest
  | TimeoutNowRequest;

export type MessageType = Message<unknown>['type'];

export interface OutboundMessage<P> {
  readonly to: NodeId;
  readonly message: Message<P>;
}
