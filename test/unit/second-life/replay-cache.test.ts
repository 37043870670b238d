import { describe, expect, it } from 'vitest';
import { ReplayCache } from '../../../server/src/second-life/index.ts';

describe('second-life replay cache', () => {
  it('replay cache - a nonce is fresh once and replayed until it expires', () => {
    const cache = new ReplayCache({ perObjectMax: 4, objectsMax: 4 });
    expect(cache.check('o1', 'n1', 10_000, 0)).toBe('fresh');
    expect(cache.check('o1', 'n1', 10_000, 5_000)).toBe('replayed');
    expect(cache.check('o2', 'n1', 10_000, 5_000)).toBe('fresh');
    expect(cache.check('o1', 'n1', 20_000, 10_001)).toBe('fresh');
  });

  it('replay cache - a full object is refused, never made to forget a live nonce', () => {
    const cache = new ReplayCache({ perObjectMax: 3, objectsMax: 10 });
    for (const nonce of ['a', 'b', 'c']) expect(cache.check('o', nonce, 1_000, 0)).toBe('fresh');
    expect(cache.check('o', 'd', 1_000, 500)).toBe('object-full');
    expect(cache.check('o', 'a', 1_000, 500)).toBe('replayed');
    // Once the old ones expire there is room again.
    expect(cache.check('o', 'd', 3_000, 1_001)).toBe('fresh');
    expect(cache.nonceCount).toBe(1);
  });

  it('replay cache - the object bound refuses new objects while every slot is live, and sweeping frees them', () => {
    const cache = new ReplayCache({ perObjectMax: 3, objectsMax: 2 });
    expect(cache.check('o1', 'n', 1_000, 0)).toBe('fresh');
    expect(cache.check('o2', 'n', 2_000, 0)).toBe('fresh');
    expect(cache.check('o3', 'n', 2_000, 500)).toBe('cache-full');
    expect(cache.check('o3', 'n', 2_000, 1_000)).toBe('fresh');
    expect(cache.objectCount).toBe(2);
    expect(cache.sweep(2_000)).toBe(2);
    expect(cache.objectCount).toBe(0);
  });
});
