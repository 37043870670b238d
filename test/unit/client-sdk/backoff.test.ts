import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, fullJitterDelayMs } from '../../../client-sdk/src/index.ts';

// Property tests print their seed; rerun a failure with FC_SEED=<seed>.
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`client-sdk backoff: fast-check seed ${seed}`);

const settingsArb = fc
  .record({ baseMs: fc.integer({ min: 1, max: 60_000 }), capMs: fc.integer({ min: 1, max: 600_000 }) })
  .filter(({ baseMs, capMs }) => baseMs <= capMs);
const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

describe('client-sdk backoff', () => {
  it('backoff - full-jitter delays stay within [0, min(cap, base * 2^retry))', () => {
    fc.assert(
      fc.property(settingsArb, fc.integer({ min: 0, max: 10_000 }), randomArb, (settings, retry, random) => {
        const delayMs = fullJitterDelayMs(settings, retry, () => random);
        const ceilingMs = Math.min(settings.capMs, settings.baseMs * 2 ** retry);
        expect(Number.isInteger(delayMs)).toBe(true);
        expect(delayMs).toBeGreaterThanOrEqual(0);
        expect(delayMs).toBeLessThanOrEqual(settings.capMs);
        expect(delayMs < ceilingMs || ceilingMs === 0).toBe(true);
      }),
      { seed, numRuns: 2_000 },
    );
  });

  it('backoff - the ceiling never shrinks as retries grow and ends at the cap', () => {
    fc.assert(
      fc.property(settingsArb, fc.integer({ min: 0, max: 2_000 }), (settings, retry) => {
        expect(backoffCeilingMs(settings, retry + 1)).toBeGreaterThanOrEqual(backoffCeilingMs(settings, retry));
        expect(backoffCeilingMs(settings, 2_000)).toBe(settings.capMs);
      }),
      { seed, numRuns: 1_000 },
    );
  });

  it('backoff - delays spread over the whole window (jitter, not a fixed step)', () => {
    const settings = { baseMs: 1_000, capMs: 1_000 };
    expect(fullJitterDelayMs(settings, 0, () => 0)).toBe(0);
    expect(fullJitterDelayMs(settings, 0, () => 0.999_999)).toBe(999);
    expect(fullJitterDelayMs(settings, 5, () => 0.5)).toBe(500);
  });
});
