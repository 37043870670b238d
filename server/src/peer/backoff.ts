/**
 * Reconnect delays: exponential growth from `minMs` to `maxMs` with "equal jitter" (half
 * fixed, half random), so nodes that lost the same peer do not redial it in lockstep, and a
 * retry never comes sooner than half the nominal delay.
 */
import { assert } from '../replication/index.ts';

export interface BackoffSettings {
  readonly minMs: number;
  readonly maxMs: number;
}

/** Delay before retry number `attempt` (0 for the first retry). `random` returns [0, 1). */
export function backoffDelayMs(attempt: number, settings: BackoffSettings, random: () => number): number {
  assert(Number.isInteger(attempt) && attempt >= 0, 'attempt must be a non-negative integer');
  assert(settings.minMs > 0 && settings.maxMs >= settings.minMs, 'backoff needs 0 < minMs <= maxMs');
  // Cap the exponent: 2^30 times any sane minMs is already far beyond maxMs.
  const nominalMs = Math.min(settings.maxMs, settings.minMs * 2 ** Math.min(attempt, 30));
  const half = nominalMs / 2;
  return Math.round(half + half * random());
}
