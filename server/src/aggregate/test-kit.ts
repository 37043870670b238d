/**
 * Given-events / when-command / then-events-or-rejection, without a server.
 *
 *   const kit = aggregateTestKit(player);
 *   kit.given([{ type: 'joined', name: 'ann' }]).when({ type: 'move', x: 1, y: 2 }).thenEvents([{ type: 'moved', x: 1, y: 2 }]);
 *   kit.given([]).when({ type: 'drop', item: 'x' }).thenRejected('ITEM_NOT_HELD');
 *
 * Each `then*` throws an AssertionError with a readable diff when the expectation fails, so the
 * kit works with any test runner.
 */
import { AssertionError, deepStrictEqual } from 'node:assert';
import type { ErrorCode } from '@ringstate/protocol';
import type { AggregateDefinition, CommandContext, Typed } from './definition.ts';
import { decideCommand, replayEvents, type CommandOutcome } from './decide.ts';

export interface TestKitOptions {
  aggregateId?: string;
  playerId?: string;
  nowMs?: number;
}

export function aggregateTestKit<S, C extends Typed, E extends Typed>(definition: AggregateDefinition<S, C, E>, options: TestKitOptions = {}) {
  const aggregateId = options.aggregateId ?? 'test-aggregate';
  const baseContext: CommandContext = {
    aggregateId,
    playerId: options.playerId ?? aggregateId,
    commandId: 'test-command',
    nowMs: options.nowMs ?? 0,
  };
  return {
    given(history: readonly E[], historyVersion: number = definition.eventVersion) {
      const state = replayEvents(definition, definition.initialState(aggregateId), history, historyVersion);
      return {
        state,
        when(command: C | Record<string, unknown>, context: Partial<CommandContext> = {}) {
          const outcome = decideCommand(definition, state, command, { ...baseContext, ...context });
          return new Expectation<S, E>(outcome);
        },
      };
    },
  };
}

export class Expectation<S, E> {
  constructor(readonly outcome: CommandOutcome<S, E>) {}

  thenEvents(expected: readonly E[]): S {
    if (this.outcome.kind !== 'accepted') {
      throw new AssertionError({ message: `expected events but the command was refused: ${this.outcome.code} ${this.outcome.reason ?? ''} ${this.outcome.message}` });
    }
    deepStrictEqual(this.outcome.events, expected);
    return this.outcome.state;
  }

  thenRejected(reason: string): void {
    this.thenRefused('REJECTED');
    if (this.outcome.kind === 'refused' && this.outcome.reason !== reason) {
      throw new AssertionError({ message: `expected rejection reason ${reason}, got ${this.outcome.reason ?? '(none)'}`, actual: this.outcome.reason, expected: reason });
    }
  }

  thenRefused(code: ErrorCode): void {
    if (this.outcome.kind !== 'refused') {
      throw new AssertionError({ message: `expected ${code} but the command was accepted with ${JSON.stringify(this.outcome.events)}` });
    }
    if (this.outcome.code !== code) {
      throw new AssertionError({ message: `expected ${code}, got ${this.outcome.code}: ${this.outcome.message}`, actual: this.outcome.code, expected: code });
    }
  }
}
