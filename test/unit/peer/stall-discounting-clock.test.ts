import { describe, expect, it } from 'vitest';
import { StallDiscountingClock } from '../../../server/src/peer/stall-discounting-clock.ts';

describe('stall-discounting clock', () => {
  it('stall-discounting clock - follows wall time in small steps and counts a stall as one bounded step', () => {
    let wall = 1_000;
    const stalls: number[] = [];
    const clock = new StallDiscountingClock({ wall: () => wall, stepMaxMs: 50, onStall: (ms) => stalls.push(ms) });
    expect(clock.now()).toBe(1_000);
    for (let step = 0; step < 10; step += 1) {
      wall += 20;
      clock.now();
    }
    expect(clock.now()).toBe(1_200);
    // A 2 s stall (GC, SIGSTOP, a starved event loop) advances the clock by 50 ms only.
    wall += 2_000;
    expect(clock.now()).toBe(1_250);
    expect(stalls).toEqual([2_000]);
    // Afterwards the clock runs at wall speed again, behind wall time by the discounted stall.
    wall += 30;
    expect(clock.now()).toBe(1_280);
  });

  it('stall-discounting clock - never goes backwards when the wall clock does', () => {
    let wall = 5_000;
    const clock = new StallDiscountingClock({ wall: () => wall, stepMaxMs: 50 });
    wall -= 100;
    expect(clock.now()).toBe(5_000);
    wall += 10;
    expect(clock.now()).toBe(5_010);
  });
});
