/**
 * Admission control: a node accepts at most `max` commands at once (its clients', its Second
 * Life objects' and those forwarded by other nodes); beyond that it answers OVERLOADED
 * (retryable) at once. Offered far more than it can commit, a node would otherwise queue
 * without bound: latency grows to seconds, its event loop falls behind, replication heartbeats
 * arrive late and partitions change owners again and again. With the queue bounded, it keeps
 * serving at capacity and refuses the excess.
 *
 * Each refusal carries a retry hint (`retryAfterMs`, REJECT `ra`): the time a command takes
 * here (smoothed) times how far the offered load exceeds what was admitted over the last
 * second. Refused clients that all came back after one service time would be refused again
 * and cost a decode and an answer each; spread over the overload factor, the retries arrive
 * about as fast as slots free up.
 */
import { RingstateError } from '@ringstate/protocol';

/** Takes a slot per command and gives it back when the command is answered. */
export interface Admission {
  /** Takes a slot, or returns the refusal. */
  admit(): RingstateError | undefined;
  /** Gives the slot back; the command took `elapsedMs` from admission to its answer. */
  release(elapsedMs: number): void;
}

/** Bounds of the retry hint (ms). */
export const RETRY_HINT_MIN_MS = 20;
export const RETRY_HINT_MAX_MS = 5_000;
/** Window over which admitted and refused commands are counted for the overload factor. */
const WINDOW_MS = 1_000;
/** Weight of each new sample in the smoothed service time. */
const SMOOTHING = 0.05;

/** Admission by count (limits.commandsInFlightMax; 0: no limit). */
export class InFlightCommands implements Admission {
  private count = 0;
  private serviceMs = 0;
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private admitted = 0;
  private refused = 0;
  /** Counts of the window before the current one, so the factor never rests on a few samples. */
  private previous = { admitted: 0, refused: 0 };

  constructor(
    readonly max: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  admit(): RingstateError | undefined {
    this.roll();
    if (this.max > 0 && this.count >= this.max) {
      this.refused += 1;
      return new RingstateError('OVERLOADED', `node overloaded: ${this.count} commands in flight (limits.commandsInFlightMax ${this.max}); retry later`, { retryAfterMs: this.retryHintMs() });
    }
    this.admitted += 1;
    this.count += 1;
    return undefined;
  }

  release(elapsedMs: number): void {
    this.count = Math.max(0, this.count - 1);
    if (Number.isFinite(elapsedMs) && elapsedMs >= 0) this.serviceMs = this.serviceMs === 0 ? elapsedMs : this.serviceMs + SMOOTHING * (elapsedMs - this.serviceMs);
  }

  get current(): number {
    return this.count;
  }

  /** Smoothed service time times the overload factor (offered / admitted), clamped. */
  retryHintMs(): number {
    const admitted = this.admitted + this.previous.admitted;
    const offered = admitted + this.refused + this.previous.refused;
    const factor = offered / Math.max(1, admitted);
    return Math.round(Math.min(RETRY_HINT_MAX_MS, Math.max(RETRY_HINT_MIN_MS, this.serviceMs * factor)));
  }

  private roll(): void {
    const now = this.nowMs();
    if (now - this.windowStartMs < WINDOW_MS) return;
    // A gap longer than a window leaves nothing to carry over.
    this.previous = now - this.windowStartMs < 2 * WINDOW_MS ? { admitted: this.admitted, refused: this.refused } : { admitted: 0, refused: 0 };
    this.windowStartMs = now;
    this.admitted = 0;
    this.refused = 0;
  }
}
