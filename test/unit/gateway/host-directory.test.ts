import { describe, expect, it } from 'vitest';
import { partitionOf, RingstateError } from '@ringstate/protocol';
import { chooseHost, HostDirectory, isOverloaded, parseClientSideInfo, parsePlayerQuery, type NodeLoad } from '../../../server/src/gateway/host-directory.ts';
import type { MemberInfo, PeerNetwork } from '../../../server/src/peer/index.ts';

const settings = { ttlSeconds: 60, pollIntervalMs: 1000, overloadRatio: 1.5, connectionsSoftMax: 50_000 };
const node = (nodeId: string, connections: number): NodeLoad => ({ nodeId, clientHost: `${nodeId}.example.com:9001`, connections, serving: true });

describe('host directory - choice', () => {
  it('host directory - suggests the owner when it is healthy and not overloaded', () => {
    const healthy = [node('a', 100), node('b', 10), node('c', 50)];
    expect(chooseHost(healthy, 'a', settings, () => 0)?.nodeId).toBe('a');
  });

  it('host directory - an overloaded owner is passed over for a least loaded node', () => {
    const healthy = [node('a', 1000), node('b', 10), node('c', 500)];
    expect(isOverloaded(healthy[0] as NodeLoad, healthy, settings)).toBe(true);
    expect(chooseHost(healthy, 'a', settings, () => 0.99)?.nodeId).toBe('b');
    expect(isOverloaded(node('x', 50_000), [node('x', 50_000)], settings)).toBe(true);
  });

  it('host directory - a dead or unknown owner, or no player, means the least loaded node', () => {
    const healthy = [node('b', 500), node('c', 10)];
    expect(chooseHost(healthy, 'a', settings, () => 0)?.nodeId).toBe('c');
    expect(chooseHost(healthy, undefined, settings, () => 0)?.nodeId).toBe('c');
    expect(chooseHost([], undefined, settings, () => 0)).toBeUndefined();
  });

  it('host directory - nodes within the load slack of the minimum share new clients at random', () => {
    const healthy = [node('a', 0), node('b', 3), node('c', 900)];
    const picks = new Set([0, 0.49, 0.51, 0.99].map((r) => chooseHost(healthy, undefined, settings, () => r)?.nodeId));
    expect(picks).toEqual(new Set(['a', 'b']));
  });

  it('host directory - validates the player query with a stable code', () => {
    expect(parsePlayerQuery(new URLSearchParams(''))).toBeUndefined();
    expect(parsePlayerQuery(new URLSearchParams('player=alice'))).toBe('alice');
    for (const bad of ['player=', 'player=a%20b', `player=${'x'.repeat(65)}`, 'player=a&player=b']) {
      const error = (() => {
        try {
          parsePlayerQuery(new URLSearchParams(bad));
        } catch (caught) {
          return caught;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(RingstateError);
      expect((error as RingstateError).code).toBe('INVALID_QUERY');
    }
  });

  it('host directory - parses peer answers and refuses malformed ones', () => {
    expect(parseClientSideInfo({ hasState: true, ringVersion: 1, clientHost: 'a:1', connections: 3, serving: true })).toEqual({ clientHost: 'a:1', connections: 3, serving: true });
    expect(parseClientSideInfo({ hasState: true, ringVersion: 1 })).toBeUndefined();
    expect(parseClientSideInfo({ clientHost: 'a:1', connections: -1, serving: true })).toBeUndefined();
    expect(parseClientSideInfo(null)).toBeUndefined();
  });
});

/** A peer network with a settable member table whose cluster-info answers come from `answers`. */
function fakePeers(self: string, answers: Map<string, unknown>): { peers: PeerNetwork; alive: Set<string> } {
  const alive = new Set(answers.keys());
  const peers = {
    nodeId: self,
    members: (): MemberInfo[] => [
      { nodeId: self, address: 'x', alive: true, lastSeenMs: 0, self: true },
      ...[...answers.keys()].map((nodeId) => ({ nodeId, address: 'x', alive: alive.has(nodeId), lastSeenMs: 0, self: false })),
    ],
    request: async (nodeId: string) => {
      if (!alive.has(nodeId)) throw new Error('down');
      return answers.get(nodeId);
    },
  } as unknown as PeerNetwork;
  return { peers, alive };
}

describe('host directory - service', () => {
  it('host directory - answers every healthy host, the owner as suggestion, and drops a dead node at once', async () => {
    const answers = new Map<string, unknown>([
      ['node-2', { hasState: true, ringVersion: 7, clientHost: 'game-2.example.com:9001', connections: 5, serving: true }],
      ['node-3', { hasState: true, ringVersion: 7, clientHost: 'game-3.example.com:9001', connections: 5, serving: true }],
    ]);
    const { peers, alive } = fakePeers('node-1', answers);
    let running = true;
    const directory = new HostDirectory({
      settings,
      partitionCount: 16,
      nodeId: 'node-1',
      self: () => ({ clientHost: 'game-1.example.com:9001', connections: 5, serving: true }),
      peers,
      infoProtocol: 'info',
      owner: (partition) => (partition === partitionOf('player', 'alice', 16) ? 'node-3' : 'node-2'),
      ringVersion: () => 7,
      running: () => running,
      nowMs: Date.now,
      random: () => 0,
    });
    const answer = await directory.suggest('alice');
    expect(answer).toEqual({
      suggested: 'game-3.example.com:9001',
      hosts: ['game-1.example.com:9001', 'game-2.example.com:9001', 'game-3.example.com:9001'],
      ringVersion: 7,
      ttlSeconds: 60,
    });
    alive.delete('node-3');
    const after = await directory.suggest('alice');
    expect(after.hosts).toEqual(['game-1.example.com:9001', 'game-2.example.com:9001']);
    expect(after.suggested).not.toBe('game-3.example.com:9001');
    running = false;
  });

  it('host directory - a single node answers with itself, and refuses while not serving', async () => {
    let serving = true;
    const directory = new HostDirectory({
      settings,
      partitionCount: 16,
      nodeId: 'solo',
      self: () => ({ clientHost: '127.0.0.1:9001', connections: 0, serving }),
      peers: undefined,
      infoProtocol: 'info',
      owner: () => 'solo',
      ringVersion: () => 0,
      running: () => true,
      nowMs: Date.now,
      random: Math.random,
    });
    expect(await directory.suggest(undefined)).toEqual({ suggested: '127.0.0.1:9001', hosts: ['127.0.0.1:9001'], ringVersion: 0, ttlSeconds: 60 });
    serving = false;
    await expect(directory.suggest('bob')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
