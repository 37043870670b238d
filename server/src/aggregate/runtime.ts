/**
 * The aggregate runtime: activates aggregates, runs their commands, commits through the
 * partition log, and streams committed Yjs updates to subscribers.
 *
 * Concurrency: `decide` and `evolve` are synchronous, so one aggregate's commands run one at a
 * time simply because JavaScript runs one callback at a time; different aggregates interleave
 * freely while their log writes are in flight. Commands are pipelined: the next command is
 * decided against the speculative state left by the previous one before it has committed. If a
 * commit fails, the aggregate is dropped from memory and the next command re-activates it from
 * committed entries; every later speculative append fails with it (see PartitionLog).
 *
 * Memory is bounded by passivation: an aggregate with no write in flight is dropped after
 * `aggregateIdleMs`, and the least recently used ones are dropped beyond `activeAggregatesMax`.
 */
import * as Y from 'yjs';
import { aggregateKey, isErrorCode, partitionOf, RingstateError, type ErrorCode } from '@ringstate/protocol';
import { foldOutbox, isCommandEntry, type DedupeRecord, type LogEntry, type LogStorage, type OutboxChange, type OutboxItem, type RecordedRefusal } from '../log/index.ts';
import { NoQuorumError, NotOwnerError, type PartitionLog } from '../partition/index.ts';
import { commandDigest, sameDigest } from './command-digest.ts';
import type { AggregateDefinition, CommandContext, DeliveryRejection } from './definition.ts';
import { decideCommand, replayEvents, type CommandOutcome, type OutboxRequest } from './decide.ts';
import { NO_OUTBOX, outboxChange, RECORDED_REFUSALS, refuseUnknownTargets } from './outbox-change.ts';
import type { AggregateRegistry } from './registry.ts';
import { applyUpdate, genesisDoc, newViewDoc, writeView } from './view-doc.ts';

export interface RuntimeSettings {
  readonly partitionCount: number;
  readonly snapshotEveryEvents: number;
  readonly aggregateIdleMs: number;
  readonly activeAggregatesMax: number;
  readonly commandQueueMax: number;
  /** A resident Yjs document unused for this long is compacted to its encoded bytes. */
  readonly docResidentMs: number;
}

export interface RuntimeHooks {
  /** A handler threw; the runtime already refused the command. */
  readonly onHandlerError?: (info: { aggregate: string; commandId: string; cause: unknown }) => void;
  /** An item's `onRejected` command was refused by its own aggregate; the item is settled without it. */
  readonly onCompensationRefused?: (info: { aggregate: string; item: string; code: string; message: string; cause: unknown }) => void;
  readonly onCommandDone?: (info: { aggregate: string; outcome: 'acked' | 'duplicate' | string; durationMs: number }) => void;
}

export interface RuntimeDeps {
  readonly registry: AggregateRegistry;
  readonly store: LogStorage;
  readonly log: PartitionLog;
  readonly settings: RuntimeSettings;
  readonly nowMs: () => number;
  /** Yjs client ids this node writes documents under (nonzero 32-bit); random by default, seeded in the simulator. */
  readonly clientIds?: () => number;
  readonly hooks?: RuntimeHooks;
}

/** Where an aggregate's partition is served: here, or not (a value, not an exception). */
export type Placement =
  | { readonly here: true }
  | { readonly here: false; readonly ownerHint?: string; readonly refusal: RingstateError };

const HERE: Placement = { here: true };

/** A valid Yjs update that changes nothing (what an empty document encodes to). */
const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc());

export interface CommandRequest {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** Whose command this is for deduplication: the player, or DELIVERY_PLAYER for a delivery. */
  readonly playerId: string;
  readonly commandId: string;
  readonly command: unknown;
  /** Set by the outbox courier only (outbox/): the aggregate and outbox item this command delivers. */
  readonly sender?: DeliverySender;
}

/** Who sent a delivered command: the sending aggregate, its outbox item, and the player behind it. */
export interface DeliverySender {
  readonly type: string;
  readonly id: string;
  /** The outbox item's id (`seq.index`) in the sender's outbox. */
  readonly item: string;
  /** The player whose command emitted the item (the target's `context.playerId`). */
  readonly playerId: string;
}

/**
 * The player id under which delivered commands are deduplicated (their command id names the
 * sender and the item). `#` is not allowed in player ids, so no token or Second Life object can
 * claim it and pre-empt a delivery's command id.
 */
export const DELIVERY_PLAYER = '#aggregate';

/** How a delivery ended on its target: taken (applied now or before), or refused for good. */
export type DeliveryOutcome = { readonly kind: 'delivered' } | { readonly kind: 'refused'; readonly rejection: DeliveryRejection };

export interface SettleRequest {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** The outbox item delivered. */
  readonly item: string;
  readonly outcome: DeliveryOutcome;
}

export interface CommandResult {
  readonly seq: number;
  readonly duplicate: boolean;
}

export interface Subscriber {
  /** A committed change, in seq order. */
  readonly onUpdate: (seq: number, update: Uint8Array) => void;
}

export interface SubscriptionStart {
  readonly seq: number;
  /** Yjs update with what the subscriber's state vector lacks. */
  readonly update: Uint8Array;
  readonly close: () => void;
}

interface ActiveAggregate {
  readonly key: string;
  readonly id: string;
  readonly partition: number;
  readonly definition: AggregateDefinition<unknown, any, any>;
  state: unknown;
  /** Seq including speculative (not yet committed) entries. */
  seq: number;
  committedSeq: number;
  /**
   * The public document, resident while the aggregate is busy. A Y.Doc costs about 4 KB even for
   * a small view, so idle aggregates keep only its encoded bytes (about 100-200 bytes) and
   * rebuild it on their next command (see compactIdleDocs).
   */
  doc: Y.Doc | undefined;
  docBytes: Uint8Array | undefined;
  /** Yjs client id this node writes the document under; kept across compaction. */
  readonly clientId: number;
  eventsSinceSnapshot: number;
  inflight: number;
  lastUsedMs: number;
  /** Commands decided but not committed, by `playerId \0 commandId`, so a retry waits for the first. Created on demand. */
  pending: Map<string, PendingCommand> | undefined;
  /**
   * Pending outbox items after the speculative entries too (log/outbox.ts), read from the store
   * at activation; undefined while empty (most aggregates never send), see outboxOf.
   */
  outbox: Map<string, OutboxItem> | undefined;
  broken: boolean;
}

interface PendingCommand {
  readonly digest: Uint8Array;
  readonly result: Promise<CommandResult>;
}

export class AggregateRuntime {
  private readonly active = new Map<string, ActiveAggregate>();
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  /** Discarded aggregates whose entries are still in flight; not activated again until those settle. */
  private readonly draining = new Map<string, ActiveAggregate>();

  constructor(private readonly deps: RuntimeDeps) {
    // Subscribers hear about entries when they commit on this node, whichever node decided
    // them: on the owner and on every replica alike.
    deps.log.onCommitted((entry) => this.publish(entry));
    deps.log.onOwnershipLost((partition) => this.dropPartition(partition));
  }

  get activeCount(): number {
    return this.active.size;
  }

  partitionOf(aggregateType: string, aggregateId: string): number {
    return partitionOf(aggregateType, aggregateId, this.deps.settings.partitionCount);
  }

  /** Runs one command; resolves once it is committed, rejects with a RingstateError otherwise. */
  execute(request: CommandRequest): Promise<CommandResult> {
    const startedMs = this.deps.nowMs();
    const { key, partition, aggregate } = this.served(request.aggregateType, request.aggregateId);
    // A command id means one command (S4): a repeat is a retry only if its body is the same.
    const digest = commandDigest(request.aggregateType, request.aggregateId, request.command);
    const dedupeKey = `${request.playerId}\u0000${request.commandId}`;
    const inFlight = aggregate.pending?.get(dedupeKey);
    if (inFlight !== undefined) {
      if (!sameDigest(inFlight.digest, digest)) return this.refuseReuse(key, request, startedMs);
      return inFlight.result.then((result) => ({ ...result, duplicate: true }));
    }
    const earlier = this.deps.store.findCommand(key, request.playerId, request.commandId);
    if (earlier !== undefined) {
      if (isReuse(earlier, digest)) return this.refuseReuse(key, request, startedMs);
      const refusal = request.playerId === DELIVERY_PLAYER ? this.recordedRefusal(partition, earlier) : undefined;
      if (refusal !== undefined) {
        this.report(key, refusal.code, startedMs);
        return Promise.reject(refusalError(refusal));
      }
      this.report(key, 'duplicate', startedMs);
      return Promise.resolve({ seq: earlier.seq, duplicate: true });
    }
    if (aggregate.inflight >= this.deps.settings.commandQueueMax) {
      return Promise.reject(new RingstateError('OVERLOADED', `aggregate ${key} has ${aggregate.inflight} commands in flight`));
    }

    // A timer this aggregate set for itself, cancelled or replaced since it was sent: nothing
    // to do (the courier's settle then finds nothing pending). A delivery to itself settles its
    // item in the same entry, so it takes effect exactly when the item is still pending.
    const toSelf = request.sender !== undefined && request.sender.type === request.aggregateType && request.sender.id === request.aggregateId;
    if (toSelf && aggregate.outbox?.has(request.sender?.item ?? '') !== true) {
      this.report(key, 'duplicate', startedMs);
      return Promise.resolve({ seq: aggregate.committedSeq, duplicate: true });
    }
    const context: CommandContext = {
      playerId: request.sender?.playerId ?? request.playerId,
      aggregateId: request.aggregateId,
      commandId: request.commandId,
      nowMs: startedMs,
      ...(request.sender === undefined ? {} : { sender: { type: request.sender.type, id: request.sender.id } }),
    };
    const outcome = this.checkTargets(decideCommand(aggregate.definition, aggregate.state, request.command, context));
    // A refused command changed nothing and leaves no record: a retry is decided again, and
    // may then succeed (REJECTED depends on the state) or be refused again.
    if (outcome.kind === 'refused') {
      if (outcome.code === 'HANDLER_ERROR') this.deps.hooks?.onHandlerError?.({ aggregate: key, commandId: request.commandId, cause: outcome.cause });
      this.report(key, outcome.code, startedMs);
      const options = outcome.reason === undefined ? { cause: outcome.cause } : { cause: outcome.cause, reason: outcome.reason };
      // A delivery from another aggregate refused for good is recorded (an entry without
      // events), so every later attempt under its command id gets this same answer. Otherwise
      // a late copy of an earlier attempt (a forward that timed out but still arrived) could be
      // decided again after the state changed and take effect although the sender already ran
      // its compensation: both sides of a transfer would then happen (S5). A delivery to the
      // sender itself needs no record: its entry settles the item, which the compensation does too.
      if (request.sender !== undefined && !toSelf && RECORDED_REFUSALS.has(outcome.code)) {
        // Bounded as replicas validate them (replication-messages.ts).
        const refusal: RecordedRefusal = { code: outcome.code, message: outcome.message.slice(0, 500), ...(outcome.reason === undefined ? {} : { reason: outcome.reason.slice(0, 256) }) };
        const recorded = this.commit(aggregate, request, digest, [], aggregate.state, NO_OUTBOX, [], startedMs, context.playerId, refusal).then((): CommandResult => {
          throw refusalError(refusal);
        });
        return this.track(aggregate, dedupeKey, digest, recorded);
      }
      return Promise.reject(new RingstateError(outcome.code, outcome.message, options));
    }
    // A command that decided no events is logged too, as an entry without events: it took
    // effect (it was accepted), so its id must be deduplicated like any other, on every replica
    // and after a failover; a retry decided again could otherwise apply a different outcome.
    const settle = toSelf && request.sender !== undefined ? [request.sender.item] : [];
    return this.track(aggregate, dedupeKey, digest, this.commit(aggregate, request, digest, outcome.events, outcome.state, outcome.outbox, settle, startedMs, context.playerId));
  }

  /** The aggregate, activated, if its partition is served here; throws the placement's refusal otherwise. */
  private served(aggregateType: string, aggregateId: string): { key: string; partition: number; aggregate: ActiveAggregate } {
    const definition = this.definitionOf(aggregateType);
    const key = aggregateKey(aggregateType, aggregateId);
    const partition = this.partitionOf(aggregateType, aggregateId);
    this.assertServing(partition);
    return { key, partition, aggregate: this.activate(key, aggregateId, partition, definition) };
  }

  /** Keeps a command's result while it commits, so a retry under its id waits for it. */
  private track<T>(aggregate: ActiveAggregate, dedupeKey: string, digest: Uint8Array, committed: Promise<T>): Promise<T> {
    const pending = (aggregate.pending ??= new Map());
    pending.set(dedupeKey, { digest, result: committed as Promise<unknown> as Promise<CommandResult> });
    const forget = (): void => {
      pending.delete(dedupeKey);
      if (pending.size === 0 && aggregate.pending === pending) aggregate.pending = undefined;
    };
    committed.then(forget, forget);
    return committed;
  }

  /** The refusal recorded by a delivery's entry, if that is what the dedupe record points at. */
  private recordedRefusal(partition: number, record: DedupeRecord): RecordedRefusal | undefined {
    const entry = this.deps.store.storedEntry(partition, record.position);
    return entry !== undefined && isCommandEntry(entry) ? entry.refusal : undefined;
  }

  /**
   * Starts streaming an aggregate's committed changes to `subscriber`; returns what the
   * subscriber lacks given its Yjs state vector. Reads only committed entries, never
   * speculative state, so any node holding a replica of the partition can serve it.
   */
  subscribe(aggregateType: string, aggregateId: string, playerId: string, stateVector: Uint8Array | undefined, subscriber: Subscriber): SubscriptionStart {
    const definition = this.definitionOf(aggregateType);
    if (!definition.authorize({ action: 'read', playerId, aggregateId })) {
      throw new RingstateError('FORBIDDEN', `player may not read ${aggregateType}/${aggregateId}`);
    }
    const key = aggregateKey(aggregateType, aggregateId);
    const partition = this.partitionOf(aggregateType, aggregateId);
    if (!this.deps.log.replicates(partition)) {
      throw new RingstateError('UNAVAILABLE', `partition ${partition} has no replica on this node`);
    }
    const { seq, update } = this.committedDocument(key, aggregateId, partition, definition);
    const diff = stateVector === undefined || stateVector.byteLength === 0 ? update : Y.diffUpdate(update, stateVector);
    let set = this.subscribers.get(key);
    if (set === undefined) {
      set = new Set();
      this.subscribers.set(key, set);
    }
    set.add(subscriber);
    return {
      seq,
      update: diff,
      close: () => {
        const current = this.subscribers.get(key);
        current?.delete(subscriber);
        if (current?.size === 0) this.subscribers.delete(key);
      },
    };
  }

  /** Drops idle aggregates; returns how many were passivated. */
  passivateIdle(): number {
    const cutoffMs = this.deps.nowMs() - this.deps.settings.aggregateIdleMs;
    let dropped = 0;
    for (const aggregate of this.active.values()) {
      if (aggregate.inflight === 0 && aggregate.lastUsedMs < cutoffMs) {
        this.active.delete(aggregate.key);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Compacts the documents of aggregates idle for docResidentMs; returns how many. */
  compactIdleDocs(): number {
    const cutoffMs = this.deps.nowMs() - this.deps.settings.docResidentMs;
    let compacted = 0;
    for (const aggregate of this.active.values()) {
      if (aggregate.doc !== undefined && aggregate.inflight === 0 && aggregate.lastUsedMs < cutoffMs) {
        aggregate.docBytes = Y.encodeStateAsUpdate(aggregate.doc);
        aggregate.doc.destroy();
        aggregate.doc = undefined;
        compacted += 1;
      }
    }
    return compacted;
  }

  /** Forgets every active aggregate of a partition (this node stopped owning it). */
  dropPartition(partition: number): void {
    for (const aggregate of this.active.values()) {
      if (aggregate.partition === partition) this.discard(aggregate);
    }
  }

  private refuseReuse(key: string, request: CommandRequest, startedMs: number): Promise<CommandResult> {
    this.report(key, 'COMMAND_ID_REUSED', startedMs);
    return Promise.reject(new RingstateError('COMMAND_ID_REUSED', `command id ${JSON.stringify(request.commandId.slice(0, 128))} was already used on ${key} for another command`));
  }

  /**
   * Records that a delivery of the aggregate's outbox item ended (outbox/ calls this on the
   * sender's owner): one entry that removes the item, and for a refusal also runs the item's
   * `onRejected` command on the sender (the saga's compensation) in that same entry, so the
   * compensation happens exactly when the settlement commits. Resolves at once when the item
   * is no longer pending (settled before, by this node or a previous owner, or cancelled).
   */
  settle(request: SettleRequest): Promise<void> {
    const startedMs = this.deps.nowMs();
    const { key, aggregate } = this.served(request.aggregateType, request.aggregateId);
    const commandId = `settle:${request.item}`;
    const dedupeKey = `${DELIVERY_PLAYER}\u0000${commandId}`;
    const inFlight = aggregate.pending?.get(dedupeKey);
    if (inFlight !== undefined) return inFlight.result.then(() => undefined);
    const item = aggregate.outbox?.get(request.item);
    if (item === undefined) return Promise.resolve();

    let events: readonly unknown[] = [];
    let state = aggregate.state;
    let outbox: OutboxRequest = NO_OUTBOX;
    if (request.outcome.kind === 'refused' && item.onRejected !== undefined) {
      const compensation = this.checkTargets(
        decideCommand(aggregate.definition, aggregate.state, item.onRejected, {
          playerId: item.playerId,
          aggregateId: request.aggregateId,
          commandId: `rejected:${request.item}`,
          nowMs: startedMs,
          rejection: request.outcome.rejection,
        }),
      );
      if (compensation.kind === 'accepted') {
        ({ events, state, outbox } = compensation);
      } else {
        // The item is settled all the same: a compensation its own aggregate refuses would be
        // refused on every retry, and an outbox that never drains is worse. Logged loudly.
        this.deps.hooks?.onCompensationRefused?.({ aggregate: key, item: request.item, code: compensation.code, message: compensation.message, cause: compensation.cause });
      }
    }
    const digest = commandDigest(request.aggregateType, request.aggregateId, { type: 'settle', item: request.item });
    const committed = this.commit(aggregate, { playerId: DELIVERY_PLAYER, commandId }, digest, events, state, outbox, [request.item], startedMs, item.playerId);
    return this.track(aggregate, dedupeKey, digest, committed).then(() => undefined);
  }

  private checkTargets<S, E>(outcome: CommandOutcome<S, E>): CommandOutcome<S, E> {
    return refuseUnknownTargets(outcome, (type) => this.deps.registry.get(type) !== undefined);
  }

  private outboxOf(aggregate: ActiveAggregate): Map<string, OutboxItem> {
    aggregate.outbox ??= new Map();
    return aggregate.outbox;
  }

  private commit(
    aggregate: ActiveAggregate,
    request: Pick<CommandRequest, 'playerId' | 'commandId'>,
    digest: Uint8Array,
    events: readonly unknown[],
    nextState: unknown,
    outbox: OutboxRequest,
    settle: readonly string[],
    startedMs: number,
    /** The player behind the command, whom the items it emits carry on. */
    actor: string = request.playerId,
    /** A delivery refused for good, recorded (see execute). */
    refusal?: RecordedRefusal,
  ): Promise<CommandResult> {
    const seq = aggregate.seq + 1;
    const change = outboxChange({ type: aggregate.definition.type, id: aggregate.id }, seq, actor, outbox, settle, startedMs);
    if (change !== undefined) foldOutbox(this.outboxOf(aggregate), change);
    const doc = residentDoc(aggregate);
    const incremental = writeView(doc, aggregate.definition.view(nextState));
    // The first entry carries the whole document (genesis included), see view-doc.ts.
    const update = seq === 1 ? Y.encodeStateAsUpdate(doc) : incremental;
    aggregate.state = nextState;
    aggregate.seq = seq;
    aggregate.eventsSinceSnapshot += events.length;
    const takeSnapshot = aggregate.eventsSinceSnapshot >= this.deps.settings.snapshotEveryEvents;
    if (takeSnapshot) aggregate.eventsSinceSnapshot = 0;
    aggregate.inflight += 1;
    aggregate.lastUsedMs = startedMs;

    const draft = {
      partition: aggregate.partition,
      aggregate: aggregate.key,
      seq,
      commandId: request.commandId,
      playerId: request.playerId,
      commandDigest: digest,
      events,
      eventVersion: aggregate.definition.eventVersion,
      update,
      timestampMs: startedMs,
      ...(change === undefined ? {} : { outbox: change }),
      ...(refusal === undefined ? {} : { refusal }),
      ...(takeSnapshot
        ? { snapshot: { seq, state: nextState, doc: Y.encodeStateAsUpdate(doc), eventVersion: aggregate.definition.eventVersion } }
        : {}),
    };
    return this.deps.log.append(draft).then(
      (entry) => {
        aggregate.inflight -= 1;
        this.drained(aggregate);
        aggregate.committedSeq = entry.seq;
        this.report(aggregate.key, 'acked', startedMs);
        return { seq: entry.seq, duplicate: false };
      },
      (error: unknown) => {
        aggregate.inflight -= 1;
        this.discard(aggregate);
        this.drained(aggregate);
        this.report(aggregate.key, error instanceof RingstateError ? error.code : 'INTERNAL', startedMs);
        throw error instanceof RingstateError ? error : new RingstateError('INTERNAL', 'commit failed', { cause: error });
      },
    );
  }

  private publish(entry: LogEntry): void {
    // Record the commit before anyone hears of it, so a reader woken by this entry sees it.
    const active = this.active.get(entry.aggregate);
    if (active !== undefined && active.committedSeq < entry.seq) active.committedSeq = entry.seq;
    const set = this.subscribers.get(entry.aggregate);
    if (set === undefined) return;
    // An entry without events (a command that decided nothing) changes no view but takes a seq:
    // subscribers still hear of it, so their seq stays gapless and reaches what an ACK said.
    const update = entry.update.byteLength === 0 ? EMPTY_UPDATE : entry.update;
    for (const subscriber of set) subscriber.onUpdate(entry.seq, update);
  }

  /** Speculative state is no longer trustworthy: forget it; the next command re-activates. */
  private discard(aggregate: ActiveAggregate): void {
    if (aggregate.broken) return;
    aggregate.broken = true;
    if (this.active.get(aggregate.key) === aggregate) this.active.delete(aggregate.key);
    // Entries decided before the failure may still be in flight and commit later: until they
    // settle, the store does not show them, and an activation from it would give the next
    // command a seq one of them holds (two entries with one seq; simulator seeds 8707, 9419).
    if (aggregate.inflight > 0) this.draining.set(aggregate.key, aggregate);
  }

  /** A discarded aggregate's last in-flight entry settled: it may be activated from the store again. */
  private drained(aggregate: ActiveAggregate): void {
    if (aggregate.broken && aggregate.inflight === 0 && this.draining.get(aggregate.key) === aggregate) this.draining.delete(aggregate.key);
  }

  private activate(key: string, id: string, partition: number, definition: AggregateDefinition<unknown, any, any>): ActiveAggregate {
    if (this.draining.has(key)) throw new RingstateError('UNAVAILABLE', `aggregate ${key} is recovering from a failed commit; retry`);
    const existing = this.active.get(key);
    if (existing !== undefined) {
      // Re-insert so Map order is least-recently-used first.
      this.active.delete(key);
      this.active.set(key, existing);
      return existing;
    }
    const store = this.deps.store;
    let snapshot = store.latestSnapshot(key);
    // A snapshot taken under another event version holds state of another shape: replay instead.
    if (snapshot !== undefined && snapshot.eventVersion !== definition.eventVersion) snapshot = undefined;
    let state = snapshot?.state ?? definition.initialState(id);
    const entries = store.aggregateEntries(partition, key, snapshot?.seq ?? 0);
    let doc: Y.Doc;
    if (snapshot !== undefined) {
      doc = newViewDoc();
      Y.applyUpdate(doc, snapshot.doc);
    } else if (entries.length === 0) {
      doc = genesisDoc(definition.view(state));
    } else {
      doc = newViewDoc();
    }
    let eventsSinceSnapshot = 0;
    for (const entry of entries) {
      state = replayEvents(definition, state, entry.events, entry.eventVersion);
      applyUpdate(doc, entry.update);
      eventsSinceSnapshot += entry.events.length;
    }
    // Writes from here on need a client id no other writer of this document has used.
    const clientId = (this.deps.clientIds ?? randomClientId)();
    doc.clientID = clientId;
    const seq = entries.at(-1)?.seq ?? snapshot?.seq ?? 0;
    const aggregate: ActiveAggregate = {
      key,
      id,
      partition,
      definition,
      state,
      seq,
      committedSeq: seq,
      doc,
      docBytes: undefined,
      clientId,
      eventsSinceSnapshot,
      inflight: 0,
      lastUsedMs: this.deps.nowMs(),
      pending: undefined,
      // Read with the entries above, so it reflects exactly what they do.
      outbox: pendingItems(store.outboxOf(partition, key)),
      broken: false,
    };
    this.active.set(key, aggregate);
    this.evictBeyondLimit(aggregate);
    return aggregate;
  }

  /**
   * Drops the least recently used idle aggregates beyond the limit, never `activated`: it is
   * about to take a command, and an aggregate dropped while its command is in flight would be
   * activated again from the committed entries by its next command, which would then take the
   * same seq (found by the simulator with every other aggregate busy).
   */
  private evictBeyondLimit(activated: ActiveAggregate): void {
    let excess = this.active.size - this.deps.settings.activeAggregatesMax;
    if (excess <= 0) return;
    for (const aggregate of this.active.values()) {
      if (excess <= 0) break;
      if (aggregate.inflight > 0 || aggregate === activated) continue;
      this.active.delete(aggregate.key);
      excess -= 1;
    }
  }

  /** The committed document of an aggregate as one Yjs update, and its seq. */
  private committedDocument(key: string, id: string, partition: number, definition: AggregateDefinition<unknown, any, any>): { seq: number; update: Uint8Array } {
    const active = this.active.get(key);
    const committedSeq = active?.committedSeq ?? this.deps.store.aggregateSeq(key);
    if (committedSeq === 0) {
      return { seq: 0, update: Y.encodeStateAsUpdate(genesisDoc(definition.view(definition.initialState(id)))) };
    }
    const snapshot = this.deps.store.latestSnapshot(key);
    const base = snapshot !== undefined && snapshot.seq <= committedSeq ? snapshot : undefined;
    const updates: Uint8Array[] = base === undefined ? [] : [base.doc];
    for (const entry of this.deps.store.aggregateEntries(partition, key, base?.seq ?? 0)) {
      if (entry.seq > committedSeq) break;
      if (entry.update.byteLength > 0) updates.push(entry.update);
    }
    return { seq: committedSeq, update: Y.mergeUpdates(updates) };
  }

  private definitionOf(type: string): AggregateDefinition<unknown, any, any> {
    const definition = this.deps.registry.get(type);
    if (definition === undefined) throw new RingstateError('UNKNOWN_AGGREGATE_TYPE', `no aggregate type named ${JSON.stringify(type.slice(0, 64))}`);
    return definition;
  }

  private assertServing(partition: number): void {
    const placement = this.placementOf(partition);
    if (!placement.here) throw placement.refusal;
  }

  /**
   * Where an aggregate is served: here, or elsewhere with the owner this node knows of and the
   * refusal to give when the command cannot go there (the router decides; router/).
   */
  placement(aggregateType: string, aggregateId: string): Placement {
    return this.placementOf(this.partitionOf(aggregateType, aggregateId));
  }

  private placementOf(partition: number): Placement {
    const ownership = this.deps.log.ownership(partition);
    if (ownership.serving) return HERE;
    if (ownership.quorumLost === true && ownership.ownerHint === undefined) return { here: false, refusal: new NoQuorumError(partition) };
    const refusal = new NotOwnerError(partition, ownership.ownerHint ?? null);
    return ownership.ownerHint === undefined ? { here: false, refusal } : { here: false, ownerHint: ownership.ownerHint, refusal };
  }

  private report(aggregate: string, outcome: string, startedMs: number): void {
    this.deps.hooks?.onCommandDone?.({ aggregate, outcome, durationMs: this.deps.nowMs() - startedMs });
  }
}

function pendingItems(items: readonly OutboxItem[]): Map<string, OutboxItem> | undefined {
  return items.length === 0 ? undefined : new Map(items.map((item) => [item.id, item]));
}


function refusalError(refusal: RecordedRefusal): RingstateError {
  const code: ErrorCode = isErrorCode(refusal.code) ? refusal.code : 'REJECTED';
  return new RingstateError(code, refusal.message, refusal.reason === undefined ? {} : { reason: refusal.reason });
}

/** A record without a digest predates digests: unknown, so it is answered as a duplicate, as before. */
function isReuse(record: DedupeRecord, digest: Uint8Array): boolean {
  return record.commandDigest !== undefined && !sameDigest(record.commandDigest, digest);
}

function residentDoc(aggregate: ActiveAggregate): Y.Doc {
  if (aggregate.doc !== undefined) return aggregate.doc;
  const doc = newViewDoc();
  if (aggregate.docBytes !== undefined) Y.applyUpdate(doc, aggregate.docBytes);
  doc.clientID = aggregate.clientId;
  aggregate.doc = doc;
  aggregate.docBytes = undefined;
  return doc;
}

function randomClientId(): number {
  // Yjs client ids are 32-bit unsigned; 0 is reserved for genesis documents.
  const buffer = new Uint32Array(1);
  do crypto.getRandomValues(buffer);
  while (buffer[0] === 0);
  return buffer[0] ?? 1;
}
