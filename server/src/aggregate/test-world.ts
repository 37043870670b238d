/**
 * Several aggregates in one process, without a server: for testing sagas (commands between
 * aggregates, compensations, timers) the way the node runs them, deterministically.
 *
 *   const world = testWorld([wallet]);
 *   world.command(wallet, 'ann', { type: 'give', to: 'bob', amount: 5 });   // as player ann
 *   world.state(wallet, 'bob').gold;                                         // the receive was delivered
 *   world.advance(30_000);                                                   // timers due by then fire, in due order
 *
 * What it shares with the node: `decideCommand` (validation, authorize, decide, evolve),
 * `foldOutbox` (how an entry's outbox change moves the pending items) and outbox-change.ts (how
 * a decision becomes items, which refusals are recorded, unknown targets), so the same game code
 * takes the same decisions. What it mirrors from the runtime and the courier (runtime.ts,
 * outbox/courier.ts), rule for rule:
 *   - a delivery is a command under the reserved player `#aggregate` with command id
 *     `<type>/<id>:<item id>`, deduplicated by its target like any command id; `context.sender`
 *     is set and `authorize` is skipped; `context.playerId` is the player behind the send;
 *   - a delivery refused for good (REJECTED, INVALID_COMMAND, HANDLER_ERROR) is recorded on its
 *     target, so a repeat gets the same answer; the sender then settles the item, running its
 *     `onRejected` command with `context.rejection` in the settling entry; a compensation that
 *     its own aggregate refuses is dropped (listed in `handlerErrors`) and the item settled;
 *   - a delivery to the sender itself (a timer) settles its item in the same entry, and is a
 *     no-op once the item was cancelled or replaced;
 *   - timers are keyed per aggregate: scheduling a key again replaces the pending timer,
 *     `cancel` removes it; a timer is delivered no earlier than its due time.
 * What it leaves out: the network and its failures. Every delivery is answered at once, so there
 * is no retry; `deliver(..., { settle: false })` plays an answer that was lost (the courier would
 * deliver again), and `order: { seed }` delivers due items in a seeded random order, as
 * concurrent deliveries may arrive on a cluster.
 */
import { AssertionError } from 'node:assert';
import type { ErrorCode } from '@ringstate/protocol';
import { foldOutbox, type OutboxChange, type OutboxItem } from '../log/index.ts';
import { commandDigest, sameDigest } from './command-digest.ts';
import type { AggregateDefinition, AggregateRef, CommandContext, DeliveryRejection, Typed } from './definition.ts';
import { decideCommand, type CommandOutcome, type OutboxRequest } from './decide.ts';
import { DELIVERY_PLAYER } from './runtime.ts';
import { NO_OUTBOX, outboxChange, RECORDED_REFUSALS, refuseUnknownTargets } from './outbox-change.ts';

export interface TestWorldOptions {
  /** The virtual clock's start (ms since epoch); `context.nowMs` reads it. Default 0. */
  readonly nowMs?: number;
  /** Deliver what a player's command sent before `command` returns. Default true; false to drive deliveries by hand. */
  readonly autoDeliver?: boolean;
  /** Order among items due at once: the order they were committed (default), or a seeded shuffle. */
  readonly order?: 'fifo' | { readonly seed: number };
  /** Deliveries one `deliverDue`/`advance` may make before it decides the saga never settles. Default 10,000. */
  readonly deliveriesMax?: number;
}

/** What a command got: accepted (possibly as a duplicate of an earlier one) or refused. */
export type WorldResult =
  | { readonly kind: 'accepted'; readonly seq: number; readonly duplicate: boolean; readonly events: readonly Typed[] }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly message: string; readonly reason?: string };

/** One committed entry of an aggregate, as the node would log it. */
export interface WorldEntry {
  readonly seq: number;
  readonly playerId: string;
  readonly commandId: string;
  readonly events: readonly Typed[];
  readonly nowMs: number;
  readonly outbox?: OutboxChange;
  readonly refusal?: DeliveryRejection;
}

/** An item waiting in an aggregate's outbox. */
export interface PendingDelivery {
  readonly from: AggregateRef;
  readonly item: OutboxItem;
}

/** One delivery attempt: the item, what its target answered, and whether the sender settled it. */
export interface WorldDelivery extends PendingDelivery {
  readonly nowMs: number;
  readonly outcome: { readonly kind: 'delivered'; readonly duplicate: boolean } | { readonly kind: 'refused'; readonly rejection: DeliveryRejection };
  readonly settled: boolean;
}

/** The command type of a definition, so `command` checks what a test sends. */
type CommandOf<D> = D extends AggregateDefinition<any, infer C, any> ? C : never;

interface WorldAggregate {
  readonly ref: AggregateRef;
  readonly key: string;
  readonly definition: AggregateDefinition<unknown, any, any>;
  state: unknown;
  seq: number;
  readonly entries: WorldEntry[];
  /** `playerId \0 commandId` -> the entry that took the command id. */
  readonly dedupe: Map<string, { readonly seq: number; readonly digest: Uint8Array; readonly refusal?: DeliveryRejection }>;
  readonly outbox: Map<string, OutboxItem>;
}

interface Request {
  readonly aggregate: WorldAggregate;
  readonly playerId: string;
  readonly commandId: string;
  readonly command: unknown;
  readonly sender?: { readonly ref: AggregateRef; readonly item: string; readonly playerId: string };
}


export function testWorld(definitions: readonly AggregateDefinition<any, any, any>[], options: TestWorldOptions = {}): TestWorld {
  return new TestWorld(definitions, options);
}

export class TestWorld {
  private readonly definitions = new Map<string, AggregateDefinition<unknown, any, any>>();
  private readonly aggregates = new Map<string, WorldAggregate>();
  /** Commit order of every item added, for FIFO delivery across aggregates. */
  private readonly addedOrder = new Map<string, number>();
  private added = 0;
  private clockMs: number;
  private commands = 0;
  private readonly random: (() => number) | undefined;
  /** Every delivery attempt, in order. */
  readonly deliveries: WorldDelivery[] = [];
  /** What the node would log as handler errors: throwing handlers, and compensations their own aggregate refused. */
  readonly handlerErrors: { readonly aggregate: string; readonly commandId: string; readonly message: string }[] = [];

  constructor(
    definitions: readonly AggregateDefinition<any, any, any>[],
    private readonly options: TestWorldOptions = {},
  ) {
    for (const definition of definitions) {
      if (this.definitions.has(definition.type)) throw new TypeError(`aggregate type ${definition.type} is registered twice`);
      this.definitions.set(definition.type, definition);
    }
    this.clockMs = options.nowMs ?? 0;
    this.random = typeof options.order === 'object' ? seededRandom(options.order.seed) : undefined;
  }

  get nowMs(): number {
    return this.clockMs;
  }

  /**
   * Runs a player's command on `definition`/`id` (as `playerId`, default the aggregate id, like
   * the test kit), then, unless `autoDeliver` is off, delivers everything it set off that is due.
   * A `commandId` of your own lets you send a retry; by default every command gets a fresh one.
   */
  command<D extends AggregateDefinition<any, any, any>>(definition: D, id: string, command: CommandOf<D> | Record<string, unknown>, as: { playerId?: string; commandId?: string } = {}): WorldResult {
    const playerId = as.playerId ?? id;
    // The gateway admits no player id with '#': the delivery player cannot be claimed.
    if (playerId.length === 0 || playerId.includes('#')) throw new TypeError(`${JSON.stringify(playerId)} is not a player id`);
    const result = this.execute({ aggregate: this.aggregate(this.registered(definition), id), playerId, commandId: as.commandId ?? `player-command-${(this.commands += 1)}`, command });
    if (this.options.autoDeliver ?? true) this.deliverDue();
    return result;
  }

  /** Delivers every item due now, and what those deliveries set off, until nothing is due. */
  deliverDue(): WorldDelivery[] {
    const made: WorldDelivery[] = [];
    const limit = this.options.deliveriesMax ?? 10_000;
    for (let next = this.nextDue(this.clockMs); next !== undefined; next = this.nextDue(this.clockMs)) {
      if (made.length >= limit) throw new AssertionError({ message: `deliveries did not settle after ${limit} (a saga that sends forever?); next: ${describeItem(next)}` });
      made.push(this.deliver(next.from, next.item.id));
    }
    return made;
  }

  /**
   * Moves the clock forward by `ms`, firing every timer that falls due on the way in due order,
   * each at its due time (never earlier), with whatever it sets off.
   */
  advance(ms: number): WorldDelivery[] {
    if (!Number.isFinite(ms) || ms < 0) throw new TypeError('advance(ms) needs a finite ms >= 0');
    const targetMs = this.clockMs + ms;
    const made = this.deliverDue();
    for (;;) {
      const dueMs = this.earliestDueMs();
      if (dueMs === undefined || dueMs > targetMs) break;
      this.clockMs = Math.max(this.clockMs, dueMs);
      made.push(...this.deliverDue());
    }
    this.clockMs = targetMs;
    return made;
  }

  /**
   * Delivers one pending item of `from` once, as the courier would. With `settle: false` the
   * answer is lost on its way back: the item stays pending and will be delivered again (its
   * target then answers it as a duplicate, or with the refusal it recorded).
   */
  deliver(from: AggregateRef, itemId: string, { settle = true }: { settle?: boolean } = {}): WorldDelivery {
    const sender = this.aggregate(this.definitionOf(from.type), from.id);
    const item = sender.outbox.get(itemId);
    if (item === undefined) throw new AssertionError({ message: `${sender.key} has no pending item ${itemId}` });
    if ((item.dueMs ?? this.clockMs) > this.clockMs) throw new AssertionError({ message: `item ${itemId} of ${sender.key} is due at ${item.dueMs}, now is ${this.clockMs}: a timer never fires early` });
    const target = this.definitions.get(item.to.type);
    const answer: WorldResult =
      target === undefined
        ? { kind: 'refused', code: 'UNKNOWN_AGGREGATE_TYPE', message: `no aggregate type named ${item.to.type}` }
        : this.execute({
            aggregate: this.aggregate(target, item.to.id),
            playerId: DELIVERY_PLAYER,
            commandId: `${sender.key}:${item.id}`,
            command: item.command,
            sender: { ref: sender.ref, item: item.id, playerId: item.playerId },
          });
    const outcome: WorldDelivery['outcome'] =
      answer.kind === 'accepted' ? { kind: 'delivered', duplicate: answer.duplicate } : { kind: 'refused', rejection: { code: answer.code, message: answer.message, ...(answer.reason === undefined ? {} : { reason: answer.reason }) } };
    if (settle) this.settle(sender, item.id, outcome);
    const delivery: WorldDelivery = { from: sender.ref, item, nowMs: this.clockMs, outcome, settled: settle };
    this.deliveries.push(delivery);
    return delivery;
  }

  /** Items waiting in one aggregate's outbox, or in every aggregate's. */
  pending(definition?: AggregateDefinition<any, any, any>, id?: string): PendingDelivery[] {
    const from = definition === undefined ? [...this.aggregates.values()] : [this.aggregate(this.registered(definition), id ?? '')];
    return from.flatMap((aggregate) => [...aggregate.outbox.values()].map((item) => ({ from: aggregate.ref, item })));
  }

  state<S>(definition: AggregateDefinition<S, any, any>, id: string): S {
    return this.aggregate(this.registered(definition), id).state as S;
  }

  /** Every event of the aggregate, in order. */
  events<E extends Typed>(definition: AggregateDefinition<any, any, E>, id: string): E[] {
    return this.entries(definition, id).flatMap((entry) => entry.events as readonly E[]);
  }

  entries(definition: AggregateDefinition<any, any, any>, id: string): readonly WorldEntry[] {
    return this.aggregate(this.registered(definition), id).entries;
  }

  /** As AggregateRuntime.execute, minus the asynchrony: dedupe, decide, record, commit. */
  private execute(request: Request): WorldResult {
    const { aggregate, sender } = request;
    const digest = commandDigest(aggregate.ref.type, aggregate.ref.id, request.command);
    const dedupeKey = `${request.playerId}\u0000${request.commandId}`;
    const earlier = aggregate.dedupe.get(dedupeKey);
    if (earlier !== undefined) {
      if (!sameDigest(earlier.digest, digest)) return { kind: 'refused', code: 'COMMAND_ID_REUSED', message: `command id ${request.commandId} was already used on ${aggregate.key} for another command` };
      if (earlier.refusal !== undefined) return refused(earlier.refusal);
      return { kind: 'accepted', seq: earlier.seq, duplicate: true, events: [] };
    }
    const toSelf = sender !== undefined && sender.ref.type === aggregate.ref.type && sender.ref.id === aggregate.ref.id;
    if (toSelf && !aggregate.outbox.has(sender.item)) return { kind: 'accepted', seq: aggregate.seq, duplicate: true, events: [] };
    const context: CommandContext = {
      playerId: sender?.playerId ?? request.playerId,
      aggregateId: aggregate.ref.id,
      commandId: request.commandId,
      nowMs: this.clockMs,
      ...(sender === undefined ? {} : { sender: sender.ref }),
    };
    const outcome = this.checkTargets(decideCommand(aggregate.definition, aggregate.state, request.command, context));
    if (outcome.kind === 'refused') {
      if (outcome.code === 'HANDLER_ERROR') this.handlerErrors.push({ aggregate: aggregate.key, commandId: request.commandId, message: outcome.message });
      const refusal: DeliveryRejection = { code: outcome.code, message: outcome.message, ...(outcome.reason === undefined ? {} : { reason: outcome.reason }) };
      if (sender !== undefined && !toSelf && RECORDED_REFUSALS.has(outcome.code)) {
        this.commit(aggregate, request.playerId, request.commandId, digest, [], aggregate.state, NO_OUTBOX, [], context.playerId, refusal);
      }
      return refused(refusal);
    }
    const settle = toSelf ? [sender.item] : [];
    const seq = this.commit(aggregate, request.playerId, request.commandId, digest, outcome.events, outcome.state, outcome.outbox, settle, context.playerId);
    return { kind: 'accepted', seq, duplicate: false, events: outcome.events };
  }

  /** As AggregateRuntime.settle: removes the item, running its compensation if it was refused. */
  private settle(sender: WorldAggregate, itemId: string, outcome: WorldDelivery['outcome']): void {
    const item = sender.outbox.get(itemId);
    if (item === undefined) return; // settled already (a self-delivery), or cancelled
    let events: readonly Typed[] = [];
    let state = sender.state;
    let outbox = NO_OUTBOX;
    if (outcome.kind === 'refused' && item.onRejected !== undefined) {
      const commandId = `rejected:${itemId}`;
      const context: CommandContext = { playerId: item.playerId, aggregateId: sender.ref.id, commandId, nowMs: this.clockMs, rejection: outcome.rejection };
      const compensation = this.checkTargets(decideCommand(sender.definition, sender.state, item.onRejected, context));
      if (compensation.kind === 'accepted') ({ events, state, outbox } = compensation);
      else this.handlerErrors.push({ aggregate: sender.key, commandId, message: `onRejected command of outbox item ${itemId} was refused: ${compensation.code} ${compensation.reason ?? ''} ${compensation.message}` });
    }
    const digest = commandDigest(sender.ref.type, sender.ref.id, { type: 'settle', item: itemId });
    this.commit(sender, DELIVERY_PLAYER, `settle:${itemId}`, digest, events, state, outbox, [itemId], item.playerId);
  }

  private commit(
    aggregate: WorldAggregate,
    playerId: string,
    commandId: string,
    digest: Uint8Array,
    events: readonly Typed[],
    state: unknown,
    outbox: OutboxRequest,
    settle: readonly string[],
    actor: string,
    refusal?: DeliveryRejection,
  ): number {
    const seq = aggregate.seq + 1;
    const change = outboxChange(aggregate.ref, seq, actor, outbox, settle, this.clockMs);
    foldOutbox(aggregate.outbox, change);
    for (const item of change?.add ?? []) this.addedOrder.set(itemKey(aggregate.key, item.id), (this.added += 1));
    aggregate.state = state;
    aggregate.seq = seq;
    aggregate.entries.push({ seq, playerId, commandId, events, nowMs: this.clockMs, ...(change === undefined ? {} : { outbox: change }), ...(refusal === undefined ? {} : { refusal }) });
    aggregate.dedupe.set(`${playerId}\u0000${commandId}`, { seq, digest, ...(refusal === undefined ? {} : { refusal }) });
    return seq;
  }

  /** As the runtime: sending to a type nobody registered is the handler's bug, refused before anything commits. */
  private checkTargets<S, E>(outcome: CommandOutcome<S, E>): CommandOutcome<S, E> {
    return refuseUnknownTargets(outcome, (type) => this.definitions.has(type));
  }

  /** The next item to deliver at `nowMs`: the first committed among those due, or a seeded pick. */
  private nextDue(nowMs: number): PendingDelivery | undefined {
    const due = this.pending().filter(({ item }) => (item.dueMs ?? nowMs) <= nowMs);
    if (due.length === 0) return undefined;
    if (this.random !== undefined) return due[Math.floor(this.random() * due.length)];
    const order = (pending: PendingDelivery): number => this.addedOrder.get(itemKey(`${pending.from.type}/${pending.from.id}`, pending.item.id)) ?? 0;
    return due.reduce((first, candidate) => (order(candidate) < order(first) ? candidate : first));
  }

  private earliestDueMs(): number | undefined {
    let earliest: number | undefined;
    for (const { item } of this.pending()) if (item.dueMs !== undefined && (earliest === undefined || item.dueMs < earliest)) earliest = item.dueMs;
    return earliest;
  }

  private registered(definition: AggregateDefinition<any, any, any>): AggregateDefinition<unknown, any, any> {
    const known = this.definitionOf(definition.type);
    if (known !== definition) throw new TypeError(`another definition of ${definition.type} is registered in this world`);
    return known;
  }

  private definitionOf(type: string): AggregateDefinition<unknown, any, any> {
    const definition = this.definitions.get(type);
    if (definition === undefined) throw new TypeError(`aggregate type ${type} is not registered in this world`);
    return definition;
  }

  private aggregate(definition: AggregateDefinition<unknown, any, any>, id: string): WorldAggregate {
    if (id.length === 0) throw new TypeError('an aggregate id is needed');
    const key = `${definition.type}/${id}`;
    let aggregate = this.aggregates.get(key);
    if (aggregate === undefined) {
      aggregate = { ref: { type: definition.type, id }, key, definition, state: definition.initialState(id), seq: 0, entries: [], dedupe: new Map(), outbox: new Map() };
      this.aggregates.set(key, aggregate);
    }
    return aggregate;
  }
}


function refused(rejection: DeliveryRejection): WorldResult {
  return { kind: 'refused', code: rejection.code as ErrorCode, message: rejection.message, ...(rejection.reason === undefined ? {} : { reason: rejection.reason }) };
}

function itemKey(aggregate: string, item: string): string {
  return `${aggregate}\u0000${item}`;
}

function describeItem({ from, item }: PendingDelivery): string {
  return `${from.type}/${from.id} item ${item.id} -> ${item.to.type}/${item.to.id} ${JSON.stringify(item.command).slice(0, 200)}`;
}

/** mulberry32: a small seeded generator, so a shuffled delivery order can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
