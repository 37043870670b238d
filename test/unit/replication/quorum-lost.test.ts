/**
 * A replica that knows its partition has no quorum says so in its status (`quorumLost`), so the
 * node answers NO_QUORUM at once instead of waiting for an owner that cannot be elected.
 */
import { describe, expect, it } from 'vitest';
import { NoQuorumError } from '../../../server/src/replication/index.ts';
import { Harness } from './harness.ts';

const ids = ['a', 'b', 'c'];

describe('quorum lost', () => {
  it('quorum - an owner cut off from both replicas reports quorumLost within one election timeout and refuses with NO_QUORUM', () => {
    const h = new Harness(ids);
    const leader = h.waitForOwner();
    expect(h.status(leader).quorumLost).toBe(false);
    h.isolate(leader);
    const { electionTimeoutMinMs } = h.core(leader).settings;
    h.advance(electionTimeoutMinMs + 50);
    expect(h.status(leader).role).not.toBe('owner');
    expect(h.status(leader).quorumLost).toBe(true);
    const refused = h.core(leader).propose(0, 'x');
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error).toBeInstanceOf(NoQuorumError);
    // It stays so while cut off, and clears when it hears an owner again.
    h.advance(5_000);
    expect(h.status(leader).quorumLost).toBe(true);
    h.heal();
    h.advance(3_000);
    const owner = h.readyOwner();
    expect(owner).not.toBeNull();
    for (const id of ids) expect(h.status(id).quorumLost).toBe(false);
  });

  it('quorum - a follower whose owner and other replica are gone reports quorumLost after its first failed pre-vote round', () => {
    const h = new Harness(ids);
    const leader = h.waitForOwner();
    h.advance(1_000);
    const [survivor] = ids.filter((id) => id !== leader) as [string];
    for (const id of ids) if (id !== survivor) h.isolate(id);
    expect(h.status(survivor).quorumLost).toBe(false);
    const { electionTimeoutMaxMs } = h.core(survivor).settings;
    // One election timeout to start a pre-vote round, one more for it to fail.
    h.advance(2 * electionTimeoutMaxMs + 50);
    expect(h.status(survivor).quorumLost).toBe(true);
    expect(h.status(survivor).owner).toBeNull();
  });

  it('quorum - a healthy cluster never reports quorumLost', () => {
    const h = new Harness(ids);
    h.waitForOwner();
    for (let step = 0; step < 20; step += 1) {
      h.advance(250);
      for (const id of ids) expect(h.status(id).quorumLost).toBe(false);
    }
  });
});
