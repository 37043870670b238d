/**
 * A small synchronous cluster for unit tests: real `ReplicationNode`s over `MemoryStorage`,
 * driven by the production `ReadyDriver` (persisted and synced at once), a message list the
 * test delivers explicitly (or all at once), blockable links, a manual clock. Unlike the simulator it has no randomness in delivery, so each test states exactly
 * the interleaving it is about.
 */
import {
  type Entry,
  type Message,
  type NodeId,
  type OwnershipChange,
  type PartitionStatus,
  type ReadState,
  ReadyDriver,
  ReplicationNode,
  type ReplicationSettings,
} from '../../../server/src/replication/index.ts';
import { MemoryStorage } from '../../../server/src/simulation/memory-storage.ts';
import { Prng } from '../../../server/src/simulation/prng.ts';

export type Payload = string;

export interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: Message<Payload>;
}

export interface HarnessNode {
  readonly id: NodeId;
  storage: MemoryStorage<Payload>;
  core: ReplicationNode<Payload> | null;
  driver: ReadyDriver<Payload> | null;
  /** Committed entries applied, per partition, in order (reset on restart). */
  applied: Map<number, Entry<Payload>[]>;
  ownership: OwnershipChange[];
  readStates: ReadState[];
}

export interface HarnessOptions {
  readonly partitions?: number;
  readonly bootstrap?: boolean;
  readonly settings?: Partial<ReplicationSettings>;
  readonly seed?: number;
  /**
   * Gives the cores node-level liveness, so idle groups quiesce: an oracle in which a node is
   * live while it runs and its messages to the asker are not blocked, its session counting its starts.
   */
  readonly liveness?: boolean;
}

export const TICK_MS = 10;

export class Harness {
  readonly nodes = new Map<NodeId, HarnessNode>();
  inFlight: InFlight[] = [];
  readonly blocked = new Set<string>();
  nowMs = 0;
  /** Called with each message just before it is delivered. */
  onDeliver: ((item: InFlight) => void) | null = null;
  /** Messages it selects are lost instead of delivered. */
  lose: ((item: InFlight) => boolean) | null = null;
  private readonly prng: Prng;
  private readonly partitionCount: number;
  private readonly settings: Partial<ReplicationSettings>;
  private readonly liveness: boolean;
  /** Per node: how many times it started (its liveness session). */
  readonly starts = new Map<NodeId, number>();

  constructor(ids: readonly NodeId[], options: HarnessOptions = {}) {
    this.prng = new Prng(options.seed ?? 1);
    this.partitionCount = options.partitions ?? 1;
    this.settings = options.settings ?? {};
    this.liveness = options.liveness ?? false;
    for (const id of ids) {
      const node = this.addNode(id);
      if (options.bootstrap ?? true) {
        for (let partition = 0; partition < this.partitionCount; partition += 1) {
          node.core?.bootstrap(partition, ids);
          node.core?.setReplicaSet(partition, ids);
        }
      }
    }
    this.processAll();
  }

  addNode(id: NodeId): HarnessNode {
    const node: HarnessNode = {
      id,
      storage: new MemoryStorage(),
      core: null,
      driver: null,
      applied: new Map(),
      ownership: [],
      readStates: [],
    };
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  node(id: NodeId): HarnessNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  core(id: NodeId): ReplicationNode<Payload> {
    const core = this.node(id).core;
    if (core === null) throw new Error(`node ${id} is down`);
    return core;
  }

  status(id: NodeId, partition = 0): PartitionStatus {
    return this.core(id).status(partition);
  }

  /** Drains every Ready of a node through its driver. */
  process(id: NodeId): void {
    this.node(id).driver?.pump();
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  /** Delivers one in-flight message (dropped if its link is blocked or the target is down). */
  deliver(item: InFlight): void {
    this.inFlight = this.inFlight.filter((other) => other !== item);
    if (this.blocked.has(`${item.from}>${item.to}`) || this.lose?.(item) === true) return;
    const target = this.nodes.get(item.to);
    if (target?.core === null || target === undefined) return;
    this.onDeliver?.(item);
    target.core.step(item.from, item.message);
    this.process(item.to);
  }

  /** Delivers messages in order until none are left (bounded, to catch message storms). */
  deliverAll(limit = 100_000): void {
    for (let count = 0; this.inFlight.length > 0; count += 1) {
      if (count > limit) throw new Error('message storm: deliverAll did not settle');
      const item = this.inFlight[0] as InFlight;
      this.deliver(item);
    }
  }

  /** Drops every in-flight message matching the filter. */
  drop(filter: (item: InFlight) => boolean): InFlight[] {
    const dropped = this.inFlight.filter(filter);
    this.inFlight = this.inFlight.filter((item) => !filter(item));
    return dropped;
  }

  /** Advances the clock by `ms` in ticks, delivering all messages after each tick. */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    while (this.nowMs < end) {
      this.nowMs = Math.min(end, this.nowMs + TICK_MS);
      for (const node of this.nodes.values()) {
        node.core?.tick(this.nowMs);
        this.process(node.id);
      }
      this.deliverAll();
    }
  }

  /** Advances time until `predicate` holds; throws after `limitMs`. */
  advanceUntil(predicate: () => boolean, limitMs = 10_000): void {
    const end = this.nowMs + limitMs;
    while (!predicate()) {
      if (this.nowMs >= end) throw new Error(`condition not reached within ${limitMs} ms`);
      this.advance(TICK_MS);
    }
  }

  readyOwner(partition = 0): NodeId | null {
    const owners = [...this.nodes.values()].filter((node) => node.core?.status(partition).ready === true);
    if (owners.length === 0) return null;
    // Several nodes may believe they lead in different epochs; the highest epoch wins.
    owners.sort((a, b) => (b.core?.status(partition).epoch ?? 0) - (a.core?.status(partition).epoch ?? 0));
    return owners[0]?.id ?? null;
  }

  waitForOwner(partition = 0, limitMs = 10_000): NodeId {
    this.advanceUntil(() => this.readyOwner(partition) !== null, limitMs);
    return this.readyOwner(partition) as NodeId;
  }

  isolate(id: NodeId): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.blocked.add(`${id}>${other}`);
      this.blocked.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    node.driver?.stop();
    node.driver = null;
    node.core = null;
    node.storage.crash();
    this.inFlight = this.inFlight.filter((item) => item.to !== id && item.from !== id);
  }

  restart(id: NodeId, options: { wipe?: boolean; replicaSet?: readonly NodeId[] } = {}): void {
    const node = this.node(id);
    if (options.wipe === true) node.storage = new MemoryStorage();
    node.applied = new Map();
    this.start(node);
    if (options.replicaSet !== undefined) {
      for (let partition = 0; partition < this.partitionCount; partition += 1) {
        node.core?.setReplicaSet(partition, options.replicaSet);
      }
    }
    this.process(id);
  }

  committedPayloads(id: NodeId, partition = 0): string[] {
    const entries = this.node(id).applied.get(partition) ?? [];
    return entries.flatMap((entry) => (entry.kind === 'command' ? [entry.payload] : []));
  }

  /** The liveness oracle (see HarnessOptions.liveness), as `asker` sees `node`. */
  livenessOf(asker: NodeId, node: NodeId): number {
    const target = this.nodes.get(node);
    if (target?.core === null || target === undefined || this.blocked.has(`${node}>${asker}`)) return 0;
    return this.starts.get(node) ?? 0;
  }

  private start(node: HarnessNode): void {
    const random = this.prng.fork();
    this.starts.set(node.id, (this.starts.get(node.id) ?? 0) + 1);
    const core = new ReplicationNode<Payload>({
      nodeId: node.id,
      partitionCount: this.partitionCount,
      storage: node.storage,
      random: () => random.float(),
      payloadBytes: (payload) => payload.length,
      nowMs: this.nowMs,
      settings: this.settings,
      ...(this.liveness ? { liveness: (other: NodeId) => this.livenessOf(node.id, other) } : {}),
    });
    node.core = core;
    node.driver = new ReadyDriver<Payload>({
      core,
      storage: {
        persist: (ready, done) => {
          for (const write of ready.writes) node.storage.write(write);
          node.storage.sync();
          done();
        },
      },
      network: { send: (messages) => messages.forEach(({ to, message }) => this.inFlight.push({ from: node.id, to, message })) },
      application: {
        apply: (apply) => {
          let list = node.applied.get(apply.partition);
          if (list === undefined || apply.snapshot !== undefined) {
            list = [];
            node.applied.set(apply.partition, list);
          }
          for (const entry of apply.entries) list.push(entry);
        },
        ownershipChanged: (change) => node.ownership.push(change),
        readState: (state) => node.readStates.push(state),
      },
    });
  }
}

/** Makes `id` campaign at once, as a ownership transfer would (no pre-vote, no lease). */
export function forceCampaign(harness: Harness, id: NodeId, partition = 0): void {
  const epoch = harness.status(id, partition).epoch;
  harness.core(id).step('test-driver', { type: 'timeout-now', partition, epoch });
  harness.process(id);
}

/** Messages of one type currently in flight, optionally only from or to one node. */
export function inFlightOfType(harness: Harness, type: Message<Payload>['type'], filter: { from?: NodeId; to?: NodeId } = {}): InFlight[] {
  return harness.inFlight.filter(
    (item) =>
      item.message.type === type &&
      (filter.from === undefined || item.from === filter.from) &&
      (filter.to === undefined || item.to === filter.to),
  );
}

/** A lone core over memory storage, for tests that hand it raw messages. */
export function loneNode(id: NodeId, options: { voters?: readonly NodeId[]; settings?: Partial<ReplicationSettings> } = {}): {
  core: ReplicationNode<Payload>;
  storage: MemoryStorage<Payload>;
  /** Persists and advances every Ready; returns the messages it would have sent. */
  drain: () => { to: NodeId; message: Message<Payload> }[];
} {
  const storage = new MemoryStorage<Payload>();
  const core = new ReplicationNode<Payload>({
    nodeId: id,
    partitionCount: 1,
    storage,
    random: () => 0.5,
    payloadBytes: (payload) => payload.length,
    nowMs: 0,
    settings: options.settings ?? {},
  });
  if (options.voters !== undefined) core.bootstrap(0, options.voters);
  let sent: { to: NodeId; message: Message<Payload> }[] = [];
  const driver = new ReadyDriver<Payload>({
    core,
    storage: {
      persist: (ready, done) => {
        for (const write of ready.writes) storage.write(write);
        storage.sync();
        done();
      },
    },
    network: { send: (messages) => sent.push(...messages) },
    application: { apply: () => undefined },
  });
  const drain = (): { to: NodeId; message: Message<Payload> }[] => {
    sent = [];
    driver.pump();
    return sent;
  };
  drain();
  return { core, storage, drain };
}
