/**
 * The SDK tells the truth about outcomes: a command that left on a socket and never got a
 * definite answer ends with an outcome-unknown code (TIMEOUT, DISCONNECTED) carrying its
 * command id, never with a retryable server code that reads as "not applied".
 */
import { describe, expect, it } from 'vitest';
import { RingstateError } from '../../../client-sdk/src/index.ts';
import type { ErrorCode } from '@ringstate/protocol';
import { harness } from './helpers/harness.ts';
import { settle } from './helpers/manual-clock.ts';

const timing = { commandTimeoutMs: 3_000, commandRetry: { baseMs: 200, capMs: 200 }, unservedMoveMs: 0 } as const;

describe('client-sdk command outcomes', () => {
  for (const code of ['OVERLOADED', 'NO_QUORUM', 'UNAVAILABLE'] as const satisfies readonly ErrorCode[]) {
    it(`outcome - an applied command whose ACK was lost, then refused with ${code} until the SDK gives up, ends as TIMEOUT with its id; a retry with that id answers duplicate`, async () => {
      const { client, server, clock } = harness(timing);
      await client.connect();
      let refusing = false;
      server.onCommand = () => {
        refusing = true;
        return { kind: 'apply-lost' };
      };
      server.admit = () => (refusing ? { code } : undefined);

      const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
      await clock.advance(3_000);
      const error = await outcome;

      expect(error).toBeInstanceOf(RingstateError);
      const commandId = server.commands[0]?.message.id;
      expect(error).toMatchObject({ code: 'TIMEOUT', commandId, lastCode: code });
      // It went out again after the reconnect and was refused until no retry fit the deadline.
      expect(server.commands.length).toBeGreaterThan(3);
      expect(server.connectionCount).toBe(2);

      refusing = false;
      server.admit = () => undefined;
      const retried = await client.send('player', 'p1', { type: 'move' }, { commandId: (error as RingstateError).commandId ?? '' });
      expect(retried).toEqual({ seq: 1, duplicate: true });
      expect(server.aggregate('player', 'p1').seq).toBe(1);
      client.close();
    });
  }

  for (const code of ['OVERLOADED', 'NO_QUORUM'] as const satisfies readonly ErrorCode[]) {
    it(`outcome - ${code} refusing every attempt of a command proves it was not applied: it ends with ${code} and its id`, async () => {
      const { client, server, clock } = harness(timing);
      server.admit = () => ({ code });
      await client.connect();
      const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
      await clock.advance(3_000);
      expect(await outcome).toMatchObject({ code, commandId: server.commands[0]?.message.id });
      expect(server.aggregate('player', 'p1').seq).toBe(0);
      client.close();
    });
  }

  it('outcome - a NO_QUORUM marked OUTCOME_UNKNOWN (proposed before the quorum was lost) makes later plain refusals end as TIMEOUT', async () => {
    const { client, server, clock } = harness(timing);
    let answers = 0;
    server.admit = () => (answers++ === 0 ? { code: 'NO_QUORUM', reason: 'OUTCOME_UNKNOWN' } : { code: 'NO_QUORUM' });
    await client.connect();
    const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await clock.advance(3_000);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT', lastCode: 'NO_QUORUM', commandId: server.commands[0]?.message.id });
    client.close();
  });

  it('outcome - a definite answer after a lost ACK still ends the command with that answer', async () => {
    const { client, server, clock } = harness(timing);
    await client.connect();
    let attempts = 0;
    server.onCommand = () => (attempts++ === 0 ? { kind: 'silence' } : { kind: 'reject', code: 'REJECTED', reason: 'no' });
    const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await settle();
    server.dropAll();
    await clock.advance(1_000);
    expect(await outcome).toMatchObject({ code: 'REJECTED', reason: 'no', commandId: server.commands[0]?.message.id });
    client.close();
  });

  // Codes a server answers before it looks up the command id (validation, an aggregate type a
  // node of another version does not know): they do not say an earlier attempt was not applied.
  for (const code of ['UNKNOWN_AGGREGATE_TYPE', 'INVALID_MESSAGE'] as const satisfies readonly ErrorCode[]) {
    it(`outcome - ${code} after an applied attempt whose ACK was lost ends as TIMEOUT with lastCode ${code}, not as "not applied"`, async () => {
      const { client, server, clock } = harness(timing);
      await client.connect();
      let applied = false;
      server.onCommand = () => {
        applied = true;
        return { kind: 'apply-lost' };
      };
      server.admit = () => (applied ? { code, retry: false } : undefined);
      const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
      await clock.advance(3_000);
      expect(server.aggregate('player', 'p1').seq).toBe(1);
      expect(await outcome).toMatchObject({ code: 'TIMEOUT', lastCode: code, commandId: server.commands[0]?.message.id });
      client.close();
    });
  }

  it('outcome - UNKNOWN_AGGREGATE_TYPE on the first and only attempt ends with that code (nothing may have been applied)', async () => {
    const { client, server, clock } = harness(timing);
    await client.connect();
    server.admit = () => ({ code: 'UNKNOWN_AGGREGATE_TYPE', retry: false });
    const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await clock.advance(100);
    expect(await outcome).toMatchObject({ code: 'UNKNOWN_AGGREGATE_TYPE', commandId: server.commands[0]?.message.id });
    client.close();
  });

  it('outcome - going offline after a lost ACK ends with DISCONNECTED, the command id and the last code', async () => {
    const { client, server, clock } = harness({ ...timing, commandTimeoutMs: 30_000, reconnect: { baseMs: 10, capMs: 10, attemptsMax: 1 } });
    await client.connect();
    server.admit = () => ({ code: 'NO_QUORUM' });
    const outcome = client.send('player', 'p1', { type: 'move' }).catch((caught: unknown) => caught);
    await clock.advance(50);
    server.refuseConnections = true;
    server.dropAll();
    await clock.advance(1_000);
    expect(client.state).toBe('offline');
    expect(await outcome).toMatchObject({ code: 'DISCONNECTED', lastCode: 'NO_QUORUM', commandId: server.commands[0]?.message.id });
    client.close();
  });

  it('outcome - a command id given to send is used on the wire; a pending or malformed one is a programmer error', async () => {
    const { client, server } = harness();
    server.onCommand = () => ({ kind: 'silence' });
    await client.connect();
    void client.send('player', 'p1', { type: 'move' }, { commandId: 'mine.1' }).catch(() => undefined);
    await settle();
    expect(server.commands.map(({ message }) => message.id)).toEqual(['mine.1']);
    expect(() => client.send('player', 'p1', { type: 'move' }, { commandId: 'mine.1' })).toThrow(TypeError);
    expect(() => client.send('player', 'p1', { type: 'move' }, { commandId: '' })).toThrow(TypeError);
    expect(() => client.send('player', 'p1', { type: 'move' }, { commandId: 'x'.repeat(129) })).toThrow(TypeError);
    client.close();
  });

  it('outcome - OVERLOADED with a retry hint (ra) is retried no sooner than the hint; a malformed hint is ignored', async () => {
    for (const [ra, floorMs] of [[1_500, 1_500], ['soon', 0], [-5, 0], [10 ** 9, 0]] as const) {
      const { client, server, clock } = harness({ ...timing, commandTimeoutMs: 10_000 });
      let refusals = 0;
      server.admit = () => (refusals++ === 0 ? { code: 'OVERLOADED', ra } : undefined);
      await client.connect();
      const startedMs = clock.now();
      const outcome = client.send('player', 'p1', { type: 'move' });
      if (floorMs > 0) {
        await clock.advance(floorMs - 1);
        expect(server.commands.length, `ra ${String(ra)}: not retried before the hint`).toBe(1);
      } else {
        // The hint is ignored: retried within the normal backoff (capMs 200).
        await clock.advance(201);
        expect(server.commands.length, `ra ${String(ra)}: retried on the normal backoff`).toBe(2);
      }
      await clock.advance(1_000);
      await expect(outcome).resolves.toMatchObject({ seq: 1 });
      expect(server.commands.length).toBe(2);
      expect(clock.now() - startedMs).toBeGreaterThanOrEqual(floorMs);
      client.close();
    }
  });
});
