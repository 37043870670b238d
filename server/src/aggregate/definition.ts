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
  /** The authenticated player that sent the command. */
  readonly playerId: string;
  readonly aggregateId: string;
  readonly commandId: string;
  /** Wall-clock time on the owner when the command was decided (ms since epoch). */
  readonly nowMs: number;
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
  readonly decide: (state: S, command: C, context: CommandContext) => E | readonly E[] | Rejection;
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

/** A registered aggregate type with defaults filled in; what the runtime works with. */
export interface AggregateDefinition<S = unknown, C extends Typed = Typed, E extends Typed = Typed> {
  readonly type: string;
  readonly initialState: (aggregateId: string) => S;
  readonly commandSchema: StandardSchemaV1<unknown, C>;
  readonly decide: (state: S, command: C, context: CommandContext) => E | readonly E[] | Rejection;
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

/** Normalises what `decide` returned into a list of events or a rejection. */
export function decisionEvents<E extends Typed>(decision: E | readonly E[] | Rejection): readonly E[] | Rejection {
  if (isRejection(decision)) return decision;
  return Array.isArray(decision) ? (decision as readonly E[]) : [decision as E];
}
