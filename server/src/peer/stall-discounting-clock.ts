/**
 * The clock of this node's failure detection (the replication core's election and
 * check-quorum timers, and the peer layer's failure detector): wall time, except that a
 * stall of this process counts for at most `stepMaxMs`.
 *
 * Why: timeouts are meant to detect *other* nodes' silence. When this node's own event loop
 * stalls (a long GC pause, a CPU-starved machine under overload, SIGSTOP), its timers fire
 * late and, read against wall time, every peer looks silent: replicas start elections and
 * owners step down over heartbeats that are only waiting in the socket buffer. Overload then
 * turns into ownership churn, which costs more work and serves nothing. With this clock a
 * stalled node first reads what arrived during the stall and only then sees time pass.
 *
 * Safety does not rest on time (epochs fence owners, reads confirm with a quorum), so a
 * clock that runs slow after stalls only delays this node's own suspicions. Healthy nodes keep
 * wall-clock time, so a node that really stops (kill -9, SIGSTOP) is still replaced on time.
 *
 * A gap is only a stall if readings are normally closer than `stepMaxMs`: `start()` reads the
 * clock on a short interval of its own, so that holds whatever the readers' own intervals are
 * (the peer layer alone ticks every 80 ms by default, before the replication driver starts).
 */
export class StallDiscountingClock {
  readonly #wall: () => number;
  readonly #stepMaxMs: number;
  readonly #onStall: (stalledMs: number) => void;
  #lastWallMs: number;
  #nowMs: number;
  #sampler: ReturnType<typeof setInterval> | undefined;

  constructor(options: { wall: () => number; stepMaxMs: number; onStall?: (stalledMs: number) => void }) {
    this.#wall = options.wall;
    this.#stepMaxMs = options.stepMaxMs;
    this.#onStall = options.onStall ?? (() => {});
    this.#lastWallMs = this.#wall();
    this.#nowMs = this.#lastWallMs;
  }

  /** Reads the clock every `intervalMs` (well below `stepMaxMs`) until `stop()`. */
  start(intervalMs: number): void {
    if (this.#sampler !== undefined) return;
    this.#sampler = setInterval(() => this.now(), intervalMs);
    this.#sampler.unref?.();
  }

  stop(): void {
    if (this.#sampler !== undefined) clearInterval(this.#sampler);
    this.#sampler = undefined;
  }

  /** The current time: the previous reading plus the wall time since, at most `stepMaxMs`. */
  now(): number {
    const wall = this.#wall();
    const step = Math.max(0, wall - this.#lastWallMs);
    this.#lastWallMs = wall;
    if (step > this.#stepMaxMs) this.#onStall(step);
    this.#nowMs += Math.min(step, this.#stepMaxMs);
    return this.#nowMs;
  }
}
