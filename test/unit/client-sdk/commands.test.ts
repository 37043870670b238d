import { describe, expect, it } from 'vitest';
import { RingstateError } from '../../../client-sdk/src/index.ts';
import { MessageType } from '@ringstate/protocol';
import { harness } from './helpers/harness.ts';
import { settle } from './helpers/manual-clock.ts';

describe('client-sdk commands', () => {
  it('commands - send resolves with the seq from ACK', async () => {
    const { client, server } = harness();
    await client.connect();

    const first = await client.send('player', 'p1', { type: 'move', x: 1 });
    const second = await client.send('player', 'p1', { type: 'move', x: 2 });

    expect(first).toEqual({ seq: 1, duplicate: false });
    expect(second).toEqual({ seq: 2, duplicate: false });
    expect(server.commands.map(({ message }) => message)).toEqual([
      { t: MessageType.COMMAND, id: '0001020304050607.1', a: 'player', i: 'p1', c: { type: 'move', x: 1 } },
      { t: MessageType.COMMAND, id: '0001020304050607.2', a: 'player', i: 'p1', c: { type: 'move', x: 2 } },
    ]);
    expect(client.pendingCommandCount).toBe(0);
    client.close();
  });

  it('commands - command ids use a random session prefix and a counter', async () => {
    const { client, server } = harness({ randomBytes: (length) => new Uint8Array(length).fill(0xab) });
    await client.connect();
    await client.send('player', 'p1', { type: 'a' });
    await client.send('player', 'p1', { type: 'b' });
    expect(server.commands.map(({ message }) => message.id)).toEqual(['abababababababab.1', 'abababababababab.2']);
    client.close();
  });

  it('commands - a domain rejection rejects with the code, message and reason', async () => {
    const { client, server } = harness();
    server.onCommand = () => ({ kind: 'reject', code: 'REJECTED', reason: 'not-enough-gold' });
    await client.connect();

    const error = await client.send('player', 'p1', { type: 'buy' }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(RingstateError);
    expect(error).toMatchObject({ code: 'REJECTED', reason: 'not-enough-gold', retryable: false, message: 'rejected: REJECTED' });
    expect(server.commands).toHaveLength(1);
    client.close();
  });

  it('commands - an unanswered command rejects with TIMEOUT at its deadline', async () => {
    const { client, server, clock } = harness({ commandTimeoutMs: 5_000 });
    server.onCommand = () => ({ kind: 'silence' });
    await client.connect();

    const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    const custom = client.send('player', 'p1', { type: 'move' }, { timeoutMs: 1_000 }).catch((caught: unknown) => caught);
    await clock.advance(1_000);
    expect(await custom).toMatchObject({ code: 'TIMEOUT' });
    expect(client.pendingCommandCount).toBe(1);
    await clock.advance(4_000);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
    expect(client.pendingCommandCount).toBe(0);
    client.close();
  });

  it('commands - a retryable rejection is retried with the same id after a backoff', async () => {
    const { client, server, clock } = harness({ commandRetry: { baseMs: 100, capMs: 1_000 } });
    let refusals = 2;
    server.onCommand = () => (refusals-- > 0 ? { kind: 'reject', code: 'NO_QUORUM', retry: true } : { kind: 'apply' });
    await client.connect();

    const result = client.send('player', 'p1', { type: 'move' });
    await settle();
    expect(server.commands).toHaveLength(1);
    await clock.advance(50); // first retry: 0.5 * 100 ms
    expect(server.commands).toHaveLength(2);
    await clock.advance(100); // second retry: 0.5 * 200 ms

    expect(await result).toEqual({ seq: 1, duplicate: false });
    const ids = server.commands.map(({ message }) => message.id);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    client.close();
  });

  it('commands - a retryable rejection that never clears ends with its code once no retry fits the deadline', async () => {
    const { client, server, clock } = harness({ commandTimeoutMs: 1_000, commandRetry: { baseMs: 200, capMs: 200 } });
    server.onCommand = () => ({ kind: 'reject', code: 'OVERLOADED', retry: true });
    await client.connect();
    const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await clock.advance(1_000);
    expect(await outcome).toMatchObject({ code: 'OVERLOADED' });
    // Retries every 100 ms (0.5 * 200) until the next one would pass the deadline.
    expect(server.commands.length).toBeGreaterThan(5);
    client.close();
  });

  it('commands - a retryable code that the server marks retry:false is not retried', async () => {
    const { client, server } = harness();
    server.onCommand = () => ({ kind: 'reject', code: 'UNAVAILABLE', retry: false });
    await client.connect();
    await expect(client.send('player', 'p1', { type: 'move' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(server.commands).toHaveLength(1);
    client.close();
  });

  it('commands - a host that answers only "cannot serve" for unservedMoveMs is left for another host', async () => {
    const urls = ['ws://minority.local/v1/ws', 'ws://majority.local/v1/ws'];
    const picks: string[] = [];
    const reports: Array<{ url: string; ok: boolean }> = [];
    const { client, server, clock } = harness({
      commandTimeoutMs: 20_000,
      unservedMoveMs: 3_000,
      commandRetry: { baseMs: 200, capMs: 400 },
      hostProvider: () => ({
        pick: () => {
          const url = urls[picks.length % urls.length] ?? '';
          picks.push(url);
          return url;
        },
        report: (url, outcome) => reports.push({ url, ok: outcome.ok }),
      }),
    });
    // The first node sits on the minority side: it refuses every command, retryably.
    server.onCommand = (_message, connection) => (connection.index === 1 ? { kind: 'reject', code: 'NO_QUORUM', retry: true } : { kind: 'apply' });
    await client.connect();
    let outcome: unknown;
    client.send('player', 'p1', { type: 'move' }).then(
      (value) => (outcome = value),
      (error: unknown) => (outcome = error),
    );
    await clock.advance(2_500);
    expect(picks).toEqual([urls[0]]);
    // In small steps, so every retry, reconnect and answer gets its turn.
    for (let step = 0; step < 40 && outcome === undefined; step += 1) await clock.advance(250);

    expect(outcome).toEqual({ seq: 1, duplicate: false });
    expect(picks).toEqual(urls);
    expect(reports).toContainEqual({ url: urls[0], ok: false });
    const ids = server.commands.map(({ message }) => message.id);
    expect(new Set(ids).size).toBe(1);
    expect(server.commands.at(-1)?.connection).toBe(2);
    client.close();
  });

  it('commands - brief "cannot serve" answers (an election) do not make the client move; unservedMoveMs 0 never moves', async () => {
    const brief = harness({ unservedMoveMs: 3_000, commandRetry: { baseMs: 200, capMs: 400 } });
    let refusals = 5;
    brief.server.onCommand = () => (refusals-- > 0 ? { kind: 'reject', code: 'UNAVAILABLE', retry: true } : { kind: 'apply' });
    await brief.client.connect();
    const first = brief.client.send('player', 'p1', { type: 'move' });
    await brief.clock.advance(2_000);
    expect(await first).toEqual({ seq: 1, duplicate: false });
    // The ACK reset the count: more refusals later start a new period.
    refusals = 5;
    const second = brief.client.send('player', 'p1', { type: 'move' });
    await brief.clock.advance(2_000);
    expect(await second).toEqual({ seq: 2, duplicate: false });
    expect(brief.server.connectionCount).toBe(1);
    brief.client.close();

    // A refusal long ago (its command ran out of time) and one now are not a run of refusals.
    const stale = harness({ unservedMoveMs: 3_000, commandTimeoutMs: 1_000, commandRetry: { baseMs: 200, capMs: 400 } });
    let stalePhase = 'refuse';
    stale.server.onCommand = () => (stalePhase === 'refuse' ? { kind: 'reject', code: 'UNAVAILABLE', retry: true } : { kind: 'apply' });
    await stale.client.connect();
    const expired = stale.client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await stale.clock.advance(1_000);
    // UNAVAILABLE does not promise "not applied" (a commit wait or a forward may have ended so).
    expect(await expired).toMatchObject({ code: 'TIMEOUT', lastCode: 'UNAVAILABLE' });
    await stale.clock.advance(10_000);
    let lateRefusals = 1;
    stale.server.onCommand = () => (lateRefusals-- > 0 ? { kind: 'reject', code: 'UNAVAILABLE', retry: true } : { kind: 'apply' });
    const late = stale.client.send('player', 'p1', { type: 'move' });
    await stale.clock.advance(1_000);
    expect(await late).toMatchObject({ duplicate: false });
    expect(stale.server.connectionCount).toBe(1);
    stale.client.close();

    const never = harness({ unservedMoveMs: 0, commandTimeoutMs: 8_000, commandRetry: { baseMs: 200, capMs: 400 } });
    never.server.onCommand = () => ({ kind: 'reject', code: 'NO_QUORUM', retry: true });
    await never.client.connect();
    const outcome = never.client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await never.clock.advance(8_000);
    expect(await outcome).toMatchObject({ code: 'NO_QUORUM' });
    expect(never.server.connectionCount).toBe(1);
    never.client.close();
  });

  it('commands - unanswered commands are re-sent after a reconnect with their original ids, in order', async () => {
    const { client, server, clock } = harness();
    server.onCommand = () => ({ kind: 'silence' });
    await client.connect();
    const results = [1, 2, 3].map((n) => client.send('player', 'p1', { type: 'set', key: `k${n}`, value: n }));
    await settle();
    const firstIds = server.commands.map(({ message }) => message.id);
    expect(firstIds).toHaveLength(3);

    server.onCommand = () => ({ kind: 'apply' });
    server.dropAll();
    // Commands sent while disconnected queue behind the unanswered ones.
    await settle();
    results.push(client.send('player', 'p1', { type: 'set', key: 'k4', value: 4 }));
    await clock.advance(1_000);

    expect((await Promise.all(results)).map((result) => result.seq)).toEqual([1, 2, 3, 4]);
    const resent = server.commands.filter(({ connection }) => connection === 2).map(({ message }) => message.id);
    expect(resent.slice(0, 3)).toEqual(firstIds);
    expect(resent).toHaveLength(4);
    client.close();
  });

  it('commands - a command applied before the drop is answered as a duplicate after the re-send', async () => {
    const { client, server, clock } = harness();
    await client.connect();
    // The server applies the command but the connection drops before the ACK arrives.
    server.onCommand = (_message, connection) => {
      server.onCommand = () => ({ kind: 'apply' });
      connection.close(1006);
      return { kind: 'apply' };
    };
    const result = client.send('player', 'p1', { type: 'move' });
    await clock.advance(1_000);

    expect(await result).toEqual({ seq: 1, duplicate: true });
    expect(server.aggregate('player', 'p1').seq).toBe(1);
    client.close();
  });

  it('commands - commands sent before connect() are delivered once online', async () => {
    const { client, server } = harness();
    const result = client.send('player', 'p1', { type: 'move' });
    await client.connect();
    expect(await result).toEqual({ seq: 1, duplicate: false });
    expect(server.commands).toHaveLength(1);
    client.close();
  });

  it('commands - the outbox is bounded: beyond outboxMax send rejects with OVERLOADED', async () => {
    const { client, server } = harness({ outboxMax: 2 });
    server.onCommand = () => ({ kind: 'silence' });
    await client.connect();
    const held = [client.send('player', 'p1', { type: 'a' }), client.send('player', 'p1', { type: 'b' })];
    for (const promise of held) promise.catch(() => {});

    await expect(client.send('player', 'p1', { type: 'c' })).rejects.toMatchObject({ code: 'OVERLOADED' });
    expect(client.pendingCommandCount).toBe(2);
    client.close();
  });

  it('commands - a command larger than the server frame limit rejects with FRAME_TOO_LARGE', async () => {
    const { client, server } = harness();
    server.frameBytesMax = 256;
    await client.connect();
    await expect(client.send('player', 'p1', { type: 'chat', text: 'x'.repeat(300) })).rejects.toMatchObject({
      code: 'FRAME_TOO_LARGE',
    });
    expect(server.commands).toHaveLength(0);
    client.close();
  });

  it('commands - a server ERROR naming a command id ends that command', async () => {
    const { client, server } = harness();
    server.onCommand = (message, connection) => {
      connection.send({ t: MessageType.ERROR, code: 'INVALID_MESSAGE', msg: 'bad command', ref: message.id, retry: false });
      return { kind: 'silence' };
    };
    await client.connect();
    await expect(client.send('player', 'p1', { type: 'move' })).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    client.close();
  });

  it('commands - going offline rejects pending commands with DISCONNECTED; send while offline rejects at once', async () => {
    const { client, server, clock } = harness({ reconnect: { baseMs: 10, capMs: 10, attemptsMax: 1 } });
    server.onCommand = () => ({ kind: 'silence' });
    await client.connect();
    const pending = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    server.refuseConnections = true;
    server.dropAll();
    await clock.advance(100);

    expect(client.state).toBe('offline');
    const error = await pending;
    expect(error).toMatchObject({ code: 'DISCONNECTED' });
    expect((error as RingstateError).cause).toBeInstanceOf(RingstateError);
    await expect(client.send('player', 'p1', { type: 'move' })).rejects.toMatchObject({ code: 'DISCONNECTED' });
    client.close();
  });

  it('commands - close() rejects pending commands with DISCONNECTED', async () => {
    const { client, server } = harness();
    server.onCommand = () => ({ kind: 'silence' });
    await client.connect();
    const pending = client.send('player', 'p1', { type: 'move' });
    client.close();
    await expect(pending).rejects.toMatchObject({ code: 'DISCONNECTED' });
    await expect(client.send('player', 'p1', { type: 'move' })).rejects.toMatchObject({ code: 'DISCONNECTED' });
  });

  it('commands - malformed arguments are programmer errors and throw', async () => {
    const { client } = harness();
    expect(() => client.send('', 'p1', { type: 'x' })).toThrow(TypeError);
    expect(() => client.send('player', '', { type: 'x' })).toThrow(TypeError);
    expect(() => client.send('player', 'p1', { kind: 'x' } as never)).toThrow(TypeError);
    expect(() => client.send('player', 'p1', { type: 'x' }, { timeoutMs: -1 })).toThrow(TypeError);
    client.close();
  });

  it('commands - late answers for finished commands are ignored', async () => {
    const { client, server, clock } = harness({ commandTimeoutMs: 100 });
    let answer: (() => void) | undefined;
    server.onCommand = (message, connection) => {
      answer = () => connection.send({ t: MessageType.ACK, id: message.id, seq: 9 });
      return { kind: 'silence' };
    };
    await client.connect();
    const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await clock.advance(100);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
    answer?.();
    await settle();
    expect(client.state).toBe('online');
    client.close();
  });
});
