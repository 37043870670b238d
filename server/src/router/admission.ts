/**
 * Admission control: a node accepts a bounded number of commands at once (its clients', its
 * Second Life objects' and those forwarded by other nodes); beyond that it answers OVERLOADED
 * (retryable) at once. Offered far more than it can commit, a node would otherwise queue
 * without bound: latency grows to seconds, its event loop falls behind, replication heartbeats
 * arrive late and partitions change owners again and again. With the queue bounded, it keeps
 * serving at capacity and refuses the excess (DESIGN.md O1).
 *
 * The bound adapts to a queueing-delay target (`limits.admissionDelayTargetMs`, CoDel's idea):
 * each 100 ms interval, if even the fastest command took longer than the target beyond the
 * fastest of the last 10 s (the time a command needs without a queue: commit, fsync, a round
 * trip; BBR's min RTT), commands are standing in a queue, and the limit shrinks by a tenth; if
 * the limit was reached while the queue stayed under the target, it grows by a twentieth (at
 * least one). Measuring the excess over that floor, not the whole time, keeps a slow disk
 * from reading as a queue. A count alone
 * (`limits.commandsInFlightMax`, the ceiling) lets the queue hold a second of work on a slow
 * machine; the target keeps what is admitted fast, whatever the machine.
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
  /** admit() would refuse now (nothing is counted or taken). */
  full(): boolean;
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

/** Interval over which the fastest command is compared with the delay target. */
const TARGET_INTERVAL_MS = 100;
/** The adaptive limit never drops below this many commands at once. */
export const ADAPTIVE_LIMIT_MIN = 16;
/** Intervals whose fastest command makes up the no-queue floor (10 s). */
const FLOOR_INTERVALS = 100;

/**
 * Admission by count (`max`, limits.commandsInFlightMax; 0: no ceiling), adapted to a queueing
 * delay target (`targetMs`, limits.admissionDelayTargetMs; 0: the count alone).
 */
export class InFlightCommands implements Admission {
  private count = 0;
  private limit: number;
  private intervalStartMs = Number.NEGATIVE_INFINITY;
  private fastestMs = Number.POSITIVE_INFINITY;
  private limitReached = false;
  /** The fastest command of each of the last FLOOR_INTERVALS intervals (a ring). */
  private readonly fastestOf: number[] = [];
  private fastestAt = 0;
  private serviceMs = 0;
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private admitted = 0;
  private refused = 0;
  /** Counts of the window before the current one, so the factor never rests on a few samples. */
  private previous = { admitted: 0, refused: 0 };
  private lastRefusal: { readonly limit: number; readonly error: RingstateError } | undefined;

  constructor(
    readonly max: number,
    private readonly nowMs: () => number = () => performance.now(),
    private readonly targetMs = 0,
  ) {
    this.limit = max > 0 ? max : Number.POSITIVE_INFINITY;
  }

  /** Commands admitted at once right now (the adaptive limit; the ceiling without a target). */
  get currentLimit(): number {
    return this.limit;
  }

  full(): boolean {
    return this.count >= this.limit;
  }

  admit(): RingstateError | undefined {
    this.roll();
    if (this.count >= this.limit) {
      this.refused += 1;
      this.limitReached = true;
      return this.refusal();
    }
    this.admitted += 1;
    this.count += 1;
    return undefined;
  }

  release(elapsedMs: number): void {
    this.count = Math.max(0, this.count - 1);
    if (!Number.isFinite(elapsedMs) || elapsedMs < 0) return;
    this.serviceMs = this.serviceMs === 0 ? elapsedMs : this.serviceMs + SMOOTHING * (elapsedMs - this.serviceMs);
    if (this.targetMs > 0) this.adapt(elapsedMs);
  }

  /** CoDel's signal: the fastest command of an interval above the target means a standing queue. */
  private adapt(elapsedMs: number): void {
    const now = this.nowMs();
    this.fastestMs = Math.min(this.fastestMs, elapsedMs);
    if (now - this.intervalStartMs < TARGET_INTERVAL_MS) return;
    const ceiling = this.max > 0 ? this.max : Number.POSITIVE_INFINITY;
    this.fastestOf[this.fastestAt] = this.fastestMs;
    this.fastestAt = (this.fastestAt + 1) % FLOOR_INTERVALS;
    const floorMs = Math.min(...this.fastestOf);
    // The floor is only as good as its window: a node overloaded for longer than 10 s has a
    // queue in its floor too, so ten times the target counts as a queue whatever the floor.
    if (this.fastestMs - floorMs > this.targetMs || this.fastestMs > 10 * this.targetMs) {
      const from = Number.isFinite(this.limit) ? this.limit : Math.max(ADAPTIVE_LIMIT_MIN, this.count);
      this.limit = Math.max(ADAPTIVE_LIMIT_MIN, Math.floor(from * 0.9));
    } else if (this.limitReached && Number.isFinite(this.limit)) {
      this.limit = Math.min(ceiling, this.limit + Math.max(1, Math.floor(this.limit / 20)));
    }
    this.intervalStartMs = now;
    this.fastestMs = Number.POSITIVE_INFINITY;
    this.limitReached = false;
  }

  /**
   * The refusal for the current limit and retry hint. Refusals are values nobody changes, so one
   * serves until either moves: an overloaded node refuses tens of thousands a second, and an
   * Error and its message built for each showed up in CPU profiles.
   */
  private refusal(): RingstateError {
    const retryAfterMs = this.retryHintMs();
    const last = this.lastRefusal;
    if (last !== undefined && last.limit === this.limit && last.error.retryAfterMs === retryAfterMs) return last.error;
    const why = this.limit < this.max ? `(limit ${this.limit}, adapted to limits.admissionDelayTargetMs ${this.targetMs})` : `(limits.commandsInFlightMax ${this.max})`;
    const error = new RingstateError('OVERLOADED', `node overloaded: ${this.limit} commands in flight ${why}; retry later`, { retryAfterMs });
    this.lastRefusal = { limit: this.limit, error };
    return error;
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
