/**
 * A 3-node cluster in one process: commands sent to any node commit on a quorum (forwarded to
 * the partition's owner when needed), and every replica ends with the same committed log.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingstateClient, fetchDevToken } from '@ringstate/client-sdk';
import type { GameSchema } from '../../server/example-game/index.ts';
import { startTestCluster, type TestCluster } from '../support/in-process-cluster.ts';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster(3);
}, 60_000);
afterAll(async () => {
  await cluster?.stopAll();
});

function clientOn(port: number, player: string): RingstateClient<GameSchema> {
  const host = `127.0.0.1:${port}`;
  return new RingstateClient<GameSchema>({ host, WebSocket: WebSocket as never, getToken: async () => (await fetchDevToken({ host, player })).token, commandTimeoutMs: 20_000 });
}

describe('cluster - three nodes in one process', () => {
  it('cluster - commands to any node commit once, and all replicas hold identical logs', async () => {
    const players = Array.from({ length: 12 }, (_, n) => `p${n}`);
    const clients = players.map((player, n) => clientOn(cluster.members[n % 3]!.port, player));
    await Promise.all(clients.map((client) => client.connect()));
    const results = await Promise.all(
      clients.flatMap((client, n) => Array.from({ length: 10 }, (_, k) => client.send('player', players[n]!, { type: 'append', value: `v${k}` }))),
    );
    expect(results.every((result) => result.seq >= 1)).toBe(true);
    for (const client of clients) client.close();
    // Replication to the third replica may trail the quorum briefly.
    await expect
      .poll(() => cluster.members.map((member) => players.map((player) => member.node.store.aggregateSeq(`player/${player}`)).join(',')), { timeout: 10_000 })
      .toEqual(cluster.members.map(() => players.map(() => 10).join(',')));
    const logs = cluster.members.map((member) => {
      member.node.store.verify();
      return players.map((player) => member.node.store.aggregateEntries(member.node.runtime.partitionOf('player', player), `player/${player}`, 0).map((e) => `${e.seq}:${(e.events[0] as { value: string }).value}:${e.commandId}`));
    });
    expect(logs[1]).toEqual(logs[0]);
    expect(logs[2]).toEqual(logs[0]);
  }, 60_000);

  it('cluster - the admin view and metrics show members, ring, owners and forwarding', async () => {
    const views = await Promise.all(
      cluster.members.map(async (member) => (await (await fetch(`http://127.0.0.1:${member.port}/v1/admin/cluster`)).json()) as { ringVersion: number; members: Array<{ nodeId: string; alive: boolean }>; partitions: Array<{ owner: string | null; replicas: string[] }> }),
    );
    expect(new Set(views.map((view) => view.ringVersion)).size).toBe(1);
    for (const view of views) {
      expect(view.members.filter((member) => member.alive).map((member) => member.nodeId).sort()).toEqual(['node-1', 'node-2', 'node-3']);
      expect(view.partitions).toHaveLength(16);
      expect(view.partitions.every((row) => row.replicas.length === 3)).toBe(true);
    }
    const owners = views.map((view) => view.partitions.map((row) => row.owner).join(','));
    expect(owners[1]).toBe(owners[0]);
    const metrics = await Promise.all(cluster.members.map(async (member) => (await fetch(`http://127.0.0.1:${member.port}/metrics`)).text()));
    const owned = metrics.map((text) => Number(/^ringstate_partitions_owned (\d+)/m.exec(text)?.[1]));
    expect(owned.reduce((a, b) => a + b, 0)).toBe(16);
    expect(metrics.some((text) => /^ringstate_forwarded_commands_total [1-9]/m.test(text))).toBe(true);
    // The first test's 120 commands are applied everywhere; with indexBatchEntries at its
    // default (2,048) their index and dedupe records are all still held in memory.
    const deferred = metrics.map((text) => Number(/^ringstate_store_deferred_index_entries (\d+)/m.exec(text)?.[1]));
    expect(deferred).toEqual([120, 120, 120]);
  });
});
