/**
 * Admission control: a node accepts at most `max` commands at once (its clients', its Second
 * Life objects' and those forwarded by other nodes); beyond that it answers OVERLOADED
 * (retryable) at once. Offered far more than it can commit, a node would otherwise queue
 * without bound: latency grows to seconds, its event loop falls behind, replication heartbeats
 * arrive late and partitions change owners again and again. With the queue bounded, it keeps
 * serving at capacity and refuses the excess.
 */
import { RingstateError } from '@ringstate/protocol';

/** Takes a slot per command and gives it back when the command is answered. */
export interface Admission {
  /** Takes a slot, or returns the refusal. */
  admit(): RingstateError | undefined;
  release(): void;
}

/** Admission by count (limits.commandsInFlightMax; 0: no limit). */
export class InFlightCommands implements Admission {
  private count = 0;
  constructor(readonly max: number) {}

  admit(): RingstateError | undefined {
    if (this.max > 0 && this.count >= this.max) return new RingstateError('OVERLOADED', `node overloaded: ${this.count} commands in flight (limits.commandsInFlightMax ${this.max}); retry later`);
    this.count += 1;
    return undefined;
  }

  release(): void {
    this.count = Math.max(0, this.count - 1);
  }

  get current(): number {
    return this.count;
  }
}
