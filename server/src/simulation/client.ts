/**
 * A simulated game client running a list-append workload: one operation at a time, each an
 * append of a unique value to a key (with a command id) or a read of a key, or, now and then,
 * a command to an account (accounts.ts: a transfer, or a timer set or cancelled). Like the SDK it
 * sends to the node it believes owns the partition, follows owner hints, and retries an
 * append whose outcome it does not know with the same command id, so that the replicated
 * dedupe table must make the retry take effect at most once.
 */
import type { NodeId } from '../replication/index.ts';
import type { Checker, OpOutcome } from './checker.ts';
import type { EventQueue } from './event-queue.ts';
import type { Prng } from './prng.ts';
import type { ClientRequest, ClientResponse } from './sim-node.ts';

export interface ClientHost {
  readonly queue: EventQueue;
  readonly checker: Checker;
  readonly keys: readonly string[];
  readonly readRatio: number;
  readonly accounts: readonly string[];
  /** Share of operations that are account commands. */
  readonly accountRatio: number;
  /** No operation starts after this time. */
  readonly workloadEndMs: number;
  partitionOfKey(key: string): number;
  partitionOfAccount(id: string): number;
  nextValue(): number;
  contactableNodes(): readonly NodeId[];
  sendRequest(client: string, node: NodeId, request: ClientRequest, onResponse: (response: ClientResponse) => void): void;
  /** How long an operation may keep retrying before it is given up; null: until it completes. */
  operationDeadlineMs(): number | null;
  trace(text: () => string): void;
}

interface Operation {
  readonly kind: 'append' | 'read' | 'account';
  readonly key: string;
  readonly partition: number;
  readonly value: number;
  readonly commandId: string;
  /** An account command's body. */
  readonly command: unknown;
  readonly invokedMs: number;
  attempt: number;
  /** Some attempt may have been proposed (timed out, or answered indeterminate). */
  mayHaveEffect: boolean;
  done: boolean;
}

const ATTEMPT_TIMEOUT_MIN_MS = 300;
const ATTEMPT_TIMEOUT_MAX_MS = 700;
/** Timer keys of the account workload: self timers (arm) and timers to other accounts (poke). */
const SELF_TIMER_KEYS = ['t0', 't1', 't2'] as const;
const OTHER_TIMER_KEYS = ['p0', 'p1'] as const;

export class SimClient {
  readonly id: string;
  private readonly host: ClientHost;
  private readonly prng: Prng;
  private readonly ownerGuess = new Map<number, NodeId>();
  private operation: Operation | null = null;
  private sequence = 0;
  private readonly thinkMaxMs: number;

  constructor(id: string, host: ClientHost, prng: Prng, thinkMaxMs: number) {
    this.id = id;
    this.host = host;
    this.prng = prng;
    this.thinkMaxMs = thinkMaxMs;
    host.queue.schedule(prng.float() * thinkMaxMs, () => this.startOperation());
  }

  get busy(): boolean {
    return this.operation !== null;
  }

  private startOperation(): void {
    if (this.host.queue.nowMs >= this.host.workloadEndMs) return;
    this.sequence += 1;
    if (this.host.accounts.length > 1 && this.prng.chance(this.host.accountRatio)) {
      const id = this.prng.pick(this.host.accounts);
      this.operation = {
        kind: 'account',
        key: id,
        partition: this.host.partitionOfAccount(id),
        value: 0,
        commandId: `${this.id}-${this.sequence}`,
        command: this.accountCommand(id),
        invokedMs: this.host.queue.nowMs,
        attempt: 0,
        mayHaveEffect: false,
        done: false,
      };
      this.send(this.operation);
      return;
    }
    const key = this.prng.pick(this.host.keys);
    const kind = this.prng.chance(this.host.readRatio) ? 'read' : 'append';
    this.operation = {
      kind,
      key,
      partition: this.host.partitionOfKey(key),
      value: kind === 'append' ? this.host.nextValue() : 0,
      commandId: kind === 'append' ? `${this.id}-${this.sequence}` : '',
      command: null,
      invokedMs: this.host.queue.nowMs,
      attempt: 0,
      mayHaveEffect: false,
      done: false,
    };
    this.send(this.operation);
  }

  /** Transfers (some delayed, by a timer to the payee), self timers, timers to others, cancels. */
  private accountCommand(id: string): unknown {
    const other = (): string => this.prng.pick(this.host.accounts.filter((account) => account !== id));
    const draw = this.prng.float();
    if (draw < 0.5) {
      const to = other();
      const amount = this.prng.int(1, 40);
      return this.prng.chance(0.3) ? { type: 'transfer', to, amount, delayMs: this.prng.int(0, 800) } : { type: 'transfer', to, amount };
    }
    if (draw < 0.7) return { type: 'arm', key: this.prng.pick(SELF_TIMER_KEYS), afterMs: this.prng.int(0, 1000) };
    if (draw < 0.85) return { type: 'disarm', key: this.prng.pick([...SELF_TIMER_KEYS, ...OTHER_TIMER_KEYS]) };
    return { type: 'poke', to: other(), key: this.prng.pick(OTHER_TIMER_KEYS), afterMs: this.prng.int(0, 1000) };
  }

  private send(operation: Operation): void {
    operation.attempt += 1;
    const attempt = operation.attempt;
    const nodes = this.host.contactableNodes();
    const target = this.ownerGuess.get(operation.partition) ?? this.prng.pick(nodes);
    const request: ClientRequest =
      operation.kind === 'append'
        ? { kind: 'append', partition: operation.partition, key: operation.key, value: operation.value, commandId: operation.commandId }
        : operation.kind === 'account'
          ? { kind: 'account', partition: operation.partition, id: operation.key, commandId: operation.commandId, command: operation.command }
          : { kind: 'read', partition: operation.partition, key: operation.key };
    this.host.sendRequest(this.id, target, request, (response) => this.onResponse(operation, attempt, target, response));
    const timeoutMs = this.prng.int(ATTEMPT_TIMEOUT_MIN_MS, ATTEMPT_TIMEOUT_MAX_MS);
    this.host.queue.schedule(timeoutMs, () => {
      if (operation.done || operation.attempt !== attempt) return;
      if (operation.kind !== 'read') operation.mayHaveEffect = true;
      this.ownerGuess.delete(operation.partition);
      this.retry(operation, 0);
    });
  }

  private onResponse(operation: Operation, attempt: number, target: NodeId, response: ClientResponse): void {
    if (operation.done) return;
    // A late success still counts: the operation took effect, whichever attempt did it.
    if (response.kind === 'ok' || response.kind === 'read-ok') {
      this.ownerGuess.set(operation.partition, target);
      this.complete(operation, 'ok', response.kind === 'read-ok' ? response.values : null);
      return;
    }
    if (attempt !== operation.attempt) return;
    switch (response.kind) {
      case 'rejected':
        // Decided and refused by the aggregate (a transfer beyond the balance): final.
        this.complete(operation, 'fail', null);
        return;
      case 'refused':
        if (response.ownerHint !== null && response.ownerHint !== target) {
          this.ownerGuess.set(operation.partition, response.ownerHint);
          this.retry(operation, this.prng.int(0, 5));
        } else {
          this.ownerGuess.delete(operation.partition);
          this.retry(operation, this.prng.int(20, 100));
        }
        return;
      case 'lost':
        this.retry(operation, this.prng.int(0, 20));
        return;
      case 'indeterminate':
        operation.mayHaveEffect = true;
        this.ownerGuess.delete(operation.partition);
        this.retry(operation, this.prng.int(10, 50));
        return;
    }
  }

  private retry(operation: Operation, delayMs: number): void {
    // Invalidate the outstanding attempt now so its timeout cannot retry a second time.
    operation.attempt += 1;
    const deadlineMs = this.host.operationDeadlineMs();
    if (deadlineMs !== null && this.host.queue.nowMs - operation.invokedMs > deadlineMs) {
      const outcome: OpOutcome = operation.kind !== 'read' && operation.mayHaveEffect ? 'info' : 'fail';
      this.complete(operation, outcome, null);
      return;
    }
    this.host.queue.schedule(delayMs, () => {
      if (!operation.done) this.send(operation);
    });
  }

  private complete(operation: Operation, outcome: OpOutcome, result: readonly number[] | null): void {
    operation.done = true;
    this.operation = null;
    this.host.checker.record({
      client: this.id,
      kind: operation.kind,
      key: operation.key,
      value: operation.value,
      commandId: operation.commandId,
      invokedMs: operation.invokedMs,
      completedMs: this.host.queue.nowMs,
      outcome,
      result,
    });
    const what = operation.kind === 'append' ? ` += ${operation.value}` : operation.kind === 'account' ? ` ${JSON.stringify(operation.command)}` : '';
    this.host.trace(() => `${this.id} ${operation.kind} ${operation.key}${what} -> ${outcome}${result === null ? '' : ` [${result.join(',')}]`}`);
    this.host.queue.schedule(this.prng.float() * this.thinkMaxMs, () => this.startOperation());
  }
}
