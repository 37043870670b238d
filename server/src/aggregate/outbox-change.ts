/**
 * What a decision's sends, timers and cancels become in the committed entry, and the outbox
 * rules around them: pure, shared by the runtime (runtime.ts) and the test world
 * (test-world.ts), so the in-memory saga runner decides exactly as a node does.
 */
import type { OutboxChange, OutboxItem } from '../log/index.ts';
import type { CommandOutcome, OutboxRequest } from './decide.ts';
import type { AggregateRef } from './definition.ts';

export const NO_OUTBOX: OutboxRequest = { send: [], schedule: [], cancel: [] };

/**
 * Final refusals of a delivery that depend on the target's state or code, so a later attempt
 * could be decided otherwise: the target records them (runtime.ts, execute).
 */
export const RECORDED_REFUSALS: ReadonlySet<string> = new Set(['REJECTED', 'HANDLER_ERROR', 'INVALID_COMMAND']);

/**
 * The entry's outbox change: sends and timers become items `seq.index` (sends first, then
 * timers, in the order decided); a timer's delay becomes a due time on the deciding clock.
 * `playerId` is the player behind the command, whom the items carry on to their targets.
 */
export function outboxChange(self: AggregateRef, seq: number, playerId: string, outbox: OutboxRequest, settle: readonly string[], nowMs: number): OutboxChange | undefined {
  if (outbox.send.length === 0 && outbox.schedule.length === 0 && outbox.cancel.length === 0 && settle.length === 0) return undefined;
  const add: OutboxItem[] = [];
  for (const send of outbox.send) {
    add.push({ id: `${seq}.${add.length}`, to: { type: send.to.type, id: send.to.id }, command: send.command, playerId, ...(send.onRejected === undefined ? {} : { onRejected: send.onRejected }) });
  }
  for (const timer of outbox.schedule) {
    const to = timer.to ?? self;
    add.push({
      id: `${seq}.${add.length}`,
      to: { type: to.type, id: to.id },
      command: timer.command,
      dueMs: timer.atMs ?? nowMs + (timer.afterMs ?? 0),
      key: timer.key,
      playerId,
      ...(timer.onRejected === undefined ? {} : { onRejected: timer.onRejected }),
    });
  }
  return {
    ...(add.length === 0 ? {} : { add }),
    ...(outbox.cancel.length === 0 ? {} : { cancel: [...outbox.cancel] }),
    ...(settle.length === 0 ? {} : { settle: [...settle] }),
  };
}

/** An accepted decision that sends to a type `known` does not know is the handler's bug: HANDLER_ERROR, nothing committed. */
export function refuseUnknownTargets<S, E>(outcome: CommandOutcome<S, E>, known: (type: string) => boolean): CommandOutcome<S, E> {
  if (outcome.kind !== 'accepted' || (outcome.outbox.send.length === 0 && outcome.outbox.schedule.length === 0)) return outcome;
  const targets = [...outcome.outbox.send.map((send) => send.to.type), ...outcome.outbox.schedule.flatMap((timer) => (timer.to === undefined ? [] : [timer.to.type]))];
  const unknown = targets.find((type) => !known(type));
  if (unknown === undefined) return outcome;
  return { kind: 'refused', code: 'HANDLER_ERROR', message: `decide sent to unknown aggregate type ${JSON.stringify(unknown.slice(0, 64))}` };
}
