import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../../server/src/simulation/memory-storage.ts';
import { ReplicationNode, type Message } from '../../../server/src/replication/index.ts';
import { forceCampaign, Harness, inFlightOfType, type Payload } from './harness.ts';

describe('election', () => {
  it('election - three bootstrapped replicas elect exactly one ready owner', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    // Ownership settles on the preferred owner, the first node of the replica set.
    const leader = h.readyOwner();
    expect(leader).toBe('a');
    const statuses = ['a', 'b', 'c'].map((id) => h.status(id));
    expect(statuses.filter((status) => status.role === 'owner')).toHaveLength(1);
    for (const status of statuses) {
      expect(status.owner).toBe(leader);
      expect(status.epoch).toBe(h.status('a').epoch);
    }
  });

  it('election - a new cluster elects each partition once, on its preferred owner (founding without churn)', () => {
    const ids = ['a', 'b', 'c'];
    const partitions = 48;
    for (const seed of [1, 2, 3]) {
      const h = new Harness(ids, { partitions, seed });
      // Preferred owners rotate over the nodes, as the ring places them.
      for (let partition = 0; partition < partitions; partition += 1) {
        const set = [...ids.slice(partition % 3), ...ids.slice(0, partition % 3)];
        for (const id of ids) h.core(id).setReplicaSet(partition, set);
      }
      const all = Array.from({ length: partitions }, (_, partition) => partition);
      h.advanceUntil(() => all.every((partition) => h.readyOwner(partition) !== null), 5000);
      h.advance(1000);
      for (const partition of all) {
        expect(h.readyOwner(partition)).toBe(ids[partition % 3]);
        // Epoch 1 is the bootstrap; one election makes epoch 2, a hand-over to the preferred owner a third.
        expect(h.status(ids[partition % 3] as string, partition).epoch).toBe(2);
      }
    }
  });

  it('election - failover elects a new owner within 2 s with default settings', () => {
    const h = new Harness(['a', 'b', 'c']);
    const first = h.waitForOwner();
    h.advance(300);
    h.crash(first);
    const crashedAtMs = h.nowMs;
    const second = h.waitForOwner(0, 5000);
    expect(second).not.toBe(first);
    expect(h.nowMs - crashedAtMs).toBeLessThan(2000);
  });

  it('election - a replica grants one vote per epoch and persists it', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    const epoch = h.status('c').epoch + 5;
    const core = h.core('c');
    const vote = (from: string): Message<Payload> => ({
      type: 'vote',
      partition: 0,
      epoch,
      lastPosition: 100,
      lastEpoch: epoch - 1,
      transfer: true,
    });
    core.step('a', vote('a'));
    core.step('b', vote('b'));
    h.process('c');
    const answers = inFlightOfType(h, 'vote-response', { from: 'c' });
    expect(answers.map((item) => [item.to, item.message.type === 'vote-response' && item.message.granted])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    // After a restart the vote is still there: b is refused again, a granted again.
    h.inFlight = [];
    h.crash('c');
    h.restart('c');
    h.core('c').step('b', vote('b'));
    h.core('c').step('a', vote('a'));
    h.process('c');
    const again = inFlightOfType(h, 'vote-response', { from: 'c' });
    expect(again.map((item) => [item.to, item.message.type === 'vote-response' && item.message.granted])).toEqual([
      ['b', false],
      ['a', true],
    ]);
  });

  it('election - a candidate with a less complete log is refused (vote rule)', () => {
    const h = new Harness(['a', 'b', 'c']);
    const leader = h.waitForOwner();
    const behind = ['a', 'b', 'c'].find((id) => id !== leader) as string;
    h.isolate(behind);
    h.core(leader).propose(0, 'x');
    h.process(leader);
    h.advance(300);
    h.heal();
    const before = h.status(behind).lastPosition;
    expect(before).toBeLessThan(h.status(leader).lastPosition);
    forceCampaign(h, behind);
    h.deliverAll();
    // Nobody granted: the laggard stays a follower or candidate and the log survives.
    expect(h.status(behind).role).not.toBe('owner');
    h.waitForOwner();
    h.advance(500);
    for (const id of ['a', 'b', 'c']) expect(h.committedPayloads(id)).toEqual(['x']);
  });

  it('election - a partition with a single voter elects itself', () => {
    const h = new Harness(['solo']);
    expect(h.waitForOwner()).toBe('solo');
    expect(h.core('solo').propose(0, 'x').ok).toBe(true);
    h.processAll();
    expect(h.committedPayloads('solo')).toEqual(['x']);
  });

  it('election - the preferred owner (first of the replica set) takes leadership when caught up', () => {
    const h = new Harness(['a', 'b', 'c']);
    const owner = h.waitForOwner();
    const preferred = ['a', 'b', 'c'].find((id) => id !== owner) as string;
    const order = [preferred, ...['a', 'b', 'c'].filter((id) => id !== preferred)];
    for (const id of ['a', 'b', 'c']) h.core(id).setReplicaSet(0, order);
    h.advanceUntil(() => h.readyOwner() === preferred, 5000);
    h.advance(5000);
    expect(h.readyOwner()).toBe(preferred);
  });

  it('election - an empty node that is not a member never campaigns', () => {
    const node = new ReplicationNode<Payload>({
      nodeId: 'x',
      partitionCount: 1,
      storage: new MemoryStorage(),
      random: () => 0.5,
      payloadBytes: (payload) => payload.length,
      nowMs: 0,
    });
    node.setReplicaSet(0, ['x', 'y', 'z']);
    for (let nowMs = 10; nowMs < 10_000; nowMs += 10) node.tick(nowMs);
    const ready = node.ready();
    expect([...ready.earlyMessages, ...ready.messages]).toHaveLength(0);
    expect(node.status(0).role).toBe('follower');
    expect(node.status(0).amnesiac).toBe(true);
  });
});
