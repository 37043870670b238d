/**
 * Rate limit for the peer layer's warnings. Each key (a kind of trouble and the peer or address
 * it concerns) logs at most once per interval, and all keys together at most `linesMax` lines
 * per interval: strangers knocking on the peer port from many addresses (every address a new
 * key) must not be able to fill the disk. What a full window suppressed is reported in one line
 * when the next window opens.
 */
export interface WarnLimiterSettings {
  readonly intervalMs: number;
  /** Lines per interval over all keys. */
  readonly linesMax: number;
  /** Keys remembered at once; past it the oldest are forgotten (they may log again). */
  readonly keysMax: number;
}

export type Warn = (fields: object, message: string) => void;

export class WarnLimiter {
  readonly #lastMs = new Map<string, number>();
  #windowStartMs = Number.NEGATIVE_INFINITY;
  #linesInWindow = 0;
  #suppressed = 0;

  constructor(
    private readonly settings: WarnLimiterSettings,
    private readonly clock: () => number,
    private readonly warn: Warn,
  ) {}

  /** Logs `message` unless `key` logged within the interval or this window is full. */
  record(key: string, fields: object, message: string): void {
    const now = this.clock();
    const last = this.#lastMs.get(key);
    if (last !== undefined && now - last < this.settings.intervalMs) return;
    if (now - this.#windowStartMs >= this.settings.intervalMs) this.#openWindow(now);
    if (this.#linesInWindow >= this.settings.linesMax) {
      this.#suppressed += 1;
      return;
    }
    this.#linesInWindow += 1;
    if (this.#lastMs.size >= this.settings.keysMax) {
      // Map iteration is insertion order: drop the oldest key.
      const oldest = this.#lastMs.keys().next().value;
      if (oldest !== undefined) this.#lastMs.delete(oldest);
    }
    this.#lastMs.delete(key);
    this.#lastMs.set(key, now);
    this.warn(fields, message);
  }

  #openWindow(now: number): void {
    if (this.#suppressed > 0) {
      this.warn({ suppressed: this.#suppressed, windowMs: this.settings.intervalMs }, 'peer warnings suppressed');
    }
    this.#windowStartMs = now;
    this.#linesInWindow = this.#suppressed > 0 ? 1 : 0;
    this.#suppressed = 0;
  }
}
