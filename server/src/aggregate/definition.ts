/**
 * What a game developer writes: an aggregate type defined by pure functions.
 *
 * `decide` turns a command into events (or a rejection) given the current state; `evolve`
 * folds one event into the state and must be pure and deterministic, because every activation
 * replays it over the log. `view` is the public projection clients receive through Yjs.
 * State, events and views are plain data (msgpack-serialisable: objects, arrays, strings,
 * numbers, booleans, null, Uint8Array).
 */
import type { StandardSchemaV1 } from './standard-schema.ts';

/** A command or an event: a plain map whose `type` says what it is. */
export interface Typed {
  readonly type: string;
}

export interface CommandContext {
  /**
   * The authenticated player that sent the command. For a command another aggregate sent (or
   * a timer), the player whose command emitted it, so a reaction still knows who acted.
   */
  readonly playerId: string;
  readonly aggregateId: string;
  readonly commandId: string;
  /** Wall-clock time on the owner when the command was decided (ms since epoch). */
  readonly nowMs: number;
  /**
   * Set when an aggregate sent this command (a send or a timer, see `Decision`), never when a
   * player did: players cannot set it, so `decide` can trust it (e.g. accept `credit` only from
   * a `bank` aggregate). Commands from aggregates skip `authorize`, which judges players.
   */
  readonly sender?: AggregateRef;
  /**
   * Set on an `onRejected` command: why the command it compensates for was refused by its
   * target (a final error code, and the target's `reason` for REJECTED).
   */
  readonly rejection?: DeliveryRejection;
}

/** An aggregate's identity: its type and id. */
export interface AggregateRef {
  readonly type: string;
  readonly id: string;
}

export interface DeliveryRejection {
  readonly code: string;
  readonly reason?: string;
  readonly message: string;
}

/**
 * A command for another aggregate (or this one), delivered after the sending command commits:
 * at least once until the target answers, deduplicated there, so it takes effect exactly once
 * unless the target refuses it (property S5). `onRejected`, a command of the *sending*
 * aggregate's own type, runs on the sender if the target refuses with a final code (REJECTED,
 * INVALID_COMMAND, HANDLER_ERROR, ...): the saga's compensation.
 */
export interface Send {
  readonly to: AggregateRef;
  readonly command: Typed;
  readonly onRejected?: Typed;
}

/**
 * A timer: a command delivered no earlier than `afterMs` from now (or at `atMs`, wall clock
 * ms since epoch), to this aggregate unless `to` names another. `key` names it within this
 * aggregate: scheduling a key again replaces the pending timer, `cancel` removes it.
 */
export interface Timer {
  readonly key: string;
  readonly afterMs?: number;
  readonly atMs?: number;
  readonly command: Typed;
  readonly to?: AggregateRef;
  readonly onRejected?: Typed;
}

/**
 * What `decide` may return besides events: events plus commands to other aggregates, timers
 * and timer cancellations, all committed in the same log entry (so they survive whatever the
 * events survive). An object with no `type` field; every part optional.
 */
export interface Decision<E extends Typed = Typed> {
  readonly events?: readonly E[];
  readonly send?: readonly Send[];
  readonly schedule?: readonly Timer[];
  /** Keys of this aggregate's pending timers to cancel (before `schedule` applies). */
  readonly cancel?: readonly string[];
}

export type AccessRequest<C> =
  | { readonly action: 'read'; readonly playerId: string; readonly aggregateId: string }
  | { readonly action: 'command'; readonly playerId: string; readonly aggregateId: string; readonly command: C };

/** Returned by `decide` to refuse a command; `reason` is a stable domain code the client sees. */
export interface Rejection {
  readonly rejected: true;
  readonly reason: string;
  readonly message: string;
}

export function reject(reason: string, message: string = reason): Rejection {
  return { rejected: true, reason, message };
}

export function isRejection(value: unknown): value is Rejection {
  return typeof value === 'object' && value !== null && (value as { rejected?: unknown }).rejected === true;
}

export type PublicView = Record<string, unknown>;

export interface AggregateSpec<S, C extends Typed, E extends Typed> {
  /** Aggregate type name, e.g. "player"; part of every aggregate's identity. */
  readonly type: string;
  readonly initialState: (aggregateId: string) => S;
  /**
   * Validates untrusted command input (any Standard Schema validator: zod, valibot, arktype).
   * A failure answers INVALID_COMMAND without calling `decide`.
   */
  readonly commandSchema: StandardSchemaV1<unknown, C>;
  /** Returns events, a `Decision` (events plus sends, timers and cancels), or a rejection. */
  readonly decide: (state: S, command: C, context: CommandContext) => DecideResult<E>;
  readonly evolve: (state: S, event: E) => S;
  /** Who may read (subscribe) and who may command. Default: anyone reads, only the player whose id is the aggregate id commands. */
  readonly authorize?: (request: AccessRequest<C>) => boolean;
  /** The public view clients see; its top-level keys become keys of the Yjs map "view". Default: the state itself. */
  readonly view?: (state: S) => PublicView;
  /** Version of the event shapes `decide` emits today. Stored with every log entry. */
  readonly eventVersion?: number;
  /** Turns an event stored under an older `eventVersion` into today's shape. */
  readonly upcast?: (event: unknown, storedVersion: number) => E;
}

export type DecideResult<E extends Typed> = E | readonly E[] | Decision<E> | Rejection;

/** A registered aggregate type with defaults filled in; what the runtime works with. */
export interface AggregateDefinition<S = unknown, C extends Typed = Typed, E extends Typed = Typed> {
  readonly type: string;
  readonly initialState: (aggregateId: string) => S;
  readonly commandSchema: StandardSchemaV1<unknown, C>;
  readonly decide: (state: S, command: C, context: CommandContext) => DecideResult<E>;
  readonly evolve: (state: S, event: E) => S;
  readonly authorize: (request: AccessRequest<C>) => boolean;
  readonly view: (state: S) => PublicView;
  readonly eventVersion: number;
  readonly upcast: (event: unknown, storedVersion: number) => E;
}

const TYPE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export function defineAggregate<S, C extends Typed, E extends Typed>(spec: AggregateSpec<S, C, E>): AggregateDefinition<S, C, E> {
  if (!TYPE_NAME.test(spec.type)) {
    throw new TypeError(`aggregate type "${spec.type}" must match ${TYPE_NAME} (lower case, digits, dashes)`);
  }
  const eventVersion = spec.eventVersion ?? 1;
  if (!Number.isInteger(eventVersion) || eventVersion < 1) throw new TypeError('eventVersion must be a positive integer');
  return Object.freeze({
    type: spec.type,
    initialState: spec.initialState,
    commandSchema: spec.commandSchema,
    decide: spec.decide,
    evolve: spec.evolve,
    authorize: spec.authorize ?? defaultAuthorize,
    view: spec.view ?? ((state: S) => state as unknown as PublicView),
    eventVersion,
    upcast:
      spec.upcast ??
      ((event: unknown, storedVersion: number) => {
        if (storedVersion !== eventVersion) {
          throw new Error(`aggregate ${spec.type}: event stored at version ${storedVersion} but no upcast hook is defined`);
        }
        return event as E;
      }),
  });
}

function defaultAuthorize(request: AccessRequest<unknown>): boolean {
  return request.action === 'read' || request.playerId === request.aggregateId;
}

/** What `decide` returned, normalised: events and the outbox parts, each a list. */
export interface NormalDecision<E> {
  readonly events: readonly E[];
  readonly send: readonly Send[];
  readonly schedule: readonly Timer[];
  readonly cancel: readonly string[];
}

const NOTHING: readonly never[] = Object.freeze([]);

/** Normalises what `decide` returned into events plus outbox parts, or a rejection. */
export function normaliseDecision<E extends Typed>(decision: DecideResult<E>): NormalDecision<E> | Rejection {
  if (isRejection(decision)) return decision;
  if (Array.isArray(decision)) return { events: decision as readonly E[], send: NOTHING, schedule: NOTHING, cancel: NOTHING };
  if (isDecision(decision)) {
    return {
      events: decision.events ?? NOTHING,
      send: decision.send ?? NOTHING,
      schedule: decision.schedule ?? NOTHING,
      cancel: decision.cancel ?? NOTHING,
    };
  }
  return { events: [decision as E], send: NOTHING, schedule: NOTHING, cancel: NOTHING };
}

/** A Decision is an object without `type` (every event has one). */
function isDecision(value: unknown): value is Decision<Typed> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { type?: unknown }).type !== 'string';
}
