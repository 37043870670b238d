/**
 * The Ready driver: the one loop that runs the replication core for many partitions, in
 * production (LMDB + libp2p), in the simulator and in the unit-test harness alike. Network,
 * storage, application and the moment to pump are injected; the order of the steps is decided
 * here, once:
 *
 *   0. Heartbeats and answers to heartbeats leave at once, also while a Ready is being
 *      persisted (they vouch for nothing that is not durable; see the core's
 *      takeUrgentMessages): a store write slowed by load must not read as a dead node.
 *   1. Take the core's Ready. Send its early messages (an owner's appends and heartbeats),
 *      together with the previous Ready's late messages if they waited (step 3).
 *      Early messages do not depend on this Ready's writes, so the replicas write while the
 *      owner does; an owner counts its own copy only once its write is durable.
 *   2. Persist: the writes (entries, hard state, snapshots) and, in the same transaction if
 *      the storage can, the committed entries to apply. Persisting may complete later
 *      (an fsync); the driver takes no other Ready meanwhile (inputs still reach the core).
 *   3. The late messages (votes, acknowledgements) depend on the writes just made durable:
 *      they leave only now. When another Ready follows at once, they wait and leave with
 *      its early messages, so each peer gets one frame for both; otherwise they leave at once.
 *   4. Apply the committed entries, in order, and settle the proposals they answer.
 *   5. Act on ownership changes. After applying, because (a) a proposal whose entry
 *      committed in this very Ready is answered as committed, not as "outcome unknown", and
 *      (b) a node that became the ready owner counts what it applied in this Ready when the
 *      serving rule below compares positions. S2 does not depend on this order: the core
 *      fences epochs; the order only decides how precisely proposers are answered.
 *   6. Hand read states to the application, then `advance`, then offer compaction.
 *
 * Serving rule: the driver says a partition is served here only while the core says this
 * node is the ready owner *and* the application has applied everything up to the position at
 * which it became ready, so state read from the application never misses a committed entry
 * of an earlier owner.
 *
 * Proposals: `propose` returns the core's answer at once; a proposal it took is settled
 * exactly once later: `committed` (its entry was applied), `lost` (another entry took its
 * position: it can never commit), or `unknown` (ownership moved, the driver stopped or
 * failed: it may or may not commit; the proposer retries with the same command id).
 */
import { assert } from './assert.ts';
import type { ProposeResult } from './group.ts';
import type { OutboundMessage } from './messages.ts';
import type { ReplicationNode, Ready } from './node.ts';
import type { CommandEntry, NodeId, OwnershipChange, OwnershipReason, PartitionApply, PartitionStatus, ReadState } from './types.ts';

export type ProposalOutcome<P> =
  | { readonly kind: 'committed'; readonly entry: CommandEntry<P> }
  | { readonly kind: 'lost' }
  | {
      readonly kind: 'unknown';
      readonly reason: 'ownership' | 'stopped' | 'failed';
      readonly ownerHint: NodeId | null;
      /** For `ownership`: why the node stopped being the owner (check-quorum-lost: no quorum reachable). */
      readonly ownershipReason?: OwnershipReason;
      readonly error?: Error;
    };

export interface DriverStorage<P> {
  /**
   * Makes the Ready's writes durable (and may store its applies in the same transaction),
   * then calls `done` once, with an error if it failed. `done` may be called synchronously or
   * later; never not at all, unless the node crashed (the simulator's crash points).
   */
  persist(ready: Ready<P>, done: (error?: Error) => void): void;
}

export interface DriverNetwork<P> {
  /** Sends one step's messages; the network may group them per destination. */
  send(messages: readonly OutboundMessage<P>[]): void;
}

export interface DriverApplication<P> {
  /** Committed work, in order, once persisted. */
  apply(apply: PartitionApply<P>): void;
  /** `wasReadyOwner`: this node was the ready owner of the partition until this change. */
  ownershipChanged?(change: OwnershipChange, wasReadyOwner: boolean): void;
  readState?(state: ReadState): void;
  /** After a Ready that applied entries of `partition`: the application snapshot to compact to, if any. */
  compaction?(partition: number, status: PartitionStatus): { readonly position: number; readonly data: Uint8Array } | undefined;
  /** Persisting failed: the driver stops taking Readies and has answered every proposal `unknown`. */
  failed?(error: Error): void;
}

export interface DriverComponents<P> {
  readonly core: ReplicationNode<P>;
  readonly storage: DriverStorage<P>;
  readonly network: DriverNetwork<P>;
  readonly application: DriverApplication<P>;
  /** Where the application's state stands at start (0 for an empty one). */
  readonly appliedPosition?: (partition: number) => number;
}

/** Where this module was loaded from: the simulator prints it, to show it runs the driver that ships. */
export const DRIVER_MODULE = import.meta.url;

interface Proposal<P> {
  readonly epoch: number;
  readonly settle: (outcome: ProposalOutcome<P>) => void;
}

export class ReadyDriver<P> {
  readonly core: ReplicationNode<P>;
  private readonly components: DriverComponents<P>;
  private readonly proposals = new Map<number, Map<number, Proposal<P>>>();
  /** Per partition: the epoch and commit position at which this node became the ready owner. */
  private readonly readyAt = new Map<number, { readonly epoch: number; readonly position: number }>();
  private readonly applied = new Map<number, number>();
  /** Late messages of the last Ready, waiting for the next Ready's early ones (step 3). */
  private late: readonly OutboundMessage<P>[] = [];
  private persisting = false;
  private stopped = false;
  private failure: Error | undefined;

  constructor(components: DriverComponents<P>) {
    this.core = components.core;
    this.components = components;
  }

  /** True while a Ready is being persisted. */
  get busy(): boolean {
    return this.persisting;
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /**
   * Hands `payload` to the core. When it is taken, `settle` is called exactly once later with
   * the outcome; when it is refused, the refusal is returned and `settle` is never called.
   */
  propose(partition: number, payload: P, settle: (outcome: ProposalOutcome<P>) => void): ProposeResult {
    const result = this.core.propose(partition, payload);
    if (!result.ok) return result;
    let byPosition = this.proposals.get(partition);
    if (byPosition === undefined) {
      byPosition = new Map();
      this.proposals.set(partition, byPosition);
    }
    byPosition.set(result.position, { epoch: result.epoch, settle });
    return result;
  }

  /** See the serving rule in the header. */
  serving(partition: number): boolean {
    if (this.stopped || this.failure !== undefined) return false;
    const status = this.core.status(partition);
    const readyAt = this.readyAt.get(partition);
    return status.role === 'owner' && status.ready && readyAt !== undefined && readyAt.epoch === status.epoch && this.appliedPosition(partition) >= readyAt.position;
  }

  appliedPosition(partition: number): number {
    let position = this.applied.get(partition);
    if (position === undefined) {
      position = this.components.appliedPosition?.(partition) ?? 0;
      this.applied.set(partition, position);
    }
    return position;
  }

  /**
   * Processes Readies until the core has none or one is being persisted. Call it after every
   * input (tick, message, proposal), also while busy: then it sends the urgent messages (step 0).
   */
  pump(): void {
    if (this.stopped || this.failure !== undefined) return;
    // Step 0: heartbeats and their answers leave at once, even while a Ready is being
    // persisted, so a slow store write cannot look like a dead node (core.takeUrgentMessages).
    if (this.persisting) {
      this.send(this.core.takeUrgentMessages());
      return;
    }
    while (this.core.hasReady()) {
      const urgent = this.core.takeUrgentMessages();
      const ready = this.core.ready();
      this.send(this.late.length === 0 && urgent.length === 0 ? ready.earlyMessages : [...this.late, ...urgent, ...ready.earlyMessages]);
      this.late = [];
      if (this.stopped) return;
      this.persisting = true;
      let returned = false;
      let doneAtOnce = false;
      this.components.storage.persist(ready, (error) => {
        if (error !== undefined) {
          this.fail(error);
          return;
        }
        if (!returned) {
          doneAtOnce = true;
          return;
        }
        this.finish(ready);
        this.pump();
      });
      returned = true;
      if (!doneAtOnce) return;
      this.finish(ready);
      if (this.stopped || this.failure !== undefined) return;
    }
    const late = this.late;
    this.late = [];
    this.send(late);
  }

  /**
   * Stops taking Readies; every open proposal is answered `unknown`. Late messages still waiting are
   * dropped, as a crash would drop them (the protocol tolerates loss).
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.late = [];
    for (const partition of [...this.proposals.keys()]) this.settleAll(partition, { kind: 'unknown', reason: 'stopped', ownerHint: null });
  }

  private finish(ready: Ready<P>): void {
    this.persisting = false;
    if (this.stopped) return;
    // Step 3: late messages wait for the next Ready's early ones (see pump).
    this.late = ready.messages;
    const { application } = this.components;
    for (const apply of ready.applies) {
      application.apply(apply);
      if (this.stopped) return;
      const last = apply.entries.at(-1);
      const position = last?.position ?? apply.snapshot?.position;
      if (position !== undefined) this.applied.set(apply.partition, position);
      for (const entry of apply.entries) this.settle(apply.partition, entry.position, entry.epoch, entry.kind === 'command' ? entry : undefined);
    }
    for (const change of ready.ownershipChanges) {
      this.ownershipChanged(change);
      if (this.stopped) return;
    }
    if (application.readState !== undefined) for (const state of ready.readStates) application.readState(state);
    this.core.advance(ready);
    if (application.compaction === undefined) return;
    for (const apply of ready.applies) {
      if (apply.entries.length === 0) continue;
      const snapshot = application.compaction(apply.partition, this.core.status(apply.partition));
      if (snapshot !== undefined) this.core.compact(apply.partition, snapshot.position, snapshot.data);
    }
  }

  private settle(partition: number, position: number, epoch: number, entry: CommandEntry<P> | undefined): void {
    const byPosition = this.proposals.get(partition);
    const proposal = byPosition?.get(position);
    if (byPosition === undefined || proposal === undefined) return;
    byPosition.delete(position);
    if (proposal.epoch !== epoch) {
      proposal.settle({ kind: 'lost' });
      return;
    }
    // Same position and epoch means the same entry (log matching): it must be the proposal.
    assert(entry !== undefined, `partition ${partition}: position ${position} of epoch ${epoch} is not the command proposed there`);
    proposal.settle({ kind: 'committed', entry });
  }

  private ownershipChanged(change: OwnershipChange): void {
    this.components.application.ownershipChanged?.(change, this.readyAt.has(change.partition));
    if (change.role === 'owner' && change.ready) {
      this.readyAt.set(change.partition, { epoch: change.epoch, position: this.core.status(change.partition).commit });
      return;
    }
    this.readyAt.delete(change.partition);
    // Proposals of the old epoch may still commit under the next owner, or not.
    this.settleAll(change.partition, { kind: 'unknown', reason: 'ownership', ownerHint: change.owner, ownershipReason: change.reason });
  }

  private fail(error: Error): void {
    this.persisting = false;
    this.failure = error;
    this.late = [];
    for (const partition of [...this.proposals.keys()]) this.settleAll(partition, { kind: 'unknown', reason: 'failed', ownerHint: null, error });
    this.components.application.failed?.(error);
  }

  private settleAll(partition: number, outcome: ProposalOutcome<P>): void {
    const byPosition = this.proposals.get(partition);
    if (byPosition === undefined) return;
    this.proposals.delete(partition);
    for (const proposal of byPosition.values()) proposal.settle(outcome);
  }

  private send(messages: readonly OutboundMessage<P>[]): void {
    if (messages.length > 0) this.components.network.send(messages);
  }
}
