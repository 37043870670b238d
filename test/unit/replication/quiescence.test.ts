/**
 * Quiescence (group.ts, "Quiescence"): an idle partition stops its heartbeats once every
 * replica holds its whole log, node-level liveness stands in for them, and anything that needs
 * the group wakes it at once. Safety never rests on it; these tests are about liveness: no
 * messages while idle, and every way an owner can vanish still ends in a new owner.
 */
import { describe, expect, it } from 'vitest';
import { Harness, type InFlight } from './harness.ts';

/** Counts the messages delivered while `run` runs, by type. */
function traffic(h: Harness, run: () => void): Map<string, number> {
  const counts = new Map<string, number>();
  h.onDeliver = (item: InFlight) => counts.set(item.message.type, (counts.get(item.message.type) ?? 0) + 1);
  run();
  h.onDeliver = null;
  return counts;
}

function quiescedEverywhere(h: Harness, ids: readonly string[], partition = 0): boolean {
  return ids.every((id) => h.status(id, partition).quiesced);
}

const ids = ['a', 'b', 'c'];

describe('quiescence', () => {
  it('quiescence - an idle partition stops sending messages, and a command wakes it and commits', () => {
    const h = new Harness(ids, { liveness: true });
    const owner = h.waitForOwner();
    expect(h.core(owner).propose(0, 'first').ok).toBe(true);
    h.advanceUntil(() => quiescedEverywhere(h, ids), 2000);
    const idle = traffic(h, () => h.advance(5000));
    expect([...idle.values()].reduce((sum, count) => sum + count, 0)).toBe(0);

    expect(h.core(owner).propose(0, 'second').ok).toBe(true);
    expect(h.status(owner).quiesced).toBe(false);
    h.advanceUntil(() => ids.every((id) => h.committedPayloads(id).includes('second')), 1000);
    // And it goes quiet again.
    h.advanceUntil(() => quiescedEverywhere(h, ids), 2000);
    expect(h.readyOwner()).toBe(owner);
  });

  it('quiescence - without node-level liveness a group never quiesces (heartbeats as before)', () => {
    const h = new Harness(ids);
    h.waitForOwner();
    h.advance(1000);
    const idle = traffic(h, () => h.advance(1000));
    expect(idle.get('heartbeat') ?? 0).toBeGreaterThan(0);
    expect(ids.some((id) => h.status(id).quiesced)).toBe(false);
  });

  it('quiescence - a crashed quiesced owner is replaced within the failover bound', () => {
    const h = new Harness(ids, { liveness: true });
    const first = h.waitForOwner();
    h.advanceUntil(() => quiescedEverywhere(h, ids), 2000);
    h.crash(first);
    const crashedAtMs = h.nowMs;
    const second = h.waitForOwner(0, 5000);
    expect(second).not.toBe(first);
    // The oracle reports the crash at once; production adds the failure detector's timeout.
    expect(h.nowMs - crashedAtMs).toBeLessThan(1000);
  });

  it('quiescence - an owner that restarts before its replicas notice is re-elected or replaced (it asks for votes, which ends its lease)', () => {
    const h = new Harness(ids, { liveness: true });
    const first = h.waitForOwner();
    expect(h.core(first).propose(0, 'kept').ok).toBe(true);
    h.advanceUntil(() => quiescedEverywhere(h, ids), 2000);
    h.crash(first);
    h.restart(first, { replicaSet: ids });
    // Same session as before the restart: the replicas have no way to see it went away.
    h.starts.set(first, h.starts.get(first)! - 1);
    const restartedAtMs = h.nowMs;
    const owner = h.waitForOwner(0, 5000);
    // Its first pre-vote ends the replicas' lease (an election timeout after it restarted), so
    // no second timeout passes before someone wins (seeded: 540 ms with the rule, 1,050 without).
    expect(h.nowMs - restartedAtMs).toBeLessThan(h.core(first).settings.electionTimeoutMaxMs + 200);
    expect(h.status(owner).epoch).toBeGreaterThan(h.status(first).epoch - 1);
    expect(h.core(owner).propose(0, 'after').ok).toBe(true);
    h.advanceUntil(() => ids.every((id) => h.committedPayloads(id).includes('after')), 2000);
    expect(h.committedPayloads(owner)).toContain('kept');
  });

  it('quiescence - an isolated quiesced owner steps down and the others elect a new one; healing rejoins it', () => {
    const h = new Harness(ids, { liveness: true });
    const first = h.waitForOwner();
    h.advanceUntil(() => quiescedEverywhere(h, ids), 2000);
    h.isolate(first);
    h.advanceUntil(() => {
      const owner = h.readyOwner();
      return owner !== null && owner !== first;
    }, 3000);
    h.advanceUntil(() => h.status(first).role !== 'owner', 2000);
    h.heal();
    const owner = h.readyOwner() as string;
    expect(h.core(owner).propose(0, 'healed').ok).toBe(true);
    h.advanceUntil(() => ids.every((id) => h.committedPayloads(id).includes('healed')), 3000);
  });

  it('quiescence - a replica that restarts with a wiped disk wakes the owner and is fenced and readmitted', () => {
    const h = new Harness(ids, { liveness: true });
    const owner = h.waitForOwner();
    expect(h.core(owner).propose(0, 'before').ok).toBe(true);
    h.advanceUntil(() => quiescedEverywhere(h, ids), 2000);
    const replica = ids.find((id) => id !== owner) as string;
    h.crash(replica);
    h.restart(replica, { wipe: true, replicaSet: ids });
    h.advanceUntil(() => !h.status(replica).amnesiac && h.committedPayloads(replica).includes('before'), 5000);
    h.advanceUntil(() => quiescedEverywhere(h, ids), 3000);
    expect(h.readyOwner()).toBe(owner);
  });

  it('quiescence - a replica that missed the quiesce heartbeat wakes the owner instead of taking over', () => {
    const h = new Harness(ids, { liveness: true });
    const owner = h.waitForOwner();
    const replica = ids.find((id) => id !== owner) as string;
    h.lose = (item) => item.to === replica && item.message.type === 'heartbeat' && item.message.quiesce;
    h.advanceUntil(() => h.status(owner).quiesced, 2000);
    h.lose = null;
    expect(h.status(replica).quiesced).toBe(false);
    // The replica's election timer runs out; its pre-vote wakes the owner, whose lease holds.
    h.advanceUntil(() => quiescedEverywhere(h, ids), 5000);
    expect(h.readyOwner()).toBe(owner);
  });
});
