/**
 * One partition's replication group on one node: Raft scoped to the partition's replica set,
 * with pre-vote, check-quorum, owner leases against disruptive candidates, ownership
 * transfer, one-server-at-a-time membership changes, snapshots, read-index, and a fence for
 * replicas that lost their disk. Pure: time arrives through `tick`, randomness through the
 * injected `random`, and every output is collected for the node's next Ready.
 *
 * Vocabulary: an epoch is a Raft term, a position a Raft log index, the owner the leader.
 *
 * Amnesia rule (a replica restarted with a wiped disk must not vote twice in one epoch):
 * a replica whose storage was empty at start is *amnesiac*. It may have voted before the
 * wipe, in epochs it no longer knows about, so it does not vote, does not campaign and does
 * not count towards any quorum (commit, check-quorum, read confirmation); it only follows and
 * stores the log. When an owner learns that a replica is amnesiac it appends a fencing no-op
 * B; once B is committed by a quorum that excludes the amnesiac replica, and the replica has
 * acknowledged B itself, the owner tells it it is readmitted (`readmit`), and it votes and
 * counts again from then on. (The second condition is about the votes it grants after
 * readmission: holding B, it grants them only to logs that hold every entry committed before
 * B. Readmitted with a log still shorter than B, it would grant one to any candidate.) Each amnesia
 * episode has a random id, reported in every answer and named by `readmit`, so a replica
 * wiped again before its readmission arrived is not readmitted by the earlier episode's fence.
 * Why this is safe: suppose the replica, before the wipe, voted for C in epoch e, and after
 * readmission (by an owner L of epoch E at fence B) votes for D in e. C's winning majority
 * and B's committing quorum Q are both majorities, so they share a replica Y that is not the
 * amnesiac one. If Y voted for C before acknowledging B, then e <= E, and the readmitted
 * replica, whose epoch is E and whose vote in E is recorded as L (it learned L as owner of
 * E), cannot vote in e again. If Y voted after acknowledging B, Y held B, so C's log was at
 * least as up to date as a log holding B; a case analysis on C's last entry (Raft's log
 * matching and owner completeness among the replicas that kept their disks) shows C's log
 * then held an entry created after the wipe. But C campaigned before the wipe (the forgotten
 * vote was cast before it), a contradiction. (This is for one membership; a membership
 * change in between is one-server-at-a-time, so majorities still intersect.) Bootstrapping
 * (`bootstrap`) is the only way to start as a voter without readmission, and must only be
 * used when a cluster is created, never on a node that may have voted before.
 *
 * Quiescence (CockroachDB's quiesced ranges): an idle partition costs no messages. Once the
 * owner has nothing to tell any replica (everything committed, durable, acknowledged and
 * known committed by every voter; no proposal, read, transfer or membership change under way)
 * it sends one last heartbeat marked `quiesce` and stops its heartbeats. A replica that holds
 * the whole committed log when that heartbeat arrives stops expecting heartbeats: while the
 * peer layer sees the owner's node live in the same session (`liveness`), that stands in for
 * them and keeps the owner's lease. Either side wakes at once: the owner on a proposal, a read,
 * a transfer, a new replica set, any message but a clean heartbeat answer, or a voter whose
 * node went down or restarted (its check-quorum then counts on the heartbeats again); a
 * replica on any message of the owner but a `quiesce` heartbeat, or when the owner's node goes
 * down or restarts (the live voters then campaign in turn, in the ring's order, without waiting
 * out an election timeout: the failure detector has waited already), or when the owner itself asks for its vote (it restarted, or stepped down,
 * without the replica noticing). Safety does not depend on any of this: epochs fence owners
 * as before; quiescence only decides when heartbeats are needed.
 */
import { assert } from './assert.ts';
import { NoQuorumError, NotOwnerError, OverloadedError, UnavailableError, type ReplicationError } from './errors.ts';
import { ReplicatedLog } from './log.ts';
import { emptyMembership, isMember, isVoter, planMembershipStep, quorumSize, sameMembers } from './membership.ts';
import type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  Message,
  OutboundMessage,
  PreVoteRequest,
  PreVoteResponse,
  SnapshotRequest,
  VoteRequest,
  VoteResponse,
} from './messages.ts';
import { PeerProgress } from './progress.ts';
import type { ReplicationSettings } from './settings.ts';
import type { ReplicationStorage } from './storage.ts';
import type {
  Entry,
  HardState,
  Membership,
  NodeId,
  OwnershipChange,
  OwnershipReason,
  PartitionApply,
  PartitionStatus,
  PartitionWrite,
  ReadState,
  Role,
  Snapshot,
} from './types.ts';

export interface GroupEnvironment<P> {
  readonly self: NodeId;
  readonly settings: ReplicationSettings;
  readonly storage: ReplicationStorage<P>;
  readonly random: () => number;
  readonly payloadBytes: (payload: P) => number;
  /**
   * Node-level liveness from the peer layer's failure detector: 0 while `node` is down, else
   * its session, a number that changes whenever the node was down or restarted since. Groups
   * quiesce only when it is given (see "Quiescence" in the header).
   */
  readonly liveness?: (node: NodeId) => number;
}

export type ProposeResult =
  | { readonly ok: true; readonly position: number; readonly epoch: number }
  | { readonly ok: false; readonly error: ReplicationError };

export type CommandResult = { readonly ok: true } | { readonly ok: false; readonly error: ReplicationError };

/** What one group contributed to a Ready, kept until `advance()` confirms it. */
export interface GroupReady<P> {
  readonly write: PartitionWrite<P> | null;
  readonly apply: PartitionApply<P> | null;
  /** Messages that may leave before `write` is durable (see collectReady). */
  readonly earlyMessages: readonly OutboundMessage<P>[];
  readonly messages: readonly OutboundMessage<P>[];
  readonly ownershipChanges: readonly OwnershipChange[];
  readonly readStates: readonly ReadState[];
}

/** Bytes counted for an entry's own fields, so empty entries still have a cost. */
const ENTRY_OVERHEAD_BYTES = 32;
/** Bound on read requests waiting for heartbeat confirmation per partition. */
const PENDING_READS_MAX = 4096;
/** Entries read per storage call when rebuilding the membership history at start. */
const MEMBERSHIP_SCAN_CHUNK = 1024;

const okResult: CommandResult = Object.freeze({ ok: true });

export class PartitionGroup<P> {
  readonly partition: number;
  private readonly env: GroupEnvironment<P>;
  private readonly self: NodeId;
  private readonly settings: ReplicationSettings;
  private readonly log: ReplicatedLog<P>;

  // Persistent state (mirrored into HardState).
  private epoch: number;
  private vote: NodeId | null;
  /** Amnesia episode id (HardState.amnesia); 0 when this replica may vote. */
  private amnesia: number;

  private role: Role = 'follower';
  private owner: NodeId | null = null;
  /** Membership in effect: the latest membership entry in the log, committed or not. */
  private membership: Membership;
  /** Membership at the snapshot position, and every membership entry after it. */
  private membershipBase: Membership;
  private membershipLog: { position: number; membership: Membership }[] = [];
  private desired: readonly NodeId[] | null = null;

  private nowMs: number;
  /** Since when committed entries wait to be applied on this replica (see applyDue), or null. */
  private applyWaitingSinceMs: number | null = null;
  private electionDeadlineMs = 0;
  /** Last time the owner was heard from (the owner itself: last passed check-quorum). */
  private ownerContactMs = Number.NEGATIVE_INFINITY;
  /** Stepped down or failed to campaign for lack of a quorum, and no owner heard since. */
  private lostQuorum = false;
  /**
   * Highest position this follower verified to match the current owner's log (through an
   * append or snapshot from it in this epoch). A heartbeat's commit is only trusted up to
   * here: the owner's idea of this log may be stale, for instance when a heartbeat meant for
   * this node's previous run (before a wipe) arrives after it restarted.
   */
  private ownerMatched = 0;
  private readonly votes = new Map<NodeId, boolean>();
  /** See "Quiescence" in the header: an owner without heartbeats, or a replica that expects none. */
  private quiesced = false;
  /** A quiesced replica: the owner's liveness session when it quiesced. */
  private ownerSession = 0;

  // Owner state.
  private readonly progress = new Map<NodeId, PeerProgress>();
  private readyPosition = 0;
  private ownerReady = false;
  private heartbeatDueMs = 0;
  private heartbeatSeq = 0;
  private transfer: { target: NodeId; deadlineMs: number } | null = null;
  private pendingReads: { requestId: number; position: number; seq: number }[] = [];
  private uncommitted: { position: number; bytes: number }[] = [];
  private uncommittedBytes = 0;
  private preferredTransferAfterMs = 0;

  // Output waiting for the next Ready.
  private outbox: OutboundMessage<P>[] = [];
  /** Heartbeats and heartbeat answers put in the outbox since it was last emptied (takeUrgentMessages). */
  private urgentWaiting = 0;
  /** Proposals wait for their appends until the next Ready (see propose). */
  private appendsDue = false;
  private ownershipChanges: OwnershipChange[] = [];
  private readStates: ReadState[] = [];
  private pendingCompaction: Snapshot | null = null;
  private persistedHardState: HardState;
  private reported: { role: Role; owner: NodeId | null; ready: boolean; epoch: number };
  private inProgress: {
    lastEntry: { position: number; epoch: number } | null;
    snapshotPosition: number;
    appliedTo: number;
    hardState: HardState | null;
  } | null = null;

  constructor(env: GroupEnvironment<P>, partition: number, nowMs: number) {
    this.env = env;
    this.self = env.self;
    this.settings = env.settings;
    this.partition = partition;
    this.nowMs = nowMs;
    this.log = new ReplicatedLog(env.storage, partition, (entry) => this.entryBytes(entry));
    const hardState = env.storage.hardState(partition);
    if (hardState === undefined) {
      assert(
        env.storage.lastPosition(partition) === 0 && env.storage.snapshotMeta(partition) === undefined,
        `partition ${partition}: stored log without hard state`,
      );
    }
    this.epoch = hardState?.epoch ?? 0;
    this.vote = hardState?.vote ?? null;
    this.amnesia = hardState?.amnesia ?? newAmnesiaId(env.random);
    // With nothing stored yet, the first Ready persists the hard state (with the episode id).
    this.persistedHardState = hardState ?? { epoch: -1, vote: null, commit: 0, amnesia: 0 };
    this.membershipBase = env.storage.snapshotMeta(partition)?.membership ?? emptyMembership;
    this.membership = this.membershipBase;
    this.rebuildMembershipLog();
    this.reported = { role: this.role, owner: null, ready: false, epoch: this.epoch };
    this.resetElectionDeadline();
  }

  // ---------------------------------------------------------------- inputs

  /** Starts a brand-new partition whose replica set is `voters` (cluster creation only). */
  bootstrap(voters: readonly NodeId[]): void {
    assert(
      this.epoch === 0 && this.log.lastPosition() === 0 && this.log.snapshotPosition() === 0,
      `partition ${this.partition}: bootstrap on a partition that has state`,
    );
    assert(voters.length > 0 && new Set(voters).size === voters.length, 'bootstrap voters must be non-empty and unique');
    this.amnesia = 0;
    this.epoch = 1;
    const entry: Entry<P> = { position: 1, epoch: 1, kind: 'membership', membership: { voters: [...voters], learners: [] } };
    this.log.append([entry]);
    this.log.commitTo(1);
    this.adoptMembershipEntries([entry]);
    this.resetElectionDeadline();
  }

  setDesired(nodes: readonly NodeId[]): void {
    assert(new Set(nodes).size === nodes.length, 'replica set has duplicates');
    const wasPreferred = this.desired?.[0] === this.self;
    const hadDesired = this.desired !== null;
    if (this.role === 'owner' && (this.desired === null || !sameMembers(this.desired, nodes))) this.wake();
    this.desired = [...nodes];
    // A founding deadline drawn before the ring was known (bootstrap comes first) is drawn again.
    if (this.founding() && (!hadDesired || wasPreferred !== (nodes[0] === this.self))) this.resetElectionDeadline();
  }

  tick(nowMs: number): void {
    assert(nowMs >= this.nowMs, 'time went backwards');
    this.nowMs = nowMs;
    if (this.role === 'owner') this.tickOwner();
    else this.tickElection();
    // The clock of a replica's deferred apply starts at the first tick that sees it.
    this.applyWaitingSinceMs = this.log.committed > this.log.applied ? (this.applyWaitingSinceMs ?? this.nowMs) : null;
  }

  step(from: NodeId, message: Message<P>): void {
    assert(message.partition === this.partition, 'message routed to the wrong partition');
    if (from === this.self) return;
    if (this.quiesced) this.wakeOn(from, message);
    if (message.epoch > this.epoch) {
      if (message.type === 'pre-vote' || message.type === 'vote') {
        const forced = message.type === 'vote' && message.transfer;
        // Owner lease: while this replica hears from a live owner it ignores candidates,
        // so a replica that was cut off cannot depose a healthy owner when it returns.
        if (!forced && this.inLease()) return;
      }
      if (message.type === 'pre-vote' || (message.type === 'pre-vote-response' && message.granted)) {
        // A pre-vote is about a future epoch and changes no state.
      } else {
        const fromOwner = message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot';
        this.becomeFollower(message.epoch, fromOwner ? from : null, 'higher-epoch');
      }
    } else if (message.epoch < this.epoch) {
      // Tell a deposed owner about the newer epoch so it steps down; answer a lagging
      // pre-candidate so it stops. Anything else from the past is ignored.
      if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot') {
        this.send(from, this.appendResponse(false, 0, 0, 0));
      } else if (message.type === 'pre-vote') {
        this.send(from, { type: 'pre-vote-response', partition: this.partition, epoch: this.epoch, granted: false });
      }
      return;
    }
    switch (message.type) {
      case 'pre-vote':
      case 'vote':
        this.handleVoteRequest(from, message);
        return;
      case 'pre-vote-response':
      case 'vote-response':
        this.handleVoteResponse(from, message);
        return;
      case 'append':
        this.handleAppend(from, message);
        return;
      case 'heartbeat':
        this.handleHeartbeat(from, message);
        return;
      case 'snapshot':
        this.handleSnapshot(from, message);
        return;
      case 'append-response':
        if (this.role === 'owner') this.handleAppendResponse(from, message);
        return;
      case 'heartbeat-response':
        if (this.role === 'owner') this.handleHeartbeatResponse(from, message);
        return;
      case 'timeout-now':
        if (this.promotable()) this.campaign('transfer');
        return;
    }
  }

  propose(payload: P): ProposeResult {
    const refusal = this.refuseService();
    if (refusal !== null) return { ok: false, error: refusal };
    if (this.transfer !== null) return { ok: false, error: new UnavailableError(this.partition, 'transferring') };
    this.wake();
    const bytes = this.env.payloadBytes(payload);
    assert(bytes <= this.settings.entryBytesMax, `payload of ${bytes} bytes exceeds entryBytesMax`);
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.settings.uncommittedBytesMax) {
      return { ok: false, error: new OverloadedError(this.partition) };
    }
    const position = this.log.lastPosition() + 1;
    this.appendLocal({ position, epoch: this.epoch, kind: 'command', payload });
    this.uncommitted.push({ position, bytes });
    this.uncommittedBytes += bytes;
    // The appends leave with the next Ready (nothing is sent sooner), so every proposal of
    // this partition until then shares one append per replica.
    this.appendsDue = true;
    return { ok: true, position, epoch: this.epoch };
  }

  /**
   * Read-index: once a quorum confirms this node still owns the epoch, a ReadState with the
   * current commit position is emitted; state read after applying it is linearizable.
   */
  readIndex(requestId: number): CommandResult {
    const refusal = this.refuseService();
    if (refusal !== null) return { ok: false, error: refusal };
    if (this.membership.voters.length === 1) {
      this.readStates.push({ partition: this.partition, requestId, position: this.log.committed });
      return okResult;
    }
    if (this.pendingReads.length >= PENDING_READS_MAX) return { ok: false, error: new OverloadedError(this.partition) };
    this.wake();
    const seq = this.broadcastHeartbeat();
    this.pendingReads.push({ requestId, position: this.log.committed, seq });
    return okResult;
  }

  transferOwnership(target: NodeId): CommandResult {
    if (this.role !== 'owner') return { ok: false, error: new NotOwnerError(this.partition, this.owner) };
    if (target === this.self) return okResult;
    const progress = this.progress.get(target);
    if (!isVoter(this.membership, target) || progress === undefined || progress.amnesiac) {
      return { ok: false, error: new UnavailableError(this.partition, 'not-member') };
    }
    this.wake();
    this.startTransfer(target);
    return okResult;
  }

  /** Records that the application's state at `position` is `data`; the log before it can go. */
  compact(position: number, data: Uint8Array): void {
    assert(position <= this.log.applied, `partition ${this.partition}: compacting beyond the applied position`);
    // A snapshot received from the owner (maybe not yet persisted) already covers it.
    if (position <= this.log.snapshotPosition()) return;
    assert(position <= this.log.persistedLast(), `partition ${this.partition}: compacting unpersisted entries`);
    const epoch = this.log.epochAt(position);
    assert(epoch !== undefined, 'compaction position has no epoch');
    const membership = this.membershipAt(position);
    this.pendingCompaction = { position, epoch, membership, data };
    this.membershipBase = membership;
    this.membershipLog = this.membershipLog.filter((change) => change.position > position);
  }

  status(): PartitionStatus {
    return {
      partition: this.partition,
      role: this.role,
      epoch: this.epoch,
      owner: this.owner,
      ready: this.role === 'owner' && this.ownerReady,
      amnesiac: this.amnesia !== 0,
      commit: this.log.committed,
      applied: this.log.applied,
      lastPosition: this.log.lastPosition(),
      persistedPosition: this.log.persistedLast(),
      snapshotPosition: this.log.snapshotPosition(),
      membership: this.membership,
      membershipPending: (this.membershipLog.at(-1)?.position ?? 0) > this.log.committed,
      desired: this.desired,
      quorumLost: this.role !== 'owner' && this.owner === null && this.lostQuorum,
      quiesced: this.quiesced,
    };
  }

  // ---------------------------------------------------------------- Ready / advance

  hasReady(): boolean {
    return (
      this.appendsDue ||
      this.outbox.length > 0 ||
      this.ownershipChanges.length > 0 ||
      this.readStates.length > 0 ||
      this.pendingCompaction !== null ||
      this.log.unstableSnapshotToPersist() !== null ||
      this.log.unstableEntriesToPersist().length > 0 ||
      this.applyDue() ||
      !sameHardState(this.hardState(), this.persistedHardState)
    );
  }

  /** Committed entries wait to be applied (due or not). */
  applyPending(): boolean {
    return this.log.committed > this.log.applied;
  }

  /**
   * Whether the next Ready writes to the store. A Ready of the node that writes anyway takes
   * every partition's pending applies along (collectReady's `applyAlong`): they then cost no
   * transaction of their own.
   */
  hasStoreWork(): boolean {
    return (
      this.pendingCompaction !== null ||
      this.log.unstableSnapshotToPersist() !== null ||
      this.log.unstableEntriesToPersist().length > 0 ||
      this.applyDue() ||
      !sameHardState(this.hardState(), this.persistedHardState)
    );
  }

  /**
   * Whether pending applies must go out now even without other store work: always on the
   * owner (its clients wait for them); on a replica once they waited replicaApplyDelayMs or
   * filled a Ready. Applying is the last step of a committed entry's path, so deferring it
   * changes no protocol state: only what this node's store and subscribers show, a little later.
   */
  private applyDue(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    if (this.role === 'owner' || this.settings.replicaApplyDelayMs === 0) return true;
    if (this.log.committed - this.log.applied >= this.settings.applyEntriesMax) return true;
    return this.applyWaitingSinceMs !== null && this.nowMs - this.applyWaitingSinceMs >= this.settings.replicaApplyDelayMs;
  }

  /** `applyAlong`: the node's Ready writes to the store anyway, so pending applies ride along. */
  collectReady(applyAlong = false): GroupReady<P> {
    assert(this.inProgress === null, 'collectReady before advance');
    if (this.appendsDue) {
      this.appendsDue = false;
      if (this.role === 'owner') for (const progress of this.progress.values()) this.sendAppendsWhileUnpaused(progress);
    }
    const hardState = this.hardState();
    const hardStateChanged = !sameHardState(hardState, this.persistedHardState);
    const unstableSnapshot = this.log.unstableSnapshotToPersist();
    const entries = [...this.log.unstableEntriesToPersist()];
    const snapshotWrite =
      unstableSnapshot !== null
        ? { kind: 'install' as const, snapshot: unstableSnapshot }
        : this.pendingCompaction !== null
          ? { kind: 'compact' as const, snapshot: this.pendingCompaction }
          : null;
    this.pendingCompaction = null;
    let write: PartitionWrite<P> | null = null;
    if (snapshotWrite !== null || entries.length > 0 || hardStateChanged) {
      write = {
        partition: this.partition,
        entries,
        ...(snapshotWrite === null ? {} : { snapshot: snapshotWrite }),
        ...(hardStateChanged ? { hardState } : {}),
      };
    }
    let appliedTo = this.log.applied;
    const applySnapshot = unstableSnapshot !== null && unstableSnapshot.position > appliedTo ? unstableSnapshot : null;
    if (applySnapshot !== null) appliedTo = applySnapshot.position;
    const applyNow = applyAlong || write !== null || this.applyDue();
    const applyEntries =
      applyNow && this.log.committed > appliedTo
        ? this.log.entries(appliedTo + 1, this.log.committed + 1, this.settings.applyEntriesMax, Number.POSITIVE_INFINITY)
        : [];
    assert(applyEntries !== undefined, `partition ${this.partition}: committed entries to apply were compacted`);
    const lastApplied = applyEntries.at(-1);
    if (lastApplied !== undefined) appliedTo = lastApplied.position;
    const apply: PartitionApply<P> | null =
      applySnapshot !== null || applyEntries.length > 0
        ? { partition: this.partition, entries: applyEntries, ...(applySnapshot === null ? {} : { snapshot: applySnapshot }) }
        : null;
    const lastEntry = entries.at(-1);
    this.inProgress = {
      lastEntry: lastEntry === undefined ? null : { position: lastEntry.position, epoch: lastEntry.epoch },
      snapshotPosition: unstableSnapshot?.position ?? 0,
      appliedTo,
      hardState: hardStateChanged ? hardState : null,
    };
    // The owner's appends and heartbeats may leave before this Ready's writes are durable, so
    // the replicas write in parallel with the owner (Raft dissertation 10.2.1): the owner counts
    // its own copy towards a quorum only once it is durable (maybeCommit uses persistedLast),
    // and nothing they carry depends on unpersisted state. Except a new epoch: if this Ready
    // persists the epoch it sends under, a crash before the write would let this node win the
    // same epoch again and send different entries under it.
    const early = this.role === 'owner' && this.persistedHardState.epoch === this.epoch;
    const earlyMessages = early ? this.outbox.filter(({ message }) => message.type === 'append' || message.type === 'heartbeat') : [];
    const messages = earlyMessages.length === 0 ? this.outbox : this.outbox.filter(({ message }) => message.type !== 'append' && message.type !== 'heartbeat');
    const ready: GroupReady<P> = {
      write,
      apply,
      earlyMessages,
      messages,
      ownershipChanges: this.ownershipChanges,
      readStates: this.readStates,
    };
    this.outbox = [];
    this.urgentWaiting = 0;
    this.ownershipChanges = [];
    this.readStates = [];
    return ready;
  }

  advance(): void {
    const done = this.inProgress;
    assert(done !== null, 'advance without a Ready in progress');
    this.inProgress = null;
    if (done.lastEntry !== null) this.log.stableTo(done.lastEntry.position, done.lastEntry.epoch);
    if (done.snapshotPosition > 0) this.log.stableSnapshotTo(done.snapshotPosition);
    if (done.hardState !== null) this.persistedHardState = done.hardState;
    if (done.appliedTo > this.log.applied) {
      this.log.applied = done.appliedTo;
      // What is left was committed while this Ready was written: its wait starts now, so a
      // replica's next apply does not become due at once and cost a transaction of its own.
      this.applyWaitingSinceMs = this.log.applied >= this.log.committed ? null : this.nowMs;
    }
    this.log.trimCache();
    // The owner's own copy counts towards the commit quorum only once durable. Replicas learn
    // the new commit position from the next append, or from the notice of the next tick.
    if (this.role === 'owner') this.maybeCommit();
  }

  // ---------------------------------------------------------------- timers

  private tickElection(): void {
    if (this.quiesced) {
      this.tickQuiescedReplica();
      return;
    }
    if (this.nowMs < this.electionDeadlineMs) return;
    if (this.role === 'pre-candidate') this.lostQuorum = true;
    this.resetElectionDeadline();
    if (this.promotable()) this.campaign('pre');
  }

  private tickOwner(): void {
    if (this.quiesced) {
      if (this.quiescedVotersLive()) {
        this.ownerContactMs = this.nowMs;
        return;
      }
      this.wake();
    }
    if (!this.quorumActive()) {
      // Check-quorum: an owner cut off from a majority steps down, so the minority side of
      // a split refuses writes instead of accepting ones that cannot commit.
      this.becomeFollower(this.epoch, null, 'check-quorum-lost');
      this.lostQuorum = true;
      return;
    }
    this.ownerContactMs = this.nowMs;
    if (this.transfer !== null && this.nowMs >= this.transfer.deadlineMs) this.transfer = null;
    for (const progress of this.progress.values()) {
      if (progress.state === 'snapshot' && this.nowMs - progress.snapshotSentMs >= this.settings.snapshotRetryMs) {
        progress.becomeProbe();
      }
    }
    if (this.nowMs >= this.heartbeatDueMs) this.broadcastHeartbeat(true);
    this.sendCommitNotices();
    this.maybeChangeMembership();
    this.maybeTransferToPreferred();
    this.maybeQuiesce();
  }

  // ---------------------------------------------------------------- quiescence (see the header)

  /** Owner: the last heartbeat, marked `quiesce`, once nothing is left to tell any replica. */
  private maybeQuiesce(): void {
    const liveness = this.env.liveness;
    if (liveness === undefined || !this.idleEverywhere(liveness)) return;
    for (const progress of this.progress.values()) progress.quiescedSession = liveness(progress.node);
    this.quiesced = true;
    this.broadcastHeartbeat(false, true);
  }

  /** Owner: committed, durable, acknowledged and known committed by every voter, nothing under way. */
  private idleEverywhere(liveness: (node: NodeId) => number): boolean {
    const last = this.log.lastPosition();
    if (!this.ownerReady || this.transfer !== null || this.appendsDue || this.pendingReads.length > 0 || this.uncommitted.length > 0) return false;
    if (this.log.committed !== last || this.log.persistedLast() !== last || this.pendingCompaction !== null) return false;
    // The ring's replica set is in effect and its preferred owner owns: no change or transfer to make.
    if (this.membership.learners.length > 0 || this.progress.size !== this.membership.voters.length - 1) return false;
    if (this.desired !== null && (this.desired[0] !== this.self || !sameMembers(this.desired, this.membership.voters))) return false;
    for (const progress of this.progress.values()) {
      if (progress.amnesiac || progress.state !== 'replicate' || progress.match !== last || progress.inflight.length > 0) return false;
      if (progress.reportedCommit !== last || this.nowMs - progress.lastHeardMs >= 2 * this.settings.heartbeatIntervalMs) return false;
      if (liveness(progress.node) === 0) return false;
    }
    return true;
  }

  /** Quiesced owner: every voter's node is still live in the session it had when the owner quiesced. */
  private quiescedVotersLive(): boolean {
    const liveness = this.env.liveness;
    if (liveness === undefined) return false;
    for (const progress of this.progress.values()) if (liveness(progress.node) !== progress.quiescedSession) return false;
    return true;
  }

  /**
   * Quiesced replica: the owner's node is live in the session it quiesced in, which stands in
   * for its heartbeats (and keeps its lease). When it is not, the owner went down or restarted:
   * the lease ends, and this replica campaigns at its turn rather than after a whole election
   * timeout, since the failure detector already waited out the silence.
   */
  private tickQuiescedReplica(): void {
    const liveness = this.env.liveness;
    if (this.owner !== null && liveness !== undefined && liveness(this.owner) === this.ownerSession) {
      this.ownerContactMs = this.nowMs;
      this.resetElectionDeadline();
      return;
    }
    this.wake();
    this.ownerContactMs = Number.NEGATIVE_INFINITY;
    // Every replica learns of the death at about the same moment, so random delays alone would
    // often start two campaigns together and split the vote (a second election timeout: bench
    // failover p99 1.9 s). The live voters take turns in the ring's order instead, a quarter of
    // the election timeout span apart: the first one's pre-vote and vote reach the others
    // before their turn comes.
    const stepMs = (this.settings.electionTimeoutMaxMs - this.settings.electionTimeoutMinMs) / 2;
    const turns = (this.desired ?? this.membership.voters).filter((node) => isVoter(this.membership, node) && (node === this.self || (liveness?.(node) ?? 0) !== 0));
    const turn = Math.max(0, turns.indexOf(this.self));
    this.electionDeadlineMs = this.nowMs + turn * stepMs + Math.floor(this.env.random() * (stepMs / 5));
  }

  /**
   * A message reached a quiesced group. The owner wakes for anything but a clean answer to its
   * `quiesce` heartbeat. A replica wakes for anything from the owner (handleHeartbeat quiesces
   * it again if that is a `quiesce` heartbeat); a vote request from the owner itself means it
   * no longer acts as owner (it restarted, or stepped down), so its lease ends here too.
   */
  private wakeOn(from: NodeId, message: Message<P>): void {
    if (this.role === 'owner') {
      const echo = message.type === 'heartbeat-response' && message.epoch === this.epoch && message.amnesia === 0 && message.commit === this.log.committed;
      if (!echo) this.wake();
      return;
    }
    if (from !== this.owner) return;
    this.wake();
    if (message.type === 'pre-vote' || message.type === 'vote') this.ownerContactMs = Number.NEGATIVE_INFINITY;
  }

  /**
   * Leaves quiescence. An owner counts the voters the peer layer kept vouching for as heard
   * now (or check-quorum would fail at once over the quiet time) and heartbeats at its next tick.
   */
  private wake(): void {
    if (!this.quiesced) return;
    this.quiesced = false;
    this.ownerSession = 0;
    if (this.role !== 'owner') return;
    const liveness = this.env.liveness;
    for (const progress of this.progress.values()) {
      if (liveness !== undefined && liveness(progress.node) === progress.quiescedSession) progress.lastHeardMs = Math.max(progress.lastHeardMs, this.nowMs);
      progress.quiescedSession = 0;
    }
    this.heartbeatDueMs = this.nowMs;
  }

  private resetElectionDeadline(): void {
    const { electionTimeoutMinMs, electionTimeoutMaxMs } = this.settings;
    const halfMs = (electionTimeoutMaxMs - electionTimeoutMinMs) / 2;
    // The preferred owner draws from the lower half, so after a failure it usually
    // campaigns first and ownership lands where the ring wants it. While a new cluster founds
    // (see founding) the others draw from the upper half: the preferred owner campaigns first
    // unless it is not up, so each partition is elected once, where the ring wants it, instead
    // of a third of them electing another node first and then handing over (issue 14).
    const preferred = this.desired?.[0] === this.self;
    const fromMs = electionTimeoutMinMs + (!preferred && this.founding() ? halfMs : 0);
    const spanMs = preferred || this.founding() ? halfMs : 2 * halfMs;
    this.electionDeadlineMs = this.nowMs + fromMs + Math.floor(this.env.random() * spanMs);
  }

  /** The partition was bootstrapped with its first replica set and has had no owner yet. */
  private founding(): boolean {
    return this.epoch === 1 && this.owner === null && this.role === 'follower' && this.desired !== null;
  }

  private inLease(): boolean {
    return this.owner !== null && this.nowMs - this.ownerContactMs < this.settings.electionTimeoutMinMs;
  }

  private quorumActive(): boolean {
    const windowMs = this.settings.electionTimeoutMinMs;
    let active = 0;
    for (const voter of this.membership.voters) {
      if (voter === this.self) active += 1;
      else {
        const progress = this.progress.get(voter);
        if (progress !== undefined && !progress.amnesiac && this.nowMs - progress.lastHeardMs < windowMs) active += 1;
      }
    }
    return active >= quorumSize(this.membership.voters.length);
  }

  // ---------------------------------------------------------------- elections

  private promotable(): boolean {
    return this.amnesia === 0 && isVoter(this.membership, this.self);
  }

  private campaign(kind: 'pre' | 'normal' | 'transfer'): void {
    this.quiesced = false;
    this.ownerSession = 0;
    this.votes.clear();
    this.votes.set(this.self, true);
    this.owner = null;
    if (kind === 'pre') {
      this.role = 'pre-candidate';
      this.reportOwnership('campaign');
      if (this.tallyVotes().granted >= quorumSize(this.membership.voters.length)) {
        this.campaign('normal');
        return;
      }
      const request: PreVoteRequest = {
        type: 'pre-vote',
        partition: this.partition,
        epoch: this.epoch + 1,
        lastPosition: this.log.lastPosition(),
        lastEpoch: this.log.lastEpoch(),
      };
      this.sendToVoters(request);
      return;
    }
    this.epoch += 1;
    this.vote = this.self;
    this.role = 'candidate';
    this.resetElectionDeadline();
    this.reportOwnership('campaign');
    if (this.tallyVotes().granted >= quorumSize(this.membership.voters.length)) {
      this.becomeOwner();
      return;
    }
    const request: VoteRequest = {
      type: 'vote',
      partition: this.partition,
      epoch: this.epoch,
      lastPosition: this.log.lastPosition(),
      lastEpoch: this.log.lastEpoch(),
      transfer: kind === 'transfer',
    };
    this.sendToVoters(request);
  }

  private sendToVoters(message: PreVoteRequest | VoteRequest): void {
    for (const voter of this.membership.voters) if (voter !== this.self) this.send(voter, message);
  }

  private handleVoteRequest(from: NodeId, request: PreVoteRequest | VoteRequest): void {
    const pre = request.type === 'pre-vote';
    const canVote =
      this.vote === from || (this.vote === null && this.owner === null) || (pre && request.epoch > this.epoch);
    const granted = canVote && this.amnesia === 0 && this.log.isUpToDate(request.lastPosition, request.lastEpoch);
    const epoch = granted ? request.epoch : this.epoch;
    if (pre) {
      this.send(from, { type: 'pre-vote-response', partition: this.partition, epoch, granted } satisfies PreVoteResponse);
      return;
    }
    if (granted) {
      this.vote = from;
      this.resetElectionDeadline();
    }
    this.send(from, { type: 'vote-response', partition: this.partition, epoch, granted } satisfies VoteResponse);
  }

  private handleVoteResponse(from: NodeId, response: PreVoteResponse | VoteResponse): void {
    const pre = response.type === 'pre-vote-response';
    if (this.role !== (pre ? 'pre-candidate' : 'candidate')) return;
    if (response.granted && response.epoch !== (pre ? this.epoch + 1 : this.epoch)) return;
    if (!this.votes.has(from)) this.votes.set(from, response.granted);
    const { granted, refused } = this.tallyVotes();
    const quorum = quorumSize(this.membership.voters.length);
    if (granted >= quorum) {
      if (pre) this.campaign('normal');
      else this.becomeOwner();
    } else if (refused >= quorum) {
      this.becomeFollower(this.epoch, null, 'election-lost');
    }
  }

  private tallyVotes(): { granted: number; refused: number } {
    let granted = 0;
    let refused = 0;
    for (const voter of this.membership.voters) {
      const vote = this.votes.get(voter);
      if (vote === true) granted += 1;
      else if (vote === false) refused += 1;
    }
    return { granted, refused };
  }

  private becomeFollower(epoch: number, leader: NodeId | null, reason: OwnershipReason): void {
    assert(epoch >= this.epoch, 'epochs only grow');
    if (epoch > this.epoch) {
      this.epoch = epoch;
      this.vote = null;
    }
    if (this.role === 'owner') this.clearOwnerState(leader);
    this.quiesced = false;
    this.ownerSession = 0;
    this.role = 'follower';
    this.owner = null;
    this.ownerMatched = 0;
    this.resetElectionDeadline();
    if (leader !== null) this.noteOwner(leader);
    this.reportOwnership(reason);
  }

  private noteOwner(leader: NodeId): void {
    if (this.owner !== leader) this.ownerMatched = 0;
    this.owner = leader;
    this.ownerContactMs = this.nowMs;
    this.lostQuorum = false;
    // The owner of this epoch already won it; recording the vote for it closes the epoch
    // to other candidates, which also covers votes an amnesiac replica forgot.
    if (this.vote === null) this.vote = leader;
  }

  private becomeOwner(): void {
    assert(this.role === 'candidate', 'only a candidate becomes owner');
    this.role = 'owner';
    this.owner = this.self;
    this.ownerContactMs = this.nowMs;
    this.lostQuorum = false;
    this.progress.clear();
    this.syncProgress();
    this.heartbeatSeq = 0;
    this.pendingReads = [];
    this.transfer = null;
    this.uncommitted = [];
    this.uncommittedBytes = 0;
    this.ownerReady = false;
    this.heartbeatDueMs = this.nextHeartbeatMs();
    this.preferredTransferAfterMs = this.nowMs;
    this.readyPosition = this.log.lastPosition() + 1;
    // Raft commits earlier epochs' entries only through an entry of the current epoch;
    // until this no-op commits the owner does not know its commit position, so it waits.
    this.appendLocal({ position: this.readyPosition, epoch: this.epoch, kind: 'noop' });
    this.reportOwnership('elected');
    this.broadcastAppend();
  }

  private clearOwnerState(newOwner: NodeId | null): void {
    for (const read of this.pendingReads) {
      this.readStates.push({ partition: this.partition, requestId: read.requestId, error: new NotOwnerError(this.partition, newOwner) });
    }
    this.pendingReads = [];
    this.progress.clear();
    this.transfer = null;
    this.uncommitted = [];
    this.uncommittedBytes = 0;
    this.ownerReady = false;
    // Entries this owner committed are still applied at once: their proposers wait for them,
    // and the driver fails every proposal it has not settled when the ownership is lost.
    if (this.log.committed > this.log.applied) this.applyWaitingSinceMs = Number.NEGATIVE_INFINITY;
  }

  // ---------------------------------------------------------------- follower side

  /** An append, heartbeat or snapshot from the owner of the current epoch arrived. */
  private acceptOwner(from: NodeId, readmit: number): void {
    assert(this.role !== 'owner', `partition ${this.partition}: two owners in epoch ${this.epoch}`);
    if (this.role !== 'follower') {
      this.becomeFollower(this.epoch, from, 'owner-discovered');
    } else {
      assert(this.owner === null || this.owner === from, `partition ${this.partition}: two owners in epoch ${this.epoch}`);
      const discovered = this.owner === null;
      this.noteOwner(from);
      if (discovered) this.reportOwnership('owner-discovered');
    }
    this.resetElectionDeadline();
    if (readmit !== 0 && readmit === this.amnesia) this.amnesia = 0;
  }

  private handleAppend(from: NodeId, request: AppendRequest<P>): void {
    this.acceptOwner(from, request.readmit);
    if (!entriesAreContiguous(request)) return;
    if (request.prevPosition < this.log.committed) {
      this.send(from, this.appendResponse(true, this.log.committed, 0, 0));
      return;
    }
    const appended = this.log.tryAppend(request.prevPosition, request.prevEpoch, request.entries);
    if (appended === undefined) {
      const hint = this.log.findConflictByEpoch(Math.min(request.prevPosition, this.log.lastPosition()), request.prevEpoch);
      this.send(from, this.appendResponse(false, request.prevPosition, hint.position, hint.epoch));
      return;
    }
    if (appended.appendedFrom > 0) {
      this.truncateMembershipLog(appended.appendedFrom);
      this.adoptMembershipEntries(request.entries.filter((entry) => entry.position >= appended.appendedFrom));
    }
    this.ownerMatched = Math.max(this.ownerMatched, appended.lastMatched);
    this.log.commitTo(Math.min(request.commit, appended.lastMatched));
    this.send(from, this.appendResponse(true, appended.lastMatched, 0, 0));
  }

  private handleHeartbeat(from: NodeId, request: HeartbeatRequest): void {
    this.acceptOwner(from, request.readmit);
    this.log.commitTo(Math.min(request.commit, this.ownerMatched));
    const session = this.env.liveness?.(from) ?? 0;
    if (request.quiesce && session !== 0 && this.amnesia === 0 && this.log.committed === request.commit) {
      this.quiesced = true;
      this.ownerSession = session;
    }
    const response: HeartbeatResponse = {
      type: 'heartbeat-response',
      partition: this.partition,
      epoch: this.epoch,
      seq: request.seq,
      commit: this.log.committed,
      amnesia: this.amnesia,
    };
    this.send(from, response);
  }

  private handleSnapshot(from: NodeId, request: SnapshotRequest): void {
    this.acceptOwner(from, 0);
    const snapshot = request.snapshot;
    if (snapshot.position <= this.log.committed) {
      this.send(from, this.appendResponse(true, this.log.committed, 0, 0));
      return;
    }
    if (this.log.matchesEpoch(snapshot.position, snapshot.epoch)) {
      // The log already holds the snapshot's last entry: just learn it is committed.
      this.ownerMatched = Math.max(this.ownerMatched, snapshot.position);
      this.log.commitTo(snapshot.position);
      this.send(from, this.appendResponse(true, snapshot.position, 0, 0));
      return;
    }
    this.log.restore(snapshot);
    this.ownerMatched = snapshot.position;
    this.pendingCompaction = null;
    this.membershipBase = snapshot.membership;
    this.membershipLog = [];
    this.membership = snapshot.membership;
    this.send(from, this.appendResponse(true, snapshot.position, 0, 0));
  }

  private appendResponse(success: boolean, position: number, hintPosition: number, hintEpoch: number): AppendResponse {
    return {
      type: 'append-response',
      partition: this.partition,
      epoch: this.epoch,
      success,
      position,
      hintPosition,
      hintEpoch,
      amnesia: this.amnesia,
    };
  }

  // ---------------------------------------------------------------- owner side

  private handleAppendResponse(from: NodeId, response: AppendResponse): void {
    const progress = this.progress.get(from);
    if (progress === undefined) return;
    progress.lastHeardMs = this.nowMs;
    this.noteAmnesia(progress, response.amnesia);
    if (!response.success) {
      const hint =
        response.hintEpoch > 0
          ? this.log.findConflictByEpoch(response.hintPosition, response.hintEpoch).position
          : response.hintPosition;
      if (progress.refuse(response.position, hint)) {
        if (progress.state === 'replicate') progress.becomeProbe();
        this.sendAppend(progress, true);
      }
      return;
    }
    assert(response.position <= this.log.lastPosition(), `partition ${this.partition}: replica acknowledged beyond the owner's log`);
    if (progress.acknowledge(response.position)) {
      if (progress.state === 'probe') progress.becomeReplicate();
      else if (progress.state === 'snapshot' && progress.match >= progress.pendingSnapshot) {
        progress.becomeProbe();
        progress.becomeReplicate();
      }
      this.maybeCommit();
      if (this.transfer?.target === from && progress.match === this.log.lastPosition()) this.sendTimeoutNow(from);
    }
    this.sendAppendsWhileUnpaused(progress);
  }

  private handleHeartbeatResponse(from: NodeId, response: HeartbeatResponse): void {
    const progress = this.progress.get(from);
    if (progress === undefined) return;
    progress.lastHeardMs = this.nowMs;
    this.noteAmnesia(progress, response.amnesia);
    if (response.amnesia === 0) progress.ackedSeq = Math.max(progress.ackedSeq, response.seq);
    progress.reportedCommit = response.commit;
    progress.probeSent = false;
    // The replica is alive, but answers to a full window of appends may all have been lost;
    // freeing one slot lets the next append through, which it accepts or refuses.
    if (progress.state === 'replicate' && progress.inflight.length >= this.settings.inflightAppendsMax) {
      progress.inflight.shift();
    }
    // Either entries are missing, or the replica could not verify enough of its log to
    // learn the commit position from heartbeats: an append (maybe empty) fixes both.
    const commitKnown = Math.min(progress.match, this.log.committed);
    if (progress.match < this.log.lastPosition() || response.commit < commitKnown) this.sendAppend(progress, true);
    this.releaseReads();
  }

  /** Tracks a replica's amnesia; on learning of a new episode, starts its fence. */
  private noteAmnesia(progress: PeerProgress, amnesia: number): void {
    if (amnesia !== 0 && amnesia !== progress.amnesia) {
      progress.amnesia = amnesia;
      // Whatever the replica acknowledged before its wipe is gone.
      progress.match = 0;
      progress.becomeProbe();
      progress.amnesiaBarrier = this.log.lastPosition() + 1;
      this.appendLocal({ position: progress.amnesiaBarrier, epoch: this.epoch, kind: 'noop' });
      this.broadcastAppend();
    } else if (amnesia === 0 && progress.amnesia !== 0) {
      progress.amnesia = 0;
      progress.amnesiaBarrier = 0;
    }
  }

  /** The amnesia episode this replica may be readmitted from now, or 0. */
  private readmits(progress: PeerProgress): number {
    // The replica must also hold the fence itself: readmitted with a short log (a wiped disk
    // still catching up), its vote would go to any candidate, even one missing committed
    // entries; holding the fence, it votes only for logs that contain them.
    const barrier = progress.amnesiaBarrier;
    return barrier > 0 && this.log.committed >= barrier && progress.match >= barrier ? progress.amnesia : 0;
  }

  /** Advances the commit position to what a quorum of non-amnesiac voters holds durably. */
  private maybeCommit(): boolean {
    const voters = this.membership.voters;
    assert(voters.includes(this.self), `partition ${this.partition}: owner is not a voter`);
    const matches = voters.map((voter) => {
      if (voter === this.self) return this.log.persistedLast();
      const progress = this.progress.get(voter);
      return progress === undefined || progress.amnesiac ? 0 : progress.match;
    });
    matches.sort((a, b) => b - a);
    const candidate = matches[quorumSize(voters.length) - 1] ?? 0;
    // Only an entry of the owner's own epoch commits by counting (Raft 5.4.2).
    if (candidate <= this.log.committed || this.log.epochAt(candidate) !== this.epoch) return false;
    this.log.commitTo(candidate);
    while (this.uncommitted.length > 0 && (this.uncommitted[0]?.position ?? Infinity) <= candidate) {
      this.uncommittedBytes -= this.uncommitted.shift()?.bytes ?? 0;
    }
    if (!this.ownerReady && candidate >= this.readyPosition) {
      this.ownerReady = true;
      this.reportOwnership('ready');
    }
    return true;
  }

  /**
   * Tells replicas a commit position they have not heard yet, once per tick at most: an
   * empty append to each replica whose known commit lags. Sending one on every commit advance
   * (etcd raft's habit) costs two messages per replica per command under load; deferring it to
   * the tick lets several commits share one notice, and most ride on the next append anyway.
   * Replicas apply a little later (at most a tick); the owner's acknowledgements do not wait.
   */
  private sendCommitNotices(): void {
    for (const progress of this.progress.values()) {
      if (Math.min(progress.match, this.log.committed) > progress.commitSent) this.sendAppend(progress, true);
    }
  }

  private broadcastAppend(): void {
    for (const progress of this.progress.values()) this.sendAppend(progress, true);
  }

  private sendAppendsWhileUnpaused(progress: PeerProgress): void {
    while (this.sendAppend(progress, false)) {
      // Streams batches until the in-flight window is full or nothing is left.
    }
  }

  /** Sends the next batch to a replica (or a snapshot); false when nothing was sent. */
  private sendAppend(progress: PeerProgress, sendIfEmpty: boolean): boolean {
    if (progress.isPaused(this.settings.inflightAppendsMax)) return false;
    const prevPosition = progress.next - 1;
    const prevEpoch = this.log.epochAt(prevPosition);
    const entries = this.log.entries(
      progress.next,
      this.log.lastPosition() + 1,
      this.settings.appendEntriesMax,
      this.settings.appendBytesMax,
    );
    if (prevEpoch === undefined || entries === undefined) return this.sendSnapshot(progress);
    if (entries.length === 0 && !sendIfEmpty) return false;
    const request: AppendRequest<P> = {
      type: 'append',
      partition: this.partition,
      epoch: this.epoch,
      prevPosition,
      prevEpoch,
      entries,
      commit: this.log.committed,
      readmit: this.readmits(progress),
    };
    this.send(progress.node, request);
    progress.lastAppendSentMs = this.nowMs;
    progress.sent(prevPosition + entries.length);
    progress.commitSent = Math.max(progress.commitSent, Math.min(this.log.committed, prevPosition + entries.length));
    return true;
  }

  private sendSnapshot(progress: PeerProgress): boolean {
    const snapshot = this.env.storage.snapshot(this.partition);
    assert(snapshot !== undefined, `partition ${this.partition}: entries compacted but no snapshot stored`);
    const request: SnapshotRequest = { type: 'snapshot', partition: this.partition, epoch: this.epoch, snapshot };
    this.send(progress.node, request);
    progress.becomeSnapshot(snapshot.position, this.nowMs);
    return true;
  }

  /**
   * The next multiple of the heartbeat interval on the shared clock: every partition a node
   * owns heartbeats on the same tick, so the driver sends them (and the replicas send their
   * answers) as one frame per peer instead of one frame per partition spread over the interval.
   */
  private nextHeartbeatMs(): number {
    const interval = this.settings.heartbeatIntervalMs;
    return (Math.floor(this.nowMs / interval) + 1) * interval;
  }

  /**
   * Sends heartbeats to every replica; returns the sequence number they carry. The periodic
   * round (`routine`) skips a replica that is streaming appends and was sent one within the
   * interval: the append already told it the owner is alive, and its answer tells the owner
   * the replica is, so under load most heartbeats and their answers are not sent, as long as
   * the replica was heard within the interval (its append answers wait for its store writes;
   * when those lag, the heartbeat's answer keeps the owner's check-quorum fed). A read's round
   * (readIndex) goes to every replica, since it needs their answers to this very round.
   */
  private broadcastHeartbeat(routine = false, quiesce = false): number {
    this.heartbeatSeq += 1;
    this.heartbeatDueMs = this.nextHeartbeatMs();
    for (const progress of this.progress.values()) {
      const streaming = progress.state === 'replicate' && this.nowMs - progress.lastAppendSentMs < this.settings.heartbeatIntervalMs;
      // ...unless the replica's answers lag: they wait for its store writes, heartbeat answers do not.
      if (routine && streaming && this.nowMs - progress.lastHeardMs < this.settings.heartbeatIntervalMs) continue;
      const request: HeartbeatRequest = {
        type: 'heartbeat',
        partition: this.partition,
        epoch: this.epoch,
        commit: Math.min(progress.match, this.log.committed),
        seq: this.heartbeatSeq,
        readmit: this.readmits(progress),
        quiesce,
      };
      this.send(progress.node, request);
      progress.commitSent = Math.max(progress.commitSent, request.commit);
    }
    return this.heartbeatSeq;
  }

  private releaseReads(): void {
    const quorum = quorumSize(this.membership.voters.length);
    while (this.pendingReads.length > 0) {
      const read = this.pendingReads[0];
      assert(read !== undefined, 'pending reads has a hole');
      let confirmations = 0;
      for (const voter of this.membership.voters) {
        if (voter === this.self) confirmations += 1;
        else {
          const progress = this.progress.get(voter);
          if (progress !== undefined && !progress.amnesiac && progress.ackedSeq >= read.seq) confirmations += 1;
        }
      }
      if (confirmations < quorum) return;
      this.pendingReads.shift();
      this.readStates.push({ partition: this.partition, requestId: read.requestId, position: read.position });
    }
  }

  private startTransfer(target: NodeId): void {
    const progress = this.progress.get(target);
    assert(progress !== undefined, 'transfer target has no progress');
    this.transfer = { target, deadlineMs: this.nowMs + this.settings.transferTimeoutMs };
    if (progress.match === this.log.lastPosition()) this.sendTimeoutNow(target);
    else this.sendAppend(progress, true);
  }

  private sendTimeoutNow(target: NodeId): void {
    this.send(target, { type: 'timeout-now', partition: this.partition, epoch: this.epoch });
  }

  private isCaughtUp(node: NodeId): boolean {
    const progress = this.progress.get(node);
    return (
      progress !== undefined &&
      !progress.amnesiac &&
      progress.match >= this.log.committed &&
      this.nowMs - progress.lastHeardMs < this.settings.electionTimeoutMinMs
    );
  }

  private maybeChangeMembership(): void {
    if (!this.ownerReady || this.transfer !== null || this.desired === null) return;
    // One change at a time: the previous one must be committed first.
    const lastChange = this.membershipLog.at(-1);
    if (lastChange !== undefined && lastChange.position > this.log.committed) return;
    const step = planMembershipStep(this.membership, this.desired, this.self, (node) => this.isCaughtUp(node));
    if (step.kind === 'change') {
      this.appendLocal({ position: this.log.lastPosition() + 1, epoch: this.epoch, kind: 'membership', membership: step.membership });
      this.broadcastAppend();
    } else if (step.kind === 'transfer') {
      this.startTransfer(step.target);
    }
  }

  private maybeTransferToPreferred(): void {
    if (!this.ownerReady || this.transfer !== null || this.desired === null) return;
    const preferred = this.desired[0];
    if (preferred === undefined || preferred === this.self || this.nowMs < this.preferredTransferAfterMs) return;
    if (!isVoter(this.membership, preferred)) return;
    const progress = this.progress.get(preferred);
    if (progress === undefined || progress.amnesiac || progress.match !== this.log.lastPosition()) return;
    if (this.nowMs - progress.lastHeardMs >= this.settings.heartbeatIntervalMs * 2) return;
    // Backs off so that a preferred owner that keeps failing to take over (say, one-way
    // network trouble) cannot keep the partition unavailable.
    this.preferredTransferAfterMs = this.nowMs + this.settings.preferredTransferBackoffMs;
    this.startTransfer(preferred);
  }

  /** Refuses service unless this node is the ready owner; null when it may serve. */
  private refuseService(): ReplicationError | null {
    if (this.role === 'owner') {
      return this.ownerReady ? null : new UnavailableError(this.partition, 'not-ready');
    }
    if (this.owner !== null) return new NotOwnerError(this.partition, this.owner);
    if (this.lostQuorum) return new NoQuorumError(this.partition);
    if (!isMember(this.membership, this.self) && this.log.lastPosition() > 0) {
      return new UnavailableError(this.partition, 'not-member');
    }
    return new UnavailableError(this.partition, 'electing');
  }

  // ---------------------------------------------------------------- log and membership

  /** Appends an entry created by this owner. */
  private appendLocal(entry: Entry<P>): void {
    assert(this.role === 'owner', 'only the owner creates entries');
    assert(entry.position === this.log.lastPosition() + 1, 'owner entries must extend the log');
    this.log.append([entry]);
    if (entry.kind === 'membership') this.adoptMembershipEntries([entry]);
  }

  private adoptMembershipEntries(entries: readonly Entry<P>[]): void {
    for (const entry of entries) {
      if (entry.kind !== 'membership') continue;
      this.membershipLog.push({ position: entry.position, membership: entry.membership });
      this.membership = entry.membership;
    }
    if (this.role === 'owner') {
      assert(isVoter(this.membership, this.self), `partition ${this.partition}: owner removed itself`);
      this.syncProgress();
    }
  }

  private truncateMembershipLog(fromPosition: number): void {
    this.membershipLog = this.membershipLog.filter((change) => change.position < fromPosition);
    this.membership = this.membershipLog.at(-1)?.membership ?? this.membershipBase;
  }

  private membershipAt(position: number): Membership {
    let membership = this.membershipBase;
    for (const change of this.membershipLog) {
      if (change.position > position) break;
      membership = change.membership;
    }
    return membership;
  }

  private rebuildMembershipLog(): void {
    const storage = this.env.storage;
    const last = storage.lastPosition(this.partition);
    for (let from = storage.firstPosition(this.partition); from <= last; from += MEMBERSHIP_SCAN_CHUNK) {
      const to = Math.min(last + 1, from + MEMBERSHIP_SCAN_CHUNK);
      for (const entry of storage.entries(this.partition, from, to)) {
        if (entry.kind === 'membership') this.membershipLog.push({ position: entry.position, membership: entry.membership });
      }
    }
    this.membership = this.membershipLog.at(-1)?.membership ?? this.membershipBase;
  }

  /** Keeps one progress record per replica in the current membership. */
  private syncProgress(): void {
    const members = [...this.membership.voters, ...this.membership.learners];
    for (const node of members) {
      if (node !== this.self && !this.progress.has(node)) {
        this.progress.set(node, new PeerProgress(node, this.log.lastPosition() + 1, this.nowMs));
      }
    }
    for (const node of this.progress.keys()) {
      if (!members.includes(node)) {
        this.progress.delete(node);
        if (this.transfer?.target === node) this.transfer = null;
      }
    }
  }

  // ---------------------------------------------------------------- plumbing

  private send(to: NodeId, message: Message<P>): void {
    this.outbox.push({ to, message });
    if (message.type === 'heartbeat' || message.type === 'heartbeat-response') this.urgentWaiting += 1;
  }

  /**
   * Moves the heartbeats (of an owner) and the answers to heartbeats waiting in the outbox to
   * `into`, to be sent at once, even while a Ready is being persisted. Liveness must not wait
   * for store writes: under load a Ready's write can take hundreds of milliseconds, and owners
   * stepped down, and replicas campaigned, over heartbeats that were only queued behind it.
   * Neither carries a log position this node has not made durable: a heartbeat carries a
   * commit position the owner learned from durable quorums, an answer carries no match. Both
   * leave early only while the whole hard state is durable (epoch, vote, amnesia episode): a
   * new epoch, a vote or a readmission waits for the Ready that persists it, as before. Else an
   * answer could report "readmitted" (amnesia 0) and the replica restart amnesiac after all, a
   * voter the owner counted on that cannot vote (found by the simulator, seed 4805 under the
   * founding rule below: a partition stayed without an owner).
   */
  takeUrgentMessages(into: OutboundMessage<P>[]): void {
    if (this.urgentWaiting === 0) return;
    this.urgentWaiting = 0;
    if (!sameHardState(this.hardState(), this.persistedHardState)) return;
    const kept: OutboundMessage<P>[] = [];
    for (const item of this.outbox) {
      const { message } = item;
      const urgent = message.epoch === this.epoch && (message.type === 'heartbeat-response' || (message.type === 'heartbeat' && this.role === 'owner'));
      (urgent ? into : kept).push(item);
    }
    this.outbox = kept;
  }

  private hardState(): HardState {
    return { epoch: this.epoch, vote: this.vote, commit: this.log.committed, amnesia: this.amnesia };
  }

  private reportOwnership(reason: OwnershipReason): void {
    const ready = this.role === 'owner' && this.ownerReady;
    const last = this.reported;
    if (last.role === this.role && last.owner === this.owner && last.ready === ready && last.epoch === this.epoch) return;
    this.reported = { role: this.role, owner: this.owner, ready, epoch: this.epoch };
    this.ownershipChanges.push({ partition: this.partition, epoch: this.epoch, role: this.role, owner: this.owner, ready, reason });
  }

  private entryBytes(entry: Entry<P>): number {
    return ENTRY_OVERHEAD_BYTES + (entry.kind === 'command' ? this.env.payloadBytes(entry.payload) : 0);
  }
}

/**
 * Whether `a` needs no write over `b`. The commit position is left out: it is written along
 * when something else changes, as a lower bound, but a move of the commit alone is not worth a
 * write. It advances on almost every Ready, so writing it made most of a busy node's store
 * writes; safety never rests on it (a restarted replica learns the commit from its owner, and
 * everything it had applied was committed: ReplicatedLog takes max(commit, applied)).
 */
function sameHardState(a: HardState, b: HardState): boolean {
  return a.epoch === b.epoch && a.vote === b.vote && a.amnesia === b.amnesia;
}

/** A random non-zero episode id; 2^52 values make a repeat across one node's wipes negligible. */
function newAmnesiaId(random: () => number): number {
  return 1 + Math.floor(random() * 2 ** 52);
}

function entriesAreContiguous<P>(request: AppendRequest<P>): boolean {
  return request.entries.every((entry, index) => entry.position === request.prevPosition + 1 + index);
}
