/**
 * The outbox: every command from `send` until the server answers it or its deadline passes.
 *
 * Commands keep their id and their encoded frame for their whole life, so a command re-sent
 * after a reconnect or a retryable rejection is byte-identical and the server dedupes it.
 * The Map's insertion order is the order of `send` calls, which is the order of re-sending.
 * Each command ends exactly once: ACK, final REJECT, deadline (TIMEOUT), or `failAll`.
 *
 * Outcome honesty: every attempt that left on a socket may have been applied until an answer
 * says otherwise. An attempt whose connection ended without an answer, or that was answered
 * with a retryable code that does not prove "not applied" (see `provesNotApplied`), makes the
 * command's outcome unknown for good (`mayBeApplied`): whatever later attempts hear, such a
 * command ends with an ACK, a definite refusal (a code the server marks final), or the
 * outcome-unknown codes TIMEOUT/DISCONNECTED, never with a retryable server code that would
 * read as "not applied". Every error that ends a command carries its `commandId`.
 */
import { RingstateError } from '@ringstate/protocol';
import type { AckMessage, ErrorCode } from '@ringstate/protocol';
import { fullJitterDelayMs } from '../util/backoff.ts';
import type { BackoffSettings } from '../util/backoff.ts';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';

export interface CommandResult {
  /** The aggregate's sequence number after this command. */
  readonly seq: number;
  /** True when the server had already applied this command id (a retry of a lost answer). */
  readonly duplicate: boolean;
}

export interface PendingCommand {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly frame: Uint8Array;
  readonly deadlineAtMs: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: RingstateError) => void;
  readonly deadlineTimer: TimerHandle;
  retryTimer: TimerHandle | undefined;
  retries: number;
  lastError: RingstateError | undefined;
  /** An attempt is on the wire of the current connection and not answered yet. */
  inFlight: boolean;
  /** Some earlier attempt ended without an answer proving it was not applied. */
  mayBeApplied: boolean;
}

export interface OutboxSettings {
  readonly outboxMax: number;
  readonly retry: BackoffSettings;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  /**
   * Puts a command on the wire if connected and returns true; returns false when it could not
   * leave (it waits for `transmitAll`, or the transmitter ended it).
   */
  readonly transmit: (command: PendingCommand) => boolean;
}

export interface NewCommand {
  readonly id: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly frame: Uint8Array;
  readonly timeoutMs: number;
}

export class Outbox {
  readonly #commands = new Map<string, PendingCommand>();
  readonly #settings: OutboxSettings;

  constructor(settings: OutboxSettings) {
    this.#settings = settings;
  }

  get size(): number {
    return this.#commands.size;
  }

  has(id: string): boolean {
    return this.#commands.has(id);
  }

  /** Adds a command and transmits it; the promise settles when the command ends. */
  add(command: NewCommand): Promise<CommandResult> {
    if (this.#commands.size >= this.#settings.outboxMax) {
      const message = `outbox full: ${this.#commands.size} commands await an answer (outboxMax)`;
      return Promise.reject(new RingstateError('OVERLOADED', message, { commandId: command.id }));
    }
    return new Promise<CommandResult>((resolve, reject) => {
      const { clock } = this.#settings;
      const pending: PendingCommand = {
        ...command,
        deadlineAtMs: clock.now() + command.timeoutMs,
        resolve,
        reject,
        deadlineTimer: clock.setTimeout(() => this.#onDeadline(command.id), command.timeoutMs),
        retryTimer: undefined,
        retries: 0,
        lastError: undefined,
        inFlight: false,
        mayBeApplied: false,
      };
      this.#commands.set(command.id, pending);
      this.#send(pending);
    });
  }

  /**
   * Re-transmits every command in original order after a reconnect. An attempt still in flight
   * went out on a connection that ended without answering it: it may have been applied.
   */
  transmitAll(): void {
    for (const pending of [...this.#commands.values()]) {
      this.#clearRetry(pending);
      if (pending.inFlight) {
        pending.inFlight = false;
        pending.mayBeApplied = true;
      }
      if (this.#commands.has(pending.id)) this.#send(pending);
    }
  }

  acknowledge(ack: AckMessage): void {
    const pending = this.#take(ack.id);
    if (pending === undefined) {
      this.#settings.logger('debug', 'ACK for a command no longer pending', { id: ack.id });
      return;
    }
    pending.resolve({ seq: ack.seq, duplicate: ack.dup === true });
  }

  /**
   * The server refused the command (REJECT, or ERROR naming it). Retryable refusals are
   * re-sent after a backoff while the deadline allows; the rest end the command.
   */
  refuse(id: string, error: RingstateError, serverSaysRetry: boolean): void {
    const pending = this.#commands.get(id);
    if (pending === undefined) {
      this.#settings.logger('debug', 'answer for a command no longer pending', { id, code: error.code });
      return;
    }
    pending.inFlight = false;
    if (!(serverSaysRetry && error.retryable)) {
      // A final answer. It proves nothing was applied only if the server looked the command id
      // up before giving it; otherwise an earlier attempt may still have been applied.
      this.fail(id, error, answeredAfterLookup(error));
      return;
    }
    if (!provesNotApplied(error)) pending.mayBeApplied = true;
    this.#scheduleRetry(pending, error);
  }

  /**
   * Ends one command with an error, which gets the command's id. Unless the error is the
   * server's definite answer, a command whose outcome is unknown ends with TIMEOUT instead of
   * an error that would read as "not applied" (see the header comment); the error's code is
   * kept as `lastCode`.
   */
  fail(id: string, error: RingstateError, definite = false): void {
    const pending = this.#take(id);
    if (pending === undefined) return;
    const unknown = error.code === 'TIMEOUT' || error.code === 'DISCONNECTED';
    if (pending.mayBeApplied && !definite && !unknown) {
      pending.reject(outcomeUnknown(pending, 'TIMEOUT', `command ${id} to ${target(pending)} may have been applied; gave up after ${error.code}`, error));
      return;
    }
    pending.reject(withCommandId(pending, error));
  }

  /** Ends every command with an outcome-unknown error (client closed, went offline). */
  failAll(code: 'TIMEOUT' | 'DISCONNECTED', message: (pending: PendingCommand) => string, cause: RingstateError | undefined): void {
    for (const pending of [...this.#commands.values()]) {
      if (this.#take(pending.id) === undefined) continue;
      pending.reject(outcomeUnknown(pending, code, message(pending), cause));
    }
  }

  #send(pending: PendingCommand): void {
    if (this.#settings.transmit(pending) && this.#commands.get(pending.id) === pending) pending.inFlight = true;
  }

  #scheduleRetry(pending: PendingCommand, error: RingstateError): void {
    const { clock, random, retry } = this.#settings;
    // The server's hint (OVERLOADED with `ra`) is a floor; jitter above it spreads the retries
    // of many clients refused in the same moment.
    const hintMs = error.retryAfterMs;
    const delayMs = hintMs === undefined ? fullJitterDelayMs(retry, pending.retries, random) : Math.max(fullJitterDelayMs(retry, pending.retries, random), hintMs + Math.floor(random() * hintMs * 0.5));
    if (clock.now() + delayMs >= pending.deadlineAtMs) {
      // No retry fits before the deadline. If no attempt may have been applied, the server's
      // answer says more than TIMEOUT would; otherwise `fail` turns it into TIMEOUT.
      pending.lastError = error;
      this.fail(pending.id, error);
      return;
    }
    pending.retries += 1;
    pending.lastError = error;
    this.#clearRetry(pending);
    this.#settings.logger('debug', 'retrying command', { id: pending.id, code: error.code, delayMs });
    pending.retryTimer = clock.setTimeout(() => {
      pending.retryTimer = undefined;
      if (this.#commands.get(pending.id) === pending) this.#send(pending);
    }, delayMs);
  }

  #onDeadline(id: string): void {
    const pending = this.#commands.get(id);
    if (pending === undefined) return;
    const lastCode: ErrorCode | undefined = pending.lastError?.code;
    const detail = lastCode === undefined ? '' : ` (last answer: ${lastCode})`;
    const message = `command ${id} to ${target(pending)} got no answer before its deadline${detail}`;
    this.#take(id);
    pending.reject(outcomeUnknown(pending, 'TIMEOUT', message, pending.lastError));
  }

  #take(id: string): PendingCommand | undefined {
    const pending = this.#commands.get(id);
    if (pending === undefined) return undefined;
    this.#commands.delete(id);
    this.#settings.clock.clearTimeout(pending.deadlineTimer);
    this.#clearRetry(pending);
    return pending;
  }

  #clearRetry(pending: PendingCommand): void {
    if (pending.retryTimer === undefined) return;
    this.#settings.clock.clearTimeout(pending.retryTimer);
    pending.retryTimer = undefined;
  }
}

/**
 * Retryable refusals that promise the command was not applied: admission refusals
 * (OVERLOADED, RATE_LIMITED) and NO_QUORUM, unless the server marks it `OUTCOME_UNKNOWN` (the
 * entry was proposed before the quorum was lost and may still commit). Every other retryable
 * code (UNAVAILABLE after a commit wait or a failed forward, SHUTTING_DOWN, INTERNAL) may come
 * after the command was applied.
 */
export function provesNotApplied(error: RingstateError): boolean {
  switch (error.code) {
    case 'OVERLOADED':
    case 'RATE_LIMITED':
      return true;
    case 'NO_QUORUM':
      return error.reason !== OUTCOME_UNKNOWN_REASON;
    default:
      return false;
  }
}

/**
 * Final codes the server gives only after it looked the command id up and found no earlier
 * attempt applied (aggregate/runtime.ts: the dedupe check comes before the command schema, the
 * authorization rule and `decide`). Other final codes (a frame or message the gateway refused,
 * an aggregate type this node does not know, as during a rolling upgrade) are given before that
 * lookup, so after an attempt that may have been applied they leave the outcome unknown.
 */
function answeredAfterLookup(error: RingstateError): boolean {
  switch (error.code) {
    case 'INVALID_COMMAND':
    case 'FORBIDDEN':
    case 'REJECTED':
    case 'HANDLER_ERROR':
    case 'COMMAND_ID_REUSED':
      return true;
    default:
      return false;
  }
}

/** `reason` of a retryable refusal for a command that may still take effect (docs/errors.md, NO_QUORUM). */
export const OUTCOME_UNKNOWN_REASON = 'OUTCOME_UNKNOWN';

function target(pending: PendingCommand): string {
  return `${pending.aggregateType}/${pending.aggregateId}`;
}

function outcomeUnknown(
  pending: PendingCommand,
  code: 'TIMEOUT' | 'DISCONNECTED',
  message: string,
  cause: RingstateError | undefined,
): RingstateError {
  const lastCode = pending.lastError?.code ?? cause?.code;
  return new RingstateError(code, message, {
    commandId: pending.id,
    ...(cause === undefined ? {} : { cause }),
    ...(lastCode === undefined ? {} : { lastCode }),
  });
}

function withCommandId(pending: PendingCommand, error: RingstateError): RingstateError {
  if (error.commandId === pending.id) return error;
  return new RingstateError(error.code, error.message, {
    commandId: pending.id,
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    ...(error.reason === undefined ? {} : { reason: error.reason }),
    ...(error.lastCode === undefined ? {} : { lastCode: error.lastCode }),
  });
}
