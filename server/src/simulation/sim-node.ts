/**
 * One simulated server, running the production data path from the runtime down: the
 * AggregateRuntime (aggregate/runtime.ts) with the list-append and account aggregates, over the
 * ReplicatedPartitionLog (replicated-log/), which runs the replication core under the one Ready
 * driver (replication/driver.ts) and transfers snapshots (snapshot-transfer.ts). The simulator
 * replaces only what touches the outside: the store is `MemoryLogStore` (the production storage
 * interface, a disk that syncs after a delay), the peer network is `SimPeers` over the
 * simulated links, and the clock, timers and randomness are the virtual clock's and the seed's.
 *
 * Clients send what a gateway hands the production `CommandRouter` (router/): admission, then
 * execution here or forwarding to the owner hint through `SimForwarder` over the simulated links
 * (sim-forwarder.ts). The production outbox `Courier` (outbox/) delivers what aggregates send
 * each other, and their timers, through that same router, on the virtual clock. A linearizable
 * read goes through the core's read-index and then reads the committed list through the runtime
 * (production serves reads by subscription; the read-index keeps the checker's linearizability
 * check).
 *
 * Crash semantics: a crash abandons the process (runtime, log, core, timers, connections) and
 * loses every store write not yet synced; nothing of the abandoned run acts again. A paused
 * node (SIGSTOP) runs nothing; what arrives meanwhile is handled in order when it resumes.
 * Crash points right after an fsync, before or after the messages that depended on it left,
 * probe the narrowest windows of the protocol.
 */
import * as Y from 'yjs';
import pino from 'pino';
import { RingstateError } from '@ringstate/protocol';
import { AggregateRegistry, AggregateRuntime, newViewDoc, readView, type CommandRequest, type RuntimeSettings, type Subscriber } from '../aggregate/index.ts';
import { Courier, type CourierSettings, type CourierTimers } from '../outbox/index.ts';
import { NoQuorumError, NotOwnerError, type OwnershipChange, type ReadState, type ReplicationCondition, ReplicationError, type NodeId, type ReplicationSettings } from '../replication/index.ts';
import { type LogTimers, ReplicatedPartitionLog } from '../replicated-log/index.ts';
import { RingMembership, shrinkRefusal, type MembershipTimers, type RingRecord } from '../membership/index.ts';
import type { Locality } from '../ring/index.ts';
import { type Admission, CommandRouter, InFlightCommands } from '../router/index.ts';
import { ACCOUNT_TYPE, accountAggregate } from './accounts.ts';
import type { Checker } from './checker.ts';
import type { EventQueue } from './event-queue.ts';
import { LIST_TYPE, listAppendAggregate } from './list-append.ts';
import { MemoryLogStore } from './memory-log-store.ts';
import type { Prng } from './prng.ts';
import { serveForwarding, SimForwarder } from './sim-forwarder.ts';
import { type PeerHost, SimPeers } from './sim-peers.ts';

export type ClientRequest =
  | { readonly kind: 'append'; readonly partition: number; readonly key: string; readonly value: number; readonly commandId: string }
  /** A command to an account (accounts.ts): routed like an append. */
  | { readonly kind: 'account'; readonly partition: number; readonly id: string; readonly commandId: string; readonly command: unknown }
  | { readonly kind: 'read'; readonly partition: number; readonly key: string };

export type ClientResponse =
  | { readonly kind: 'ok' }
  | { readonly kind: 'read-ok'; readonly values: readonly number[] }
  /** Refused before proposing: this attempt had no effect. */
  | { readonly kind: 'refused'; readonly condition: ReplicationCondition | 'REFUSED'; readonly ownerHint: NodeId | null }
  /** Decided and refused by the aggregate (REJECTED and other final codes): nothing took effect. */
  | { readonly kind: 'rejected'; readonly code: string }
  /** Proposed, but another entry took its position: this attempt can never commit. */
  | { readonly kind: 'lost' }
  /** Maybe proposed, then ownership changed: it may or may not commit. */
  | { readonly kind: 'indeterminate'; readonly ownerHint: NodeId | null };

export type Reply = (response: ClientResponse) => void;

/** What a node needs from the cluster around it. */
export interface NodeHost {
  readonly queue: EventQueue;
  readonly checker: Checker;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly settings: Partial<ReplicationSettings>;
  readonly runtimeSettings: RuntimeSettings;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly compactEveryEntries: number;
  readonly keys: readonly string[];
  /** The courier's settings (production defaults unless the scenario tightens them). */
  readonly courierSettings: Partial<CourierSettings>;
  /** Commands admitted at once by a node's router (limits.commandsInFlightMax). */
  readonly admissionMax: number;
  partitionOfKey(key: string): number;
  /** Sends over the simulated link from -> to; `deliver` runs at the receiver's current run, if any. */
  transmit(from: NodeId, to: NodeId, deliver: (target: SimPeers) => void): void;
  nodeIds(): readonly NodeId[];
  isAlive(from: NodeId, to: NodeId): boolean;
  /** 0 unless isAlive; else `to`'s session (its boot count): PeerNetwork.liveness. */
  liveness(from: NodeId, to: NodeId): number;
  /** Asked after each fsync; true when the fault schedule crashed the node right there. */
  crashAfterSync(node: SimNode): boolean;
  /** Production code may have left promise callbacks to run: the simulation lets them run before its next event. */
  settleMicrotasks(): void;
  trace(text: () => string): void;
}

/** How often a node gossips its ring record (production: cluster.ringSyncIntervalMs, 1,000 ms by default). */
const RING_SYNC_MS = 1_000;
/** Tick period of the log's timer (production: cluster.tickIntervalMs). */
export const TICK_MS = 10;
/** Idle aggregates are passivated and idle documents compacted every this many ticks, as a node's housekeeping does. */
const HOUSEKEEPING_TICKS = 20;
const SILENT = pino({ level: 'silent' });
const NO_SUBSCRIBER: Subscriber = { onUpdate: () => undefined };

/** One run of the node's process, from boot to crash. */
interface Run {
  readonly boot: number;
  readonly log: ReplicatedPartitionLog;
  readonly runtime: AggregateRuntime;
  readonly router: CommandRouter;
  readonly courier: Courier;
  readonly peers: SimPeers;
  readonly membership: RingMembership;
}

export class SimNode {
  readonly id: NodeId;
  storage = new MemoryLogStore();
  private run: Run | null = null;
  /** Set after an fsync whose crash point comes after the next send (see diskWrite). */
  private crashAfterNextSend = false;
  /** Incremented at each restart; nothing of an earlier run acts again. */
  boots = 0;
  paused = false;
  /** Set when the node restarted with a wiped disk; cleared once every partition readmitted it. */
  wipedUnrecovered = false;
  /** Asked to leave the ring (the production leave loop runs on every boot until decommissioned). */
  leaving = false;
  decommissioned = false;
  /** What arrived while paused, per source (peer, client connection, disk, timer): FIFO each. */
  private deferred = new Map<string, (() => void)[]>();
  private readonly pendingReads = new Map<number, { key: string; reply: Reply }>();
  private waitingReads: { partition: number; position: number; key: string; reply: Reply }[] = [];
  private nextReadId = 1;
  private readonly host: NodeHost;
  private readonly prng: Prng;

  /**
   * The members in this node's config: the founders for a founder; for a node added later, the
   * members it was told to contact (its provisional ring until it learns the agreed record).
   */
  private readonly configuredMembers: readonly NodeId[];

  /** The locality in this node's config (runs with failure domains), declared through the ring record. */
  private readonly locality: Locality | undefined;

  constructor(id: NodeId, host: NodeHost, prng: Prng, configuredMembers: readonly NodeId[], locality?: Locality) {
    this.id = id;
    this.host = host;
    this.prng = prng;
    this.configuredMembers = configuredMembers;
    this.locality = locality;
  }

  get isUp(): boolean {
    return this.run !== null;
  }

  /** The running replicated log (its core's status is what the simulation watches), or null. */
  get log(): ReplicatedPartitionLog | null {
    return this.run?.log ?? null;
  }

  /** Starts the node on its current storage (replaced by an empty one when wiping). */
  boot(options: { wipe: boolean; bootstrap?: boolean }): void {
    if (options.wipe) {
      this.storage = new MemoryLogStore();
      this.wipedUnrecovered = true;
    }
    this.boots += 1;
    const boot = this.boots;
    this.paused = false;
    this.crashAfterNextSend = false;
    this.storage.disk = (commit) => this.diskWrite(boot, commit);
    const random = this.prng.fork();
    const peers = new SimPeers(this.id, this.peerHost(boot), boot * 2 ** 32);
    const nowMs = (): number => this.host.queue.nowMs;
    const log = new ReplicatedPartitionLog(
      { nodeId: this.id, partitionCount: this.host.partitionCount, tickIntervalMs: TICK_MS, compactEveryEntries: this.host.compactEveryEntries, settings: this.host.settings },
      {
        store: this.storage,
        peers,
        logger: SILENT,
        nowMs,
        random: () => random.float(),
        onOwnershipChange: (change) => this.onOwnership(boot, change),
        onReadState: (state) => this.onReadState(boot, state),
        timers: this.timers(boot),
      },
    );
    const runtime = new AggregateRuntime({
      registry: new AggregateRegistry([listAppendAggregate(this.id), accountAggregate(this.id)]),
      store: this.storage,
      log,
      settings: this.host.runtimeSettings,
      nowMs,
      clientIds: () => 1 + Math.floor(random.float() * 0xfffffffe),
    });
    log.onCommitted((entry) => {
      if (this.boots !== boot) return;
      this.host.checker.onApply(this.id, entry.partition, entry);
      this.serveWaitingReads();
    });
    // The production router and courier: client commands and outbox deliveries are admitted,
    // executed here or forwarded to the owner over the simulated links, as in production.
    const router = new CommandRouter({ runtime, admission: deterministicAdmission(this.host.admissionMax, nowMs), forwarder: new SimForwarder(peers) });
    serveForwarding(peers, router);
    const courier = new Courier({
      log,
      store: this.storage,
      route: (request) => router.route(request),
      settle: (request) => runtime.settle(request),
      partitionCount: this.host.partitionCount,
      nowMs,
      timers: this.courierTimers(boot),
      random: () => random.float(),
      settings: this.host.courierSettings,
      hooks: {
        onSettled: ({ sender, item, outcome }) => this.host.trace(() => `${this.id} courier: ${sender}:${item} ${outcome.kind === 'delivered' ? 'delivered' : `refused (${outcome.rejection.code})`}, settled`),
        onRetry: ({ sender, item, code }) => this.host.trace(() => `${this.id} courier: ${sender}:${item} ${code}, retrying`),
      },
    });
    // The production ring membership: the record is stored with the node's other state (a wiped
    // node starts from its config, as production does), gossiped over the simulated links, and
    // changed by the production join and leave loops.
    const membership = new RingMembership(
      {
        nodeId: this.id,
        partitionCount: this.host.partitionCount,
        replicationFactor: this.host.replicationFactor,
        configuredMembers: this.configuredMembers,
        syncIntervalMs: RING_SYNC_MS,
        ...(this.locality === undefined ? {} : { locality: this.locality }),
      },
      { store: this.storage, peers, logger: SILENT, random: () => random.float(), timers: this.membershipTimers(boot), onChange: (ring) => log.setRing(ring) },
    );
    this.run = { boot, log, runtime, router, courier, peers, membership };
    membership.start();
    if (options.bootstrap === true) {
      membership.adoptConfigured();
      log.bootstrap(membership.foundingRing);
    }
    log.setRing(membership.ring);
    void log.start();
    courier.start();
    const stopped = (): boolean => this.runEnded(boot);
    // As production with cluster.autoJoin: join if outside the ring, and stay a member.
    if (this.leaving) this.startLeave(boot);
    else {
      const wasMember = membership.includes(this.id);
      void membership.join(stopped).then((joined) => {
        if (joined && !wasMember) this.host.trace(() => `${this.id} joined: ring ${membership.record.members.join(',')} (generation ${membership.record.generation})`);
      });
    }
    this.host.trace(() => `${this.id} boot${options.wipe ? ' (wiped disk)' : ''}`);
  }

  crash(): void {
    if (this.run === null) return;
    // The process is gone: its open commands are answered by nobody, its unsynced writes lost.
    this.run = null;
    this.paused = false;
    this.deferred.clear();
    this.pendingReads.clear();
    this.waitingReads = [];
    this.host.trace(() => `${this.id} crash`);
  }

  pause(): void {
    if (this.run !== null) this.paused = true;
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
      if (waiting.length === 0 || this.run === null || this.paused) return;
      const next = this.prng.pick(waiting).shift();
      next?.();
      this.host.settleMicrotasks();
    }
  }

  /** The ring record this run of the node agrees on, or null while down. */
  get ringRecord(): RingRecord | null {
    return this.run?.membership.record ?? null;
  }

  /**
   * The operator asks this node to leave the ring (POST /v1/admin/leave): refused, as in
   * production, while the node is down or when its own ring would keep fewer members than copies.
   */
  leave(): boolean {
    const run = this.run;
    if (run === null || this.paused || this.leaving) return false;
    const refusal = shrinkRefusal(run.membership.record.members, this.id, this.host.replicationFactor, false);
    if (refusal !== undefined) {
      this.host.trace(() => `${this.id} leave refused: ${refusal}`);
      return false;
    }
    this.leaving = true;
    this.startLeave(run.boot);
    return true;
  }

  /**
   * The production leave loop: takes this node out of the record again whenever a concurrent
   * change brought it back. The operator (the simulation) stops the node once no owner counts
   * it; until then the loop keeps going.
   */
  private startLeave(boot: number): void {
    const membership = this.run?.membership;
    if (membership === undefined) return;
    this.host.trace(() => `${this.id} leaving the ring`);
    void membership
      .leave({ stopped: () => this.runEnded(boot), stoppedError: () => new Error('stopped'), done: () => Promise.resolve(false) })
      .catch(() => undefined);
  }

  transferOwnership(partition: number, to: NodeId): void {
    // An operator's request; the log's next tick pumps it out.
    this.whenRunning('admin', () => this.run?.log.core.transferOwnership(partition, to));
  }

  handleClient(client: string, request: ClientRequest, reply: Reply): void {
    this.whenRunning(client, () => {
      const run = this.run;
      if (run === null) return;
      const answer: Reply = (response) => {
        if (this.run === run) reply(response);
      };
      if (request.kind === 'append') {
        this.command(run, { aggregateType: LIST_TYPE, aggregateId: request.key, playerId: client, commandId: request.commandId, command: { type: 'append', value: request.value } }, answer);
      } else if (request.kind === 'account') {
        this.command(run, { aggregateType: ACCOUNT_TYPE, aggregateId: request.id, playerId: client, commandId: request.commandId, command: request.command }, answer);
      } else {
        this.read(run, request, answer);
      }
      this.host.settleMicrotasks();
    });
  }

  /**
   * A client's command, through the router as a gateway hands it over. Served here, its
   * failures are told apart as before (see rejection); forwarded, any failure but the local
   * placement's own refusal may hide a commit at the owner (a lost answer, a timeout), so it is
   * indeterminate, as it is for a real client.
   */
  private command(run: Run, request: CommandRequest, reply: Reply): void {
    const forwarded = !run.runtime.placement(request.aggregateType, request.aggregateId).here;
    run.router.route(request).then(
      () => reply({ kind: 'ok' }),
      (error: unknown) => {
        this.host.trace(() => `${this.id} ${request.commandId} (${request.aggregateType}/${request.aggregateId} ${JSON.stringify(request.command)})${forwarded ? ' forwarded' : ''} failed: ${error instanceof Error ? error.message : String(error)}`);
        if (!forwarded) reply(rejection(error));
        else if (error instanceof ReplicationError) reply(refusal(error));
        else if (error instanceof RingstateError && !error.retryable) reply({ kind: 'rejected', code: error.code });
        else reply({ kind: 'indeterminate', ownerHint: null });
      },
    );
  }

  private read(run: Run, request: Extract<ClientRequest, { kind: 'read' }>, reply: Reply): void {
    const requestId = this.nextReadId++;
    const result = run.log.core.readIndex(request.partition, requestId);
    if (!result.ok) {
      reply(refusal(result.error));
      return;
    }
    this.pendingReads.set(requestId, { key: request.key, reply });
  }

  private onReadState(boot: number, state: ReadState): void {
    if (this.boots !== boot) return;
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
      if (this.storage.appliedPosition(read.partition) < read.position) return true;
      read.reply({ kind: 'read-ok', values: this.readList(read.key) ?? [] });
      return false;
    });
  }

  /** A key's list as the runtime serves it (its committed public document), or null where this node holds no replica. */
  readList(key: string): number[] | null {
    const view = this.readPublicView(LIST_TYPE, key);
    if (view === null) return null;
    return Array.isArray(view.values) ? (view.values as number[]) : [];
  }

  /** An account's balance as the runtime serves it, or null where this node holds no replica. */
  readBalance(id: string): number | null {
    const view = this.readPublicView(ACCOUNT_TYPE, id);
    if (view === null) return null;
    return typeof view.balance === 'number' ? view.balance : Number.NaN;
  }

  /** Outbox items this node's store holds for a partition (pending deliveries, timers included). */
  pendingDeliveries(partition: number): number {
    return this.storage.pendingDeliveries(partition).length;
  }

  private readPublicView(type: string, id: string): Record<string, unknown> | null {
    const runtime = this.run?.runtime;
    if (runtime === undefined) return null;
    let update: Uint8Array;
    try {
      const start = runtime.subscribe(type, id, 'checker', undefined, NO_SUBSCRIBER);
      start.close();
      update = start.update;
    } catch (error) {
      if (error instanceof RingstateError && error.code === 'UNAVAILABLE') return null;
      throw error;
    }
    const doc = newViewDoc();
    Y.applyUpdate(doc, update);
    const view = readView(doc);
    doc.destroy();
    return view;
  }

  private whenRunning(source: string, run: () => void): void {
    if (this.run === null) return;
    if (!this.paused) {
      run();
      return;
    }
    const queue = this.deferred.get(source);
    if (queue === undefined) this.deferred.set(source, [run]);
    else queue.push(run);
  }

  /**
   * `run` later, if this run of the node is still alive; waits while it is paused. Every such
   * callback (a pump, a synced write, a timer) may settle promises of production code.
   */
  private later(boot: number, delayMs: number, source: string, run: () => void): void {
    this.host.queue.schedule(delayMs, () => {
      if (this.boots !== boot) return;
      this.whenRunning(source, run);
      this.host.settleMicrotasks();
    });
  }

  /** This run of the node crashed or was replaced by a later boot: its loops give up. */
  private runEnded(boot: number): boolean {
    return this.boots !== boot || this.run === null;
  }

  /** The ring membership's timers: on the virtual clock, waiting while paused, gone with the run. */
  private membershipTimers(boot: number): MembershipTimers {
    return {
      every: (intervalMs, run) => {
        let stopped = false;
        const fire = (): void => {
          if (stopped) return;
          this.later(boot, intervalMs, 'timer', fire);
          run();
        };
        this.later(boot, this.prng.float() * intervalMs, 'timer', fire);
        return () => {
          stopped = true;
        };
      },
      sleep: (ms) => new Promise((resolve) => this.later(boot, ms, 'timer', () => resolve())),
      nowMs: () => this.host.queue.nowMs,
    };
  }

  /** The courier's timers: on the virtual clock, waiting while paused, gone with the run. */
  private courierTimers(boot: number): CourierTimers {
    return {
      setTimeout: (callback, ms) => {
        const handle = { cancelled: false };
        this.later(boot, ms, 'timer', () => {
          if (!handle.cancelled) callback();
        });
        return handle;
      },
      clearTimeout: (handle) => {
        (handle as { cancelled: boolean }).cancelled = true;
      },
    };
  }

  private timers(boot: number): LogTimers {
    return {
      immediate: (run) => this.later(boot, 0, 'timer', run),
      every: (intervalMs, run) => {
        let stopped = false;
        let ticks = 0;
        const fire = (): void => {
          if (stopped || this.boots !== boot) return;
          this.host.queue.schedule(intervalMs, fire);
          // A stopped process's timers do not fire; the first tick after resuming sees the time passed.
          if (this.paused || this.run === null) return;
          run();
          ticks += 1;
          this.serveWaitingReads();
          if (ticks % HOUSEKEEPING_TICKS === 0) {
            this.run.runtime.passivateIdle();
            this.run.runtime.compactIdleDocs();
          }
        };
        // Each node's timer has its own phase, so nodes do not act in lockstep.
        this.host.queue.schedule(this.prng.float() * intervalMs, fire);
        return () => {
          stopped = true;
        };
      },
      sleep: (ms) => new Promise((resolve) => this.later(boot, ms, 'timer', () => resolve())),
    };
  }

  /** The simulated disk: a batch is synced (visible and durable) after a delay, unless the node crashed first. */
  private diskWrite(boot: number, commit: () => void): Promise<void> {
    return new Promise((resolve) => {
      const delayMs = this.host.fsyncMinMs + this.prng.float() * (this.host.fsyncMaxMs - this.host.fsyncMinMs);
      this.later(boot, delayMs, 'disk', () => {
        commit();
        const crashAfterSend = this.prng.chance(0.5);
        if (!crashAfterSend && this.host.crashAfterSync(this)) return;
        this.crashAfterNextSend = crashAfterSend;
        resolve();
      });
    });
  }

  private peerHost(boot: number): PeerHost {
    const node = this;
    return {
      transmit: (from, to, deliver) => this.host.transmit(from, to, deliver),
      nodeIds: () => this.host.nodeIds(),
      isAlive: (from, to) => this.host.isAlive(from, to),
      liveness: (from, to) => this.host.liveness(from, to),
      schedule: (delayMs, run) => this.later(boot, delayMs, 'timer', run),
      whenRunning: (source, run, settles) => {
        if (this.boots !== boot) return;
        this.whenRunning(source, run);
        if (settles) this.host.settleMicrotasks();
      },
      afterSend: () => {
        if (!this.crashAfterNextSend || this.boots !== boot) return;
        this.crashAfterNextSend = false;
        this.host.crashAfterSync(this);
      },
      get running() {
        return node.boots === boot && node.run !== null;
      },
    };
  }

  /** The peers of the current run (the simulation delivers messages to them). */
  get peers(): SimPeers | null {
    return this.run?.peers ?? null;
  }

  private onOwnership(boot: number, change: OwnershipChange): void {
    if (this.boots !== boot) return;
    this.host.checker.onOwnership(this.id, change);
    this.host.trace(
      () => `${this.id} p${change.partition} ${change.role}${change.ready ? ' (ready)' : ''} epoch ${change.epoch} owner ${change.owner ?? '-'} (${change.reason})`,
    );
  }
}

/**
 * The production admission (a count of commands in flight, InFlightCommands) without its
 * delay target, and fed no elapsed times: the router measures them with performance.now(),
 * the real clock, which would make a seed's retry hints depend on the machine.
 */
function deterministicAdmission(max: number, nowMs: () => number): Admission {
  const inner = new InFlightCommands(max, nowMs, 0);
  return { admit: () => inner.admit(), full: () => inner.full(), release: () => inner.release(Number.NaN) };
}

/** Refused before proposing: a definite "not applied". */
function refusal(error: unknown): ClientResponse {
  if (error instanceof ReplicationError) {
    const ownerHint = error instanceof NotOwnerError ? error.ownerHint : null;
    return { kind: 'refused', condition: error.condition, ownerHint };
  }
  if (error instanceof RingstateError) return error.retryable ? { kind: 'refused', condition: 'REFUSED', ownerHint: null } : { kind: 'rejected', code: error.code };
  throw error;
}

/**
 * A command the runtime took and then failed. Some failures are definite (the runtime refused
 * it, or the core refused the proposal: NO_QUORUM without OUTCOME_UNKNOWN, OVERLOADED); a
 * NOT_OWNER may come from the proposal's refusal or from an ownership change after it was
 * proposed, which a client cannot tell apart: it is indeterminate, as for a real client.
 */
function rejection(error: unknown): ClientResponse {
  if (error instanceof NotOwnerError) return { kind: 'indeterminate', ownerHint: error.ownerHint };
  if (error instanceof NoQuorumError) return error.proposed ? { kind: 'indeterminate', ownerHint: null } : refusal(error);
  if (error instanceof ReplicationError) return refusal(error);
  if (error instanceof RingstateError) {
    // UNAVAILABLE outside the core's errors: another entry took the proposal's position.
    if (error.code === 'UNAVAILABLE') return { kind: 'lost' };
    if (error.code === 'INTERNAL' || error.code === 'SHUTTING_DOWN') return { kind: 'indeterminate', ownerHint: null };
    return refusal(error);
  }
  throw error;
}
