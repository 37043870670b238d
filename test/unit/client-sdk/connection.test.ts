import { describe, expect, it } from 'vitest';
import { CloseCodes, RingstateError } from '../../../client-sdk/src/index.ts';
import { MessageType } from '@ringstate/protocol';
import type { ConnectionState } from '../../../client-sdk/src/index.ts';
import { harness } from './helpers/harness.ts';
import { settle } from './helpers/manual-clock.ts';

function recordStates(client: { on(event: 'state', listener: (e: { state: ConnectionState }) => void): unknown }): ConnectionState[] {
  const states: ConnectionState[] = [];
  client.on('state', ({ state }) => states.push(state));
  return states;
}

describe('client-sdk connection', () => {
  it('connection - handshake sends HELLO with version and token, then goes online', async () => {
    const { client, server } = harness();
    const states = recordStates(client);
    const online: unknown[] = [];
    client.on('online', (info) => online.push(info));

    await client.connect();

    expect(server.received[0]).toEqual({ t: MessageType.HELLO, v: 1, token: 'alice' });
    expect(states).toEqual(['connecting', 'online']);
    expect(client.state).toBe('online');
    expect(online).toEqual([
      { url: 'ws://test.local/v1/ws', player: 'alice', session: 'session-1', node: 'node-a', heartbeatMs: 1000 },
    ]);
    expect(client.session?.session).toBe('session-1');
    client.close();
  });

  it('connection - sets binaryType to arraybuffer on the socket', async () => {
    const { client, server } = harness();
    await client.connect();
    const [connection] = server.connections;
    expect(connection?.socket.binaryType).toBe('arraybuffer');
    client.close();
  });

  it('connection - builds ws:// and wss:// URLs from host and secure', async () => {
    for (const secure of [false, true]) {
      const { client, server } = harness({ url: undefined as never, host: 'game.example:7070', secure } as never);
      await client.connect();
      const [connection] = server.connections;
      expect(connection?.socket.url).toBe(`${secure ? 'wss' : 'ws'}://game.example:7070/v1/ws`);
      client.close();
    }
  });

  it('connection - a dropped connection reconnects after a jittered delay to the same host', async () => {
    const { client, server, clock } = harness({ reconnect: { baseMs: 1_000, capMs: 10_000 } });
    await client.connect();
    const reconnecting: { retry: number; delayMs: number; code: string }[] = [];
    client.on('reconnecting', ({ retry, delayMs, error }) => reconnecting.push({ retry, delayMs, code: error.code }));

    server.dropAll();
    await settle();
    expect(client.state).toBe('reconnecting');
    // random() is 0.5, so the first delay is half of baseMs.
    expect(reconnecting).toEqual([{ retry: 1, delayMs: 500, code: 'DISCONNECTED' }]);

    await clock.advance(499);
    expect(server.connectionCount).toBe(1);
    await clock.advance(1);
    expect(client.state).toBe('online');
    expect(server.connectionCount).toBe(2);
    expect([...server.connections][0]?.socket.url).toBe('ws://test.local/v1/ws');
    client.close();
  });

  it('connection - backoff grows between failed attempts and resets once online', async () => {
    const { client, server, clock } = harness({ reconnect: { baseMs: 100, capMs: 250 } });
    await client.connect();
    const delays: number[] = [];
    client.on('reconnecting', ({ delayMs }) => delays.push(delayMs));

    server.refuseConnections = true;
    server.dropAll();
    await clock.advance(2_000);
    expect(delays.slice(0, 4)).toEqual([50, 100, 125, 125]);

    server.refuseConnections = false;
    await clock.advance(200);
    expect(client.state).toBe('online');
    server.dropAll();
    await settle();
    expect(delays.at(-1)).toBe(50);
    client.close();
  });

  it('connection - gives up after reconnect.attemptsMax failures and goes offline', async () => {
    const { client, server, clock } = harness({ reconnect: { baseMs: 10, capMs: 10, attemptsMax: 3 } });
    server.refuseConnections = true;
    const states = recordStates(client);
    const connecting = client.connect();
    const outcome = expect(connecting).rejects.toMatchObject({ code: 'DISCONNECTED' });
    const offline: RingstateError[] = [];
    client.on('offline', ({ error }) => offline.push(error));

    await clock.advance(1_000);

    await outcome;
    expect(client.state).toBe('offline');
    expect(offline).toHaveLength(1);
    // One first attempt plus three retries.
    expect(states.filter((state) => state === 'connecting')).toHaveLength(4);
    expect(clock.pendingTimerCount).toBe(0);

    server.refuseConnections = false;
    await client.connect();
    expect(client.state).toBe('online');
    client.close();
  });

  it('connection - no WELCOME within connectTimeoutMs fails the attempt', async () => {
    const { client, server, clock } = harness({ connectTimeoutMs: 1_000 });
    // A server that accepts the socket but never answers HELLO.
    server.badTokens.clear();
    const original = server.handle.bind(server);
    server.handle = (connection, message) => {
      if (message.t !== MessageType.HELLO) original(connection, message);
    };
    void client.connect().catch(() => {});
    const errors: string[] = [];
    client.on('reconnecting', ({ error }) => errors.push(error.code));

    await clock.advance(1_000);
    expect(errors).toEqual(['TIMEOUT']);
    expect(server.clientCloseCodes).toContain(4101);
    client.close();
  });

  it('connection - a missing pong for two heartbeat intervals counts as a dead connection and reconnects', async () => {
    const { client, server, clock } = harness();
    server.heartbeatMs = 1_000;
    await client.connect();
    const pings = (): number => server.received.filter((message) => message.t === MessageType.PING).length;

    await clock.advance(3_000);
    expect(pings()).toBe(3);
    expect(client.state).toBe('online');

    // The server goes silent without closing: a half-open connection.
    server.answerPings = false;
    const reconnecting: string[] = [];
    client.on('reconnecting', ({ error }) => reconnecting.push(error.message));
    await clock.advance(1_000);
    expect(client.state).toBe('online');
    await clock.advance(1_000);
    expect(client.state).toBe('reconnecting');
    expect(reconnecting[0]).toMatch(/no pong/);
    expect(server.clientCloseCodes).toContain(4100);

    server.answerPings = true;
    await clock.advance(1_000);
    expect(client.state).toBe('online');
    expect(server.connectionCount).toBe(2);
    client.close();
  });

  it('connection - heartbeat.intervalMs overrides the server value and 0 disables pings', async () => {
    const { client, server, clock } = harness({ heartbeat: { intervalMs: 0 } });
    await client.connect();
    server.answerPings = false;
    await clock.advance(60_000);
    expect(server.received.some((message) => message.t === MessageType.PING)).toBe(false);
    expect(client.state).toBe('online');
    client.close();
  });

  it('connection - HANDSHAKE_FAILED with a fixed token goes offline at once without retrying', async () => {
    const { client, server, clock } = harness({ token: 'bad' });
    server.badTokens.set('bad', 'AUTH_INVALID_TOKEN');
    const errors: RingstateError[] = [];
    client.on('error', (error) => errors.push(error));

    await expect(client.connect()).rejects.toMatchObject({ code: 'AUTH_INVALID_TOKEN' });
    await clock.advance(600_000);

    expect(client.state).toBe('offline');
    expect(server.hellos).toEqual(['bad']);
    expect(errors.map((error) => error.code)).toEqual(['AUTH_INVALID_TOKEN']);
    client.close();
  });

  it('connection - HANDSHAKE_FAILED asks the token provider for a new token and retries once it has one', async () => {
    const requests: (string | undefined)[] = [];
    const tokens = ['expired-token', 'fresh-token'];
    const { client, server, clock } = harness({
      getToken: ({ rejected }) => {
        requests.push(rejected?.code);
        return tokens.shift() ?? 'fresh-token';
      },
    });
    server.badTokens.set('expired-token', 'AUTH_TOKEN_EXPIRED');
    const connected = client.connect();
    await clock.advance(1_000);
    await connected;

    expect(requests).toEqual([undefined, 'AUTH_TOKEN_EXPIRED']);
    expect(server.hellos).toEqual(['expired-token', 'fresh-token']);
    expect(client.state).toBe('online');
    client.close();
  });

  it('connection - a token provider that returns the refused token again does not loop', async () => {
    const { client, server, clock } = harness({ getToken: () => 'stale' });
    server.badTokens.set('stale', 'AUTH_TOKEN_EXPIRED');
    const outcome = expect(client.connect()).rejects.toMatchObject({ code: 'AUTH_TOKEN_EXPIRED' });
    await clock.advance(600_000);

    await outcome;
    expect(server.hellos).toEqual(['stale']);
    expect(client.state).toBe('offline');
    client.close();
  });

  it('connection - consecutive refused handshakes stop after a bounded number of fresh tokens', async () => {
    let n = 0;
    const { client, server, clock } = harness({ getToken: () => `bad-${(n += 1)}` });
    for (let i = 1; i <= 10; i += 1) server.badTokens.set(`bad-${i}`, 'AUTH_INVALID_TOKEN');
    const outcome = expect(client.connect()).rejects.toMatchObject({ code: 'AUTH_INVALID_TOKEN' });
    await clock.advance(600_000);

    await outcome;
    expect(server.hellos).toEqual(['bad-1', 'bad-2', 'bad-3']);
    client.close();
  });

  it('connection - close code 4001 with an auth code as reason counts as a refused handshake', async () => {
    const { client, server } = harness();
    server.handle = (connection) => connection.close(CloseCodes.HANDSHAKE_FAILED, 'AUTH_TOKEN_EXPIRED');
    await expect(client.connect()).rejects.toMatchObject({ code: 'AUTH_TOKEN_EXPIRED' });
    expect(client.state).toBe('offline');
    client.close();
  });

  it('connection - close code 4001 for a server-side handshake timeout is retried, not final', async () => {
    const { client, server, clock } = harness();
    const original = server.handle.bind(server);
    let first = true;
    server.handle = (connection, message) => {
      if (first) {
        first = false;
        connection.close(CloseCodes.HANDSHAKE_FAILED, 'handshake timeout');
        return;
      }
      original(connection, message);
    };
    const connected = client.connect();
    await clock.advance(1_000);
    await connected;
    expect(server.hellos).toEqual(['alice']);
    expect(server.connectionCount).toBe(2);
    client.close();
  });

  it('connection - a token provider failure is retried with backoff; a non-retryable one is final', async () => {
    let calls = 0;
    const { client, clock } = harness({
      getToken: async () => {
        calls += 1;
        if (calls === 1) throw new Error('token endpoint unreachable');
        return 'alice';
      },
    });
    const connected = client.connect();
    await clock.advance(1_000);
    await connected;
    expect(calls).toBe(2);
    client.close();

    const second = harness({
      getToken: async () => {
        throw new RingstateError('AUTH_INVALID_TOKEN', 'account banned');
      },
    });
    await expect(second.client.connect()).rejects.toMatchObject({ code: 'AUTH_INVALID_TOKEN' });
    expect(second.client.state).toBe('offline');
    second.client.close();
  });

  it('connection - close() is final: state closed, timers cleared, socket closed with 1000', async () => {
    const { client, server, clock } = harness();
    await client.connect();
    const closed: unknown[] = [];
    client.on('closed', () => closed.push(true));

    client.close();
    client.close();
    await settle();

    expect(client.state).toBe('closed');
    expect(closed).toHaveLength(1);
    expect(server.clientCloseCodes).toEqual([1000]);
    expect(clock.pendingTimerCount).toBe(0);
    await expect(client.connect()).rejects.toBeInstanceOf(RingstateError);
  });

  it('connection - close() during a reconnect delay stops reconnecting', async () => {
    const { client, server, clock } = harness();
    await client.connect();
    server.dropAll();
    await settle();
    expect(client.state).toBe('reconnecting');
    client.close();
    await clock.advance(60_000);
    expect(server.connectionCount).toBe(1);
  });

  it('connection - a server ERROR without ref is surfaced as an error event', async () => {
    const { client, server } = harness();
    await client.connect();
    const errors: string[] = [];
    client.on('error', (error) => errors.push(error.code));
    [...server.connections][0]?.send({ t: MessageType.ERROR, code: 'RATE_LIMITED', msg: 'slow down', retry: true });
    await settle();
    expect(errors).toEqual(['RATE_LIMITED']);
    client.close();
  });

  it('connection - malformed server frames are logged and ignored', async () => {
    const { client, server, logs } = harness();
    await client.connect();
    const [connection] = server.connections;
    connection?.socket.deliver(new Uint8Array([0xc1]));
    connection?.socket.deliver(new Uint8Array([0x80]));
    await settle();
    expect(client.state).toBe('online');
    expect(logs.filter((log) => log.message === 'ignored a malformed server frame')).toHaveLength(2);
    client.close();
  });

  it('connection - a throwing event listener is logged and does not break the client', async () => {
    const { client, logs } = harness();
    client.on('online', () => {
      throw new Error('app bug');
    });
    await client.connect();
    expect(client.state).toBe('online');
    expect(logs.some((log) => log.level === 'error' && log.message === 'event listener threw')).toBe(true);
    client.close();
  });

  it('connection - invalid options throw a TypeError at construction', () => {
    expect(() => harness({ token: 'a', getToken: () => 'b' })).toThrow(TypeError);
    expect(() => harness({ url: 'http://x' })).toThrow(TypeError);
    expect(() => harness({ commandTimeoutMs: 0 })).toThrow(TypeError);
    expect(() => harness({ reconnect: { attemptsMax: 1.5 } })).toThrow(TypeError);
    expect(() => harness({ reconnect: { attemptsMax: Number.POSITIVE_INFINITY } })).not.toThrow();
  });

  it('connection - the host provider picks each URL and hears how each attempt went', async () => {
    const picks: { retry: number; previousUrl: string | undefined; error: string | undefined }[] = [];
    const reports: string[] = [];
    const { client, server, clock } = harness({
      hostProvider: () => ({
        pick: async ({ retry, previousUrl, error }) => {
          picks.push({ retry, previousUrl, error: error?.code });
          return `ws://host-${picks.length}.test/v1/ws`;
        },
        report: (url, outcome) => reports.push(`${url} ${outcome.ok ? 'ok' : outcome.error.code}`),
      }),
    });
    await client.connect();
    server.dropAll();
    await clock.advance(1_000);

    expect(client.session?.url).toBe('ws://host-2.test/v1/ws');
    expect(picks).toEqual([
      { retry: 0, previousUrl: undefined, error: undefined },
      { retry: 1, previousUrl: 'ws://host-1.test/v1/ws', error: 'DISCONNECTED' },
    ]);
    expect(reports).toEqual(['ws://host-1.test/v1/ws ok', 'ws://host-1.test/v1/ws DISCONNECTED', 'ws://host-2.test/v1/ws ok']);
    client.close();
  });
});
