import { describe, expect, it } from 'vitest';
import { NotOwnerError } from '../../../server/src/replication/index.ts';
import { Harness } from './harness.ts';

describe('read-index', () => {
  it('read-index - a read is released with the commit position once a quorum confirms ownership', () => {
    const h = new Harness(['a', 'b', 'c']);
    const owner = h.waitForOwner();
    h.core(owner).propose(0, 'x');
    h.processAll();
    h.deliverAll();
    const commit = h.status(owner).commit;
    expect(h.core(owner).readIndex(0, 7).ok).toBe(true);
    h.process(owner);
    // Nothing until heartbeat answers come back.
    expect(h.node(owner).readStates).toEqual([]);
    h.deliverAll();
    expect(h.node(owner).readStates).toEqual([{ partition: 0, requestId: 7, position: commit }]);
  });

  it('read-index - an owner cut off from its replicas cannot confirm reads and fails them when it steps down', () => {
    const h = new Harness(['a', 'b', 'c']);
    const owner = h.waitForOwner();
    h.isolate(owner);
    expect(h.core(owner).readIndex(0, 1).ok).toBe(true);
    h.process(owner);
    h.advance(200);
    expect(h.node(owner).readStates).toEqual([]);
    h.advance(1000);
    const [state] = h.node(owner).readStates;
    expect(state !== undefined && 'error' in state && state.error).toBeInstanceOf(NotOwnerError);
  });

  it('read-index - followers refuse reads with a hint to the owner', () => {
    const h = new Harness(['a', 'b', 'c']);
    const owner = h.waitForOwner();
    const follower = ['a', 'b', 'c'].find((id) => id !== owner) as string;
    const result = h.core(follower).readIndex(0, 1);
    expect(result.ok).toBe(false);
    if (!result.ok) expect((result.error as NotOwnerError).ownerHint).toBe(owner);
  });
});
