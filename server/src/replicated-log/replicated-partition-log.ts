/**
 * The replicated PartitionLog: drives the pure replication core (replication/) with the node's
 * LMDB store and the libp2p peer network, so that an entry is committed only once it is
 * durable on a write quorum of its partition's replica set.
 *
 * Peer frames on /ringstate/replication/1.0.0 carry a batch: {m: [message, ...]} with the
 * messages laid out in replication/index.ts.
 *
 * The core runs under the one Ready driver (replication/driver.ts), which decides the order
 * of the steps; this module supplies them: persisting is one LMDB transaction per Ready that
 * stores its entries and hard states and applies its committed entries (aggregate index,
 * dedupe, snapshots), durable under the policy; sending groups a step's messages into one
 * frame per peer; applying hands committed entries to the runtime's listeners. Inputs (ticks,
 * peer messages, proposals) may arrive at any time; each schedules a pump.
 *
 * Serving rule: the driver's (this node is the ready owner and has applied everything up to
 * the position where it became ready), so an aggregate activated from the store never misses
 * a committed entry of an earlier owner.
 */
import { RingstateError } from '@ringstate/protocol';
import type { Logger } from 'pino';
import type { LogEntry, LogStorage, ReplicaBatch, ReplicaSnapshotMeta, StoredEntry } from '../log/index.ts';
import type { EntryDraft, PartitionLog, PartitionOwnership } from '../partition/index.ts';
import {
  NoQuorumError,
  NotOwnerError,
  type OutboundMessage,
  type ProposalOutcome,
  type Ready,
  ReadyDriver,
  ReplicationNode,
  type OwnershipChange,
  type HardState,
  type PartitionApply,
  type PartitionStatus,
  type ReadState,
  type ReplicationSettings,
  resolveReplicationSettings,
} from '../replication/index.ts';
import type { PartitionRing } from '../ring/index.ts';
import type { PeerNetwork } from '../peer/index.ts';
import { REPLICATION_PROTOCOL } from '../peer/index.ts';
import { parseReplicationMessage } from './replication-messages.ts';
import { LmdbReplicationStorage, toStoredEntry, type CommandPayload } from './replica-storage.ts';
import { encodedSize, fitPayload } from './payload-size.ts';
import { serveSnapshotRanges, SnapshotFetcher, type StagedSnapshot } from './snapshot-transfer.ts';

const NO_DATA = new Uint8Array(0);

export interface ReplicatedLogInit {
  readonly nodeId: string;
  readonly partitionCount: number;
  readonly tickIntervalMs: number;
  /** Compact a replica's replication log every this many applied entries (0: never); see snapshot-transfer.ts. */
  readonly compactEveryEntries?: number;
  readonly settings?: Partial<ReplicationSettings>;
}

/**
 * The log's timers. Node's by default; the simulator supplies its virtual clock's, so a seed
 * replays the same (nothing here reads setImmediate or setInterval directly).
 */
export interface LogTimers {
  /** Runs `run` once, after the inputs already waiting (setImmediate). */
  immediate(run: () => void): void;
  /** Runs `run` every `intervalMs` until the returned function is called; must not keep the process alive. */
  every(intervalMs: number, run: () => void): () => void;
  sleep(ms: number): Promise<void>;
}

const NODE_TIMERS: LogTimers = {
  immediate: (run) => {
    setImmediate(run);
  },
  every: (intervalMs, run) => {
    const timer = setInterval(run, intervalMs);
    timer.unref?.();
    return () => clearInterval(timer);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface ReplicatedLogComponents {
  readonly store: LogStorage;
  readonly peers: PeerNetwork;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly random: () => number;
  readonly onOwnershipChange?: (change: OwnershipChange) => void;
  readonly onSnapshotInstalled?: (partition: number, fetchedEntries: number) => void;
  /** Called once per Ready the driver handled, for the replication work metrics. */
  readonly onReplicationWork?: (work: ReplicationWork) => void;
  /** Answers to `core.readIndex` (production issues none; the simulator's linearizable reads do). */
  readonly onReadState?: (state: ReadState) => void;
  /** Default: Node's timers. */
  readonly timers?: LogTimers;
}

/** What one Ready cost: messages to peers, the frames they travelled in, store transactions, cycles, entries written. */
export interface ReplicationWork {
  readonly messages: number;
  readonly frames: number;
  readonly writes: number;
  readonly cycles: number;
  readonly entries: number;
}

/** Replication messages per peer frame at most (a frame also stays under the peer layer's byte limit). */
const REPLICATION_BATCH_MAX = 512;

interface BatchPart {
  partition: number;
  truncateFrom?: number;
  entries: StoredEntry[];
  hardState?: HardState;
  applied: StoredEntry[];
  snapshot?: ReplicaSnapshotMeta;
}

export class ReplicatedPartitionLog implements PartitionLog {
  readonly core: ReplicationNode<CommandPayload>;
  private readonly driver: ReadyDriver<CommandPayload>;
  /** What the Ready being persisted applies, per partition, in stored form (see persist). */
  private persisted = new Map<number, BatchPart>();
  private readonly replicated = new Set<number>();
  private ring: PartitionRing | undefined;
  private readonly committedListeners: Array<(entry: LogEntry) => void> = [];
  private readonly lostListeners: Array<(partition: number) => void> = [];
  private stopTicks: (() => void) | undefined;
  private readonly timers: LogTimers;
  /** The core refuses larger entries; `append` checks first (fitPayload). */
  private readonly entryBytesMax: number;
  private unsubscribe: (() => void) | undefined;
  /**
   * While true, ownership changes log at debug: set while a start settles (founding elects an
   * owner for every partition, hundreds of lines), after which ClusterServices logs one summary.
   */
  quietOwnership = false;
  private scheduled = false;
  private stopped = true;
  private readonly snapshots: SnapshotFetcher;

  constructor(
    private readonly init: ReplicatedLogInit,
    private readonly components: ReplicatedLogComponents,
  ) {
    this.timers = components.timers ?? NODE_TIMERS;
    this.entryBytesMax = resolveReplicationSettings(init.settings).entryBytesMax;
    this.core = new ReplicationNode<CommandPayload>({
      nodeId: init.nodeId,
      partitionCount: init.partitionCount,
      storage: new LmdbReplicationStorage(components.store),
      random: components.random,
      payloadBytes: encodedSize,
      liveness: (node) => components.peers.liveness(node),
      nowMs: components.nowMs(),
      ...(init.settings === undefined ? {} : { settings: init.settings }),
    });
    this.driver = new ReadyDriver<CommandPayload>({
      core: this.core,
      storage: { persist: (ready, done) => this.persist(ready).then(() => done(), done) },
      network: { send: (messages) => this.send(messages) },
      application: {
        apply: (apply) => this.apply(apply),
        ownershipChanged: (change, wasReadyOwner) => this.ownershipChanged(change, wasReadyOwner),
        compaction: (partition, status) => this.compaction(status),
        readState: (state) => components.onReadState?.(state),
        failed: (error) => components.logger.fatal({ err: error }, 'replicated log failed; the node stops serving'),
      },
      appliedPosition: (partition) => components.store.appliedPosition(partition),
    });
    this.snapshots = new SnapshotFetcher(components.peers, components.logger, (from, message) => {
      if (this.stopped) return;
      this.core.step(from, message);
      this.schedule();
    }, components.nowMs);
  }

  /** Founding members call this once, when the cluster is created (see cluster-node.ts). */
  bootstrap(ring: PartitionRing): void {
    for (let partition = 0; partition < this.init.partitionCount; partition += 1) {
      const voters = ring.replicaSet(partition);
      if (voters.includes(this.init.nodeId)) this.core.bootstrap(partition, voters);
    }
    this.schedule();
  }

  /** Tells the core which replica set the ring wants for every partition. */
  setRing(ring: PartitionRing): void {
    this.ring = ring;
    this.replicated.clear();
    for (let partition = 0; partition < this.init.partitionCount; partition += 1) {
      const set = ring.replicaSet(partition);
      this.core.setReplicaSet(partition, set);
      if (set.includes(this.init.nodeId)) this.replicated.add(partition);
    }
    this.schedule();
  }

  ownership(partition: number): PartitionOwnership {
    const status = this.core.status(partition);
    if (!this.stopped && this.driver.serving(partition)) return { serving: true, epoch: status.epoch };
    // A replica the ring no longer places here may have been removed from the replica set while
    // it was cut off: it never learns of it, keeps its stale membership and sees no quorum. The
    // partition lives on the ring's replicas, so send commands there instead of refusing them
    // (found by the simulator, seed 32: a courier on such a node waited for ever).
    if (this.ring !== undefined && !this.ring.replicaSet(partition).includes(this.init.nodeId)) {
      const leader = status.owner !== null && status.owner !== this.init.nodeId && this.isAlive(status.owner) ? status.owner : undefined;
      const hint = leader ?? this.firstLiveRingReplica(partition);
      if (hint !== undefined) return { serving: false, epoch: status.epoch, ownerHint: hint };
    }
    // No quorum reachable: the core stepped down or failed to campaign for lack of one, or the
    // failure detector sees too few live voters for any owner to commit (a follower learns this
    // before its election timeouts run out). Refused at once rather than forwarded or waited on.
    if (status.quorumLost || !this.quorumAlive(status)) return { serving: false, epoch: status.epoch, quorumLost: true };
    const leader = status.owner !== null && status.owner !== this.init.nodeId && this.isAlive(status.owner) ? status.owner : undefined;
    const hint = leader ?? this.ringHint(partition, status);
    return hint === undefined ? { serving: false, epoch: status.epoch } : { serving: false, epoch: status.epoch, ownerHint: hint };
  }

  /** A majority of the partition's voters (this node included) is alive per the failure detector. */
  private quorumAlive(status: PartitionStatus): boolean {
    const { voters } = status.membership;
    if (voters.length === 0) return true; // nothing known about this partition here: no claim
    const alive = voters.filter((voter) => this.isAlive(voter)).length;
    return alive >= Math.floor(voters.length / 2) + 1;
  }

  private isAlive(nodeId: string): boolean {
    return nodeId === this.init.nodeId || this.components.peers.liveness(nodeId) !== 0;
  }

  /**
   * For a partition this node does not replicate (it hears nothing of its owner): the first
   * live node of the ring's replica set. It is a replica, so it knows the owner and passes a
   * forwarded command on (cluster-services.ts allows that second hop).
   */
  private ringHint(partition: number, status: PartitionStatus): string | undefined {
    if (this.ring === undefined || status.membership.voters.includes(this.init.nodeId)) return undefined;
    return this.firstLiveRingReplica(partition);
  }

  private firstLiveRingReplica(partition: number): string | undefined {
    if (this.ring === undefined) return undefined;
    const alive = new Set(this.components.peers.members().filter((member) => member.alive && !member.self).map((member) => member.nodeId));
    return this.ring.replicaSet(partition).find((node) => alive.has(node));
  }

  replicates(partition: number): boolean {
    return this.replicated.has(partition) || this.core.status(partition).membership.voters.includes(this.init.nodeId);
  }

  status(partition: number): PartitionStatus {
    return this.core.status(partition);
  }

  append(draft: EntryDraft): Promise<LogEntry> {
    if (this.stopped) return Promise.reject(new RingstateError('SHUTTING_DOWN', 'node is stopping'));
    const failure = this.driver.failed;
    if (failure !== undefined) return Promise.reject(new RingstateError('INTERNAL', 'replicated log failed', { cause: failure }));
    const { partition, ...drafted } = draft;
    // Checked here, synchronously, so a refusal comes before any later command of the aggregate is proposed.
    const fitted = fitPayload(drafted, this.entryBytesMax);
    if (fitted === undefined) {
      return Promise.reject(
        new RingstateError('ENTRY_TOO_LARGE', `the entry of ${draft.aggregate} would take about ${encodedSize(drafted)} bytes, more than entryBytesMax (${this.entryBytesMax})`),
      );
    }
    if (fitted.snapshotDropped) {
      this.components.logger.warn(
        { aggregate: draft.aggregate, seq: draft.seq, bytes: encodedSize(drafted), entryBytesMax: this.entryBytesMax },
        'aggregate snapshot left out: the entry would exceed entryBytesMax (activation replays the events instead)',
      );
    }
    const payload = fitted.payload;
    return new Promise<LogEntry>((resolve, reject) => {
      const result = this.driver.propose(partition, payload, (outcome) => settle(partition, outcome, resolve, reject));
      if (!result.ok) reject(result.error);
      else this.schedule();
    });
  }

  onCommitted(listener: (entry: LogEntry) => void): void {
    this.committedListeners.push(listener);
  }

  onOwnershipLost(listener: (partition: number) => void): void {
    this.lostListeners.push(listener);
  }

  async start(): Promise<void> {
    this.stopped = false;
    serveSnapshotRanges(this.components.peers, this.components.store, this.init.partitionCount, (partition) => this.core.status(partition).commit);
    this.unsubscribe = this.components.peers.on('message', ({ from, protocol, message }) => {
      if (protocol !== REPLICATION_PROTOCOL || this.stopped) return;
      const batch = (message as { m?: unknown } | null)?.m;
      if (!Array.isArray(batch) || batch.length > REPLICATION_BATCH_MAX) {
        this.components.logger.warn({ from }, 'dropped a malformed replication batch');
        return;
      }
      for (const item of batch) {
        const parsed = parseReplicationMessage(item, this.init.partitionCount);
        if (parsed === undefined) {
          this.components.logger.warn({ from }, 'dropped a malformed replication message');
          continue;
        }
        // A snapshot waits until the entries it stands for are fetched (snapshot-transfer.ts).
        if (parsed.type === 'snapshot' && !this.snapshots.admit(from, parsed, this.core.status(parsed.partition), this.components.store.lastPosition(parsed.partition))) continue;
        this.core.step(from, parsed);
      }
      this.schedule();
    });
    // The tick runs in the check phase, after the poll phase of the same loop turn: when the
    // loop ran late, messages that arrived meanwhile (heartbeats, answers) are read before the
    // core sees the time pass, so a busy node does not start an election, or step down, over
    // messages that were only waiting in its socket buffer.
    this.stopTicks = this.timers.every(this.init.tickIntervalMs, () => this.timers.immediate(this.tickNow));
  }

  private readonly tickNow = (): void => {
    if (this.stopped) return;
    this.core.tick(Math.max(this.components.nowMs(), 0));
    this.schedule();
  };

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTicks?.();
    this.unsubscribe?.();
    this.snapshots.stop();
    this.driver.stop();
    // The store write under way finishes before the store may close.
    while (this.driver.busy) await this.timers.sleep(5);
  }

  /** Coalesces the inputs of one event-loop turn into one pump (while busy, it sends the urgent messages). */
  private schedule(): void {
    if (this.scheduled || this.driver.failed !== undefined) return;
    this.scheduled = true;
    this.timers.immediate(this.pumpNow);
  }

  private readonly pumpNow = (): void => {
    this.scheduled = false;
    this.driver.pump();
  };

  /**
   * One LMDB transaction for the Ready: its writes and, applied in the same transaction, its
   * committed entries (an installed snapshot's effects are the fetched entries).
   */
  private async persist(ready: Ready<CommandPayload>): Promise<void> {
    const byPartition = new Map<number, BatchPart>();
    const installs = new Map<number, { applied: StoredEntry[]; fetched: number }>();
    const part = (partition: number) => {
      let found = byPartition.get(partition);
      if (found === undefined) {
        found = { partition, entries: [], applied: [] };
        byPartition.set(partition, found);
      }
      return found;
    };
    for (const write of ready.writes) {
      const target = part(write.partition);
      target.entries = write.entries.map((entry) => toStoredEntry(write.partition, entry));
      if (write.hardState !== undefined) target.hardState = write.hardState;
      if (write.snapshot !== undefined) {
        const { position, epoch, membership } = write.snapshot.snapshot;
        target.snapshot = { position, epoch, membership };
        if (write.snapshot.kind === 'install') {
          const staged = this.snapshots.take(write.partition, position, epoch);
          installs.set(write.partition, { applied: this.planInstall(target, staged, position), fetched: staged?.entries.length ?? 0 });
        }
      }
    }
    for (const apply of ready.applies) {
      const target = part(apply.partition);
      // Loops, not push(...spread): an install may apply a partition's whole history.
      if (apply.snapshot !== undefined) for (const entry of installs.get(apply.partition)?.applied ?? []) target.applied.push(entry);
      for (const entry of apply.entries) target.applied.push(toStoredEntry(apply.partition, entry));
    }
    this.persisted = byPartition;
    if (byPartition.size === 0) {
      this.components.onReplicationWork?.({ messages: 0, frames: 0, writes: 0, cycles: 1, entries: 0 });
      return;
    }
    let entries = 0;
    for (const written of byPartition.values()) entries += written.entries.length;
    await this.components.store.writeReplicaBatch({ partitions: [...byPartition.values()] } as ReplicaBatch);
    this.components.onReplicationWork?.({ messages: 0, frames: 0, writes: 1, cycles: 1, entries });
    for (const [partition, { fetched }] of installs) this.components.onSnapshotInstalled?.(partition, fetched);
  }

  /** Hands the entries persisted as applied (in stored form) to the runtime's listeners. */
  private apply(apply: PartitionApply<CommandPayload>): void {
    for (const entry of this.persisted.get(apply.partition)?.applied ?? []) {
      if (entry.kind === 'noop' || entry.kind === 'membership') continue;
      for (const listener of this.committedListeners) listener(entry as LogEntry);
    }
  }

  /**
   * Fills an install's batch part: the staged entries replace what this replica held after
   * its commit position, and every entry up to the snapshot not yet applied is returned, to
   * be applied in the same transaction. A missing or mismatched stage is a broken invariant:
   * the core installs only snapshots the fetcher admitted.
   */
  private planInstall(target: BatchPart, staged: StagedSnapshot | undefined, position: number): StoredEntry[] {
    if (staged === undefined) throw new Error(`partition ${target.partition}: snapshot ${position} installed without its fetched entries`);
    this.components.logger.info({ partition: target.partition, position, fetched: staged.entries.length }, 'installing a snapshot');
    const { store } = this.components;
    const tail = target.entries;
    target.truncateFrom = staged.from;
    target.entries = [...staged.entries, ...tail];
    // Committed entries this replica held but had not applied yet come from its own log.
    const appliedTo = store.appliedPosition(target.partition);
    const own = appliedTo + 1 < staged.from ? store.storedEntries(target.partition, appliedTo + 1, staged.from) : [];
    return [...own, ...staged.entries.filter((entry) => entry.position > appliedTo)];
  }

  /** Every `compactEveryEntries` applied entries, the replication log may start later (snapshot-transfer.ts). */
  private compaction(status: PartitionStatus): { position: number; data: Uint8Array } | undefined {
    const every = this.init.compactEveryEntries ?? 0;
    if (every <= 0) return undefined;
    const position = Math.min(status.applied, status.persistedPosition);
    if (position - status.snapshotPosition < every) return undefined;
    return { position, data: NO_DATA };
  }

  /**
   * One peer frame per destination per step: `{m: [message, ...]}`. Every frame costs a yamux
   * frame, a Noise encryption and a syscall, so sending the heartbeats and appends of all
   * partitions together is what keeps replication cheap.
   */
  private send(messages: readonly OutboundMessage<CommandPayload>[]): void {
    const byPeer = new Map<string, unknown[]>();
    for (const { to, message } of messages) {
      let list = byPeer.get(to);
      if (list === undefined) {
        list = [];
        byPeer.set(to, list);
      }
      list.push(message);
    }
    let frames = 0;
    for (const [to, list] of byPeer) {
      for (let start = 0; start < list.length; start += REPLICATION_BATCH_MAX) {
        this.components.peers.send(to, { m: list.slice(start, start + REPLICATION_BATCH_MAX) }, REPLICATION_PROTOCOL);
        frames += 1;
      }
    }
    this.components.onReplicationWork?.({ messages: messages.length, frames, writes: 0, cycles: 0, entries: 0 });
  }

  private ownershipChanged(change: OwnershipChange, wasServing: boolean): void {
    // Owner-side changes (campaigns, wins, readiness, losing ownership) at info; a follower
    // merely learning who owns the partition at debug, or every election floods the log.
    const ownerSide = change.role !== 'follower' || wasServing;
    this.components.logger[ownerSide && !this.quietOwnership ? 'info' : 'debug'](
      { partition: change.partition, epoch: change.epoch, role: change.role, owner: change.owner, ready: change.ready, reason: change.reason },
      'partition ownership changed',
    );
    this.components.onOwnershipChange?.(change);
    if (wasServing && !(change.role === 'owner' && change.ready)) for (const listener of this.lostListeners) listener(change.partition);
  }
}

/**
 * How a proposal's outcome reaches the runtime. Proposals of an old epoch may still commit
 * under the next owner, or not: the client sees a retryable error and retries with the same
 * command id, which dedupe resolves. An owner that stepped down for lack of a quorum says so,
 * marked "outcome unknown".
 */
function settle(partition: number, outcome: ProposalOutcome<CommandPayload>, resolve: (entry: LogEntry) => void, reject: (error: Error) => void): void {
  switch (outcome.kind) {
    case 'committed':
      resolve(toStoredEntry(partition, outcome.entry) as LogEntry);
      return;
    case 'lost':
      reject(new RingstateError('UNAVAILABLE', `partition ${partition}: the entry was superseded by a new owner`));
      return;
    case 'unknown':
      if (outcome.reason === 'stopped') reject(new RingstateError('SHUTTING_DOWN', 'node is stopping'));
      else if (outcome.reason === 'failed') reject(new RingstateError('INTERNAL', 'replicated log failed', { cause: outcome.error }));
      else if (outcome.ownershipReason === 'check-quorum-lost') reject(new NoQuorumError(partition, true));
      else reject(new NotOwnerError(partition, outcome.ownerHint));
  }
}
