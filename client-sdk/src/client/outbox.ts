/**
 * The outbox: every command from `send` until the server answers it or its deadline passes.
 *
 * Commands keep their id and their encoded frame for their whole life, so a command re-sent
 * after a reconnect or a retryable rejection is byte-identical and the server dedupes it.
 * The Map's insertion order is the order of `send` calls, which is the order of re-sending.
 * Each command ends exactly once: ACK, final REJECT, deadline (TIMEOUT), or `failAll`.
 */
import { RingstateError } from '../protocol/index.ts';
import type { AckMessage, ErrorCode } from '../protocol/index.ts';
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
}

export interface OutboxSettings {
  readonly outboxMax: number;
  readonly retry: BackoffSettings;
  readonly clock: Clock;
  readonly random: () => number;
  readonly logger: Logger;
  /** Puts a command on the wire if connected; otherwise it waits for `transmitAll`. */
  readonly transmit: (command: PendingCommand) => void;
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
      return Promise.reject(new RingstateError('OVERLOADED', message));
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
      };
      this.#commands.set(command.id, pending);
      this.#settings.transmit(pending);
    });
  }

  /** Re-transmits every command in original order, e.g. after a reconnect. */
  transmitAll(): void {
    for (const pending of [...this.#commands.values()]) {
      this.#clearRetry(pending);
      if (this.#commands.has(pending.id)) this.#settings.transmit(pending);
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
    if (!(serverSaysRetry && error.retryable)) {
      this.fail(id, error);
      return;
    }
    this.#scheduleRetry(pending, error);
  }

  /** Ends one command with an error. */
  fail(id: string, error: RingstateError): void {
    this.#take(id)?.reject(error);
  }

  /** Ends every command with an error built from its own id (client closed, went offline). */
  failAll(errorFor: (pending: PendingCommand) => RingstateError): void {
    for (const pending of [...this.#commands.values()]) this.fail(pending.id, errorFor(pending));
  }

  #scheduleRetry(pending: PendingCommand, error: RingstateError): void {
    const { clock, random, retry } = this.#settings;
    const delayMs = fullJitterDelayMs(retry, pending.retries, random);
    if (clock.now() + delayMs >= pending.deadlineAtMs) {
      // No retry fits before the deadline: the server's answer says more than TIMEOUT would.
      this.fail(pending.id, error);
      return;
    }
    pending.retries += 1;
    pending.lastError = error;
    this.#clearRetry(pending);
    this.#settings.logger('debug', 'retrying command', { id: pending.id, code: error.code, delayMs });
    pending.retryTimer = clock.setTimeout(() => {
      pending.retryTimer = undefined;
      if (this.#commands.get(pending.id) === pending) this.#settings.transmit(pending);
    }, delayMs);
  }

  #onDeadline(id: string): void {
    const pending = this.#commands.get(id);
    if (pending === undefined) return;
    const lastCode: ErrorCode | undefined = pending.lastError?.code;
    const detail = lastCode === undefined ? '' : ` (last answer: ${lastCode})`;
    const target = `${pending.aggregateType}/${pending.aggregateId}`;
    const message = `command ${id} to ${target} got no answer before its deadline${detail}`;
    const cause = pending.lastError === undefined ? {} : { cause: pending.lastError };
    this.fail(id, new RingstateError('TIMEOUT', message, cause));
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
