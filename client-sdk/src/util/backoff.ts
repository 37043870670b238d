/**
 * Full-jitter exponential backoff (see "Exponential Backoff And Jitter", AWS Architecture Blog).
 *
 * The delay before retry number `retry` (0-based) is uniform in [0, min(capMs, baseMs * 2^retry)).
 * Full jitter matters here: when a node dies, thousands of clients lose their connection in the
 * same instant, and without jitter they would all reconnect in the same instants too.
 */
export interface BackoffSettings {
  /** Upper bound of the first delay. */
  readonly baseMs: number;
  /** No delay is ever longer than this. */
  readonly capMs: number;
}

/** The largest delay `fullJitterDelayMs` can return for this retry. */
export function backoffCeilingMs(settings: BackoffSettings, retry: number): number {
  // 2^retry overflows to Infinity for large retries, which Math.min turns back into the cap.
  return Math.min(settings.capMs, settings.baseMs * 2 ** Math.max(0, retry));
}

/** `random` returns a number in [0, 1), like Math.random. */
export function fullJitterDelayMs(settings: BackoffSettings, retry: number, random: () => number): number {
  return Math.floor(random() * backoffCeilingMs(settings, retry));
}
