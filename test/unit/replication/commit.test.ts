import { describe, expect, it } from 'vitest';
import { ReplicationNode } from '../../../server/src/replication/index.ts';
import { MemoryStorage } from '../../../server/src/simulation/memory-storage.ts';
import { forceCampaign, Harness, inFlightOfType, loneNode, type InFlight, type Payload } from './harness.ts';

/** Delivers in-flight messages one at a time, skipping (dropping) those `drop` selects. */
function deliverExcept(h: Harness, drop: (item: InFlight) => boolean): void {
  for (let count = 0; h.inFlight.length > 0; count += 1) {
    if (count > 10_000) throw new Error('message storm');
    const item = h.inFlight[0] as InFlight;
    if (drop(item)) h.drop((other) => other === item);
    else h.deliver(item);
  }
}

describe('commit', () => {
  it('commit - an entry commits once durable on a majority, not before', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    const leader = h.readyOwner() as string;
    const [b, c] = ['a', 'b', 'c'].filter((id) => id !== leader) as [string, string];
    const result = h.core(leader).propose(0, 'x');
    expect(result.ok).toBe(true);
    const position = result.ok ? result.position : 0;
    h.process(leader);
    // Only the owner holds it: not committed.
    expect(h.status(leader).commit).toBeLessThan(position);
    // One follower stores it and answers: 2 of 3, committed.
    deliverExcept(h, (item) => item.to === c || item.from === c);
    expect(h.status(leader).commit).toBeGreaterThanOrEqual(position);
    expect(h.committedPayloads(leader)).toEqual(['x']);
    expect(h.status(b).lastPosition).toBeGreaterThanOrEqual(position);
  });

  it('commit - proposals made before the next Ready share one append per replica', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    const owner = h.readyOwner() as string;
    for (let index = 0; index < 5; index += 1) expect(h.core(owner).propose(0, `x${index}`).ok).toBe(true);
    h.process(owner);
    for (const follower of ['a', 'b', 'c'].filter((id) => id !== owner)) {
      const appends = inFlightOfType(h, 'append', { from: owner, to: follower });
      expect(appends).toHaveLength(1);
      expect(appends[0]?.message.type === 'append' && appends[0].message.entries.length).toBe(5);
    }
    h.deliverAll();
    h.advance(100);
    for (const id of ['a', 'b', 'c']) expect(h.committedPayloads(id)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4']);
  });

  it('commit - replicas hear of new commits at the next tick, one notice for several commits', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    const owner = h.readyOwner() as string;
    const followers = ['a', 'b', 'c'].filter((id) => id !== owner);
    for (const payload of ['x', 'y', 'z']) {
      h.core(owner).propose(0, payload);
      h.process(owner);
      h.deliverAll();
    }
    const committed = h.status(owner).commit;
    expect(h.committedPayloads(owner)).toEqual(['x', 'y', 'z']);
    // Committing sent nothing: the replicas only know what the appends carried.
    expect(h.inFlight).toHaveLength(0);
    for (const id of followers) expect(h.status(id).commit).toBeLessThan(committed);
    h.nowMs += 10;
    h.core(owner).tick(h.nowMs);
    h.process(owner);
    for (const id of followers) {
      const notices = inFlightOfType(h, 'append', { from: owner, to: id });
      expect(notices).toHaveLength(1);
      expect(notices[0]?.message.type === 'append' && notices[0].message.entries.length).toBe(0);
    }
    h.deliverAll();
    for (const id of followers) {
      expect(h.status(id).commit).toBe(committed);
      expect(h.committedPayloads(id)).toEqual(['x', 'y', 'z']);
    }
    // Nothing new to tell: the next tick sends no notice.
    h.nowMs += 10;
    h.core(owner).tick(h.nowMs);
    h.process(owner);
    expect(inFlightOfType(h, 'append')).toHaveLength(0);
  });

  it('commit - routine heartbeats skip replicas that appends reached within the interval, and resume when idle', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    const owner = h.readyOwner() as string;
    let heartbeats = 0;
    h.onDeliver = ({ from, message }) => {
      if (from === owner && message.type === 'heartbeat') heartbeats += 1;
    };
    // Busy: a proposal every tick for 500 ms (five heartbeat intervals).
    for (let index = 0; index < 50; index += 1) {
      h.core(owner).propose(0, `busy${index}`);
      h.advance(10);
    }
    expect(heartbeats).toBe(0);
    expect(h.readyOwner()).toBe(owner);
    // Idle: heartbeats again, every interval, to both replicas.
    h.advance(500);
    expect(heartbeats).toBeGreaterThanOrEqual(8);
    for (const id of ['a', 'b', 'c']) expect(h.committedPayloads(id)).toHaveLength(50);
  });

  it('commit - a commit move alone writes no hard state; a restart takes the commit from what was applied', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    const owner = h.readyOwner() as string;
    let hardStateWrites = 0;
    for (const id of ['a', 'b', 'c']) {
      const storage = h.node(id).storage;
      const write = storage.write.bind(storage);
      storage.write = (partitionWrite) => {
        if (partitionWrite.hardState !== undefined) hardStateWrites += 1;
        write(partitionWrite);
      };
    }
    for (let index = 0; index < 10; index += 1) {
      h.core(owner).propose(0, `x${index}`);
      h.advance(10);
    }
    h.advance(100);
    for (const id of ['a', 'b', 'c']) expect(h.committedPayloads(id)).toHaveLength(10);
    // Ten commits moved on every replica, and the epoch and votes did not change.
    expect(hardStateWrites).toBe(0);

    // The stored commit is now behind what the node applied (the LMDB store persists the
    // applied position with the applied entries); a restart must not refuse that state.
    const follower = ['a', 'b', 'c'].find((id) => id !== owner) as string;
    const storage = h.node(follower).storage;
    const stored = storage.hardState(0)?.commit ?? 0;
    const last = storage.lastPosition(0);
    expect(stored).toBeLessThan(last);
    storage.appliedPosition = () => last;
    const restarted = new ReplicationNode<Payload>({ nodeId: follower, partitionCount: 1, storage, random: () => 0, payloadBytes: (payload) => payload.length, nowMs: h.nowMs });
    expect(restarted.status(0).commit).toBe(last);
  });

  it('commit - a replica applies along with its next store write or after replicaApplyDelayMs; the owner applies at once', () => {
    const h = new Harness(['a', 'b', 'c'], { settings: { replicaApplyDelayMs: 60 } });
    h.waitForOwner();
    h.advance(3000);
    const owner = h.readyOwner() as string;
    const followers = ['a', 'b', 'c'].filter((id) => id !== owner);
    h.core(owner).propose(0, 'x');
    h.process(owner);
    h.deliverAll();
    expect(h.committedPayloads(owner)).toEqual(['x']);
    // The commit notice reaches the replicas: committed there, not applied yet.
    h.advance(10);
    for (const id of followers) {
      expect(h.status(id).commit).toBe(h.status(owner).commit);
      expect(h.committedPayloads(id)).toEqual([]);
    }
    h.advance(30);
    for (const id of followers) expect(h.committedPayloads(id)).toEqual([]);
    // The next entry is a store write anyway: 'x' is applied along with it.
    h.core(owner).propose(0, 'y');
    h.process(owner);
    h.deliverAll();
    for (const id of followers) expect(h.committedPayloads(id)).toEqual(['x']);
    expect(h.committedPayloads(owner)).toEqual(['x', 'y']);
    // Nothing else to write: 'y' is applied on its own once it waited 60 ms.
    h.advance(50);
    for (const id of followers) expect(h.committedPayloads(id)).toEqual(['x']);
    h.advance(30);
    for (const id of followers) expect(h.committedPayloads(id)).toEqual(['x', 'y']);
  });

  it('commit - an owner that steps down applies what it committed at once, whatever replicaApplyDelayMs says', () => {
    const h = new Harness(['a', 'b', 'c'], { settings: { replicaApplyDelayMs: 10_000 } });
    h.waitForOwner();
    h.advance(3000);
    const leader = h.readyOwner() as string;
    h.core(leader).propose(0, 'x');
    h.process(leader);
    // The replicas store 'x' and answer; the owner takes the answers in but has not drained yet.
    for (const item of inFlightOfType(h, 'append', { from: leader })) h.deliver(item);
    for (const item of inFlightOfType(h, 'append-response', { to: leader })) {
      h.inFlight = h.inFlight.filter((other) => other !== item);
      h.core(leader).step(item.from, item.message);
    }
    const committed = h.status(leader).commit;
    expect(h.status(leader).applied).toBeLessThan(committed);
    // Then it hears nothing for longer than the check-quorum window and steps down.
    h.nowMs += 600;
    h.core(leader).tick(h.nowMs);
    expect(h.status(leader).role).toBe('follower');
    h.process(leader);
    expect(h.committedPayloads(leader)).toEqual(['x']);
    expect(h.status(leader).applied).toBe(committed);
  });

  it("commit - the owner's own copy counts only once its Ready was persisted", () => {
    const storage = new MemoryStorage<Payload>();
    const node = new ReplicationNode<Payload>({
      nodeId: 'solo',
      partitionCount: 1,
      storage,
      random: () => 0,
      payloadBytes: (payload) => payload.length,
      nowMs: 0,
    });
    node.bootstrap(0, ['solo']);
    const drain = (): void => {
      while (node.hasReady()) {
        const ready = node.ready();
        for (const write of ready.writes) storage.write(write);
        storage.sync();
        node.advance(ready);
      }
    };
    drain();
    for (let nowMs = 10; node.status(0).ready === false; nowMs += 10) {
      node.tick(nowMs);
      drain();
    }
    const result = node.propose(0, 'x');
    expect(result.ok).toBe(true);
    const first = node.ready();
    expect(first.writes.flatMap((write) => write.entries).map((entry) => entry.kind)).toEqual(['command']);
    expect(first.applies).toHaveLength(0);
    expect(node.status(0).commit).toBeLessThan(node.status(0).lastPosition);
    for (const write of first.writes) storage.write(write);
    storage.sync();
    node.advance(first);
    const second = node.ready();
    expect(second.applies.flatMap((apply) => apply.entries).map((entry) => entry.kind)).toEqual(['command']);
  });

  it("commit - an owner's appends leave before its own write is durable; the replicas' answers commit it only with the owner's copy", () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    const leader = h.readyOwner() as string;
    const result = h.core(leader).propose(0, 'x');
    const position = result.ok ? result.position : 0;
    const ready = h.core(leader).ready();
    // The appends carrying x are early: sendable while the owner's write of x is in flight.
    const early = ready.earlyMessages.filter(({ message }) => message.type === 'append');
    expect(early.map(({ to }) => to).sort()).toEqual(['a', 'b', 'c'].filter((id) => id !== leader).sort());
    expect(ready.writes.flatMap((write) => write.entries).map((entry) => entry.position)).toContain(position);
    expect(ready.messages.filter(({ message }) => message.type === 'append')).toHaveLength(0);
    // Both replicas store x and answer while the owner's own write is still in flight.
    for (const { to, message } of ready.earlyMessages) h.inFlight.push({ from: leader, to, message });
    for (const other of ['a', 'b', 'c'].filter((id) => id !== leader)) {
      for (const item of h.inFlight.filter((candidate) => candidate.to === other)) h.deliver(item);
      h.inFlight = h.inFlight.filter((candidate) => candidate.to !== other);
      h.process(other);
    }
    for (const item of h.inFlight.filter((candidate) => candidate.to === leader)) h.core(leader).step(item.from, item.message);
    h.inFlight = h.inFlight.filter((candidate) => candidate.to !== leader);
    // Two replicas hold it durably: a quorum of durable copies without the owner's.
    expect(h.status(leader).commit).toBeGreaterThanOrEqual(position);
  });

  it('commit - the Ready that persists a new epoch sends nothing early (a crash could reuse the epoch)', () => {
    const { core, storage, drain } = loneNode('solo', { voters: ['solo'] });
    core.setReplicaSet(0, ['solo', 'learner']);
    let nowMs = 0;
    while (nowMs < 10_000 && !core.status(0).membership.learners.includes('learner')) {
      nowMs += 10;
      core.tick(nowMs);
      drain();
    }
    expect(core.status(0).membership.learners).toEqual(['learner']);
    const epochBefore = core.status(0).epoch;
    // Restart from the same storage: the lone voter wins a new epoch within one tick, and that
    // Ready both persists the epoch and carries appends to the learner.
    const again = new ReplicationNode<Payload>({ nodeId: 'solo', partitionCount: 1, storage, random: () => 0.5, payloadBytes: (payload) => payload.length, nowMs });
    again.setReplicaSet(0, ['solo', 'learner']);
    while (nowMs < 20_000 && again.status(0).role !== 'owner') {
      nowMs += 10;
      again.tick(nowMs);
      if (again.status(0).role === 'owner') break;
      while (again.hasReady()) {
        const ready = again.ready();
        for (const write of ready.writes) storage.write(write);
        storage.sync();
        again.advance(ready);
      }
    }
    expect(again.status(0).role).toBe('owner');
    expect(again.status(0).epoch).toBeGreaterThan(epochBefore);
    const ready = again.ready();
    expect(ready.writes.some((write) => write.hardState?.epoch === again.status(0).epoch)).toBe(true);
    expect(ready.messages.some(({ to, message }) => to === 'learner' && message.type === 'append')).toBe(true);
    expect(ready.earlyMessages).toHaveLength(0);
    again.advance(ready);
  });

  it('commit - an owner never commits an entry of an earlier epoch by counting replicas (Raft figure 8)', () => {
    // One entry per append so that a replica can hold the old entry without the new no-op.
    const h = new Harness(['a', 'b', 'c'], { settings: { appendEntriesMax: 1 } });
    h.waitForOwner();
    h.advance(3000);
    const a = h.readyOwner() as string;
    const [b, c] = ['a', 'b', 'c'].filter((id) => id !== a) as [string, string];
    // 1. a appends X at position p in its epoch, and nobody else gets it.
    const proposed = h.core(a).propose(0, 'X');
    expect(proposed.ok).toBe(true);
    const p = proposed.ok ? proposed.position : 0;
    h.process(a);
    h.inFlight = [];
    h.isolate(a);
    // 2. b wins the next epoch with c's vote and appends its no-op at p, keeping it to itself.
    forceCampaign(h, b);
    deliverExcept(h, (item) => item.message.type === 'append' || item.message.type === 'heartbeat');
    expect(h.status(b).role).toBe('owner');
    expect(h.status(b).lastPosition).toBe(p);
    h.inFlight = [];
    h.heal();
    h.isolate(b);
    // 3. a returns and wins a later epoch with c (c already voted for b once, so twice).
    forceCampaign(h, a);
    deliverExcept(h, () => false);
    forceCampaign(h, a);
    // a replicates X to c but the no-op of its new epoch never arrives (probes that c
    // refuses still get through, so a finds where their logs match).
    deliverExcept(
      h,
      (item) => item.message.type === 'append' && item.message.prevPosition >= p && h.status(c).lastPosition >= p,
    );
    expect(h.status(a).role).toBe('owner');
    expect(h.status(c).lastPosition).toBe(p);
    // X is on a majority (a and c) but belongs to an old epoch: it must not be committed.
    expect(h.status(a).commit).toBeLessThan(p);
    expect(h.committedPayloads(a)).toEqual([]);
    // 4. Indeed b can still win (its last entry has a higher epoch) and replace X.
    h.crash(a);
    h.heal();
    forceCampaign(h, b);
    deliverExcept(h, () => false);
    forceCampaign(h, b);
    h.deliverAll();
    h.advance(500);
    expect(h.status(b).role).toBe('owner');
    for (const id of [b, c]) expect(h.committedPayloads(id)).toEqual([]);
    h.restart(a);
    h.advance(1000);
    expect(h.committedPayloads(a)).toEqual([]);
  });
});
