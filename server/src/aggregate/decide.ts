/**
 * The pure step shared by the runtime and the test kit: validate, authorize, decide, evolve.
 *
 * Everything a game developer's code can do wrong (throw, return garbage) is caught here and
 * turned into an outcome for that one command, so the runtime never sees a half-applied state.
 */
import type { ErrorCode } from '@ringstate/protocol';
import { isRejection, normaliseDecision, type AggregateDefinition, type CommandContext, type Send, type Timer, type Typed } from './definition.ts';
import { validateSync } from './standard-schema.ts';

/** What a decision asks of the outbox (sends, timers, cancels); empty lists when it asks nothing. */
export interface OutboxRequest {
  readonly send: readonly Send[];
  readonly schedule: readonly Timer[];
  readonly cancel: readonly string[];
}

export type CommandOutcome<S, E> =
  | { readonly kind: 'accepted'; readonly events: readonly E[]; readonly state: S; readonly outbox: OutboxRequest }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly message: string; readonly reason?: string; readonly cause?: unknown };

export function decideCommand<S, C extends Typed, E extends Typed>(
  definition: AggregateDefinition<S, C, E>,
  state: S,
  rawCommand: unknown,
  context: CommandContext,
): CommandOutcome<S, E> {
  const validation = validateSync(definition.commandSchema, rawCommand);
  if (!validation.ok) return { kind: 'refused', code: 'INVALID_COMMAND', message: validation.message };
  const command = validation.value;

  // `authorize` judges players. A command an aggregate sent, or a compensation the runtime runs
  // (`rejection`), comes from game code on the server, which players cannot impersonate.
  if (context.sender === undefined && context.rejection === undefined) {
    let allowed: boolean;
    try {
      allowed = definition.authorize({ action: 'command', playerId: context.playerId, aggregateId: context.aggregateId, command });
    } catch (cause) {
      return { kind: 'refused', code: 'HANDLER_ERROR', message: `authorize threw: ${describe(cause)}`, cause };
    }
    if (!allowed) return { kind: 'refused', code: 'FORBIDDEN', message: `player may not send ${command.type} to ${definition.type}/${context.aggregateId}` };
  }

  let events: readonly E[];
  let outbox: OutboxRequest;
  try {
    const decision = normaliseDecision(definition.decide(state, command, context));
    if (isRejection(decision)) return { kind: 'refused', code: 'REJECTED', message: decision.message, reason: decision.reason };
    events = decision.events;
    outbox = checkOutbox(decision, context.nowMs);
  } catch (cause) {
    return { kind: 'refused', code: 'HANDLER_ERROR', message: `decide threw: ${describe(cause)}`, cause };
  }

  let next = state;
  try {
    for (const event of events) {
      if (typeof event !== 'object' || event === null || typeof event.type !== 'string') {
        throw new TypeError('decide must return events with a string "type"');
      }
      next = definition.evolve(next, event);
    }
  } catch (cause) {
    return { kind: 'refused', code: 'HANDLER_ERROR', message: `evolve threw: ${describe(cause)}`, cause };
  }
  return { kind: 'accepted', events, state: next, outbox };
}

/** Refs are checked for shape here; whether the target type exists is the runtime's check. */
const ID_MAX = 64;
const TIMER_KEY_MAX = 64;
/** A timer further out than this is a bug (a seconds/milliseconds mix-up), not a game rule. */
const TIMER_DELAY_MAX_MS = 366 * 24 * 3_600_000;

/** Throws a TypeError (answered HANDLER_ERROR) when `decide` asked the outbox for something malformed. */
function checkOutbox(decision: OutboxRequest, nowMs: number): OutboxRequest {
  if (!Array.isArray(decision.send) || !Array.isArray(decision.schedule) || !Array.isArray(decision.cancel)) {
    throw new TypeError('send, schedule and cancel must be arrays');
  }
  for (const send of decision.send) {
    checkRef(send?.to, 'send.to');
    checkCommand(send.command, 'send.command');
    if (send.onRejected !== undefined) checkCommand(send.onRejected, 'send.onRejected');
  }
  const keys = new Set<string>();
  for (const timer of decision.schedule) {
    if (typeof timer?.key !== 'string' || timer.key.length === 0 || timer.key.length > TIMER_KEY_MAX) throw new TypeError(`schedule.key must be a string of 1-${TIMER_KEY_MAX} characters`);
    if (keys.has(timer.key)) throw new TypeError(`schedule names timer ${JSON.stringify(timer.key)} twice`);
    keys.add(timer.key);
    if ((timer.afterMs === undefined) === (timer.atMs === undefined)) throw new TypeError('a timer needs exactly one of afterMs and atMs');
    const when = timer.afterMs ?? timer.atMs;
    if (typeof when !== 'number' || !Number.isFinite(when) || when < 0) throw new TypeError('afterMs/atMs must be a finite number >= 0');
    if (timer.afterMs !== undefined && timer.afterMs > TIMER_DELAY_MAX_MS) throw new TypeError(`afterMs ${timer.afterMs} is more than a year`);
    if (timer.atMs !== undefined && timer.atMs > nowMs + TIMER_DELAY_MAX_MS) throw new TypeError(`atMs ${timer.atMs} is more than a year from now`);
    if (timer.to !== undefined) checkRef(timer.to, 'schedule.to');
    checkCommand(timer.command, 'schedule.command');
    if (timer.onRejected !== undefined) checkCommand(timer.onRejected, 'schedule.onRejected');
  }
  for (const key of decision.cancel) {
    if (typeof key !== 'string' || key.length === 0 || key.length > TIMER_KEY_MAX) throw new TypeError(`cancel keys must be strings of 1-${TIMER_KEY_MAX} characters`);
  }
  return decision;
}

function checkRef(ref: unknown, what: string): void {
  const { type, id } = (ref ?? {}) as { type?: unknown; id?: unknown };
  if (typeof type !== 'string' || typeof id !== 'string' || id.length === 0 || id.length > ID_MAX) {
    throw new TypeError(`${what} must be {type, id} with an id of 1-${ID_MAX} characters`);
  }
}

function checkCommand(command: unknown, what: string): void {
  if (typeof command !== 'object' || command === null || typeof (command as { type?: unknown }).type !== 'string') {
    throw new TypeError(`${what} must be a command with a string "type"`);
  }
}

/** Folds stored events (upcast from their stored version) into a state. Used on activation. */
export function replayEvents<S, C extends Typed, E extends Typed>(
  definition: AggregateDefinition<S, C, E>,
  state: S,
  storedEvents: readonly unknown[],
  storedVersion: number,
): S {
  let next = state;
  for (const stored of storedEvents) {
    const event = storedVersion === definition.eventVersion ? (stored as E) : definition.upcast(stored, storedVersion);
    next = definition.evolve(next, event);
  }
  return next;
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
