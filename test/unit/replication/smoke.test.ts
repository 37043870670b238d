import { describe, expect, it } from 'vitest';
import { Harness } from './harness.ts';

describe('smoke', () => {
  it('elects and commits', () => {
    const h = new Harness(['a', 'b', 'c']);
    const leader = h.waitForLeader();
    const r = h.core(leader).propose(0, 'x');
    expect(r.ok).toBe(true);
    h.processAll();
    h.deliverAll();
    h.advance(200);
    for (const id of ['a', 'b', 'c']) expect(h.committedPayloads(id)).toEqual(['x']);
  });
});
