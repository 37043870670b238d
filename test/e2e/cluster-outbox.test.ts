/**
 * Gold moves between wallets on a 3-node cluster in one process: each `give` is delivered to
 * the receiving wallet's owner (forwarded across nodes as needed), once, and the total is
 * conserved on every replica; a give to a closed wallet comes back as a refund.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RingstateClient, fetchDevToken } from '@ringstate/client-sdk';
import { WALLET_START, type GameSchema, type WalletView } from '../../server/example-game/index.ts';
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

/** A wallet's state on one member, folded from its committed entries. */
function walletOn(member: TestCluster['members'][number], id: string): WalletView {
  const view: WalletView = { gold: WALLET_START, closed: false, given: 0, received: 0, refunded: 0 };
  const partition = member.node.runtime.partitionOf('wallet', id);
  for (const entry of member.node.store.aggregateEntries(partition, `wallet/${id}`, 0)) {
    for (const event of entry.events as Array<{ type: string; amount?: number }>) {
      if (event.type === 'given') (view.gold -= event.amount ?? 0), (view.given += event.amount ?? 0);
      if (event.type === 'received') (view.gold += event.amount ?? 0), (view.received += event.amount ?? 0);
      if (event.type === 'refunded') (view.gold += event.amount ?? 0), (view.refunded += event.amount ?? 0);
      if (event.type === 'closed') view.closed = true;
    }
  }
  return view;
}

describe('cluster - outbox', () => {
  it('cluster - gold given between wallets on different nodes arrives once; the total is conserved on every replica', async () => {
    const players = Array.from({ length: 8 }, (_, n) => `w${n}`);
    const clients = players.map((player, n) => clientOn(cluster.members[n % 3]!.port, player));
    await Promise.all(clients.map((client) => client.connect()));
    await clients[7]!.send('wallet', 'w7', { type: 'close' });
    const gives = clients.slice(0, 7).flatMap((client, n) =>
      Array.from({ length: 6 }, (_, k) => client.send('wallet', players[n]!, { type: 'give', to: players[(n + k + 1) % 8]!, amount: 1 + k })),
    );
    await Promise.all(gives);
    for (const client of clients) client.close();
    const total = (member: TestCluster['members'][number]) => players.reduce((sum, id) => sum + walletOn(member, id).gold, 0);
    // Every delivery settles (no item left in any outbox) and every replica agrees.
    await expect
      .poll(
        () =>
          cluster.members.map((member) => {
            const pending = players.reduce((sum, id) => sum + member.node.store.outboxOf(member.node.runtime.partitionOf('wallet', id), `wallet/${id}`).length, 0);
            return `${total(member)}/${pending}`;
          }),
        { timeout: 15_000 },
      )
      .toEqual(cluster.members.map(() => `${8 * WALLET_START}/0`));
    for (const member of cluster.members) {
      const w7 = walletOn(member, 'w7');
      expect(w7).toMatchObject({ gold: WALLET_START, received: 0, closed: true });
      const sums = players.map((id) => walletOn(member, id));
      const given = sums.reduce((sum, view) => sum + view.given, 0);
      const received = sums.reduce((sum, view) => sum + view.received, 0);
      const refunded = sums.reduce((sum, view) => sum + view.refunded, 0);
      expect(given).toBe(7 * (1 + 2 + 3 + 4 + 5 + 6));
      // Only the gives to the closed w7 come back: w(n) gives 7-n to w7 for n = 1..6.
      expect(refunded).toBe(21);
      expect(received).toBe(given - 21);
    }
  }, 60_000);

  it('cluster - an arena round timer fires once on the new owner after its owner stops', async () => {
    const port = cluster.members[0]!.port;
    const [ann, bob] = [clientOn(port, 'ann'), clientOn(port, 'bob')];
    await Promise.all([ann.connect(), bob.connect()]);
    await ann.send('arena', 'timed', { type: 'enter' });
    await bob.send('arena', 'timed', { type: 'enter' });
    await ann.send('arena', 'timed', { type: 'start-round', durationMs: 2_500 });
    ann.close();
    bob.close();
    const partition = cluster.members[0]!.node.runtime.partitionOf('arena', 'timed');
    const owner = cluster.members[0]!.node.clusterView().partitions[partition]?.owner;
    const victim = cluster.members.find((member) => member.nodeId === owner);
    expect(victim).toBeDefined();
    await cluster.stop(owner as string);
    const survivor = cluster.members.find((member) => member.nodeId !== owner)!;
    const events = () => survivor.node.store.aggregateEntries(partition, 'arena/timed', 0).flatMap((entry) => entry.events.map((event) => ({ event: event as { type: string; endsAtMs?: number; reason?: string }, atMs: entry.timestampMs })));
    await expect.poll(() => events().filter(({ event }) => event.type === 'round-ended').length, { timeout: 15_000 }).toBe(1);
    const started = events().find(({ event }) => event.type === 'round-started');
    const ended = events().find(({ event }) => event.type === 'round-ended');
    expect(ended?.event.reason).toBe('time');
    // Never early: decided on the new owner at or after the due time.
    expect(ended!.atMs).toBeGreaterThanOrEqual(started!.event.endsAtMs!);
    // And once: no second end after a while.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(events().filter(({ event }) => event.type === 'round-ended')).toHaveLength(1);
  }, 60_000);
});
