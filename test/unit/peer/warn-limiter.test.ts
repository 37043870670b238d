/**
 * The peer layer's warnings are bounded per key and in all: strangers knocking on the peer port
 * from many addresses (each a new key) cannot fill the disk (docs/security.md).
 */
import { describe, expect, it } from 'vitest';
import { WarnLimiter } from '../../../server/src/peer/warn-limiter.ts';

function setup(linesMax = 5) {
  let now = 0;
  const lines: Array<{ fields: object; message: string }> = [];
  const limiter = new WarnLimiter({ intervalMs: 10_000, linesMax, keysMax: 100 }, () => now, (fields, message) => lines.push({ fields, message }));
  return { limiter, lines, advance: (ms: number) => (now += ms) };
}

describe('peer warn limiter', () => {
  it('warnings - one key logs once per interval', () => {
    const { limiter, lines, advance } = setup();
    for (let n = 0; n < 10; n += 1) limiter.record('stranger:10.0.0.1', {}, 'refused');
    expect(lines).toHaveLength(1);
    advance(10_000);
    limiter.record('stranger:10.0.0.1', {}, 'refused');
    expect(lines).toHaveLength(2);
  });

  it('warnings - a thousand addresses in one interval log linesMax lines, then one summary with the suppressed count', () => {
    const { limiter, lines, advance } = setup(5);
    for (let n = 0; n < 1_000; n += 1) limiter.record(`stranger:10.0.${n >> 8}.${n & 255}`, {}, 'refused');
    expect(lines).toHaveLength(5);
    advance(10_000);
    limiter.record('stranger:10.9.9.9', {}, 'refused');
    expect(lines.slice(5)).toEqual([
      { fields: { suppressed: 995, windowMs: 10_000 }, message: 'peer warnings suppressed' },
      { fields: {}, message: 'refused' },
    ]);
  });

  it('warnings - past keysMax the oldest key is forgotten, not the whole table', () => {
    const { limiter, lines } = setup(1_000);
    for (let n = 0; n < 101; n += 1) limiter.record(`k${n}`, {}, 'x');
    expect(lines).toHaveLength(101);
    // k0 was forgotten and may log again; k50 is still remembered.
    limiter.record('k50', {}, 'x');
    expect(lines).toHaveLength(101);
    limiter.record('k0', {}, 'x');
    expect(lines).toHaveLength(102);
  });
});
