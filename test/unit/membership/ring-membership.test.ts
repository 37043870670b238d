import { describe, expect, it, vi } from 'vitest';
import pino from 'pino';
import {
  encodeRingRecord,
  foundingClusterId,
  isNewerRecord,
  parseRingRecord,
  RING_PROTOCOL,
  RingMembership,
  shrinkRefusal,
  type MembershipTimers,
  type RingRecord,
} from '../../../server/src/membership/ring-membership.ts';

const C = '0123456789abcdef';
import type { MemberInfo, PeerNetwork, PeerNetworkEvents, RequestHandler } from '../../../server/src/peer/index.ts';
import type { LogStore } from '../../../server/src/log/index.ts';
import { ringVersion, type Locality } from '../../../server/src/ring/index.ts';

/** An in-memory peer bus: `send` queues, `deliver` runs the queue, `request` answers at once. */
class Bus {
  readonly queue: Array<() => void> = [];
  readonly handlers = new Map<string, RequestHandler>();
  readonly listeners = new Map<string, Array<(payload: PeerNetworkEvents['message']) => void>>();
  readonly down = new Set<string>();

  peers(self: string, all: readonly string[]): PeerNetwork {
    const members = (): MemberInfo[] => all.map((nodeId) => ({ nodeId, address: nodeId, alive: !this.down.has(nodeId), lastSeenMs: 0, self: nodeId === self }));
    return {
      nodeId: self,
      members,
      send: (to: string, message: unknown, protocol = RING_PROTOCOL) => {
        if (this.down.has(to) || this.down.has(self)) return false;
        this.queue.push(() => {
          for (const listener of this.listeners.get(to) ?? []) listener({ from: self, protocol, message: structuredClone(message) });
        });
        return true;
      },
      request: async (to: string, _protocol: string, payload: unknown) => {
        const handler = this.handlers.get(to);
        if (handler === undefined || this.down.has(to)) throw new Error('unreachable');
        return structuredClone(await handler(payload, self));
      },
      handle: (_protocol: string, handler: RequestHandler) => this.handlers.set(self, handler),
      on: (event: string, listener: (payload: never) => void) => {
        if (event === 'message') this.listeners.set(self, [...(this.listeners.get(self) ?? []), listener as (payload: PeerNetworkEvents['message']) => void]);
        return () => undefined;
      },
    } as unknown as PeerNetwork;
  }

  deliver(): void {
    while (this.queue.length > 0) this.queue.shift()?.();
  }
}

function memoryStore(): LogStore & { saved: Map<string, unknown> } {
  const saved = new Map<string, unknown>();
  return { saved, readMeta: (key: string) => saved.get(key), writeMeta: (key: string, value: unknown) => saved.set(key, structuredClone(value)) } as unknown as LogStore & { saved: Map<string, unknown> };
}

const quiet = pino({ level: 'silent' });

/** Timers whose sleeps end on the next turn of the microtask queue, counted so a loop cannot spin unseen. */
function quickTimers(): MembershipTimers & { sleeps: number } {
  const timers = {
    sleeps: 0,
    every: () => () => undefined,
    sleep: async () => {
      timers.sleeps += 1;
      await new Promise((resolve) => setImmediate(resolve));
    },
    nowMs: () => 0,
  };
  return timers;
}

function node(bus: Bus, self: string, all: readonly string[], configured: readonly string[], store = memoryStore(), timers?: MembershipTimers, locality?: Locality) {
  const changes: RingRecord[] = [];
  const membership = new RingMembership(
    { nodeId: self, partitionCount: 8, replicationFactor: 3, configuredMembers: configured, syncIntervalMs: 60_000, ...(locality === undefined ? {} : { locality }) },
    { store, peers: bus.peers(self, all), logger: quiet, random: () => 0, onChange: (_ring, record) => changes.push(record), ...(timers === undefined ? {} : { timers }) },
  );
  membership.start();
  return { membership, store, changes };
}

describe('ring membership - records', () => {
  it('ring membership - a higher generation wins; a tie is broken by ring version the same way on every node', () => {
    const a = { generation: 3, members: ['n1', 'n2'], clusterId: C };
    const b = { generation: 3, members: ['n1', 'n3'], clusterId: C };
    expect(isNewerRecord({ generation: 4, members: ['n1'], clusterId: C }, a)).toBe(true);
    expect(isNewerRecord(a, { generation: 4, members: ['n1'], clusterId: C })).toBe(false);
    expect(isNewerRecord(a, b)).toBe(ringVersion(a.members) > ringVersion(b.members));
    expect(isNewerRecord(a, b)).toBe(!isNewerRecord(b, a));
    expect(isNewerRecord(a, a)).toBe(false);
  });

  it('ring membership - malformed records are refused', () => {
    expect(parseRingRecord({ g: 1, m: ['b', 'a'], c: C })).toEqual({ generation: 1, members: ['a', 'b'], clusterId: C });
    const bad = [null, 'x', {}, { g: -1, m: ['a'] }, { g: 1.5, m: ['a'] }, { g: 1, m: [] }, { g: 1, m: ['a', 'a'] }, { g: 1, m: ['a b'] }, { g: 1, m: [7] }, { g: 1, m: Array.from({ length: 300 }, (_, n) => `n${n}`) }];
    for (const record of bad) expect(parseRingRecord(record === null || typeof record !== 'object' ? record : { ...record, c: C })).toBeUndefined();
    // A cluster id must look like one; a record from before cluster ids has none.
    for (const c of ['XYZ', 7, `${C}00`]) expect(parseRingRecord({ g: 1, m: ['a'], c })).toBeUndefined();
    expect(parseRingRecord({ g: 1, m: ['a'] })).toEqual({ generation: 1, members: ['a'], clusterId: '' });
  });
});

describe('ring membership - agreement', () => {
  it('ring membership - concurrent changes on two nodes converge on one record everywhere', () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const nodes = ['n1', 'n2', 'n3'].map((self) => node(bus, self, all, ['n1', 'n2', 'n3']));
    for (const { membership } of nodes) membership.adoptConfigured();
    // Two operators at once: n1 admits n4, n2 admits n5, both at generation 1.
    nodes[0]?.membership.change(['n1', 'n2', 'n3', 'n4'], 'test');
    nodes[1]?.membership.change(['n1', 'n2', 'n3', 'n5'], 'test');
    bus.deliver();
    const records = nodes.map(({ membership }) => membership.record);
    expect(new Set(records.map((record) => `${record.generation}:${record.members.join(',')}`)).size).toBe(1);
    expect(records[0]?.generation).toBe(1);
    // The loser retries its change on top of the winner: generation 2 holds both.
    const loser = nodes.find(({ membership }) => !membership.includes('n4') || !membership.includes('n5'));
    if (loser !== undefined) {
      loser.membership.change([...loser.membership.record.members, 'n4', 'n5'], 'retry');
      bus.deliver();
    }
    for (const { membership } of nodes) expect(membership.record.members).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
  });

  it('ring membership - a node with only its config adopts the cluster record and never pushes its provisional one', () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n4'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2']);
    n1.membership.adoptConfigured();
    const n4 = node(bus, 'n4', all, ['n1', 'n2', 'n4']);
    expect(n4.membership.isKnown).toBe(false);
    expect(n4.membership.record.generation).toBe(-1);
    // An older record than ours is answered with ours; n4 holds none yet, so it adopts anything.
    expect(n4.membership.offer({ generation: 0, members: ['n1', 'n2'], clusterId: C }, 'n1')).toBe(true);
    expect(n4.membership.includes('n4')).toBe(false);
    expect(n4.store.saved.get('ringMembership')).toEqual({ g: 0, m: ['n1', 'n2'], c: C });
  });

  it('ring membership - a join request adds the requester, and the record survives a restart', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2']);
    const n2 = node(bus, 'n2', all, ['n1', 'n2']);
    n1.membership.adoptConfigured();
    n2.membership.adoptConfigured();
    const clusterId = foundingClusterId(['n2', 'n1']);
    const answer = parseRingRecord(await bus.peers('n3', all).request('n1', RING_PROTOCOL, { op: 'join' }, 1000));
    expect(answer).toEqual({ generation: 1, members: ['n1', 'n2', 'n3'], clusterId, added: ['n3'] });
    bus.deliver();
    expect(n2.membership.record).toEqual({ generation: 1, members: ['n1', 'n2', 'n3'], clusterId, added: ['n3'] });
    expect(n2.changes.at(-1)?.members).toEqual(['n1', 'n2', 'n3']);
    // A second join by the same node changes nothing.
    await bus.peers('n3', all).request('n2', RING_PROTOCOL, { op: 'join' }, 1000);
    expect(n2.membership.record.generation).toBe(1);
    const restarted = node(new Bus(), 'n2', all, ['n1', 'n2'], n2.store);
    expect(restarted.membership.isKnown).toBe(true);
    expect(restarted.membership.record).toEqual({ generation: 1, members: ['n1', 'n2', 'n3'], clusterId, added: ['n3'] });
  });

  it('ring membership - a malformed push is dropped and changes nothing', () => {
    const bus = new Bus();
    const n1 = node(bus, 'n1', ['n1', 'n2'], ['n1', 'n2']);
    n1.membership.adoptConfigured();
    bus.peers('n2', ['n1', 'n2']).send('n1', { g: 99, m: ['bad id!'], c: C }, RING_PROTOCOL);
    bus.deliver();
    expect(n1.membership.record).toEqual({ generation: 0, members: ['n1', 'n2'], clusterId: foundingClusterId(['n1', 'n2']) });
  });

  it('ring membership - a record stored before cluster ids keeps its members, and takes an id from a newer record', () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2']);
    n1.store.saved.set('ringMembership', { g: 5, m: ['n1', 'n2', 'n3', 'n4'] });
    const upgraded = node(bus, 'n1', all, ['n1', 'n2'], n1.store);
    expect(upgraded.membership.isKnown).toBe(true);
    expect(upgraded.membership.record).toEqual({ generation: 5, members: ['n1', 'n2', 'n3', 'n4'], clusterId: '' });
    expect(upgraded.membership.offer({ generation: 6, members: ['n1', 'n2', 'n3'], clusterId: C }, 'n2')).toBe(true);
    expect(upgraded.membership.record.clusterId).toBe(C);
  });

  it('ring membership - a removal that loses to a concurrent change is applied again on top of it', async () => {
    vi.useFakeTimers();
    try {
      const bus = new Bus();
      const all = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9'];
      const n1 = node(bus, 'n1', all, ['n1', 'n2', 'n3', 'n4']);
      n1.membership.adoptConfigured();
      let wanted = true;
      const removal = n1.membership.removeAndKeepOut('n4', 'removal of n4', { keepOutMs: 10_000, retryMs: 500, stillWanted: () => wanted });
      expect(removal.members).toEqual(['n1', 'n2', 'n3']);
      // Another node admitted a joiner at the same generation, and its record wins the tie: it
      // lists n4, but n1 knows n4 left and the record did not add it, so n1 takes it out at once.
      const rival = ['n5', 'n6', 'n7', 'n8', 'n9']
        .map((joiner) => ({ generation: 1, members: ['n1', 'n2', 'n3', 'n4', joiner], clusterId: removal.clusterId, added: [joiner] }))
        .find((record) => isNewerRecord(record, removal));
      expect(rival).toBeDefined();
      if (rival === undefined) return;
      expect(n1.membership.offer(rival, 'n2')).toBe(true);
      expect(n1.membership.record.generation).toBe(2);
      expect(n1.membership.record.members).toEqual(rival.members.filter((member) => member !== 'n4'));
      // n4's own join was admitted elsewhere (it was up for a moment), but it is still wanted
      // out (down again): the removal loop takes it out again on top.
      const withN4 = rival.members;
      n1.membership.offer({ generation: 3, members: withN4, clusterId: removal.clusterId, added: ['n4'] }, 'n2');
      expect(n1.membership.includes('n4')).toBe(true);
      await vi.advanceTimersByTimeAsync(500);
      expect(n1.membership.record.generation).toBe(4);
      expect(n1.membership.includes('n4')).toBe(false);
      // Once the node is wanted again (it came back up and joined), its join stays.
      wanted = false;
      n1.membership.offer({ generation: 5, members: withN4, clusterId: removal.clusterId, added: ['n4'] }, 'n2');
      await vi.advanceTimersByTimeAsync(2_000);
      expect(n1.membership.record.generation).toBe(5);
      expect(n1.membership.includes('n4')).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ring membership - records and joins of another cluster are ignored, whatever their generation', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'x1'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2']);
    n1.membership.adoptConfigured();
    const ours = n1.membership.record;
    // A separately founded cluster (same cluster key) that n1 can reach.
    const x1 = node(bus, 'x1', all, ['x1']);
    x1.membership.adoptConfigured();
    expect(x1.membership.record.clusterId).not.toBe(ours.clusterId);
    x1.membership.change(['x1', 'x2'], 'test');
    x1.membership.change(['x1', 'x2', 'x3'], 'test');
    bus.peers('x1', all).send('n1', { g: 50, m: ['x1'], c: x1.membership.record.clusterId }, RING_PROTOCOL);
    bus.deliver();
    expect(n1.membership.record).toEqual(ours);
    // A node of the other cluster asking to join is refused; a node without a cluster is not.
    expect(x1.membership.joinRequest()).toEqual({ op: 'join', c: x1.membership.record.clusterId });
    const refused = await bus.peers('x1', all).request('n1', RING_PROTOCOL, x1.membership.joinRequest(), 1000);
    expect(parseRingRecord(refused)).toBeUndefined();
    expect(n1.membership.includes('x1')).toBe(false);
    const fresh = node(new Bus(), 'x1', all, ['x1']);
    expect(fresh.membership.joinRequest()).toEqual({ op: 'join' });
    const admitted = parseRingRecord(await bus.peers('x1', all).request('n1', RING_PROTOCOL, fresh.membership.joinRequest(), 1000));
    expect(admitted?.members).toEqual(['n1', 'n2', 'x1']);
    expect(admitted?.clusterId).toBe(ours.clusterId);
  });
});

/** Runs `membership.leave` until the node is out of the record, calling `eachRound` first in every round; returns the rounds. */
async function leaveUntilOut(membership: RingMembership, self: string, eachRound: (round: number) => void): Promise<number> {
  let rounds = 0;
  await membership.leave({
    stopped: () => false,
    stoppedError: () => new Error('stopped'),
    done: async () => {
      rounds += 1;
      eachRound(rounds);
      return !membership.includes(self);
    },
  });
  return rounds;
}

describe('ring membership - join and leave', () => {
  it('ring membership - a shrink below the replication factor, of a non-member or of the last member is refused', () => {
    expect(shrinkRefusal(['n1', 'n2', 'n3', 'n4'], 'n4', 3, false)).toBeUndefined();
    expect(shrinkRefusal(['n1', 'n2', 'n3'], 'n3', 3, false)).toMatch(/fewer than replicationFactor 3/);
    expect(shrinkRefusal(['n1', 'n2', 'n3'], 'n3', 3, true)).toBeUndefined();
    expect(shrinkRefusal(['n1', 'n2'], 'n9', 3, true)).toMatch(/not a ring member/);
    expect(shrinkRefusal(['n1'], 'n1', 1, true)).toBe('the last member cannot leave the ring');
  });

  it('ring membership - a joined node that a change made elsewhere leaves out joins again (simulator seed 175)', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2', 'n3']);
    n1.membership.adoptConfigured();
    const timers = quickTimers();
    const n4 = node(bus, 'n4', all, ['n1', 'n2', 'n3', 'n4'], memoryStore(), timers);
    await expect(n4.membership.join(() => false)).resolves.toBe(true);
    expect(n1.membership.record.members).toEqual(['n1', 'n2', 'n3', 'n4']);
    // n2 removed n3 from the record it held before n4's join spread: generation 2 without n4.
    const stale = { generation: 2, members: ['n1', 'n2'], clusterId: n1.membership.record.clusterId };
    expect(n4.membership.offer(stale, 'n2')).toBe(true);
    expect(n1.membership.offer(stale, 'n2')).toBe(true);
    expect(n4.membership.includes('n4')).toBe(false);
    for (let i = 0; i < 20 && !n4.membership.includes('n4'); i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(n4.membership.record.members).toEqual(['n1', 'n2', 'n4']);
    expect(n1.membership.record.members).toEqual(['n1', 'n2', 'n4']);
    expect(n1.membership.record.generation).toBe(3);
  });

  it('ring membership - a node that leaves is not joined again, and its leave is redone when a concurrent change brings it back', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4'];
    const timers = quickTimers();
    const n4 = node(bus, 'n4', all, ['n1', 'n2', 'n3', 'n4'], memoryStore(), timers);
    n4.membership.adoptConfigured();
    const founded = n4.membership.record;
    await expect(n4.membership.join(() => false)).resolves.toBe(true);
    const rounds = await leaveUntilOut(n4.membership, 'n4', (round) => {
      // The first round loses to a concurrent change that still lists n4 (a higher generation).
      if (round === 1) n4.membership.offer({ generation: founded.generation + 5, members: ['n1', 'n2', 'n3', 'n4'], clusterId: founded.clusterId }, 'n1');
    });
    expect(rounds).toBe(2);
    expect(n4.membership.record.members).toEqual(['n1', 'n2', 'n3']);
    expect(n4.membership.record.generation).toBe(founded.generation + 6);
    // Left on purpose: a later record without this node does not start a join.
    const sleeps = timers.sleeps;
    n4.membership.offer({ generation: founded.generation + 7, members: ['n1', 'n2'], clusterId: founded.clusterId }, 'n1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(n4.membership.includes('n4')).toBe(false);
    expect(timers.sleeps).toBe(sleeps);
  });

  it('ring membership - a restarted node admits a join only after a peer showed it its record (simulator seed 1507)', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2', 'n3', 'n4']);
    n1.membership.adoptConfigured();
    const founded = n1.membership.record;
    // n4 was down while n2 left: it restarts holding the founding record.
    const stale = memoryStore();
    stale.saved.set('ringMembership', { g: founded.generation, m: founded.members, c: founded.clusterId });
    bus.down.add('n1');
    const n4 = node(bus, 'n4', all, ['n1', 'n2', 'n3', 'n4'], stale, quickTimers());
    n1.membership.change(['n1', 'n3', 'n4'], 'leave of n2');
    const refused = await bus.peers('n5', all).request('n4', RING_PROTOCOL, { op: 'join', c: founded.clusterId }, 1000);
    expect(refused).toEqual({ error: expect.stringContaining('not yet compared its ring record') });
    expect(n4.membership.record.generation).toBe(founded.generation);
    // Once n1 is up, n4 asks it, learns the leave, and admits the joiner on top of it.
    bus.down.delete('n1');
    n4.membership.offer(n1.membership.record, 'n1');
    const admitted = parseRingRecord(await bus.peers('n5', all).request('n4', RING_PROTOCOL, { op: 'join', c: founded.clusterId }, 1000));
    expect(admitted?.members).toEqual(['n1', 'n3', 'n4', 'n5']);
  });

  it('ring membership - a leave never takes the ring below the replication factor, even after the ring shrank (simulator seed 1634)', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const n4 = node(bus, 'n4', all, ['n1', 'n2', 'n3', 'n4'], memoryStore(), quickTimers());
    n4.membership.adoptConfigured();
    const { clusterId, generation } = n4.membership.record;
    // Before the leave runs, another node's leave wins: three members are left, n4 among them.
    n4.membership.offer({ generation: generation + 5, members: ['n1', 'n2', 'n4'], clusterId }, 'n1');
    const rounds = await leaveUntilOut(n4.membership, 'n4', (round) => {
      expect(n4.membership.record.members.length).toBeGreaterThanOrEqual(3);
      // A joiner arrives in the third round; then the leave may go on.
      if (round === 3) n4.membership.offer({ generation: generation + 6, members: ['n1', 'n2', 'n4', 'n5'], clusterId }, 'n1');
    });
    expect(rounds).toBe(4);
    expect(n4.membership.record.members).toEqual(['n1', 'n2', 'n5']);
  });

  it('ring membership - a node that left is kept out when a record from a branch that missed the departure wins (simulator seed 48216)', () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2', 'n3', 'n4']);
    n1.membership.adoptConfigured();
    const founded = n1.membership.record;
    // n3 left (and stopped); n1 holds that record.
    const leave = n1.membership.change(['n1', 'n2', 'n4'], 'leave of n3');
    expect(leave.left).toEqual(['n3']);
    // n2, down during the leave, admitted n5 on the founding record: same generation, wins the tie.
    const stale = { generation: founded.generation + 1, members: ['n1', 'n2', 'n3', 'n4', 'n5'], clusterId: founded.clusterId, added: ['n5'] };
    expect(isNewerRecord(stale, leave)).toBe(true);
    expect(n1.membership.offer(stale, 'n2')).toBe(true);
    // n1 takes n3 out again on top of it, keeping the join.
    expect(n1.membership.record).toEqual({ generation: founded.generation + 2, members: ['n1', 'n2', 'n4', 'n5'], clusterId: founded.clusterId, left: ['n3'] });
    // A record on which n3 joined again (its own join adds it) is kept as it is.
    const rejoined = { generation: founded.generation + 3, members: ['n1', 'n2', 'n3', 'n4', 'n5'], clusterId: founded.clusterId, added: ['n3'] };
    expect(n1.membership.offer(rejoined, 'n2')).toBe(true);
    expect(n1.membership.record).toEqual(rejoined);
    // The fields travel, and old records without them still parse.
    expect(parseRingRecord(encodeRingRecord(n1.membership.record))).toEqual(rejoined);
    expect(parseRingRecord({ g: 1, m: ['n1'], c: founded.clusterId, l: ['bad id!'] })).toBeUndefined();
  });

  it('ring membership - a leave stopped before it finished throws the error the caller gave', async () => {
    const bus = new Bus();
    const n1 = node(bus, 'n1', ['n1', 'n2', 'n3'], ['n1', 'n2', 'n3'], memoryStore(), quickTimers());
    n1.membership.adoptConfigured();
    let stopped = false;
    const leaving = n1.membership.leave({ stopped: () => stopped, stoppedError: () => new Error('node stopping'), done: async () => false });
    await new Promise((resolve) => setImmediate(resolve));
    stopped = true;
    await expect(leaving).rejects.toThrow('node stopping');
  });
});

describe('ring membership - localities', () => {
  const zoned = { n1: { zone: 'a', host: 'h1' }, n2: { zone: 'b' } };

  it('ring membership - localities round-trip, and a record without them (an older node) still parses as unknown localities', () => {
    const record: RingRecord = { generation: 2, members: ['n1', 'n2', 'n3'], clusterId: C, localities: zoned };
    expect(encodeRingRecord(record).lo).toEqual({ n1: { z: 'a', h: 'h1' }, n2: { z: 'b' } });
    expect(parseRingRecord(encodeRingRecord(record))).toEqual(record);
    expect(parseRingRecord({ g: 2, m: ['n1', 'n2'], c: C })).toEqual({ generation: 2, members: ['n1', 'n2'], clusterId: C });
    // Entries of non-members and empty ones are dropped, so every node keeps the same record.
    expect(parseRingRecord({ g: 2, m: ['n1'], c: C, lo: { n1: { z: 'a' }, n9: { z: 'b' }, n2: {} } })?.localities).toEqual({ n1: { zone: 'a' } });
    for (const lo of [[], { n1: { z: 'bad zone' } }, { n1: { h: 7 } }, { 'bad id!': { z: 'a' } }, 'a']) expect(parseRingRecord({ g: 2, m: ['n1'], c: C, lo })).toBeUndefined();
  });

  it('ring membership - without localities the ring version is what it always was; with them it differs, and a record with them wins a tie', () => {
    expect(ringVersion(['n1', 'n2'], {})).toBe(ringVersion(['n1', 'n2']));
    expect(ringVersion(['n1', 'n2'], zoned)).not.toBe(ringVersion(['n1', 'n2']));
    const plain = { generation: 3, members: ['n1', 'n2'], clusterId: C };
    const located = { ...plain, localities: zoned };
    // An older node gossips the same generation without localities: it must not win.
    expect(isNewerRecord(located, plain)).toBe(true);
    expect(isNewerRecord(plain, located)).toBe(false);
    const other = { ...plain, localities: { n1: { zone: 'c' } } };
    expect(isNewerRecord(located, other)).toBe(ringVersion(['n1', 'n2'], zoned) > ringVersion(['n1', 'n2'], other.localities));
    expect(isNewerRecord({ ...plain, generation: 4 }, located)).toBe(true);
  });

  it('ring membership - founders declare their localities as new generations and converge on one record with all of them', () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3'];
    const places: Record<string, Locality> = { n1: { zone: 'a', host: 'h1' }, n2: { zone: 'b', host: 'h2' }, n3: { zone: 'c', host: 'h3' } };
    const nodes = all.map((id) => node(bus, id, all, all, memoryStore(), undefined, places[id]));
    for (const each of nodes) each.membership.adoptConfigured();
    for (let round = 0; round < 10 && bus.queue.length > 0; round += 1) bus.deliver();
    const records = nodes.map((each) => each.membership.record);
    for (const record of records) expect(record).toEqual(records[0]);
    expect(records[0]?.localities).toEqual(places);
    expect(records[0]?.generation).toBeGreaterThan(0);
    expect(nodes[0]?.membership.ring.version).toBe(ringVersion(all, places));
  });

  it('ring membership - a joiner brings its locality in its join request, and other changes keep every locality', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3', 'n4'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2', 'n3'], memoryStore(), undefined, { zone: 'a' });
    n1.membership.adoptConfigured();
    const n4 = node(bus, 'n4', all, ['n1', 'n2', 'n3'], memoryStore(), quickTimers(), { zone: 'd', host: 'x' });
    expect(n4.membership.joinRequest()).toEqual({ op: 'join', lo: { z: 'd', h: 'x' } });
    const answer = parseRingRecord(await bus.peers('n4', all).request('n1', RING_PROTOCOL, n4.membership.joinRequest(), 1000));
    expect(answer?.localities).toEqual({ n1: { zone: 'a' }, n4: { zone: 'd', host: 'x' } });
    const after = n1.membership.change(['n1', 'n2', 'n4'], 'removal of n3');
    expect(after.localities).toEqual({ n1: { zone: 'a' }, n4: { zone: 'd', host: 'x' } });
  });

  it('ring membership - a member whose configured locality changed declares it as a new generation', () => {
    const bus = new Bus();
    const store = memoryStore();
    const first = node(bus, 'n1', ['n1'], ['n1'], store, undefined, { zone: 'a' });
    first.membership.adoptConfigured();
    expect(first.membership.record.localities).toEqual({ n1: { zone: 'a' } });
    first.membership.stop();
    const moved = node(bus, 'n1', ['n1'], ['n1'], store, undefined, { zone: 'b', host: 'h' });
    moved.membership.offer(moved.membership.record, 'n1');
    expect(moved.membership.record.localities).toEqual({ n1: { zone: 'b', host: 'h' } });
    expect(moved.membership.record.generation).toBe(first.membership.record.generation + 1);
    const cleared = node(bus, 'n1', ['n1'], ['n1'], store);
    cleared.membership.offer(cleared.membership.record, 'n1');
    expect(cleared.membership.record.localities).toBeUndefined();
  });

  it('ring membership - fewer hosts than copies is one warning line per ring version', () => {
    const lines: Array<{ msg: string; ringVersion?: number }> = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string; ringVersion?: number }) });
    const bus = new Bus();
    const membership = new RingMembership(
      { nodeId: 'n1', partitionCount: 8, replicationFactor: 3, configuredMembers: ['n1', 'n2', 'n3'], syncIntervalMs: 60_000 },
      { store: memoryStore(), peers: bus.peers('n1', ['n1', 'n2', 'n3']), logger, random: () => 0, onChange: () => undefined },
    );
    membership.adoptConfigured();
    expect(lines).toEqual([]);
    const shared = { n1: { host: 'h1' }, n2: { host: 'h1' } };
    membership.offer({ ...membership.record, generation: 1, localities: shared });
    membership.offer({ ...membership.record, generation: 2, localities: shared });
    const warnings = lines.filter((line) => line.msg.startsWith('replica sets cannot spread'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain('2 hosts for 3 copies');
    expect(warnings[0]?.ringVersion).toBe(membership.ring.version);
  });
});
