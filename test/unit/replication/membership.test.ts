import { describe, expect, it } from 'vitest';
import { planMembershipStep, quorumSize } from '../../../server/src/replication/index.ts';
import { Harness } from './harness.ts';

const caughtUp = (): boolean => true;
const lagging = (): boolean => false;

describe('membership', () => {
  it('membership - quorum is a strict majority of voters', () => {
    expect([1, 2, 3, 4, 5].map(quorumSize)).toEqual([1, 2, 2, 3, 3]);
  });

  it('membership - the plan adds a learner, promotes it when caught up, then removes the unwanted voter', () => {
    const start = { voters: ['a', 'b', 'c'], learners: [] };
    const desired = ['a', 'b', 'd'];
    const add = planMembershipStep(start, desired, 'a', caughtUp);
    expect(add).toEqual({ kind: 'change', membership: { voters: ['a', 'b', 'c'], learners: ['d'] } });
    if (add.kind !== 'change') return;
    expect(planMembershipStep(add.membership, desired, 'a', lagging)).toEqual({ kind: 'none' });
    const promote = planMembershipStep(add.membership, desired, 'a', caughtUp);
    expect(promote).toEqual({ kind: 'change', membership: { voters: ['a', 'b', 'c', 'd'], learners: [] } });
    if (promote.kind !== 'change') return;
    expect(planMembershipStep(promote.membership, desired, 'a', caughtUp)).toEqual({
      kind: 'change',
      membership: { voters: ['a', 'b', 'd'], learners: [] },
    });
  });

  it('membership - the plan never removes a voter while a wanted node is still a learner', () => {
    const membership = { voters: ['a', 'b', 'c'], learners: ['d'] };
    expect(planMembershipStep(membership, ['a', 'b', 'd'], 'a', lagging)).toEqual({ kind: 'none' });
  });

  it('membership - the plan hands leadership away before removing the owner itself', () => {
    const membership = { voters: ['a', 'b', 'c', 'd'], learners: [] };
    expect(planMembershipStep(membership, ['b', 'c', 'd'], 'a', caughtUp)).toEqual({ kind: 'transfer', target: 'b' });
    expect(planMembershipStep(membership, ['b', 'c', 'd'], 'a', lagging)).toEqual({ kind: 'none' });
  });

  it('membership - the plan drops unwanted learners and shrinks to a smaller replica set', () => {
    expect(planMembershipStep({ voters: ['a', 'b'], learners: ['x'] }, ['a', 'b'], 'a', caughtUp)).toEqual({
      kind: 'change',
      membership: { voters: ['a', 'b'], learners: [] },
    });
    expect(planMembershipStep({ voters: ['a', 'b', 'c'], learners: [] }, ['a', 'b'], 'a', caughtUp)).toEqual({
      kind: 'change',
      membership: { voters: ['a', 'b'], learners: [] },
    });
  });

  it('membership - replacing a replica moves the data to the new node and keeps every write', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(2000);
    for (const payload of ['x1', 'x2', 'x3']) h.core(h.readyOwner() as string).propose(0, payload);
    h.processAll();
    h.advance(200);
    h.addNode('d');
    for (const id of ['a', 'b', 'c', 'd']) h.core(id).setReplicaSet(0, ['a', 'b', 'd']);
    h.advanceUntil(() => {
      const owner = h.readyOwner();
      if (owner === null) return false;
      const status = h.status(owner);
      return status.membership.voters.length === 3 && status.membership.voters.includes('d') && !status.membershipPending;
    }, 10_000);
    h.advance(500);
    const leader = h.readyOwner() as string;
    expect([...h.status(leader).membership.voters].sort()).toEqual(['a', 'b', 'd']);
    expect(h.status(leader).membership.learners).toEqual([]);
    expect(h.committedPayloads('d')).toEqual(['x1', 'x2', 'x3']);
    // The changes went through the log one server at a time.
    const changes = (h.node('d').applied.get(0) ?? []).flatMap((entry) => (entry.kind === 'membership' ? [entry.membership] : []));
    expect(changes.map((membership) => `${membership.voters.join(',')}/${membership.learners.join(',')}`)).toEqual([
      'a,b,c/',
      'a,b,c/d',
      'a,b,c,d/',
      'a,b,d/',
    ]);
    // The removed node no longer votes: the partition keeps working without it.
    h.crash('c');
    expect(h.core(leader).propose(0, 'after').ok).toBe(true);
    h.processAll();
    h.advance(200);
    expect(h.committedPayloads('d')).toContain('after');
  });

  it('membership - removing the owner hands leadership to a remaining replica first', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(2000);
    const owner = h.readyOwner() as string;
    const remaining = ['a', 'b', 'c'].filter((id) => id !== owner);
    h.addNode('d');
    for (const id of ['a', 'b', 'c', 'd']) h.core(id).setReplicaSet(0, [...remaining, 'd']);
    h.advanceUntil(() => {
      const leader = h.readyOwner();
      return leader !== null && leader !== owner && !h.status(leader).membership.voters.includes(owner) && !h.status(leader).membershipPending;
    }, 15_000);
    const leader = h.readyOwner() as string;
    expect([...h.status(leader).membership.voters].sort()).toEqual([...remaining, 'd'].sort());
    expect(h.status(owner).role).not.toBe('owner');
  });
});
