/**
 * One simulated server: the replication core run by the production Ready driver
 * (replication/driver.ts) over a simulated disk (persist with an fsync delay) and network,
 * the list-append application, and the request handling a real node's gateway would do
 * (propose on the ready owner, answer when the entry is applied, linearizable reads through
 * read-index).
 *
 * Crash semantics: a crash loses the core, the application state, everything written but
 * not yet synced, and the Ready being persisted (its messages were never sent). A paused node
 * (SIGSTOP) runs nothing; what arrives meanwhile is handled in order when it resumes.
 * Crash points right after an fsync, before or after the messages that depended on it left,
 * probe the narrowest windows of the protocol.
 */
import {
  type Message,
  type NodeId,
  type OwnershipChange,
  type PartitionApply,
  type ProposalOutcome,
  type ReadState,
  type Ready,
  ReadyDriver,
  NotOwnerError,
  type ReplicationCondition,
  ReplicationError,
  ReplicationNode,
  type ReplicationSettings,
} from '../replication/index.ts';
import type { Checker } from './checker.ts';
import type { EventQueue } from './event-queue.ts';
import { type AppendCommand, commandBytes, ListAppendMachine } from './list-append.ts';
import { MemoryStorage } from './memory-storage.ts';
import type { Prng } from './prng.ts';

export type ClientRequest =
  | { readonly kind: 'append'; readonly partition: number; readonly key: string; readonly value: number; readonly commandId: string }
  | { readonly kind: 'read'; readonly partition: number; readonly key: string };

export type ClientResponse =
  | { readonly kind: 'ok' }
  | { readonly kind: 'read-ok'; readonly values: readonly number[] }
  /** Refused before proposing: this attempt had no effect. */
  | { readonly kind: 'refused'; readonly condition: ReplicationCondition; readonly ownerHint: NodeId | null }
  /** Proposed, but another entry took its position: this attempt can never commit. */
  | { readonly kind: 'lost' }
  /** Proposed, then ownership changed: it may or may not commit. */
  | { readonly kind: 'indeterminate' };

export type Reply = (response: ClientResponse) => void;

/** What a node needs from the cluster around it. */
export interface NodeHost {
  readonly queue: EventQueue;
  readonly checker: Checker;
  readonly partitionCount: number;
  readonly settings: Partial<ReplicationSettings>;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly compactEveryEntries: number;
  sendMessage(from: NodeId, to: NodeId, message: Message<AppendCommand>): void;
  /** Asked after each fsync; true when the fault schedule crashed the node right there. */
  crashAfterSync(node: SimNode): boolean;
  trace(text: () => string): void;
}

/** Tick period of the driver's timer. */
export const TICK_MS = 10;

export class SimNode {
  readonly id: NodeId;
  storage = new MemoryStorage<AppendCommand>();
  core: ReplicationNode<AppendCommand> | null = null;
  private driver: ReadyDriver<AppendCommand> | null = null;
  /** Set after an fsync whose crash point comes after the next send (see persist). */
  private crashAfterNextSend = false;
  readonly machines = new Map<number, ListAppendMachine>();
  /** Incremented at each restart; a message from an earlier run is not delivered. */
  boots = 0;
  private crashes = 0;
  paused = false;
  /** Set when the node restarted with a wiped disk; cleared once every partition readmitted it. */
  wipedUnrecovered = false;
  /** Left the ring; stopped for good once no replica set includes it. */
  leaving = false;
  decommissioned = false;
  /** What arrived while paused, per source (peer, client connection, disk): FIFO each. */
  private deferred = new Map<string, (() => void)[]>();
  private readonly pendingReads = new Map<number, { key: string; reply: Reply }>();
  private waitingReads: { partition: number; position: number; key: string; reply: Reply }[] = [];
  private nextReadId = 1;
  private readonly host: NodeHost;
  private readonly prng: Prng;

  constructor(id: NodeId, host: NodeHost, prng: Prng) {
    this.id = id;
    this.host = host;
    this.prng = prng;
    // Each node's timer has its own phase, so nodes do not act in lockstep.
    host.queue.schedule(prng.float() * TICK_MS, () => this.tickLoop());
  }

  get isUp(): boolean {
    return this.core !== null;
  }

  /** Starts the node on its current storage (replaced by an empty one when wiping). */
  boot(options: { wipe: boolean; replicaSets: (partition: number) => readonly NodeId[]; bootstrap?: boolean }): void {
    if (options.wipe) {
      this.storage = new MemoryStorage();
      this.wipedUnrecovered = true;
    }
    this.boots += 1;
    this.paused = false;
    this.machines.clear();
    const random = this.prng.fork();
    const core = new ReplicationNode<AppendCommand>({
      nodeId: this.id,
      partitionCount: this.host.partitionCount,
      storage: this.storage,
      random: () => random.float(),
      payloadBytes: commandBytes,
      nowMs: this.host.queue.nowMs,
      settings: this.host.settings,
    });
    this.core = core;
    this.crashAfterNextSend = false;
    this.driver = new ReadyDriver<AppendCommand>({
      core,
      storage: { persist: (ready, done) => this.persist(ready, done) },
      network: { send: (messages) => this.send(messages) },
      application: {
        apply: (apply) => this.apply(apply),
        ownershipChanged: (change) => this.onOwnership(change),
        readState: (state) => this.onReadState(state),
        compaction: (partition) => this.compaction(partition),
      },
    });
    for (let partition = 0; partition < this.host.partitionCount; partition += 1) {
      const snapshot = this.storage.snapshot(partition);
      this.machines.set(partition, snapshot === undefined ? new ListAppendMachine() : ListAppendMachine.decode(snapshot.data));
      const replicaSet = options.replicaSets(partition);
      if (options.bootstrap === true && replicaSet.includes(this.id)) core.bootstrap(partition, replicaSet);
      core.setReplicaSet(partition, replicaSet);
    }
    this.host.trace(() => `${this.id} boot${options.wipe ? ' (wiped disk)' : ''}`);
    this.pump();
  }

  crash(): void {
    if (this.core === null) return;
    this.core = null;
    // The driver's open proposals are dropped unanswered: a crashed server answers nothing.
    this.driver?.stop();
    this.driver = null;
    this.crashes += 1;
    this.storage.crash();
    this.paused = false;
    this.deferred.clear();
    this.machines.clear();
    this.pendingReads.clear();
    this.waitingReads = [];
    this.host.trace(() => `${this.id} crash`);
  }

  pause(): void {
    if (this.core !== null) this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // A stopped process finds data waiting on all its sockets and reads them in no
    // particular order: keep each source's order, interleave sources at random.
    const queues = [...this.deferred.values()];
    this.deferred = new Map();
    for (;;) {
      const waiting = queues.filter((queue) => queue.length > 0);
      if (waiting.length === 0 || this.core === null || this.paused) return;
      const run = this.prng.pick(waiting).shift();
      run?.();
    }
  }

  setReplicaSet(partition: number, nodes: readonly NodeId[]): void {
    this.core?.setReplicaSet(partition, nodes);
  }

  transferOwnership(partition: number, to: NodeId): void {
    this.whenRunning('admin', () => {
      this.core?.transferOwnership(partition, to);
      this.pump();
    });
  }

  receive(from: NodeId, message: Message<AppendCommand>): void {
    this.whenRunning(from, () => {
      this.core?.step(from, message);
      this.pump();
    });
  }

  handleClient(client: string, request: ClientRequest, reply: Reply): void {
    this.whenRunning(client, () => {
      this.serve(request, reply);
      this.pump();
    });
  }

  private whenRunning(source: string, run: () => void): void {
    if (this.core === null) return;
    if (!this.paused) {
      run();
      return;
    }
    const queue = this.deferred.get(source);
    if (queue === undefined) this.deferred.set(source, [run]);
    else queue.push(run);
  }

  private tickLoop(): void {
    this.host.queue.schedule(TICK_MS, () => this.tickLoop());
    if (this.core === null || this.paused) return;
    this.core.tick(this.host.queue.nowMs);
    this.pump();
  }

  private serve(request: ClientRequest, reply: Reply): void {
    const core = this.core;
    if (core === null) return;
    const partition = request.partition;
    if (request.kind === 'append') {
      // Already applied here means already committed: acknowledge the retry.
      if (this.machines.get(partition)?.hasCommand(request.commandId) === true) {
        reply({ kind: 'ok' });
        return;
      }
      const command: AppendCommand = { key: request.key, value: request.value, commandId: request.commandId, proposer: this.id };
      const result = this.driver?.propose(partition, command, (outcome) => this.settle(partition, request.commandId, outcome, reply));
      if (result !== undefined && !result.ok) reply(refusal(result.error));
      return;
    }
    const requestId = this.nextReadId++;
    const result = core.readIndex(partition, requestId);
    if (!result.ok) {
      reply(refusal(result.error));
      return;
    }
    this.pendingReads.set(requestId, { key: request.key, reply });
  }

  private pump(): void {
    if (this.core === null || this.paused) return;
    this.driver?.pump();
  }

  /** The simulated disk: writes land in the page cache at once and are synced after a delay. */
  private persist(ready: Ready<AppendCommand>, done: () => void): void {
    for (const write of ready.writes) this.storage.write(write);
    const crashes = this.crashes;
    const synced = (): void => {
      const crashAfterSend = this.prng.chance(0.5);
      if (!crashAfterSend && this.host.crashAfterSync(this)) return;
      this.crashAfterNextSend = crashAfterSend;
      done();
    };
    if (ready.writes.length === 0) {
      synced();
      return;
    }
    const delayMs = this.host.fsyncMinMs + this.prng.float() * (this.host.fsyncMaxMs - this.host.fsyncMinMs);
    this.host.queue.schedule(delayMs, () => {
      if (this.crashes !== crashes) return;
      this.whenRunning('disk', () => {
        this.storage.sync();
        synced();
      });
    });
  }

  private send(messages: readonly { to: NodeId; message: Message<AppendCommand> }[]): void {
    for (const { to, message } of messages) this.host.sendMessage(this.id, to, message);
    if (!this.crashAfterNextSend) return;
    this.crashAfterNextSend = false;
    this.host.crashAfterSync(this);
  }

  private apply(apply: PartitionApply<AppendCommand>): void {
    if (apply.snapshot !== undefined) {
      const machine = ListAppendMachine.decode(apply.snapshot.data);
      if (machine.applied !== apply.snapshot.position) throw new Error('snapshot data does not match its position');
      this.machines.set(apply.partition, machine);
      this.host.trace(() => `${this.id} p${apply.partition} installed snapshot at ${apply.snapshot?.position ?? 0}`);
    }
    const machine = this.machines.get(apply.partition);
    if (machine === undefined) throw new Error(`no state machine for partition ${apply.partition}`);
    for (const entry of apply.entries) {
      this.host.checker.onApply(this.id, apply.partition, entry);
      machine.apply(entry);
    }
    this.serveWaitingReads();
  }

  private settle(partition: number, commandId: string, outcome: ProposalOutcome<AppendCommand>, reply: Reply): void {
    switch (outcome.kind) {
      case 'committed':
        if (outcome.entry.payload.commandId !== commandId) {
          this.host.checker.fail('S3', `${this.id} p${partition}: position ${outcome.entry.position} epoch ${outcome.entry.epoch} is not the entry it proposed`);
          return;
        }
        reply({ kind: 'ok' });
        return;
      case 'lost':
        reply({ kind: 'lost' });
        return;
      case 'unknown':
        // A crash (stopped) answers nothing: the client's connection is gone.
        if (outcome.reason !== 'stopped') reply({ kind: 'indeterminate' });
        return;
    }
  }

  private onOwnership(change: OwnershipChange): void {
    this.host.checker.onOwnership(this.id, change);
    this.host.trace(
      () => `${this.id} p${change.partition} ${change.role}${change.ready ? ' (ready)' : ''} epoch ${change.epoch} leader ${change.owner ?? '-'} (${change.reason})`,
    );
  }

  private onReadState(state: ReadState): void {
    const read = this.pendingReads.get(state.requestId);
    if (read === undefined) return;
    this.pendingReads.delete(state.requestId);
    if ('error' in state) {
      read.reply(refusal(state.error));
      return;
    }
    this.waitingReads.push({ partition: state.partition, position: state.position, key: read.key, reply: read.reply });
    this.serveWaitingReads();
  }

  private serveWaitingReads(): void {
    if (this.waitingReads.length === 0) return;
    this.waitingReads = this.waitingReads.filter((read) => {
      const machine = this.machines.get(read.partition);
      if (machine === undefined || machine.applied < read.position) return true;
      read.reply({ kind: 'read-ok', values: machine.read(read.key) });
      return false;
    });
  }

  private compaction(partition: number): { position: number; data: Uint8Array } | undefined {
    const machine = this.machines.get(partition);
    if (machine === undefined) return undefined;
    const snapshotPosition = this.storage.firstPosition(partition) - 1;
    if (machine.applied - snapshotPosition < this.host.compactEveryEntries) return undefined;
    return { position: machine.applied, data: machine.encode() };
  }
}

function refusal(error: Error): ClientResponse {
  if (error instanceof ReplicationError) {
    const ownerHint = error instanceof NotOwnerError ? error.ownerHint : null;
    return { kind: 'refused', condition: error.condition, ownerHint };
  }
  throw error;
}
