import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CloseCodes, MessageType, PROTOCOL_VERSION, type AckMessage, type ErrorMessage, type RejectMessage, type SnapshotMessage, type UpdateMessage } from '@ringstate/protocol';
import { devToken, startTestNode, type TestNode } from '../support/in-process-node.ts';
import { RawClient } from '../support/raw-client.ts';

let server: TestNode;

beforeAll(async () => {
  server = await startTestNode({ limits: { messagesPerSecondMax: 1000, invalidFramesBeforeClose: 5, frameBytesMax: 1024 } });
});
afterAll(async () => {
  await server.stop();
});

async function connected(player: string): Promise<RawClient> {
  const client = await RawClient.connect(server.url);
  client.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token: await devToken(server.httpUrl, player) });
  await client.waitFor((m) => m.t === MessageType.WELCOME);
  return client;
}

describe('gateway - protocol over a real socket', () => {
  it('gateway - welcomes a player with a valid dev token', async () => {
    const client = await connected('alice');
    const welcome = client.received.find((m) => m.t === MessageType.WELCOME);
    expect(welcome).toMatchObject({ player: 'alice', v: PROTOCOL_VERSION, node: 'node-1' });
    client.close();
  });

  it('gateway - acks a command and rejects a domain violation with a stable code and reason', async () => {
    const client = await connected('bob');
    client.send({ t: MessageType.COMMAND, id: 'c1', a: 'player', i: 'bob', c: { type: 'move', x: 3, y: 4 } });
    const ack = await client.waitFor<AckMessage>((m) => m.t === MessageType.ACK && m.id === 'c1');
    expect(ack.seq).toBe(1);
    client.send({ t: MessageType.COMMAND, id: 'c2', a: 'player', i: 'bob', c: { type: 'drop', itemId: 'nothing' } });
    const rejection = await client.waitFor<RejectMessage>((m) => m.t === MessageType.REJECT && m.id === 'c2');
    expect(rejection).toMatchObject({ code: 'REJECTED', reason: 'ITEM_NOT_HELD', retry: false });
    client.close();
  });

  it('gateway - a retried command id is applied once and answered with the original seq', async () => {
    const client = await connected('carol');
    client.send({ t: MessageType.COMMAND, id: 'same', a: 'player', i: 'carol', c: { type: 'score', points: 5 } });
    const first = await client.waitFor<AckMessage>((m) => m.t === MessageType.ACK && m.id === 'same');
    client.close();
    const again = await connected('carol');
    again.send({ t: MessageType.COMMAND, id: 'same', a: 'player', i: 'carol', c: { type: 'score', points: 5 } });
    const second = await again.waitFor<AckMessage>((m) => m.t === MessageType.ACK && m.id === 'same');
    expect(second).toMatchObject({ seq: first.seq, dup: true });
    again.send({ t: MessageType.SUB, a: 'player', i: 'carol' });
    const snapshot = await again.waitFor<SnapshotMessage>((m) => m.t === MessageType.SNAPSHOT);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, snapshot.u);
    expect(doc.getMap('view').get('score')).toBe(5);
    again.close();
  });

  it('gateway - refuses commands on another player\'s aggregate with FORBIDDEN', async () => {
    const client = await connected('mallory');
    client.send({ t: MessageType.COMMAND, id: 'x', a: 'player', i: 'alice', c: { type: 'score', points: 100 } });
    const rejection = await client.waitFor<RejectMessage>((m) => m.t === MessageType.REJECT);
    expect(rejection.code).toBe('FORBIDDEN');
    client.close();
  });

  it('gateway - a subscriber receives the snapshot and then every committed update in order', async () => {
    const watcher = await connected('watcher');
    const actor = await connected('dave');
    watcher.send({ t: MessageType.SUB, a: 'player', i: 'dave' });
    const snapshot = await watcher.waitFor<SnapshotMessage>((m) => m.t === MessageType.SNAPSHOT);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, snapshot.u);
    for (let step = 1; step <= 5; step += 1) {
      actor.send({ t: MessageType.COMMAND, id: `m${step}`, a: 'player', i: 'dave', c: { type: 'move', x: step, y: 0 } });
    }
    await actor.waitFor((m) => m.t === MessageType.ACK && m.id === 'm5');
    await watcher.waitFor((m) => m.t === MessageType.UPDATE && m.seq === 5);
    const updates = watcher.received.filter((m): m is UpdateMessage => m.t === MessageType.UPDATE);
    expect(updates.map((u) => u.seq)).toEqual([1, 2, 3, 4, 5]);
    for (const update of updates) Y.applyUpdate(doc, update.u);
    expect(doc.getMap('view').get('x')).toBe(5);

    // Resubscribing with a state vector sends only what is missing: nothing here.
    watcher.send({ t: MessageType.SUB, a: 'player', i: 'dave', sv: Y.encodeStateVector(doc) });
    const resumed = await watcher.waitFor<SnapshotMessage>((m) => m.t === MessageType.SNAPSHOT && m.seq === 5);
    const copy = new Y.Doc();
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
    const before = Y.encodeStateVector(copy);
    Y.applyUpdate(copy, resumed.u);
    expect(Y.encodeStateVector(copy)).toEqual(before);
    watcher.close();
    actor.close();
  });

  it('gateway - bad input gets error frames with stable codes, then a protocol close', async () => {
    const client = await connected('fuzzer');
    client.sendRaw(new Uint8Array([0xc1, 0xff, 0x00]));
    await client.waitFor<ErrorMessage>((m) => m.t === MessageType.ERROR && m.code === 'BAD_FRAME');
    client.sendRaw('a text frame');
    client.send({ t: 99 });
    await client.waitFor<ErrorMessage>((m) => m.t === MessageType.ERROR && m.code === 'UNKNOWN_MESSAGE_TYPE');
    client.send({ t: MessageType.COMMAND, id: 'bad', a: 'player' });
    await client.waitFor<ErrorMessage>((m) => m.t === MessageType.ERROR && m.code === 'INVALID_MESSAGE' && m.ref === 'bad');
    client.sendRaw(new Uint8Array(2000));
    await client.waitFor<ErrorMessage>((m) => m.t === MessageType.ERROR && m.code === 'FRAME_TOO_LARGE');
    expect(await client.waitClosed()).toBe(CloseCodes.PROTOCOL_ERROR);
  });

  it('gateway - an expired or forged token fails the handshake with 4001', async () => {
    const client = await RawClient.connect(server.url);
    const token = await devToken(server.httpUrl, 'eve');
    client.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token: `${token.slice(0, -4)}AAAA` });
    const error = await client.waitFor<ErrorMessage>((m) => m.t === MessageType.ERROR);
    expect(error.code).toBe('AUTH_INVALID_TOKEN');
    expect(await client.waitClosed()).toBe(CloseCodes.HANDSHAKE_FAILED);
  });

  it('gateway - commands before the handshake get HANDSHAKE_REQUIRED', async () => {
    const client = await RawClient.connect(server.url);
    client.send({ t: MessageType.COMMAND, id: 'early', a: 'player', i: 'x', c: { type: 'move', x: 1, y: 1 } });
    const error = await client.waitFor<ErrorMessage>((m) => m.t === MessageType.ERROR);
    expect(error.code).toBe('HANDSHAKE_REQUIRED');
    client.close();
  });

  it('gateway - serves health, readiness and Prometheus metrics', async () => {
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.httpUrl}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(metrics).toContain('ringstate_commands_total{outcome="acked"}');
    const missing = await fetch(`${server.httpUrl}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no endpoint GET /nope' } });
    const big = await fetch(`${server.httpUrl}/v1/dev/token`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
  });
});
