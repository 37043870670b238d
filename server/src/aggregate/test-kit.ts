/**
 * Given-events / when-command / then-events-or-rejection, without a server.
 *
 *   const kit = aggregateTestKit(player);
 *   kit.given([{ type: 'joined', name: 'ann' }]).when({ type: 'move', x: 1, y: 2 }).thenEvents([{ type: 'moved', x: 1, y: 2 }]);
 *   kit.given([]).when({ type: 'drop', item: 'x' }).thenRejected('ITEM_NOT_HELD');
 *   wallets.given([]).when({ type: 'give', to: 'bob', amount: 5 }).thenSends([{ to: { type: 'wallet', id: 'bob' }, command: ... }]);
 *
 * A command's sends, timers and cancels (a `Decision`) are checked one part at a time with
 * `thenSends`, `thenSchedules` and `thenCancels` (each returns the expectation, so they chain and
 * end in `thenEvents`), or all at once with `thenDecision`. For a saga across several aggregates,
 * see `testWorld` (test-world.ts), which delivers what they send to each other.
 *
 * Each `then*` throws an AssertionError with a readable diff when the expectation fails, so the
 * kit works with any test runner.
 */
import { AssertionError, deepStrictEqual } from 'node:assert';
import type { ErrorCode } from '@ringstate/protocol';
import type { AggregateDefinition, AggregateRef, CommandContext, Typed } from './definition.ts';
import { decideCommand, replayEvents, type CommandOutcome, type OutboxRequest } from './decide.ts';

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

/** A command as a test writes it: a `type` and any fields (`Typed` alone would refuse the fields). */
export interface AnyCommand {
  readonly type: string;
  readonly [field: string]: unknown;
}

/** A `Send` as expected by `thenSends`. */
export interface ExpectedSend {
  readonly to: AggregateRef;
  readonly command: AnyCommand;
  readonly onRejected?: AnyCommand;
}

/** A `Timer` as expected by `thenSchedules`. */
export interface ExpectedTimer {
  readonly key: string;
  readonly afterMs?: number;
  readonly atMs?: number;
  readonly command: AnyCommand;
  readonly to?: AggregateRef;
  readonly onRejected?: AnyCommand;
}

/** What `thenDecision` compares: every part the command decided; an omitted part means "none". */
export interface ExpectedDecision<E> {
  readonly events?: readonly E[];
  readonly send?: readonly ExpectedSend[];
  readonly schedule?: readonly ExpectedTimer[];
  readonly cancel?: readonly string[];
}

/** An accepted command: its events, the state after them, and what it asked of the outbox. */
export interface AcceptedOutcome<S, E> {
  readonly events: readonly E[];
  readonly state: S;
  readonly outbox: OutboxRequest;
}

export class Expectation<S, E> {
  constructor(readonly outcome: CommandOutcome<S, E>) {}

  /** Asserts the command was accepted and returns what it decided, for checks of your own. */
  accepted(): AcceptedOutcome<S, E> {
    if (this.outcome.kind !== 'accepted') {
      throw new AssertionError({ message: `expected the command to be accepted but it was refused: ${this.outcome.code} ${this.outcome.reason ?? ''} ${this.outcome.message}` });
    }
    return this.outcome;
  }

  thenEvents(expected: readonly E[]): S {
    const { events, state } = this.accepted();
    deepStrictEqual(events, expected);
    return state;
  }

  // Each part is compared inside an object named after it, so the diff says which part differs.

  /** Asserts the commands sent to other aggregates (`send`, in order); chain `thenEvents` for the events. */
  thenSends(expected: readonly ExpectedSend[]): this {
    deepStrictEqual({ send: this.accepted().outbox.send }, { send: expected });
    return this;
  }

  /** Asserts the timers set (`schedule`, in order). */
  thenSchedules(expected: readonly ExpectedTimer[]): this {
    deepStrictEqual({ schedule: this.accepted().outbox.schedule }, { schedule: expected });
    return this;
  }

  /** Asserts the timer keys cancelled (`cancel`, in order). */
  thenCancels(expected: readonly string[]): this {
    deepStrictEqual({ cancel: this.accepted().outbox.cancel }, { cancel: expected });
    return this;
  }

  /** Asserts everything the command decided at once (parts left out must be empty); returns the state. */
  thenDecision(expected: ExpectedDecision<E>): S {
    const { events, state, outbox } = this.accepted();
    deepStrictEqual(
      { events, send: outbox.send, schedule: outbox.schedule, cancel: outbox.cancel },
      { events: expected.events ?? [], send: expected.send ?? [], schedule: expected.schedule ?? [], cancel: expected.cancel ?? [] },
    );
    return state;
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
