import { describe, expect, it } from 'vitest';
import {
  NoQuorumError,
  NotOwnerError,
  UnavailableError,
  type Message,
} from '../../../server/src/replication/index.ts';
import { forceCampaign, Harness, inFlightOfType, type Payload } from './harness.ts';

const ids = ['a', 'b', 'c'];

function others(owner: string): string[] {
  return ids.filter((id) => id !== owner);
}

describe('fencing', () => {
  it('fencing - replicas refuse appends from an older epoch and the deposed owner steps down', () => {
    const h = new Harness(ids);
    const leader = h.waitForOwner();
    const [follower] = others(leader) as [string];
    const oldEpoch = h.status(leader).epoch;
    const stale: Message<Payload> = {
      type: 'append',
      partition: 0,
      epoch: oldEpoch,
      prevPosition: h.status(leader).lastPosition,
      prevEpoch: oldEpoch,
      entries: [{ position: h.status(leader).lastPosition + 1, epoch: oldEpoch, kind: 'command', payload: 'stale' }],
      commit: 0,
      readmit: 0,
    };
    // A new owner takes over; the old one is cut off meanwhile.
    h.isolate(leader);
    forceCampaign(h, follower);
    h.deliverAll();
    h.advance(100);
    expect(h.status(follower).ready).toBe(true);
    const before = h.status(follower).lastPosition;
    h.core(follower).step(leader, stale);
    h.process(follower);
    expect(h.status(follower).lastPosition).toBe(before);
    const answer = inFlightOfType(h, 'append-response', { from: follower, to: leader }).at(-1)?.message;
    expect(answer).toMatchObject({ success: false, epoch: h.status(follower).epoch });
    // When the answer reaches the old owner, it learns of the newer epoch and steps down.
    h.heal();
    h.deliverAll();
    expect(h.status(leader).role).toBe('follower');
    expect(h.status(leader).epoch).toBe(h.status(follower).epoch);
  });

  it('fencing - check-quorum: an isolated owner steps down and refuses writes with NO_QUORUM', () => {
    const h = new Harness(ids);
    const leader = h.waitForOwner();
    h.isolate(leader);
    h.advance(h.core(leader).settings.electionTimeoutMinMs + 50);
    expect(h.status(leader).role).not.toBe('owner');
    const refused = h.core(leader).propose(0, 'x');
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error).toBeInstanceOf(NoQuorumError);
      expect(refused.error.code).toBe('NO_QUORUM');
      expect(refused.error.retryable).toBe(true);
    }
    // The majority side elects a new owner and serves.
    const majorityOwner = h.waitForOwner(0, 3000);
    expect(majorityOwner).not.toBe(leader);
    expect(h.core(majorityOwner).propose(0, 'y').ok).toBe(true);
  });

  it('fencing - pre-vote: a replica that was cut off cannot depose a healthy owner when it returns', () => {
    const h = new Harness(ids);
    const owner = h.waitForOwner();
    h.advance(3000);
    const stableOwner = h.readyOwner() as string;
    const [outcast] = others(stableOwner) as [string];
    const epoch = h.status(stableOwner).epoch;
    h.isolate(outcast);
    h.advance(10_000);
    // Pre-vote rounds failed, so its epoch did not run ahead.
    expect(h.status(outcast).epoch).toBe(epoch);
    h.heal();
    h.advance(3000);
    expect(h.readyOwner()).toBe(stableOwner);
    expect(h.status(stableOwner).epoch).toBe(epoch);
    expect(owner).toBeDefined();
  });

  it('fencing - a replica ignores vote requests while it hears from its owner (leader lease)', () => {
    const h = new Harness(ids);
    const owner = h.waitForOwner();
    const [follower, other] = others(owner) as [string, string];
    const epoch = h.status(follower).epoch;
    h.core(follower).step(other, {
      type: 'vote',
      partition: 0,
      epoch: epoch + 1,
      lastPosition: 1000,
      lastEpoch: epoch,
      transfer: false,
    });
    h.process(follower);
    expect(h.status(follower).epoch).toBe(epoch);
    expect(inFlightOfType(h, 'vote-response', { from: follower })).toHaveLength(0);
  });

  it('fencing - a follower refuses proposals with NotOwnerError naming the owner', () => {
    const h = new Harness(ids);
    const owner = h.waitForOwner();
    const [follower] = others(owner) as [string];
    const result = h.core(follower).propose(0, 'x');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toBeInstanceOf(NotOwnerError);
      expect(result.error.condition).toBe('NOT_OWNER');
      expect(result.error.code).toBe('UNAVAILABLE');
      expect((result.error as NotOwnerError).ownerHint).toBe(owner);
    }
  });

  it('fencing - a new owner is not ready, and refuses work, until its own no-op commits', () => {
    const h = new Harness(ids);
    h.waitForOwner();
    h.advance(3000);
    const leader = h.readyOwner() as string;
    const [next] = others(leader) as [string];
    h.isolate(next);
    forceCampaign(h, next);
    h.heal();
    // Deliver only the vote exchange: the new owner has won but its no-op is not committed.
    for (let round = 0; round < 4; round += 1) {
      for (const item of h.inFlight.filter((message) => message.message.type.startsWith('vote'))) h.deliver(item);
    }
    expect(h.status(next).role).toBe('owner');
    expect(h.status(next).ready).toBe(false);
    const early = h.core(next).propose(0, 'x');
    expect(early.ok).toBe(false);
    if (!early.ok) expect(early.error).toBeInstanceOf(UnavailableError);
    const read = h.core(next).readIndex(0, 1);
    expect(read.ok).toBe(false);
    h.deliverAll();
    expect(h.status(next).ready).toBe(true);
    const change = h.node(next).ownership.at(-1);
    expect(change).toMatchObject({ role: 'owner', ready: true, reason: 'ready' });
  });
});
