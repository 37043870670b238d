/**
 * A simulated game client running a list-append workload: one operation at a time, each an
 * append of a unique value to a key (with a command id) or a read of a key. Like the SDK it
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
  /** No operation starts after this time. */
  readonly workloadEndMs: number;
  partitionOfKey(key: string): number;
  nextValue(): number;
  contactableNodes(): readonly NodeId[];
  sendRequest(client: string, node: NodeId, request: ClientRequest, onResponse: (response: ClientResponse) => void): void;
  /** How long an operation may keep retrying before it is given up; null: until it completes. */
  operationDeadlineMs(): number | null;
  trace(text: () => string): void;
}

interface Operation {
  readonly kind: 'append' | 'read';
  readonly key: string;
  readonly partition: number;
  readonly value: number;
  readonly commandId: string;
  readonly invokedMs: number;
  attempt: number;
  /** Some attempt may have been proposed (timed out, or answered indeterminate). */
  mayHaveEffect: boolean;
  done: boolean;
}

const ATTEMPT_TIMEOUT_MIN_MS = 300;
const ATTEMPT_TIMEOUT_MAX_MS = 700;

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
    const key = this.prng.pick(this.host.keys);
    const kind = this.prng.chance(this.host.readRatio) ? 'read' : 'append';
    this.sequence += 1;
    this.operation = {
      kind,
      key,
      partition: this.host.partitionOfKey(key),
      value: kind === 'append' ? this.host.nextValue() : 0,
      commandId: kind === 'append' ? `${this.id}-${this.sequence}` : '',
      invokedMs: this.host.queue.nowMs,
      attempt: 0,
      mayHaveEffect: false,
      done: false,
    };
    this.send(this.operation);
  }

  private send(operation: Operation): void {
    operation.attempt += 1;
    const attempt = operation.attempt;
    const nodes = this.host.contactableNodes();
    const target = this.ownerGuess.get(operation.partition) ?? this.prng.pick(nodes);
    const request: ClientRequest =
      operation.kind === 'append'
        ? { kind: 'append', partition: operation.partition, key: operation.key, value: operation.value, commandId: operation.commandId }
        : { kind: 'read', partition: operation.partition, key: operation.key };
    this.host.sendRequest(this.id, target, request, (response) => this.onResponse(operation, attempt, target, response));
    const timeoutMs = this.prng.int(ATTEMPT_TIMEOUT_MIN_MS, ATTEMPT_TIMEOUT_MAX_MS);
    this.host.queue.schedule(timeoutMs, () => {
      if (operation.done || operation.attempt !== attempt) return;
      if (operation.kind === 'append') operation.mayHaveEffect = true;
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
      const outcome: OpOutcome = operation.kind === 'append' && operation.mayHaveEffect ? 'info' : 'fail';
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
    this.host.trace(() => `${this.id} ${operation.kind} ${operation.key}${operation.kind === 'append' ? ` += ${operation.value}` : ''} -> ${outcome}${result === null ? '' : ` [${result.join(',')}]`}`);
    this.host.queue.schedule(this.prng.float() * this.thinkMaxMs, () => this.startOperation());
  }
}
