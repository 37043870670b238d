/**
 * kill -9 the server while it is writing, restart it on the same disk, and check that the log is
 * readable, gapless, and holds every command that was acknowledged before the kill.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MessageType, PROTOCOL_VERSION, aggregateKey, type AckMessage } from '@ringstate/protocol';
import { LogStore, RUN_MARKER_FILE } from '../../server/src/log/index.ts';
import { devToken } from '../support/in-process-node.ts';
import { spawnNode } from '../support/process-node.ts';
import { RawClient } from '../support/raw-client.ts';
import { tempDir } from '../support/temp-dir.ts';

const dir = tempDir('crash');
const osDir = tempDir('crash-os');
afterAll(() => {
  dir.remove();
  osDir.remove();
});

interface Acked {
  player: string;
  commandId: string;
  seq: number;
}

async function writeUntilKilled(url: string, httpUrl: string, players: string[], acked: Acked[], round: number): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  for (const player of players) {
    const client = await RawClient.connect(url);
    client.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token: await devToken(httpUrl, player) });
    await client.waitFor((m) => m.t === MessageType.WELCOME);
    let sent = 0;
    // Keep a window of 20 commands in flight per player until the socket dies.
    const pump = (): void => {
      while (client.closeCode === undefined && sent - countAcks(client) < 20) {
        sent += 1;
        client.send({ t: MessageType.COMMAND, id: `r${round}-${player}-${sent}`, a: 'player', i: player, c: { type: 'append', value: `r${round}-${sent}` } });
      }
    };
    client.socket.on('message', () => {
      const last = client.received.at(-1);
      if (last?.t === MessageType.ACK) acked.push({ player, commandId: (last as AckMessage).id, seq: (last as AckMessage).seq });
      pump();
    });
    pump();
    clients.push(client);
  }
  return clients;
}

function countAcks(client: RawClient): number {
  return client.received.filter((m) => m.t === MessageType.ACK || m.t === MessageType.REJECT).length;
}

describe('crash recovery - kill -9 mid-write', () => {
  it('crash - every acknowledged command survives repeated kill -9, and the log stays gapless', async () => {
    const acked: Acked[] = [];
    const players = ['p1', 'p2', 'p3', 'p4'];
    for (let round = 1; round <= 3; round += 1) {
      const node = await spawnNode({ dataDir: dir.path });
      const clients = await writeUntilKilled(node.url, node.httpUrl, players, acked, round);
      // Let writes flow for a moment that differs per round, then kill without warning.
      await new Promise((resolve) => setTimeout(resolve, 300 + round * 250));
      node.child.kill('SIGKILL');
      await node.exited;
      for (const client of clients) client.close();
    }
    expect(acked.length).toBeGreaterThan(100);

    const store = LogStore.open({ path: dir.path, durability: 'fsync' });
    try {
      const summary = store.verify();
      expect(summary.aggregates).toBe(players.length);
      for (const ack of acked) {
        const record = store.findCommand(aggregateKey('player', ack.player), ack.player, ack.commandId);
        expect(record, `acked command ${ack.commandId} missing after crash`).toBeDefined();
        expect(record?.seq).toBe(ack.seq);
      }
    } finally {
      await store.close();
    }
  }, 90_000);

  it('crash - under durability os a kill -9 loses nothing, and after a power loss the node refuses to start until told', async () => {
    const env = { RINGSTATE_DURABILITY: 'os' };
    const acked: Acked[] = [];
    const node = await spawnNode({ dataDir: osDir.path, env });
    const clients = await writeUntilKilled(node.url, node.httpUrl, ['p1', 'p2'], acked, 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    node.child.kill('SIGKILL');
    await node.exited;
    for (const client of clients) client.close();
    expect(acked.length).toBeGreaterThan(20);

    // The same boot: a process crash, so the node starts (what it holds is checked below).
    const restarted = await spawnNode({ dataDir: osDir.path, env });
    restarted.child.kill('SIGKILL');
    await restarted.exited;

    // What a power loss leaves: the marker of a run under os from a boot that is not this one.
    const markerFile = join(osDir.path, RUN_MARKER_FILE);
    const marker = JSON.parse(readFileSync(markerFile, 'utf8')) as { boot: { id?: string; timeMs: number } };
    writeFileSync(markerFile, JSON.stringify({ ...marker, boot: { id: 'a-boot-before-the-power-loss', timeMs: marker.boot.timeMs - 3_600_000 } }));
    const refused = await spawnNode({ dataDir: osDir.path, env }).then(
      () => 'started',
      (error: unknown) => String(error),
    );
    expect(refused).toContain('node exited early (2)');
    expect(refused).toContain('UNCLEAN_POWER_LOSS');
    expect(refused).not.toContain('    at ');

    // The operator accepts the store as it is (no other copy): it holds every acknowledged command.
    rmSync(markerFile);
    const store = LogStore.open({ path: osDir.path, durability: 'fsync' });
    try {
      for (const ack of acked) expect(store.findCommand(aggregateKey('player', ack.player), ack.player, ack.commandId)?.seq, ack.commandId).toBe(ack.seq);
    } finally {
      await store.close();
    }
  }, 60_000);
});
