import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { isNewerRecord, parseRingRecord, RING_PROTOCOL, RingMembership, type RingRecord } from '../../../server/src/cluster/ring-membership.ts';
import type { MemberInfo, PeerNetwork, PeerNetworkEvents, RequestHandler } from '../../../server/src/cluster/peer/index.ts';
import type { LogStore } from '../../../server/src/log/index.ts';
import { ringVersion } from '../../../server/src/ring/index.ts';

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

function node(bus: Bus, self: string, all: readonly string[], configured: readonly string[], store = memoryStore()) {
  const changes: RingRecord[] = [];
  const membership = new RingMembership(
    { nodeId: self, partitionCount: 8, replicationFactor: 3, configuredMembers: configured, syncIntervalMs: 60_000 },
    { store, peers: bus.peers(self, all), logger: quiet, random: () => 0, onChange: (_ring, record) => changes.push(record) },
  );
  membership.start();
  return { membership, store, changes };
}

describe('ring membership - records', () => {
  it('ring membership - a higher generation wins; a tie is broken by ring version the same way on every node', () => {
    const a = { generation: 3, members: ['n1', 'n2'] };
    const b = { generation: 3, members: ['n1', 'n3'] };
    expect(isNewerRecord({ generation: 4, members: ['n1'] }, a)).toBe(true);
    expect(isNewerRecord(a, { generation: 4, members: ['n1'] })).toBe(false);
    expect(isNewerRecord(a, b)).toBe(ringVersion(a.members) > ringVersion(b.members));
    expect(isNewerRecord(a, b)).toBe(!isNewerRecord(b, a));
    expect(isNewerRecord(a, a)).toBe(false);
  });

  it('ring membership - malformed records are refused', () => {
    expect(parseRingRecord({ g: 1, m: ['b', 'a'] })).toEqual({ generation: 1, members: ['a', 'b'] });
    for (const bad of [null, 'x', {}, { g: -1, m: ['a'] }, { g: 1.5, m: ['a'] }, { g: 1, m: [] }, { g: 1, m: ['a', 'a'] }, { g: 1, m: ['a b'] }, { g: 1, m: [7] }, { g: 1, m: Array.from({ length: 300 }, (_, n) => `n${n}`) }]) {
      expect(parseRingRecord(bad)).toBeUndefined();
    }
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
    expect(n4.membership.offer({ generation: 0, members: ['n1', 'n2'] }, 'n1')).toBe(true);
    expect(n4.membership.includes('n4')).toBe(false);
    expect(n4.store.saved.get('ringMembership')).toEqual({ g: 0, m: ['n1', 'n2'] });
  });

  it('ring membership - a join request adds the requester, and the record survives a restart', async () => {
    const bus = new Bus();
    const all = ['n1', 'n2', 'n3'];
    const n1 = node(bus, 'n1', all, ['n1', 'n2']);
    const n2 = node(bus, 'n2', all, ['n1', 'n2']);
    n1.membership.adoptConfigured();
    n2.membership.adoptConfigured();
    const answer = parseRingRecord(await bus.peers('n3', all).request('n1', RING_PROTOCOL, { op: 'join' }, 1000));
    expect(answer).toEqual({ generation: 1, members: ['n1', 'n2', 'n3'] });
    bus.deliver();
    expect(n2.membership.record).toEqual({ generation: 1, members: ['n1', 'n2', 'n3'] });
    expect(n2.changes.at(-1)?.members).toEqual(['n1', 'n2', 'n3']);
    // A second join by the same node changes nothing.
    await bus.peers('n3', all).request('n2', RING_PROTOCOL, { op: 'join' }, 1000);
    expect(n2.membership.record.generation).toBe(1);
    const restarted = node(new Bus(), 'n2', all, ['n1', 'n2'], n2.store);
    expect(restarted.membership.isKnown).toBe(true);
    expect(restarted.membership.record).toEqual({ generation: 1, members: ['n1', 'n2', 'n3'] });
  });

  it('ring membership - a malformed push is dropped and changes nothing', () => {
    const bus = new Bus();
    const n1 = node(bus, 'n1', ['n1', 'n2'], ['n1', 'n2']);
    n1.membership.adoptConfigured();
    bus.peers('n2', ['n1', 'n2']).send('n1', { g: 99, m: ['bad id!'] }, RING_PROTOCOL);
    bus.deliver();
    expect(n1.membership.record).toEqual({ generation: 0, members: ['n1', 'n2'] });
  });
});
