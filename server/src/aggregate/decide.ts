/**
 * The pure step shared by the runtime and the test kit: validate, authorize, decide, evolve.
 *
 * Everything a game developer's code can do wrong (throw, return garbage) is caught here and
 * turned into an outcome for that one command, so the runtime never sees a half-applied state.
 */
import type { ErrorCode } from '@ringstate/protocol';
import { decisionEvents, isRejection, type AggregateDefinition, type CommandContext, type Typed } from './definition.ts';
import { validateSync } from './standard-schema.ts';

export type CommandOutcome<S, E> =
  | { readonly kind: 'accepted'; readonly events: readonly E[]; readonly state: S }
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

  let allowed: boolean;
  try {
    allowed = definition.authorize({ action: 'command', playerId: context.playerId, aggregateId: context.aggregateId, command });
  } catch (cause) {
    return { kind: 'refused', code: 'HANDLER_ERROR', message: `authorize threw: ${describe(cause)}`, cause };
  }
  if (!allowed) return { kind: 'refused', code: 'FORBIDDEN', message: `player may not send ${command.type} to ${definition.type}/${context.aggregateId}` };

  let events: readonly E[];
  try {
    const decision = decisionEvents(definition.decide(state, command, context));
    if (isRejection(decision)) return { kind: 'refused', code: 'REJECTED', message: decision.message, reason: decision.reason };
    events = decision;
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
  return { kind: 'accepted', events, state: next };
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
