/**
 * The client SDK against a real node over a real socket: commands, rejections, subscriptions,
 * and a reconnect to the same host after the node restarts, with no command lost or doubled.
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { RingstateClient, RingstateError, fetchDevToken } from '@ringstate/client-sdk';
import type { GameSchema, PlayerView } from '../../server/example-game/index.ts';
import { startTestNode, type TestNode } from '../support/in-process-node.ts';
import { freePort } from '../support/process-node.ts';
import { tempDir } from '../support/temp-dir.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function clientFor(server: { port: number }, player: string): RingstateClient<GameSchema> {
  const host = `127.0.0.1:${server.port}`;
  const client = new RingstateClient<GameSchema>({
    host,
    getToken: async () => (await fetchDevToken({ host, player })).token,
    WebSocket: WebSocket as never,
    reconnect: { baseMs: 50, capMs: 500, attemptsMax: 100 },
  });
  cleanups.push(() => client.close());
  return client;
}

async function node(port?: number, dataDir?: string): Promise<TestNode> {
  const started = await startTestNode(port === undefined ? {} : { port }, dataDir);
  return started;
}

describe('sdk - end to end against a real node', () => {
  it('sdk - sends commands, gets acks and typed rejections with stable codes', async () => {
    const server = await node();
    cleanups.push(() => server.stop());
    const client = clientFor(server.node, 'ann');
    await client.connect();
    expect(client.state).toBe('online');
    expect(await client.send('player', 'ann', { type: 'join', name: 'Ann' })).toEqual({ seq: 1, duplicate: false });
    const rejection = await client.send('player', 'ann', { type: 'drop', itemId: 'ghost' }).catch((error: unknown) => error);
    expect(rejection).toBeInstanceOf(RingstateError);
    expect(rejection).toMatchObject({ code: 'REJECTED', reason: 'ITEM_NOT_HELD', retryable: false });
    const forbidden = await client.send('player', 'bob', { type: 'score', points: 1 }).catch((error: unknown) => error);
    expect(forbidden).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('sdk - a subscription exposes a Y.Doc and a plain snapshot that follow committed changes', async () => {
    const server = await node();
    cleanups.push(() => server.stop());
    const actor = clientFor(server.node, 'cid');
    const watcher = clientFor(server.node, 'watcher');
    await Promise.all([actor.connect(), watcher.connect()]);
    const subscription = watcher.subscribe('player', 'cid');
    await subscription.whenReady();
    let changes = 0;
    subscription.on('change', () => (changes += 1));
    await actor.send('player', 'cid', { type: 'pick-up', item: { id: 'sword', kind: 'weapon' } });
    await actor.send('player', 'cid', { type: 'move', x: 7, y: 9 });
    await expect.poll(() => subscription.snapshot()?.x, { timeout: 5_000 }).toBe(7);
    const view = subscription.snapshot() as PlayerView;
    expect(view.inventory).toEqual([{ id: 'sword', kind: 'weapon' }]);
    expect(subscription.doc.getMap('view').get('y')).toBe(9);
    expect(changes).toBeGreaterThanOrEqual(2);
  });

  it('sdk - reconnects to the same host after the node restarts; no command lost or applied twice', async () => {
    const dir = tempDir('sdk-restart');
    cleanups.push(() => dir.remove());
    const port = await freePort();
    let server = await node(port, dir.path);
    cleanups.push(() => server.stop());
    const client = clientFor({ port }, 'dee');
    await client.connect();
    const subscription = client.subscribe('player', 'dee');
    await subscription.whenReady();

    const states: string[] = [];
    client.on('state', ({ state }) => states.push(state));
    const sends: Array<Promise<{ seq: number; duplicate: boolean }>> = [];
    for (let n = 0; n < 40; n += 1) {
      sends.push(client.send('player', 'dee', { type: 'append', value: `v${n}` }, { timeoutMs: 20_000 }));
      if (n === 15) {
        await server.stop();
        server = await node(port, dir.path);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const results = await Promise.all(sends);
    const seqs = results.map((result) => result.seq);
    expect(new Set(seqs).size).toBe(40);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
    expect(states).toContain('reconnecting');
    await expect.poll(() => subscription.snapshot()?.appendCount, { timeout: 5_000 }).toBe(40);
    // The log agrees: exactly 40 entries for the aggregate, gapless.
    expect(server.node.store.aggregateSeq('player/dee')).toBe(40);
    expect(server.node.store.verify().aggregates).toBe(1);
  });
});
