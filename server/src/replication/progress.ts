/**
 * The owner's view of one replica: how much of the log it holds and how to send it more
 * (etcd raft's Progress). Three states bound what is in flight:
 * - probe: the position where logs match is unknown; one append at a time, retried on each
 *   heartbeat interval.
 * - replicate: logs match up to `match`; appends stream optimistically, at most
 *   `inflightAppendsMax` unanswered.
 * - snapshot: the replica needs entries the owner compacted; one snapshot, then wait.
 */
import type { NodeId } from './types.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class PeerProgress {
  readonly node: NodeId;
  state: ProgressState = 'probe';
  /** Highest position known to be durable on the replica and to match the owner's log. */
  match = 0;
  /** Next position to send. */
  next: number;
  /** Probe state: an append is outstanding; wait for its answer or the next heartbeat. */
  probeSent = false;
  /** Replicate state: last position of each unanswered append, oldest first. */
  inflight: number[] = [];
  /** Snapshot state: position of the snapshot sent, and when. */
  pendingSnapshot = 0;
  snapshotSentMs = 0;
  /** When the replica last answered in the current epoch (check-quorum, liveness). */
  lastHeardMs: number;
  /**
   * Highest commit position sent to the replica within what the same message let it match
   * (see Group.sendCommitNotices).
   */
  commitSent = 0;
  /** When the owner last sent the replica an append (a routine heartbeat may be skipped then). */
  lastAppendSentMs = Number.NEGATIVE_INFINITY;
  /** Highest heartbeat sequence number the replica echoed (read confirmation). */
  ackedSeq = 0;
  /** The replica's commit position as its last heartbeat answer reported it (quiescence). */
  reportedCommit = 0;
  /** The replica's liveness session when the owner quiesced (0 while not quiesced). */
  quiescedSession = 0;
  /** The replica's amnesia episode id as last reported; 0 when it votes. */
  amnesia = 0;
  /** Position of the fencing entry whose commit readmits that episode (0: none). */
  amnesiaBarrier = 0;

  get amnesiac(): boolean {
    return this.amnesia !== 0;
  }

  constructor(node: NodeId, next: number, nowMs: number) {
    this.node = node;
    this.next = next;
    this.lastHeardMs = nowMs;
  }

  becomeProbe(): void {
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.state = 'probe';
    this.probeSent = false;
    this.inflight = [];
    this.pendingSnapshot = 0;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.inflight = [];
  }

  becomeSnapshot(position: number, nowMs: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = position;
    this.snapshotSentMs = nowMs;
    this.inflight = [];
  }

  /** A successful append answer up to `position`; true when `match` advanced. */
  acknowledge(position: number): boolean {
    let advanced = false;
    if (this.match < position) {
      this.match = position;
      this.probeSent = false;
      advanced = true;
    }
    this.next = Math.max(this.next, position + 1);
    while (this.inflight.length > 0 && (this.inflight[0] ?? Infinity) <= position) this.inflight.shift();
    return advanced;
  }

  /**
   * A refused append for `rejected` with the replica's hint; true when this is news (not a
   * stale or duplicate refusal) and `next` moved back.
   */
  refuse(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(inflightMax: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= inflightMax;
      case 'snapshot':
        return true;
    }
  }

  /** Records an append ending at `lastPosition` (equal to next - 1 for an empty probe). */
  sent(lastPosition: number): void {
    if (this.state === 'replicate') {
      if (lastPosition >= this.next) {
        this.next = lastPosition + 1;
        this.inflight.push(lastPosition);
      }
    } else {
      this.probeSent = true;
    }
  }
}
