/**
 * The security log (observability/security-log.ts): bounded lines per kind under a flood, a
 * summary with the suppressed count, and every session-level refusal logging its kind with the
 * fields an operator needs (remote address, code, player).
 */
import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageType, PROTOCOL_VERSION, decodeFrame, encodeFrame, type ClientMessage, type ServerMessage } from '@ringstate/protocol';
import { exampleGame } from '../../../server/example-game/index.ts';
import { AggregateRegistry, AggregateRuntime } from '../../../server/src/aggregate/index.ts';
import { PlayerTokens } from '../../../server/src/auth/index.ts';
import { loadConfig } from '../../../server/src/config/index.ts';
import { ClientSession, type ConnectionPort } from '../../../server/src/gateway/index.ts';
import type { HttpRequestInfo } from '../../../server/src/http/index.ts';
import { CommandRouter, InFlightCommands } from '../../../server/src/router/index.ts';
import { LogStore } from '../../../server/src/log/index.ts';
import { NodeMetrics, SecurityKinds, SecurityLog, adminVerdict, refuseAdmin } from '../../../server/src/observability/index.ts';
import { LocalPartitionLog } from '../../../server/src/partition/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

interface Line {
  level: number;
  msg: string;
  security: string;
  code?: string;
  remoteAddress?: string;
  player?: string;
  object?: string;
  suppressed?: number;
  windowMs?: number;
  [field: string]: unknown;
}

/** A pino logger writing to memory through a destination stream, as in production. */
function capture(): { lines: Line[]; logger: pino.Logger } {
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) if (text !== '') lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info', base: { nodeId: 'n1' } }, destination) };
}

/** Any value as a frame, ill-formed messages included (encodeFrame accepts only valid ones). */
function encode(message: Record<string, unknown>): Uint8Array {
  return encodeFrame(message as unknown as ClientMessage);
}

/** Lets the destination stream deliver anything still queued. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('security log - bounded', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => vi.useRealTimers());

  it('logs - a flood logs at most N lines per kind per window, then one summary line with the suppressed count', async () => {
    const { lines, logger } = capture();
    const log = new SecurityLog(logger, { linesPerWindowMax: 5, windowMs: 10_000, nowMs: () => Date.now() });
    for (let n = 0; n < 10_000; n += 1) log.record({ kind: 'rate_limited', code: 'RATE_LIMITED', reason: 'MESSAGES_PER_SECOND_OVER_MAX', remoteAddress: '203.0.113.9', player: `p${n}` });
    for (let n = 0; n < 3; n += 1) log.record({ kind: 'auth_failed', code: 'AUTH_INVALID_TOKEN', reason: 'KEY_UNKNOWN', remoteAddress: '203.0.113.9' });
    await settle();
    expect(lines.filter((line) => line.security === 'rate_limited')).toHaveLength(5);
    expect(lines.filter((line) => line.security === 'auth_failed')).toHaveLength(3);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'security event', nodeId: 'n1', security: 'rate_limited', code: 'RATE_LIMITED', reason: 'MESSAGES_PER_SECOND_OVER_MAX', remoteAddress: '203.0.113.9', player: 'p0' });

    // The window ends with no further event: the timer writes the summary by itself.
    vi.advanceTimersByTime(10_000);
    await settle();
    const summaries = lines.filter((line) => line.msg === 'security events suppressed');
    expect(summaries).toEqual([expect.objectContaining({ level: 40, security: 'rate_limited', suppressed: 9_995, windowMs: 10_000 })]);

    // A new window logs again.
    log.record({ kind: 'rate_limited', code: 'RATE_LIMITED', reason: 'MESSAGES_PER_SECOND_OVER_MAX', remoteAddress: '203.0.113.9' });
    await settle();
    expect(lines.filter((line) => line.security === 'rate_limited' && line.msg === 'security event')).toHaveLength(6);
    log.stop();
  });

  it('logs - a window that ends while events keep coming is summarized before the next line; stop() flushes', async () => {
    const { lines, logger } = capture();
    let nowMs = 0;
    const log = new SecurityLog(logger, { linesPerWindowMax: 2, windowMs: 1_000, nowMs: () => nowMs });
    for (let n = 0; n < 5; n += 1) log.record({ kind: 'oversize', code: 'FRAME_TOO_LARGE', reason: 'FRAME_OVER_MAX' });
    nowMs = 1_000;
    log.record({ kind: 'oversize', code: 'FRAME_TOO_LARGE', reason: 'FRAME_OVER_MAX' });
    for (let n = 0; n < 4; n += 1) log.record({ kind: 'oversize', code: 'FRAME_TOO_LARGE', reason: 'FRAME_OVER_MAX' });
    log.stop();
    await settle();
    expect(lines.map((line) => line.suppressed ?? line.msg)).toEqual(['security event', 'security event', 3, 'security event', 'security event', 3]);
  });

  it('logs - attacker-chosen fields are clipped and cannot overwrite the kind, code or reason', async () => {
    const { lines, logger } = capture();
    const log = new SecurityLog(logger);
    log.record({ kind: 'second_life_refused', code: 'AUTH_INVALID_TOKEN', reason: 'SIGNATURE_MISMATCH', object: 'o'.repeat(10_000), detail: { security: 'forged', code: 'forged', reason: 'forged' } });
    log.stop();
    await settle();
    expect(lines[0]).toMatchObject({ security: 'second_life_refused', code: 'AUTH_INVALID_TOKEN', reason: 'SIGNATURE_MISMATCH' });
    expect(String(lines[0]?.object).length).toBeLessThanOrEqual(130);
  });
});

class FakePort implements ConnectionPort {
  readonly sent: ServerMessage[] = [];
  closedWith: [number, string] | undefined;
  buffered = 0;
  readonly remoteAddress = '198.51.100.4';
  send(frame: Uint8Array): void {
    this.sent.push(decodeFrame(frame) as ServerMessage);
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason];
  }
  bufferedBytes(): number {
    return this.buffered;
  }
}

describe('security log - every kind logs', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: LogStore;
  const config = loadConfig({ overrides: { devMode: true, limits: { frameBytesMax: 1024, messagesPerSecondMax: 10, rateViolationsBeforeClose: 3, invalidFramesBeforeClose: 3, outgoingBufferBytesMax: 1000 } } });
  const tokens = new PlayerTokens(config.tokens);

  beforeEach(() => {
    dir = tempDir('security-log');
    store = LogStore.open({ path: dir.path, durability: 'os' });
  });
  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  /** A session after its HELLO: a valid token, a forged one, or the given HELLO frame. */
  async function session(log: SecurityLog, hello: 'valid' | 'forged' | Record<string, unknown> = 'valid'): Promise<{ session: ClientSession; port: FakePort }> {
    const runtime = new AggregateRuntime({
      registry: new AggregateRegistry(exampleGame),
      store,
      log: new LocalPartitionLog(store),
      nowMs: Date.now,
      settings: { partitionCount: 8, snapshotEveryEvents: 100, aggregateIdleMs: 1000, activeAggregatesMax: 100, commandQueueMax: 100, docResidentMs: 1000 },
    });
    const port = new FakePort();
    const created = new ClientSession(
      port,
      { runtime, router: new CommandRouter({ runtime, admission: new InFlightCommands(0) }), tokens, limits: config.limits, nodeId: 'n1', metrics: new NodeMetrics({ defaultMetrics: false }), logger: pino({ level: 'silent' }), nowMs: Date.now, isShuttingDown: () => false, securityLog: log },
      's1',
    );
    const token = hello === 'valid' ? (await tokens.issue('ann', 60_000, Date.now())).token : 'forged.token.value';
    created.receive(typeof hello === 'object' ? encode(hello) : encodeFrame({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token }), true);
    for (let tries = 0; tries < 100 && !port.sent.some((m) => m.t === MessageType.WELCOME || m.t === MessageType.ERROR); tries += 1) await new Promise((r) => setTimeout(r, 5));
    return { session: created, port };
  }

  it('logs - auth failures, protocol and flood closes, rate limits, oversize frames and slow consumers each log their kind with address, code and player', async () => {
    const { lines, logger } = capture();
    const log = new SecurityLog(logger);

    await session(log, 'forged');

    const flood = await session(log);
    for (let n = 0; n < 40; n += 1) flood.session.receive(encodeFrame({ t: MessageType.PING, n }), true);
    expect(flood.port.closedWith?.[0]).toBe(4008);

    const garbage = await session(log);
    for (let n = 0; n < 3; n += 1) garbage.session.receive(new Uint8Array([0xc1, n]), true);
    expect(garbage.port.closedWith?.[0]).toBe(4002);

    const big = await session(log);
    big.session.receive(new Uint8Array(2_000), true);
    expect(big.port.closedWith).toBeUndefined();
    big.session.receive(new Uint8Array(5_000), true);
    expect(big.port.closedWith).toEqual([1009, 'FRAME_TOO_LARGE']);
    expect(big.port.sent.filter((m) => m.t === MessageType.ERROR).map((m) => (m as { code: string }).code)).toEqual(['FRAME_TOO_LARGE', 'FRAME_TOO_LARGE']);

    const slow = await session(log);
    slow.port.buffered = 5_000;
    slow.session.receive(encodeFrame({ t: MessageType.PING, n: 1 }), true);
    expect(slow.port.closedWith?.[0]).toBe(4009);

    log.stop();
    await settle();
    const byKind = (kind: string): Line[] => lines.filter((line) => line.security === kind && line.msg === 'security event');
    expect(byKind('auth_failed')[0]).toMatchObject({ level: 40, code: 'AUTH_INVALID_TOKEN', remoteAddress: '198.51.100.4' });
    expect(byKind('flood_close')).toEqual([expect.objectContaining({ code: 'RATE_LIMITED', remoteAddress: '198.51.100.4', player: 'ann' })]);
    expect(byKind('rate_limited')[0]).toMatchObject({ code: 'RATE_LIMITED', player: 'ann' });
    expect(byKind('protocol_close')).toEqual([expect.objectContaining({ code: 'BAD_FRAME', remoteAddress: '198.51.100.4', player: 'ann' })]);
    expect(byKind('oversize').map((line) => [line.code, line['bytes'], line['closed']])).toEqual([
      ['FRAME_TOO_LARGE', 2_000, false],
      ['FRAME_TOO_LARGE', 5_000, true],
    ]);
    expect(byKind('slow_consumer')).toEqual([expect.objectContaining({ code: 'SLOW_CONSUMER', player: 'ann', remoteAddress: '198.51.100.4' })]);
  });

  it('logs - refused admin requests log admin_refused; every documented kind has a description', async () => {
    const { lines, logger } = capture();
    const log = new SecurityLog(logger);
    const request = (remoteAddress: string, authorization?: string): HttpRequestInfo => ({
      method: 'GET',
      path: '/v1/admin/cluster',
      query: new URLSearchParams(),
      headers: new Map(authorization === undefined ? [] : [['authorization', authorization]]),
      body: new Uint8Array(),
      remoteAddress,
    });
    const production = { token: 'admin-token-0123456789abcdef0123456789', devMode: false, securityLog: log };
    expect(refuseAdmin(request('127.0.0.1'), production)?.status).toBe(403);
    expect(refuseAdmin(request('127.0.0.1', 'Bearer admin-token-0123456789abcdef0123456789'), production)).toBeUndefined();
    expect(adminVerdict(request('127.0.0.1'), production, 'page')).toBe('allowed');
    expect(adminVerdict(request('203.0.113.1'), production, 'page')).toBe('token-missing');
    expect(adminVerdict(request('203.0.113.1', 'Bearer nope'), { ...production, devMode: true })).toBe('token-wrong');
    expect(adminVerdict(request('127.0.0.1'), { ...production, devMode: true })).toBe('allowed');
    // No token configured outside dev mode: nobody gets in (config validation also refuses to start).
    expect(adminVerdict(request('127.0.0.1', 'Bearer anything'), { token: undefined, devMode: false })).toBe('token-unset');
    log.stop();
    await settle();
    expect(lines).toEqual([expect.objectContaining({ security: 'admin_refused', code: 'FORBIDDEN', remoteAddress: '127.0.0.1', path: '/v1/admin/cluster', reason: 'token-missing' })]);
    expect(Object.keys(SecurityKinds).sort()).toEqual(['admin_refused', 'auth_failed', 'connections_per_ip', 'flood_close', 'handshake_failed', 'handshakes_in_flight', 'oversize', 'peer_refused', 'protocol_close', 'rate_limited', 'second_life_refused', 'slow_consumer']);
  });

  it('logs - each token refusal reason is in its auth_failed line, never the token itself', async () => {
    const key = config.tokens.keys[0];
    if (key === undefined) throw new Error('no token key');
    const nowS = Math.floor(Date.now() / 1000);
    const lifetimeMaxS = Math.ceil(config.tokens.lifetimeMaxMs / 1000);
    const jwt = (claims: { iss?: string; aud?: string; exp?: number; iat?: number }, signing: { kid?: string; secret?: string } = {}): Promise<string> => {
      const built = new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: signing.kid ?? key.kid }).setSubject('ann');
      built.setIssuer(claims.iss ?? config.tokens.issuer).setAudience(claims.aud ?? config.tokens.audience);
      if (claims.iat !== undefined) built.setIssuedAt(claims.iat);
      if (claims.exp !== undefined) built.setExpirationTime(claims.exp);
      return built.sign(new TextEncoder().encode(signing.secret ?? key.secret));
    };
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(`{"sub":"ann","exp":${nowS + 60}}`).toString('base64url')}.`;
    const cases: Array<readonly [string, string, string]> = [
      ['KEY_UNKNOWN', 'AUTH_INVALID_TOKEN', await jwt({ exp: nowS + 60 }, { kid: 'forged-kid' })],
      ['NO_EXP', 'AUTH_INVALID_TOKEN', await jwt({ iat: nowS })],
      ['LIFETIME_OVER_MAX', 'AUTH_INVALID_TOKEN', await jwt({ iat: nowS, exp: nowS + lifetimeMaxS + 3600 })],
      ['EXPIRED', 'AUTH_TOKEN_EXPIRED', await jwt({ iat: nowS - 7200, exp: nowS - 3600 })],
      ['ISSUER_WRONG', 'AUTH_INVALID_TOKEN', await jwt({ iss: 'someone-else', exp: nowS + 60 })],
      ['AUDIENCE_WRONG', 'AUTH_INVALID_TOKEN', await jwt({ aud: 'another-game', exp: nowS + 60 })],
      ['SIGNATURE_BAD', 'AUTH_INVALID_TOKEN', await jwt({ exp: nowS + 60 }, { secret: 'not-the-key-0123456789abcdef0123456789' })],
      ['ALG_REFUSED', 'AUTH_INVALID_TOKEN', unsigned],
      ['TOKEN_MALFORMED', 'AUTH_INVALID_TOKEN', 'not-a-jwt'],
    ];
    for (const [reason, code, token] of cases) {
      const { lines, logger } = capture();
      const log = new SecurityLog(logger);
      const { port } = await session(log, { t: MessageType.HELLO, v: PROTOCOL_VERSION, token });
      log.stop();
      await settle();
      expect(port.closedWith, reason).toEqual([4001, code]);
      expect(lines, reason).toEqual([expect.objectContaining({ msg: 'security event', security: 'auth_failed', code, reason, remoteAddress: '198.51.100.4' })]);
      expect(JSON.stringify(lines), reason).not.toContain(token);
    }
  });

  it('logs - a malformed HELLO (empty, 10 KB or numeric token) closes 4001 at once with handshake_failed HELLO_MALFORMED; protocol 99 logs PROTOCOL_UNSUPPORTED', async () => {
    const hellos: Array<readonly [string, Record<string, unknown>]> = [
      ['empty', { t: MessageType.HELLO, v: PROTOCOL_VERSION, token: '' }],
      ['10 KB', { t: MessageType.HELLO, v: PROTOCOL_VERSION, token: 'x'.repeat(10_000) }],
      ['numeric', { t: MessageType.HELLO, v: PROTOCOL_VERSION, token: 12345 }],
      ['no version', { t: MessageType.HELLO, token: 'abc' }],
    ];
    const big = loadConfig({ overrides: { devMode: true, limits: { frameBytesMax: 65_536 } } });
    for (const [name, hello] of hellos) {
      const { lines, logger } = capture();
      const log = new SecurityLog(logger);
      const port = new FakePort();
      const runtime = { subscribe: () => undefined } as unknown as AggregateRuntime;
      const created = new ClientSession(
        port,
        { runtime, router: new CommandRouter({ runtime, admission: new InFlightCommands(0) }), tokens, limits: big.limits, nodeId: 'n1', metrics: new NodeMetrics({ defaultMetrics: false }), logger: pino({ level: 'silent' }), nowMs: Date.now, isShuttingDown: () => false, securityLog: log },
        's1',
      );
      created.receive(encode(hello), true);
      log.stop();
      await settle();
      expect(port.closedWith, name).toEqual([4001, 'INVALID_MESSAGE']);
      expect(port.sent, name).toEqual([expect.objectContaining({ t: MessageType.ERROR, code: 'INVALID_MESSAGE' })]);
      expect(lines, name).toEqual([expect.objectContaining({ security: 'handshake_failed', code: 'INVALID_MESSAGE', reason: 'HELLO_MALFORMED', remoteAddress: '198.51.100.4' })]);
      expect(JSON.stringify(lines)).not.toContain('x'.repeat(200));
      created.closed();
    }
    const { lines, logger } = capture();
    const log = new SecurityLog(logger);
    const { port } = await session(log, { t: MessageType.HELLO, v: 99, token: 'whatever' });
    log.stop();
    await settle();
    expect(port.closedWith).toEqual([4001, 'PROTOCOL_VERSION_UNSUPPORTED']);
    expect(lines).toEqual([expect.objectContaining({ security: 'handshake_failed', code: 'PROTOCOL_VERSION_UNSUPPORTED', reason: 'PROTOCOL_UNSUPPORTED', version: 99 })]);
  });
});
