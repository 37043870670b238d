/**
 * A node's replication core: one `PartitionGroup` per partition it replicates, behind the
 * etcd-raft style Ready/advance interface.
 *
 * Driver loop (production: lmdb + libp2p; tests: the simulator):
 *   1. feed inputs: `tick(nowMs)` on a timer, `step(from, message)` for each message
 *      received, `propose` / `readIndex` / `setReplicaSet` / `transferOwnership` / `compact`;
 *   2. when `hasReady()`, take `ready()` and, in this order:
 *      a. send `earlyMessages` (an owner's appends and heartbeats: they do not depend on
 *         this Ready's writes, so the replicas can write while the owner does),
 *         and persist `writes` durably (each partition's write atomically, e.g. one lmdb txn),
 *      b. then send `messages` (grouping them per destination is fine; order per destination
 *         should be kept but the protocol tolerates loss, reordering and duplicates),
 *      c. apply `applies` to the application state machine, in order,
 *      d. act on `ownershipChanges` (activate aggregates only on `ready: true`) and
 *         `readStates`;
 *   3. call `advance(ready)`; go to 1. Inputs may be fed while a Ready is being processed.
 * Messages are sent only after the writes they depend on (votes, acknowledged entries) are
 * durable, which is what makes a crash at any point safe. The exception depends on no write in
 * progress: `takeUrgentMessages` (heartbeats and their answers, while the hard state is durable)
 * may be sent at any time.
 */
import { assert } from './assert.ts';
import { type CommandResult, type GroupReady, PartitionGroup, type ProposeResult } from './group.ts';
import type { Message, OutboundMessage } from './messages.ts';
import { type ReplicationSettings, resolveReplicationSettings } from './settings.ts';
import type { ReplicationStorage } from './storage.ts';
import type {
  NodeId,
  OwnershipChange,
  PartitionApply,
  PartitionStatus,
  PartitionWrite,
  ReadState,
} from './types.ts';

export interface ReplicationNodeInit<P> {
  readonly nodeId: NodeId;
  /** Fixed when the cluster is created; messages for other partitions are dropped. */
  readonly partitionCount: number;
  readonly storage: ReplicationStorage<P>;
  /** Uniform in [0, 1); seeded in the simulator. Randomizes election timeouts only. */
  readonly random: () => number;
  /** Size of a command payload in bytes, for the byte limits. */
  readonly payloadBytes: (payload: P) => number;
  /** Node-level liveness for quiescence (GroupEnvironment.liveness); without it groups never quiesce. */
  readonly liveness?: (node: NodeId) => number;
  readonly nowMs: number;
  readonly settings?: Partial<ReplicationSettings>;
}

export interface Ready<P> {
  readonly writes: readonly PartitionWrite<P>[];
  /** May be sent before `writes` are durable (and must be sent, like `messages`). */
  readonly earlyMessages: readonly OutboundMessage<P>[];
  /** Sent only once `writes` are durable: votes and acknowledgements depend on them. */
  readonly messages: readonly OutboundMessage<P>[];
  readonly applies: readonly PartitionApply<P>[];
  readonly ownershipChanges: readonly OwnershipChange[];
  readonly readStates: readonly ReadState[];
}

export class ReplicationNode<P> {
  readonly nodeId: NodeId;
  readonly partitionCount: number;
  readonly settings: ReplicationSettings;
  private readonly storage: ReplicationStorage<P>;
  private readonly random: () => number;
  private readonly payloadBytes: (payload: P) => number;
  private readonly liveness: ((node: NodeId) => number) | undefined;
  private readonly groups = new Map<number, PartitionGroup<P>>();
  private nowMs: number;
  /** When the Ready in progress was taken (takeUrgentMessages). */
  private readyTakenMs = 0;
  private inProgress: { ready: Ready<P>; groups: PartitionGroup<P>[] } | null = null;
  /** Messages dropped because they named a partition outside [0, partitionCount). */
  droppedMessages = 0;

  constructor(init: ReplicationNodeInit<P>) {
    assert(Number.isInteger(init.partitionCount) && init.partitionCount > 0, 'partitionCount must be a positive integer');
    this.nodeId = init.nodeId;
    this.partitionCount = init.partitionCount;
    this.settings = resolveReplicationSettings(init.settings);
    this.storage = init.storage;
    this.random = init.random;
    this.payloadBytes = init.payloadBytes;
    this.liveness = init.liveness;
    this.nowMs = init.nowMs;
  }

  /** Creates a new partition with `voters` as its replica set. Only at cluster creation. */
  bootstrap(partition: number, voters: readonly NodeId[]): void {
    this.group(partition).bootstrap(voters);
  }

  /** The replica set the ring wants for `partition`, preferred owner first. */
  setReplicaSet(partition: number, nodes: readonly NodeId[]): void {
    this.group(partition).setDesired(nodes);
  }

  tick(nowMs: number): void {
    assert(nowMs >= this.nowMs, 'time went backwards');
    this.nowMs = nowMs;
    for (const group of this.groups.values()) group.tick(nowMs);
  }

  step(from: NodeId, message: Message<P>): void {
    const partition = message.partition;
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitionCount) {
      this.droppedMessages += 1;
      return;
    }
    this.group(partition).step(from, message);
  }

  propose(partition: number, payload: P): ProposeResult {
    return this.group(partition).propose(payload);
  }

  readIndex(partition: number, requestId: number): CommandResult {
    return this.group(partition).readIndex(requestId);
  }

  transferOwnership(partition: number, to: NodeId): CommandResult {
    return this.group(partition).transferOwnership(to);
  }

  /** The application's state at `position` (at most its applied position) is `data`. */
  compact(partition: number, position: number, data: Uint8Array): void {
    this.group(partition).compact(position, data);
  }

  status(partition: number): PartitionStatus {
    return this.group(partition).status();
  }

  /** Partitions this node has state or a replica-set assignment for. */
  partitions(): number[] {
    return [...this.groups.keys()].sort((a, b) => a - b);
  }

  hasReady(): boolean {
    if (this.inProgress !== null) return false;
    for (const group of this.groups.values()) if (group.hasReady()) return true;
    return false;
  }

  /**
   * Heartbeats and answers to heartbeats that may leave now, even while a Ready is being
   * persisted (see PartitionGroup.takeUrgentMessages); the rest waits for the next Ready.
   */
  takeUrgentMessages(): OutboundMessage<P>[] {
    // A write that has not finished within twice the longest election timeout is a hung disk,
    // not load: then nothing leaves early any more, so the replicas of a hung owner elect
    // another, and an owner stops counting a hung replica as alive.
    if (this.inProgress !== null && this.nowMs - this.readyTakenMs >= 2 * this.settings.electionTimeoutMaxMs) return [];
    const urgent: OutboundMessage<P>[] = [];
    for (const group of this.groups.values()) group.takeUrgentMessages(urgent);
    return urgent;
  }

  ready(): Ready<P> {
    assert(this.inProgress === null, 'ready() called before advance() of the previous Ready');
    const writes: PartitionWrite<P>[] = [];
    const earlyMessages: OutboundMessage<P>[] = [];
    const messages: OutboundMessage<P>[] = [];
    const applies: PartitionApply<P>[] = [];
    const ownershipChanges: OwnershipChange[] = [];
    const readStates: ReadState[] = [];
    const groups: PartitionGroup<P>[] = [];
    // One store transaction takes every partition's pending applies along, deferred or not.
    let storeWork = false;
    for (const group of this.groups.values()) {
      if (group.hasReady() && group.hasStoreWork()) {
        storeWork = true;
        break;
      }
    }
    for (const group of this.groups.values()) {
      if (!group.hasReady() && !(storeWork && group.applyPending())) continue;
      const part: GroupReady<P> = group.collectReady(storeWork);
      groups.push(group);
      if (part.write !== null) writes.push(part.write);
      if (part.apply !== null) applies.push(part.apply);
      for (const message of part.earlyMessages) earlyMessages.push(message);
      for (const message of part.messages) messages.push(message);
      for (const change of part.ownershipChanges) ownershipChanges.push(change);
      for (const state of part.readStates) readStates.push(state);
    }
    const ready: Ready<P> = { writes, earlyMessages, messages, applies, ownershipChanges, readStates };
    this.inProgress = { ready, groups };
    this.readyTakenMs = this.nowMs;
    return ready;
  }

  advance(ready: Ready<P>): void {
    assert(this.inProgress !== null && this.inProgress.ready === ready, 'advance() of a Ready that is not in progress');
    const { groups } = this.inProgress;
    this.inProgress = null;
    for (const group of groups) group.advance();
  }

  private group(partition: number): PartitionGroup<P> {
    assert(Number.isInteger(partition) && partition >= 0 && partition < this.partitionCount, `no partition ${partition}`);
    let group = this.groups.get(partition);
    if (group === undefined) {
      group = new PartitionGroup(
        {
          self: this.nodeId,
          settings: this.settings,
          storage: this.storage,
          random: this.random,
          payloadBytes: this.payloadBytes,
          ...(this.liveness === undefined ? {} : { liveness: this.liveness }),
        },
        partition,
        this.nowMs,
      );
      this.groups.set(partition, group);
    }
    return group;
  }
}
