/**
 * One deterministic simulation run: a whole cluster in one process on a virtual clock.
 *
 * A seed fixes everything: the scenario (cluster size, partitions, workload, network
 * conditions, fault mode) and every random draw after it. The run has two phases:
 * 1. faults: clients run the list-append workload and the account workflows (transfers
 *    between aggregates with compensations, timers, cancels) while the fault scheduler crashes,
 *    wipes, pauses, isolates and splits nodes, adds and removes ring members and moves
 *    ownership; the network drops, duplicates and reorders messages throughout;
 * 2. healing: every fault is repaired and the network becomes reliable; no operation starts.
 *    Within `LIVENESS_BOUND_MS` every partition must have a ready owner (the preferred one)
 *    whose membership is the ring's replica set, every replica must have applied everything,
 *    every pending client operation must have completed, and every outbox item (sends and
 *    timers) must have been settled, cancelled or replaced on every replica.
 * The checker (checker.ts) watches S1-S4 throughout and at the end, and S5 at the end
 * (workflow-checker.ts).
 */
import { partitionOf } from '@ringstate/protocol';
import type { RuntimeSettings } from '../aggregate/index.ts';
import type { CourierSettings } from '../outbox/index.ts';
import { isMember, sameMembers } from '../replication/membership.ts';
import type { NodeId, PartitionStatus, ReplicationSettings } from '../replication/index.ts';
import { hostOf, PartitionRing, zoneOf, type Locality } from '../ring/index.ts';
import { ACCOUNT_TYPE, accountId } from './accounts.ts';
import { Checker, type ReplicaLists, type Violation } from './checker.ts';
import { type ClientHost, SimClient } from './client.ts';
import { EventQueue } from './event-queue.ts';
import { type FaultKind, type FaultMode, FaultScheduler, type FaultTarget } from './faults.ts';
import { LIST_TYPE } from './list-append.ts';
import { MicrotaskDrain } from './microtasks.ts';
import { calmNetwork, type NetworkConditions, SimNetwork } from './network.ts';
import { Prng } from './prng.ts';
import { type ClientRequest, type ClientResponse, type NodeHost, SimNode } from './sim-node.ts';
import type { SimPeers } from './sim-peers.ts';
import type { WorkflowStats } from './workflow-checker.ts';

export interface Scenario {
  readonly seed: number;
  readonly mode: FaultMode;
  readonly initialNodeCount: number;
  readonly nodeCountMax: number;
  readonly partitionCount: number;
  readonly keyCount: number;
  readonly clientCount: number;
  readonly readRatio: number;
  readonly thinkMaxMs: number;
  readonly faultPhaseMs: number;
  readonly faultIntervalMinMs: number;
  readonly faultIntervalMaxMs: number;
  readonly network: NetworkConditions;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly compactEveryEntries: number;
  /** Chance, per completed fsync, that the node crashes right after it. */
  readonly crashAfterSyncRate: number;
  /** Empty: the production defaults; else tight timing and small batches (see stressSettings). */
  readonly settings: Partial<ReplicationSettings>;
  /** The aggregate runtime's: aggregate snapshots every few events, few active aggregates (passivation). */
  readonly runtime: RuntimeSettings;
  /** Accounts of the workflow workload (accounts.ts), and the share of operations on them. */
  readonly accountCount: number;
  readonly accountRatio: number;
  /** Empty: the production defaults; else quick retries and few deliveries in flight. */
  readonly courier: Partial<CourierSettings>;
  /** A node's router admits this many commands at once (0: no ceiling). */
  readonly admissionMax: number;
  /** Failure domains the nodes declare (two initial nodes per domain; joiners pick one), with domain faults; 0: no localities. */
  readonly domainCount: number;
  /** Which locality the domains are: hosts (two nodes per machine) or zones (nodes on machines of their own). */
  readonly domainLevel: 'host' | 'zone';
}

export interface SimulationResult {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly virtualMs: number;
  /** Virtual time from the end of the fault phase until the cluster converged (or gave up). */
  readonly healMs: number;
  readonly faults: Readonly<Record<FaultKind, number>>;
  readonly messages: { readonly sent: number; readonly dropped: number; readonly duplicated: number };
  readonly appends: { readonly ok: number; readonly fail: number; readonly info: number };
  readonly reads: { readonly ok: number; readonly fail: number };
  readonly accountOps: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Monitor samples of partition owners: all of them, and those quiesced (no heartbeats: replication/group.ts). */
  readonly owners: { readonly sampled: number; readonly quiesced: number };
  /** What the workflows did (null when the run ended before the final checks). */
  readonly workflows: WorkflowStats | null;
  readonly violations: readonly Violation[];
}

export interface SimulationOptions {
  /** Receives a trace line per notable event (faults, ownership changes, operations). */
  readonly trace?: (line: string) => void;
  /** Failure domains: six nodes in three hosts or zones, whole domains crashed or cut off (scenarioFor). */
  readonly domains?: boolean;
}

/** Domains of a run with failure domains: as many as copies, so every replica set spans all of them. */
const DOMAIN_COUNT = 3;

/** Replication factor of every partition (f = 1). */
const REPLICATION_FACTOR = 3;
/** After healing, the cluster must converge within this much virtual time. */
export const LIVENESS_BOUND_MS = 15_000;
/**
 * Named in a liveness violation when an outbox delivery is stuck behind a production bug the
 * simulator found (2026-12-05, test/simulation/outbox-regressions.test.ts): a node removed from
 * a partition's replica set while cut off never learns it, keeps its old membership (itself
 * included) and pre-campaigns for ever; `ReplicatedPartitionLog.ownership` then reports the
 * quorum lost with no owner hint, so its router refuses NO_QUORUM instead of forwarding, and
 * deliveries from the partitions it owns to that one wait for ever.
 */
export const REMOVED_REPLICA_REFUSES = 'a removed replica refuses NO_QUORUM instead of forwarding';

/**
 * Whether a run's violations are only the known bug above and what follows from it (the items
 * it holds back still pending, so money in flight is missing), nothing else.
 */
export function onlyRemovedReplicaBug(violations: readonly Violation[]): boolean {
  const consequence = /still pending after the run quiesced|pending outbox items after the run quiesced|^money not conserved/;
  return (
    violations.some((violation) => violation.property === 'liveness' && violation.message.includes(REMOVED_REPLICA_REFUSES)) &&
    violations.every((violation) => (violation.property === 'liveness' && violation.message.includes(REMOVED_REPLICA_REFUSES)) || (violation.property === 'S5' && consequence.test(violation.message)))
  );
}
/** How often convergence, decommissioning and wipe recovery are checked. */
export const MONITOR_INTERVAL_MS = 50;
/** During the fault phase an operation is given up after retrying this long. */
const OPERATION_DEADLINE_MS = 3000;

/**
 * The scenario of `seed`. With `domains`, the same draws but six nodes (at most seven) in three
 * failure domains, two per domain (odd seeds: hosts; even seeds: zones, each node its own
 * machine), and domain faults (faults.ts); every seed without it is unchanged.
 */
export function scenarioFor(seed: number, options: { domains?: boolean } = {}): Scenario {
  const prng = new Prng(seed ^ 0x5eed5eed);
  const initialNodeCount = prng.int(3, 5);
  const longDelays = prng.chance(0.5);
  const mode: FaultMode = prng.chance(0.25) ? 'chaos' : 'bounded';
  return {
    seed,
    mode,
    initialNodeCount,
    nodeCountMax: initialNodeCount + 1,
    partitionCount: prng.int(1, 3),
    keyCount: prng.int(3, 8),
    clientCount: prng.int(2, 4),
    readRatio: prng.float() * 0.4,
    thinkMaxMs: prng.int(20, 150),
    faultPhaseMs: prng.int(3000, 7000),
    // Chaos runs churn: many overlapping faults, many owner changes with partial logs.
    faultIntervalMinMs: mode === 'chaos' ? 20 : 100,
    faultIntervalMaxMs: mode === 'chaos' ? prng.int(100, 600) : prng.int(400, 1500),
    network: {
      dropRate: prng.chance(0.7) ? prng.float() * 0.05 : 0,
      duplicateRate: prng.chance(0.5) ? prng.float() * 0.03 : 0,
      delayMinMs: 0.1,
      delayMaxMs: prng.int(1, 8),
      longDelayRate: longDelays ? prng.float() * 0.03 : 0,
      longDelayMaxMs: longDelays ? prng.int(20, 600) : 0,
    },
    fsyncMinMs: 0.2,
    fsyncMaxMs: prng.int(1, 10),
    compactEveryEntries: prng.int(4, 40),
    crashAfterSyncRate: prng.chance(0.5) ? prng.float() * 0.01 : 0,
    // The replica apply delay comes from the seed, not the PRNG, so that every earlier seed
    // still draws the same scenario (the regression seeds keep their meaning).
    settings: { ...(prng.chance(0.5) ? {} : stressSettings(prng)), replicaApplyDelayMs: REPLICA_APPLY_DELAYS_MS[seed % REPLICA_APPLY_DELAYS_MS.length] ?? 0 },
    runtime: {
      partitionCount: 0, // set below: the scenario's
      snapshotEveryEvents: 2 + (seed % 9),
      aggregateIdleMs: 300 + (seed % 5) * 200,
      activeAggregatesMax: 2 + (seed % 4),
      commandQueueMax: 16,
      docResidentMs: 100 + (seed % 3) * 200,
    },
    // Drawn last, so that the fields above stay what earlier versions drew for a seed.
    accountCount: prng.int(3, 5),
    accountRatio: 0.15 + prng.float() * 0.35,
    courier: prng.chance(0.5) ? {} : { retryMinMs: prng.int(5, 100), retryMaxMs: prng.int(100, 2000), inFlightMax: prng.int(1, 8) },
    admissionMax: prng.chance(0.5) ? 0 : prng.int(4, 32),
    domainCount: 0,
    domainLevel: seed % 2 === 1 ? 'host' : 'zone',
    ...(options.domains === true ? { initialNodeCount: 2 * DOMAIN_COUNT, nodeCountMax: 2 * DOMAIN_COUNT + 1, domainCount: DOMAIN_COUNT } : {}),
  };
}

/** Replica apply delays the seeds cycle through: at once, shorter and longer than a heartbeat. */
const REPLICA_APPLY_DELAYS_MS = [0, 20, 150] as const;

/**
 * Tight timing (elections every few round trips, narrow randomization, so split votes and
 * competing candidates are common) and tiny batches, windows and byte limits (so flow
 * control, back-pressure and many small appends are exercised).
 */
function stressSettings(prng: Prng): Partial<ReplicationSettings> {
  const heartbeatIntervalMs = prng.int(10, 50);
  const electionTimeoutMinMs = heartbeatIntervalMs * prng.int(3, 6);
  return {
    heartbeatIntervalMs,
    electionTimeoutMinMs,
    electionTimeoutMaxMs: electionTimeoutMinMs + prng.int(1, electionTimeoutMinMs),
    appendEntriesMax: prng.int(1, 16),
    // A list-append command entry encodes to about 200-400 bytes (aggregate snapshots more).
    appendBytesMax: prng.int(250, 2500),
    inflightAppendsMax: prng.int(1, 4),
    entryBytesMax: 4000,
    uncommittedBytesMax: prng.int(4000, 20_000),
    applyEntriesMax: prng.int(1, 16),
    snapshotRetryMs: prng.int(100, 1000),
    preferredTransferBackoffMs: prng.int(200, 3000),
    transferTimeoutMs: electionTimeoutMinMs * 2,
  };
}

/** Async: production code answers through promises, whose callbacks run between the simulation's events. */
export function runSimulation(seed: number, options: SimulationOptions = {}): Promise<SimulationResult> {
  const scenario = scenarioFor(seed, { domains: options.domains === true });
  return new Simulation({ ...scenario, runtime: { ...scenario.runtime, partitionCount: scenario.partitionCount } }, options).run();
}

class Simulation implements NodeHost, FaultTarget {
  readonly queue = new EventQueue();
  readonly checker: Checker;
  readonly partitionCount: number;
  readonly replicationFactor = REPLICATION_FACTOR;
  readonly settings: Partial<ReplicationSettings>;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly compactEveryEntries: number;
  readonly runtimeSettings: RuntimeSettings;
  readonly nodeCountMax: number;
  readonly courierSettings: Partial<CourierSettings>;
  readonly admissionMax: number;
  readonly accounts: string[];
  private readonly scenario: Scenario;
  private readonly prng: Prng;
  private readonly network: SimNetwork;
  private readonly clientNetwork: SimNetwork;
  private ring: PartitionRing;
  /** The localities nodes declare (scenario.domainCount > 0), as the ring and the domain faults see them. */
  private readonly localities: Record<NodeId, Locality> = {};
  readonly domainFaults: boolean;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly clients: SimClient[] = [];
  readonly keys: string[];
  private readonly faults: FaultScheduler;
  private readonly traceLine: ((line: string) => void) | undefined;
  private nextNodeNumber = 1;
  private nextValue = 1;
  private healed = false;
  private healedAtMs = 0;
  private readonly owners = { sampled: 0, quiesced: 0 };
  private finished = false;
  /** Some production code ran and may have left promise callbacks (see run). */
  private microtasks = false;
  private readonly microtaskDrain = new MicrotaskDrain();

  constructor(scenario: Scenario, options: SimulationOptions) {
    this.scenario = scenario;
    this.prng = new Prng(scenario.seed);
    this.traceLine = options.trace;
    this.checker = new Checker(() => this.queue.nowMs);
    this.partitionCount = scenario.partitionCount;
    this.settings = scenario.settings;
    this.fsyncMinMs = scenario.fsyncMinMs;
    this.fsyncMaxMs = scenario.fsyncMaxMs;
    this.compactEveryEntries = scenario.compactEveryEntries;
    this.runtimeSettings = scenario.runtime;
    this.nodeCountMax = scenario.nodeCountMax;
    this.courierSettings = scenario.courier;
    this.admissionMax = scenario.admissionMax;
    this.accounts = Array.from({ length: scenario.accountCount }, (_, index) => accountId(index));
    this.network = new SimNetwork(this.queue, this.prng.fork(), scenario.network);
    // Client connections are TCP-like: lossy and slow under faults, but never duplicating,
    // so a refusal is a definite "not applied" for that attempt.
    this.clientNetwork = new SimNetwork(this.queue, this.prng.fork(), { ...scenario.network, duplicateRate: 0 });
    this.keys = Array.from({ length: scenario.keyCount }, (_, index) => `k${index}`);
    const initial = Array.from({ length: scenario.initialNodeCount }, () => this.newNodeId());
    this.domainFaults = scenario.domainCount > 0;
    if (this.domainFaults) initial.forEach((id, index) => (this.localities[id] = this.localityIn((index % scenario.domainCount) + 1)));
    this.ring = this.ringOf(initial);
    this.faults = new FaultScheduler(this, this.prng.fork(), scenario.mode, scenario.faultIntervalMinMs, scenario.faultIntervalMaxMs);
  }

  get nowMs(): number {
    return this.queue.nowMs;
  }

  async run(): Promise<SimulationResult> {
    for (const id of this.ring.members) {
      const node = new SimNode(id, this, this.prng.fork(), this.ring.members, this.localities[id]);
      this.nodes.set(id, node);
      node.boot({ wipe: false, bootstrap: true });
    }
    const clientHost = this.clientHost();
    for (let index = 0; index < this.scenario.clientCount; index += 1) {
      this.clients.push(new SimClient(`c${index + 1}`, clientHost, this.prng.fork(), this.scenario.thinkMaxMs));
    }
    this.faults.start();
    this.queue.schedule(this.scenario.faultPhaseMs, () => this.heal());
    this.queue.schedule(MONITOR_INTERVAL_MS, () => this.monitor());
    try {
      // Events run until the monitor declares the run finished. After an event that ran
      // production code, its promise callbacks run before the next event, as Node runs
      // microtasks before the next macrotask (the drain lets every chain finish; nothing else
      // is scheduled on the real event loop, so the order is the seed's).
      this.microtaskDrain.start();
      while (!this.finished && this.queue.runNext(Number.POSITIVE_INFINITY)) {
        if (!this.microtasks) continue;
        this.microtasks = false;
        await this.microtaskDrain.drain();
      }
      this.finalChecks();
    } catch (error) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.checker.fail('crash', text);
    } finally {
      this.microtaskDrain.stop();
    }
    return this.result();
  }

  // ---------------------------------------------------------------- NodeHost

  transmit(from: NodeId, to: NodeId, deliver: (target: SimPeers) => void): void {
    const sender = this.nodes.get(from);
    const boots = sender?.boots ?? 0;
    this.network.send(from, to, () => {
      // Connections do not survive a restart: a message from an earlier run of the
      // sender that is still on its way is lost.
      if (sender !== undefined && sender.boots !== boots) return;
      const target = this.nodes.get(to)?.peers;
      if (target !== null && target !== undefined) deliver(target);
    });
  }

  nodeIds(): readonly NodeId[] {
    return [...this.nodes.keys()];
  }

  isAlive(from: NodeId, to: NodeId): boolean {
    const node = this.nodes.get(to);
    return node !== undefined && node.isUp && !node.paused && !this.network.isBlocked(from, to);
  }

  liveness(from: NodeId, to: NodeId): number {
    return this.isAlive(from, to) ? (this.nodes.get(to)?.boots ?? 0) : 0;
  }

  settleMicrotasks(): void {
    this.microtasks = true;
  }

  crashAfterSync(node: SimNode): boolean {
    return this.faults.crashAfterSync(node, this.scenario.crashAfterSyncRate);
  }

  trace(text: () => string): void {
    if (this.traceLine !== undefined) this.traceLine(`${this.queue.nowMs.toFixed(1).padStart(9)} ${text()}`);
  }

  // ---------------------------------------------------------------- FaultTarget

  schedule(delayMs: number, run: () => void): void {
    this.queue.schedule(delayMs, run);
  }

  liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((node) => node.isUp && !node.decommissioned);
  }

  allNodes(): SimNode[] {
    return [...this.nodes.values()];
  }

  ringMembers(): readonly NodeId[] {
    return this.ring.members;
  }

  domainOf(nodeId: NodeId): string {
    return this.scenario.domainLevel === 'zone' && this.domainFaults ? `zone:${zoneOf(this.localities, nodeId)}` : hostOf(this.localities, nodeId);
  }

  /** The locality of a node in domain `n` (1-based): a host, or a zone. */
  private localityIn(n: number): Locality {
    return this.scenario.domainLevel === 'zone' ? { zone: `zone-${n}` } : { host: `host-${n}` };
  }

  /** The ring the nodes should agree on: `members` with their declared hosts. */
  private ringOf(members: readonly NodeId[]): PartitionRing {
    return new PartitionRing(members, this.partitionCount, REPLICATION_FACTOR, this.localities);
  }

  restart(node: SimNode, wipe: boolean): void {
    if (node.decommissioned || node.isUp) return;
    node.boot({ wipe });
  }

  blockLink(from: NodeId, to: NodeId): void {
    this.network.block(from, to);
  }

  unblockLink(from: NodeId, to: NodeId): void {
    this.network.unblock(from, to);
  }

  join(): void {
    const id = this.newNodeId();
    // Configured with the current members to contact, as an operator starts a node to add: it
    // joins through the production join loop (a request to a live member, retried).
    if (this.domainFaults) this.localities[id] = this.localityIn(this.prng.int(1, this.scenario.domainCount));
    const node = new SimNode(id, this, this.prng.fork(), this.ring.members, this.localities[id]);
    this.nodes.set(id, node);
    this.ring = this.ringOf([...this.ring.members, id]);
    node.boot({ wipe: false });
    this.trace(() => `fault: join ${id}; ring wanted ${this.ring.members.join(',')}`);
  }

  leave(node: SimNode): void {
    if (!node.leave()) return;
    this.ring = this.ringOf(this.ring.members.filter((member) => member !== node.id));
    this.trace(() => `fault: leave ${node.id}; ring wanted ${this.ring.members.join(',')}`);
  }

  transferSomeOwnership(prng: Prng): boolean {
    const partition = prng.int(0, this.partitionCount - 1);
    const owner = this.currentOwner(partition);
    if (owner === null) return false;
    const targets = owner.status.membership.voters.filter((voter) => voter !== owner.node.id);
    if (targets.length === 0) return false;
    const target = prng.pick(targets);
    this.trace(() => `fault: transfer p${partition} ${owner.node.id} -> ${target}`);
    owner.node.transferOwnership(partition, target);
    return true;
  }

  someOwner(prng: Prng): SimNode | null {
    const owner = this.currentOwner(prng.int(0, this.partitionCount - 1));
    return owner?.node ?? null;
  }

  // ---------------------------------------------------------------- phases

  private heal(): void {
    this.healed = true;
    this.healedAtMs = this.queue.nowMs;
    this.faults.stop();
    this.trace(() => 'heal: every fault repaired, network reliable');
    this.network.conditions = calmNetwork;
    this.clientNetwork.conditions = calmNetwork;
    this.network.healAll();
    for (const node of this.nodes.values()) {
      node.resume();
      if (!node.isUp && !node.decommissioned) {
        const wipe = this.faults.crashedNodes().get(node.id) ?? false;
        node.boot({ wipe });
      }
    }
  }

  private monitor(): void {
    this.queue.schedule(MONITOR_INTERVAL_MS, () => this.monitor());
    this.sampleOwners();
    this.decommissionLeftNodes();
    this.noteWipeRecoveries();
    if (!this.healed) return;
    if (this.converged()) {
      this.trace(() => `converged ${(this.queue.nowMs - this.healedAtMs).toFixed(0)} ms after healing`);
      this.finished = true;
    } else if (this.queue.nowMs - this.healedAtMs > LIVENESS_BOUND_MS) {
      const stuck = this.stuckDelivery();
      this.checker.fail('liveness', `not converged ${LIVENESS_BOUND_MS} ms after healing: ${this.convergenceProblem() ?? '?'}${stuck === null ? '' : `; ${stuck}`}`);
      this.traceStatuses();
      this.finished = true;
    }
  }

  private converged(): boolean {
    return this.convergenceProblem() === null;
  }

  /** Why the cluster has not converged yet, or null when it has. */
  private convergenceProblem(): string | null {
    const busy = this.clients.filter((client) => client.busy).map((client) => client.id);
    if (busy.length > 0) return `clients ${busy.join(',')} still have operations pending`;
    // Every running node agrees on the ring the operator asked for (joins and leaves went
    // through the production membership loops and gossip).
    for (const node of this.liveNodes()) {
      const record = node.ringRecord;
      if (record !== null && !sameMembers(record.members, this.ring.members)) {
        return `${node.id} holds ring ${record.members.join(',')} (generation ${record.generation}), wanted ${this.ring.members.join(',')}`;
      }
    }
    for (let partition = 0; partition < this.partitionCount; partition += 1) {
      const leader = this.currentOwner(partition);
      if (leader === null) return `partition ${partition} has no ready owner`;
      const desired = this.ring.replicaSet(partition);
      const { membership, commit } = leader.status;
      if (!sameMembers(membership.voters, desired) || membership.learners.length > 0 || leader.status.membershipPending) {
        return `partition ${partition} membership ${membership.voters.join(',')}/${membership.learners.join(',')}, ring wants ${desired.join(',')}`;
      }
      if (leader.node.id !== desired[0]) return `partition ${partition} owned by ${leader.node.id}, preferred ${desired[0] ?? '-'}`;
      for (const voter of desired) {
        const node = this.nodes.get(voter);
        const status = node?.log?.status(partition);
        if (node === undefined || status === undefined) return `partition ${partition} replica ${voter} is down`;
        if (status.amnesiac) return `partition ${partition} replica ${voter} not readmitted after its wipe`;
        if (status.applied < commit) return `partition ${partition} replica ${voter} applied ${status.applied} of ${commit}`;
        const pending = node.pendingDeliveries(partition);
        if (pending > 0) return `partition ${partition} replica ${voter} holds ${pending} pending outbox items`;
      }
    }
    return null;
  }

  /** Why an owner cannot deliver a pending outbox item, when it is the known bug (see REMOVED_REPLICA_REFUSES). */
  private stuckDelivery(): string | null {
    for (let partition = 0; partition < this.partitionCount; partition += 1) {
      const sender = this.currentOwner(partition)?.node;
      const log = sender?.log;
      if (sender === undefined || log === null || log === undefined) continue;
      for (const { aggregate, item } of sender.storage.pendingDeliveries(partition)) {
        const target = partitionOf(item.to.type, item.to.id, this.partitionCount);
        const ownership = log.ownership(target);
        const owner = this.currentOwner(target)?.node.id;
        if (ownership.serving || ownership.quorumLost !== true || owner === undefined || this.ring.replicaSet(target).includes(sender.id)) continue;
        const voters = log.status(target).membership.voters.join(',');
        return `${sender.id}, owner of partition ${partition}, cannot deliver ${aggregate}:${item.id} to partition ${target}: removed from its replica set (now ${this.ring.replicaSet(target).join(',')}, owner ${owner}) without learning it (its membership ${voters}), ${REMOVED_REPLICA_REFUSES}`;
      }
    }
    return null;
  }

  /** Traces every replica's view of every partition (to explain a liveness failure). */
  private traceStatuses(): void {
    for (let partition = 0; partition < this.partitionCount; partition += 1) {
      this.trace(() => `p${partition} ring wants ${this.ring.replicaSet(partition).join(',')}`);
      for (const node of this.nodes.values()) {
        const status = node.log?.status(partition);
        if (status === undefined) continue;
        this.trace(
          () =>
            `  ${node.id}: ${status.role}${status.ready ? ' ready' : ''} epoch ${status.epoch} leader ${status.owner ?? '-'} ` +
            `voters ${status.membership.voters.join(',')} learners ${status.membership.learners.join(',')} ` +
            `last ${status.lastPosition} commit ${status.commit} applied ${status.applied}${status.amnesiac ? ' AMNESIAC' : ''}`,
        );
      }
    }
  }

  /** The ready owner with the highest epoch among running nodes, if any. */
  private currentOwner(partition: number): { node: SimNode; status: PartitionStatus } | null {
    let best: { node: SimNode; status: PartitionStatus } | null = null;
    for (const node of this.nodes.values()) {
      if (node.log === null || node.paused) continue;
      const status = node.log.status(partition);
      if (status.ready && (best === null || status.epoch > best.status.epoch)) best = { node, status };
    }
    return best;
  }

  private decommissionLeftNodes(): void {
    for (const node of this.nodes.values()) {
      if (!node.leaving || node.decommissioned) continue;
      // The node stops itself, as in production (leaveSettled, cluster/cluster-services.ts), once
      // every running member of its ring holds its record or a newer one without it (a concurrent
      // join at the same generation can bring it back until then; a member that never saw the
      // leave can adopt an older record listing it from a member that comes back: seed 59074)...
      const own = node.ringRecord;
      if (own === null || node.paused) continue;
      if (this.liveNodes().some((other) => other.ringRecord?.members.includes(node.id) === true)) continue;
      const members = this.liveNodes().filter((other) => other !== node && own.members.includes(other.id));
      if (members.some((other) => other.paused || (other.ringRecord?.generation ?? -1) < own.generation)) continue;
      // ...and no owner counts it any more.
      let stillMember = false;
      for (let partition = 0; partition < this.partitionCount && !stillMember; partition += 1) {
        const owner = this.currentOwner(partition);
        // Only a committed removal counts: an uncommitted one can still be undone.
        stillMember = owner === null || owner.status.membershipPending || isMember(owner.status.membership, node.id);
      }
      if (stillMember) continue;
      node.crash();
      node.decommissioned = true;
      this.trace(() => `${node.id} decommissioned`);
    }
  }

  private noteWipeRecoveries(): void {
    for (const node of this.nodes.values()) {
      const log = node.log;
      if (!node.wipedUnrecovered || log === null) continue;
      let recovered = true;
      for (let partition = 0; partition < this.partitionCount && recovered; partition += 1) {
        const owner = this.currentOwner(partition);
        recovered =
          owner !== null &&
          !owner.status.membershipPending &&
          !(isMember(owner.status.membership, node.id) && log.status(partition).amnesiac);
      }
      if (recovered) {
        node.wipedUnrecovered = false;
        this.trace(() => `${node.id} readmitted everywhere after its wipe`);
      }
    }
  }

  private finalChecks(): void {
    // Each live node's lists, read through its runtime, for the partitions it replicates.
    const replicas: ReplicaLists[] = [];
    for (const node of this.nodes.values()) {
      if (!node.isUp) continue;
      for (const partition of node.storage.storedPartitions()) {
        const lists = new Map<string, readonly number[]>();
        const balances = new Map<string, number>();
        let replicates = true;
        for (const key of this.keys) {
          if (this.partitionOfKey(key) !== partition) continue;
          const list = node.readList(key);
          if (list === null) replicates = false;
          else if (list.length > 0) lists.set(key, list);
        }
        for (const id of this.accounts) {
          if (this.partitionOfAccount(id) !== partition) continue;
          const balance = node.readBalance(id);
          if (balance === null) replicates = false;
          else balances.set(id, balance);
        }
        if (replicates) {
          // A node that is no longer in the partition's replica set keeps what it had: only members must have drained.
          const member = this.ring.replicaSet(partition).includes(node.id);
          replicas.push({ node: node.id, partition, appliedPosition: node.storage.appliedPosition(partition), lists, balances, pendingDeliveries: member ? node.pendingDeliveries(partition) : 0 });
        }
      }
    }
    this.checker.finish(this.partitionCount, replicas, (key) => this.partitionOfKey(key), this.accounts);
  }

  private result(): SimulationResult {
    const appends = { ok: 0, fail: 0, info: 0 };
    const accountOps = { ok: 0, fail: 0, info: 0 };
    const reads = { ok: 0, fail: 0 };
    for (const op of this.checker.history) {
      if (op.kind === 'append') appends[op.outcome] += 1;
      else if (op.kind === 'account') accountOps[op.outcome] += 1;
      else if (op.outcome === 'ok') reads.ok += 1;
      else reads.fail += 1;
    }
    const { sent, dropped, duplicated } = this.network.stats;
    return {
      seed: this.scenario.seed,
      scenario: this.scenario,
      virtualMs: this.queue.nowMs,
      healMs: this.healed ? this.queue.nowMs - this.healedAtMs : 0,
      faults: { ...this.faults.counts },
      messages: { sent, dropped, duplicated },
      appends,
      reads,
      accountOps,
      owners: { ...this.owners },
      workflows: this.checker.workflows,
      violations: this.checker.violations,
    };
  }

  // ---------------------------------------------------------------- helpers

  /** Counts owners, and quiesced ones, so the report shows the seeds exercise quiescence. */
  private sampleOwners(): void {
    for (const node of this.nodes.values()) {
      const log = node.log;
      if (log === null) continue;
      for (const partition of log.core.partitions()) {
        const status = log.status(partition);
        if (status.role !== 'owner') continue;
        this.owners.sampled += 1;
        if (status.quiesced) this.owners.quiesced += 1;
      }
    }
  }

  private newNodeId(): NodeId {
    const id = `n${this.nextNodeNumber}`;
    this.nextNodeNumber += 1;
    return id;
  }

  partitionOfKey(key: string): number {
    return partitionOf(LIST_TYPE, key, this.partitionCount);
  }

  partitionOfAccount(id: string): number {
    return partitionOf(ACCOUNT_TYPE, id, this.partitionCount);
  }

  private clientHost(): ClientHost {
    return {
      queue: this.queue,
      checker: this.checker,
      keys: this.keys,
      readRatio: this.scenario.readRatio,
      accounts: this.accounts,
      accountRatio: this.scenario.accountRatio,
      partitionOfAccount: (id) => this.partitionOfAccount(id),
      workloadEndMs: this.scenario.faultPhaseMs,
      partitionOfKey: (key) => this.partitionOfKey(key),
      nextValue: () => this.nextValue++,
      contactableNodes: () => [...this.nodes.values()].filter((node) => !node.decommissioned).map((node) => node.id),
      sendRequest: (client: string, target: NodeId, request: ClientRequest, onResponse: (response: ClientResponse) => void) => {
        this.clientNetwork.send(client, target, () => {
          this.nodes.get(target)?.handleClient(client, request, (response) => {
            this.clientNetwork.send(target, client, () => onResponse(response));
          });
        });
      },
      operationDeadlineMs: () => (this.healed ? null : OPERATION_DEADLINE_MS),
      trace: (text) => this.trace(text),
    };
  }
}
