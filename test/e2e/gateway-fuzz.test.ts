/**
 * Throws malformed and random frames at a live gateway. Property: the node never crashes, every
 * bad frame is answered with an ERROR/REJECT/UNSUBBED carrying a known code (or a documented
 * close), and a well-behaved player on another connection keeps being served with intact data.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType, PROTOCOL_VERSION, encodeFrame, isErrorCode, type AckMessage } from '@ringstate/protocol';
import { devToken, startTestNode, type TestNode } from '../support/in-process-node.ts';
import { RawClient } from '../support/raw-client.ts';

let server: TestNode;
beforeAll(async () => {
  server = await startTestNode({ limits: { messagesPerSecondMax: 100_000, invalidFramesBeforeClose: 1_000_000 } });
});
afterAll(async () => {
  await server.stop();
});

const anyValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 64 }),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }),
);
const messageType = fc.constantFrom(1, 2, 3, 4, 5, 0, 6, 101, 102, -1, 255, 2 ** 40);
const fieldName = fc.constantFrom('t', 'id', 'a', 'i', 'c', 'sv', 'n', 'v', 'token', 'type');
const structured = fc
  .tuple(messageType, fc.dictionary(fieldName, anyValue, { maxKeys: 6 }))
  .map(([t, fields]) => encodeFrame({ ...fields, t } as never));
const commandLike = fc
  .record({ id: fc.string({ maxLength: 200 }), a: fc.constantFrom('player', 'arena', 'nope', ''), i: fc.string({ maxLength: 80 }), c: fc.dictionary(fc.constantFrom('type', 'x', 'y', 'item', 'points', 'value'), anyValue) })
  .map((fields) => encodeFrame({ t: MessageType.COMMAND, ...fields } as never));
const frame = fc.oneof(fc.uint8Array({ maxLength: 300 }), structured, commandLike);

describe('gateway - fuzzing with malformed and random frames', () => {
  it('fuzz - random frames never crash the node or disturb another player', async () => {
    const bystander = await RawClient.connect(server.url);
    bystander.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token: await devToken(server.httpUrl, 'bystander') });
    await bystander.waitFor((m) => m.t === MessageType.WELCOME);
    const fuzzer = await RawClient.connect(server.url);
    fuzzer.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token: await devToken(server.httpUrl, 'fuzzer') });
    await fuzzer.waitFor((m) => m.t === MessageType.WELCOME);

    const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31);
    console.log(`fuzz seed ${seed} (rerun with FUZZ_SEED=${seed})`);
    const frames = fc.sample(frame, { numRuns: 3000, seed });
    let bystanderSeq = 0;
    for (let batch = 0; batch < frames.length; batch += 100) {
      for (const bytes of frames.slice(batch, batch + 100)) fuzzer.sendRaw(bytes);
      const id = `b${batch}`;
      bystander.send({ t: MessageType.COMMAND, id, a: 'player', i: 'bystander', c: { type: 'append', value: id } });
      const ack = await bystander.waitFor<AckMessage>((m) => m.t === MessageType.ACK && m.id === id);
      expect(ack.seq).toBe((bystanderSeq += 1));
    }
    // Every answer to the fuzzer carries a stable code from the shared list.
    for (const message of fuzzer.received) {
      if ('code' in message) expect(isErrorCode(message.code), `unknown code ${String(message.code)}`).toBe(true);
    }
    expect(fuzzer.closeCode === undefined || [4002, 4008, 1009].includes(fuzzer.closeCode)).toBe(true);
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    expect(server.node.store.verify().aggregates).toBeGreaterThanOrEqual(1);
    fuzzer.close();
    bystander.close();
  });

  it('fuzz - random HTTP bodies and paths get JSON errors, never a crash', async () => {
    const seed = Number(process.env['FUZZ_SEED'] ?? 7);
    const requests = fc.sample(fc.tuple(fc.constantFrom('/v1/dev/token', '/healthz', '/x', '/v1/ws'), fc.string({ maxLength: 300 })), { numRuns: 200, seed });
    for (const [path, body] of requests) {
      const response = await fetch(`${server.httpUrl}${path}`, { method: 'POST', body });
      expect(response.headers.get('content-type')).toBe('application/json');
      expect([200, 400, 404, 413]).toContain(response.status);
    }
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  });
});
