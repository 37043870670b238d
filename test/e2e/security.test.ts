/**
 * Security controls end to end (docs/security.md). Each case sends what an attacker would and
 * checks: a clear refusal with a stable code, the node still serving, and no data touched.
 *
 * - player tokens: forged, unsigned, expired, wrong issuer/audience, a retired key vs a listed one
 * - authorization: a player commanding another player's aggregate
 * - Second Life: X-SecondLife-* headers alone, a bad signature, a replayed nonce
 * - cluster: a libp2p peer with the wrong cluster key
 * - secrets: a real node started without its own refuses to start; one with its own refuses
 *   tokens forged with the public dev key
 * - every HTTP endpoint: oversize and malformed bodies, unknown paths and methods
 * - floods: WebSocket messages, HTTP requests, signed SL requests
 * - from a non-loopback address (a network namespace): admin API and dashboard need the token,
 *   and connections per IP are capped
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleGame } from '../../server/example-game/index.ts';
import { createPeerNetwork, generateClusterKey } from '../../server/src/peer/index.ts';
import { DEV_TOKEN_KEY, loadConfig } from '../../server/src/config/index.ts';
import { GameNode } from '../../server/src/game-node.ts';
import { llHMAC } from '../support/lsl-emulator.ts';
import { createNetnsLab, type NetnsLab } from '../support/netns-lab.ts';
import { freePort, startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';
import { startTestNode } from '../support/in-process-node.ts';
import { RawClient } from '../support/raw-client.ts';
import { tempDir } from '../support/temp-dir.ts';

const T = { HELLO: 1, COMMAND: 2, SUB: 3, PING: 5, WELCOME: 101, ACK: 102, REJECT: 103, SNAPSHOT: 104, ERROR: 106 } as const;
const ISSUER = 'security-test-issuer';
const AUDIENCE = 'security-test-audience';
const CURRENT_KEY = { kid: 'k-2026-11', secret: 'current-key-secret-0123456789-abcdefghijklmnop' };
const PREVIOUS_KEY = { kid: 'k-2026-05', secret: 'previous-key-secret-0123456789-abcdefghijklmno' };
const RETIRED_KEY = { kid: 'k-2025-11', secret: 'retired-key-secret-0123456789-abcdefghijklmnop' };
const MASTER_KEY = 'security-test-sl-master-key-0123456789abcdef';
const ADMIN_TOKEN = 'security-test-admin-token-0123456789abcdef';

interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

interface Frame {
  t: number;
  code?: string;
  seq?: number;
  id?: string;
}

let node: GameNode;
let httpUrl = '';
let wsUrl = '';
const records: LogRecord[] = [];
const dir = tempDir('security');

async function token(claims: { sub?: string; iss?: string; aud?: string; expSeconds?: number }, key: { kid: string; secret: string } = CURRENT_KEY): Promise<string> {
  const nowSeconds = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', kid: key.kid })
    .setSubject(claims.sub ?? 'alice')
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setIssuedAt(nowSeconds - 10)
    .setExpirationTime(claims.expSeconds ?? nowSeconds + 600)
    .sign(new TextEncoder().encode(key.secret));
}

/** HELLO with a token; resolves the first answer frame and the close code if the server closed. */
async function hello(tokenText: string): Promise<{ client: RawClient; answer: Frame; closeCode: number | undefined }> {
  const client = await RawClient.connect(wsUrl);
  client.send({ t: T.HELLO, v: 1, token: tokenText });
  const answer = (await client.waitFor((message) => message.t === T.WELCOME || message.t === T.ERROR)) as unknown as Frame;
  const closeCode = answer.t === T.ERROR ? await client.waitClosed() : undefined;
  return { client, answer, closeCode };
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split('\n').find((row) => row.startsWith(`${name}{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

async function seqOf(player: string): Promise<number> {
  const { client } = await hello(await token({ sub: player }));
  client.send({ t: T.SUB, a: 'player', i: player });
  const snapshot = (await client.waitFor((message) => message.t === T.SNAPSHOT)) as unknown as Frame;
  client.close();
  return snapshot.seq ?? -1;
}

async function command(client: RawClient, id: string, aggregateId: string, body: Record<string, unknown>): Promise<Frame> {
  // Only answers that arrive after this send count, so a retried id does not match an old REJECT.
  const seen = client.received.length;
  client.send({ t: T.COMMAND, id, a: 'player', i: aggregateId, c: body });
  return (await client.waitFor((message) => (message.t === T.ACK || message.t === T.REJECT) && (message as unknown as Frame).id === id, 5_000, seen)) as unknown as Frame;
}

async function expectHealthy(): Promise<void> {
  const response = await fetch(`${httpUrl}/healthz`);
  expect(response.status).toBe(200);
  expect((await fetch(`${httpUrl}/readyz`)).status).toBe(200);
}

beforeAll(async () => {
  const config = loadConfig({
    overrides: {
      nodeId: 'sec-1',
      port: 0,
      dataDir: dir.path,
      devMode: true,
      replicationFactor: 1,
      logLevel: 'info',
      tokens: { issuer: ISSUER, audience: AUDIENCE, keys: [CURRENT_KEY, PREVIOUS_KEY] },
      admin: { token: ADMIN_TOKEN },
      limits: { messagesPerSecondMax: 20, rateViolationsBeforeClose: 30 },
      secondLife: { enabled: true, masterKey: MASTER_KEY, requestsPerSecondPerObjectMax: 4 },
      cluster: { enabled: true, members: ['sec-1'], peerPort: await freePort(), key: 'security-test-cluster-key-0123456789' },
    },
  });
  const logger = pino({ level: 'info', base: { nodeId: 'sec-1' } }, { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) });
  node = new GameNode({ config, aggregates: exampleGame, logger, processMetrics: false });
  await node.start();
  httpUrl = `http://127.0.0.1:${node.port}`;
  wsUrl = `ws://127.0.0.1:${node.port}/v1/ws`;
  // A fresh single-member cluster elects its partition owners just after start: wait for all.
  const readyBy = Date.now() + 15_000;
  while (!node.clusterView().partitions.every((row) => row.role === 'owner' && row.ready) && Date.now() < readyBy) await new Promise((resolve) => setTimeout(resolve, 50));
  // Data that no attack below may touch.
  const { client } = await hello(await token({ sub: 'bob' }));
  // A fresh single-member cluster elects its partition owners just after start: retry until served.
  const deadline = Date.now() + 15_000;
  let answer = await command(client, 'bob-1', 'bob', { type: 'append', value: 'bob-data' });
  while (answer.t !== T.ACK && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    answer = await command(client, 'bob-1', 'bob', { type: 'append', value: 'bob-data' });
  }
  expect(answer.t, JSON.stringify(answer)).toBe(T.ACK);
  client.close();
}, 60_000);

afterAll(async () => {
  await node?.stop();
  dir.remove();
});

describe('security - player tokens', () => {
  it('tokens - forged, unsigned, malformed, expired, wrong issuer or audience: refused with a stable code and close 4001', async () => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const forged = await token({}, { kid: CURRENT_KEY.kid, secret: 'attacker-chosen-secret-0123456789-abcdefghijk' });
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, exp: nowSeconds + 600 })).toString('base64url');
    const cases: Array<[string, string, string]> = [
      ['forged signature', forged, 'AUTH_INVALID_TOKEN'],
      ['alg none', `${header}.${payload}.`, 'AUTH_INVALID_TOKEN'],
      ['garbage', 'not-a-jwt', 'AUTH_INVALID_TOKEN'],
      ['expired', await token({ expSeconds: nowSeconds - 120 }), 'AUTH_TOKEN_EXPIRED'],
      ['wrong issuer', await token({ iss: 'someone-else' }), 'AUTH_INVALID_TOKEN'],
      ['wrong audience', await token({ aud: 'another-service' }), 'AUTH_INVALID_TOKEN'],
      ['unknown kid', await token({}, { kid: 'k-unknown', secret: CURRENT_KEY.secret }), 'AUTH_INVALID_TOKEN'],
    ];
    for (const [name, text, code] of cases) {
      const { answer, closeCode } = await hello(text);
      expect({ name, t: answer.t, code: answer.code, closeCode }).toEqual({ name, t: T.ERROR, code, closeCode: 4001 });
    }
    // An empty, 10 KB or numeric token is a malformed HELLO: refused as such and closed 4001 at
    // once (not at the handshake timeout), so the connection never authenticates.
    for (const bad of ['', 'x'.repeat(10_000), 12345]) {
      const malformed = await RawClient.connect(wsUrl);
      const startedMs = Date.now();
      malformed.send({ t: T.HELLO, v: 1, token: bad });
      expect(((await malformed.waitFor((message) => message.t === T.ERROR)) as unknown as Frame).code).toBe('INVALID_MESSAGE');
      expect(await malformed.waitClosed(2_000)).toBe(4001);
      expect(Date.now() - startedMs).toBeLessThan(2_000);
    }
    await expectHealthy();
  });

  it('tokens - a key rotated out is refused; a key still listed verifies', async () => {
    const retired = await hello(await token({}, RETIRED_KEY));
    expect([retired.answer.t, retired.answer.code, retired.closeCode]).toEqual([T.ERROR, 'AUTH_INVALID_TOKEN', 4001]);
    for (const key of [CURRENT_KEY, PREVIOUS_KEY]) {
      const { client, answer } = await hello(await token({}, key));
      expect(answer.t).toBe(T.WELCOME);
      client.close();
    }
  });

  it("authorization - a player cannot command another player's aggregate, and it stays untouched", async () => {
    const before = await seqOf('bob');
    const { client } = await hello(await token({ sub: 'mallory' }));
    const answer = await command(client, 'm-1', 'bob', { type: 'append', value: 'mallory-was-here' });
    expect([answer.t, answer.code]).toEqual([T.REJECT, 'FORBIDDEN']);
    const own = await command(client, 'm-2', 'mallory', { type: 'append', value: 'mine' });
    expect(own.t).toBe(T.ACK);
    client.close();
    expect(await seqOf('bob')).toBe(before);
  });
});

describe('security - Second Life API', () => {
  async function provision(player: string): Promise<{ objectId: string; secret: string; exp: number }> {
    const response = await fetch(`${httpUrl}/v1/sl/objects`, { method: 'POST', headers: { authorization: `Bearer ${await token({ sub: player })}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as { objectId: string; secret: string; exp: number };
  }
  function signedHeaders(creds: { objectId: string; secret: string; exp: number }, path: string, body: string, nonce: string, signature?: string): Record<string, string> {
    const time = Math.floor(Date.now() / 1000);
    return {
      'x-ringstate-object': creds.objectId,
      'x-ringstate-expires': String(creds.exp),
      'x-ringstate-time': String(time),
      'x-ringstate-nonce': nonce,
      'x-ringstate-signature': signature ?? llHMAC(creds.secret, `POST\n${path}\n${time}\n${nonce}\n${body}`),
    };
  }
  async function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; error: { code?: string; reason?: string } | undefined; body: Record<string, unknown> }> {
    const response = await fetch(`${httpUrl}${path}`, { method: 'POST', body, headers });
    const parsed = (await response.json()) as Record<string, unknown>;
    return { status: response.status, error: parsed['error'] as { code?: string; reason?: string } | undefined, body: parsed };
  }

  it('second-life - forged X-SecondLife headers, a bad signature and a replayed request are refused; the command applies once', async () => {
    const creds = await provision('carol');
    const path = '/v1/sl/commands';
    const body = JSON.stringify({ id: 'sl-1', a: 'player', i: 'carol', c: { type: 'append', value: 'from-sl' } });
    const slOnly = await post(path, body, { 'x-secondlife-owner-key': '11111111-2222-3333-4444-555555555555', 'x-secondlife-object-key': '66666666-7777-8888-9999-000000000000', 'x-secondlife-shard': 'Production' });
    expect([slOnly.status, slOnly.error?.code, slOnly.error?.reason]).toEqual([401, 'AUTH_INVALID_TOKEN', 'UNSIGNED']);
    const forged = await post(path, body, signedHeaders({ ...creds, secret: 'guessed-secret' }, path, body, 'nonce-forged-1'));
    expect([forged.status, forged.error?.code, forged.error?.reason]).toEqual([401, 'AUTH_INVALID_TOKEN', 'SIGNATURE_MISMATCH']);
    const tampered = await post(path, body.replace('from-sl', 'tampered'), signedHeaders(creds, path, body, 'nonce-tamper-1'));
    expect(tampered.error?.reason).toBe('SIGNATURE_MISMATCH');
    const before = await seqOf('carol');
    const headers = signedHeaders(creds, path, body, 'nonce-once-1');
    const first = await post(path, body, headers);
    expect(first.status).toBe(200);
    const replayed = await post(path, body, headers);
    expect([replayed.status, replayed.error?.code, replayed.error?.reason]).toEqual([401, 'AUTH_INVALID_TOKEN', 'NONCE_REPLAYED']);
    expect(await seqOf('carol')).toBe(before + 1);
  });

  it('second-life - a flood from one object is rate limited (429) and the node keeps serving', async () => {
    const creds = await provision('dave');
    const path = '/v1/sl/commands';
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, n) => {
        const body = JSON.stringify({ id: `flood-${n}`, a: 'player', i: 'dave', c: { type: 'append', value: `v${n}` } });
        return post(path, body, signedHeaders(creds, path, body, `nonce-flood-${n}`)).then((answer) => `${answer.status}:${answer.error?.code ?? 'ok'}`);
      }),
    );
    const limited = statuses.filter((status) => status === '429:RATE_LIMITED').length;
    expect(limited).toBeGreaterThan(20);
    expect(statuses.every((status) => status === '200:ok' || status === '429:RATE_LIMITED')).toBe(true);
    expect(await seqOf('dave')).toBe(40 - limited);
    await expectHealthy();
  });
});

describe('security - cluster key', () => {
  it('cluster - a libp2p peer with the wrong cluster key is refused and logged as a peer_refused security event (CLUSTER_KEY_WRONG), and learns nothing', async () => {
    const cluster = node.cluster;
    if (cluster === undefined) throw new Error('cluster services expected');
    const strangerRecords: LogRecord[] = [];
    const stranger = createPeerNetwork(
      { nodeId: 'sec-1', listen: { host: '127.0.0.1', port: 0 }, clusterKey: generateClusterKey(), bootstrap: [cluster.peers.address()] },
      { logger: pino({ level: 'debug' }, { write: (line: string) => void strangerRecords.push(JSON.parse(line) as LogRecord) }) },
    );
    await stranger.start();
    try {
      const deadline = Date.now() + 5_000;
      const refusal = (record: LogRecord): boolean => record.level === 40 && record.msg === 'security event' && record['security'] === 'peer_refused';
      while (!records.some(refusal) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(records.find(refusal)).toMatchObject({ reason: 'CLUSTER_KEY_WRONG', remoteAddress: '127.0.0.1' });
      expect(stranger.members().map((member) => member.nodeId)).toEqual(['sec-1']);
      expect(cluster.peers.members().map((member) => member.nodeId)).toEqual(['sec-1']);
      expect(cluster.peers.stats().connectionsRefused).toBeGreaterThan(0);
    } finally {
      await stranger.stop();
    }
    await expectHealthy();
  });
});

describe('security - HTTP input', () => {
  const ENDPOINTS: Array<[string, string]> = [
    ['GET', '/healthz'],
    ['GET', '/readyz'],
    ['GET', '/metrics'],
    ['POST', '/v1/dev/token'],
    ['GET', '/v1/admin/cluster'],
    ['GET', '/v1/admin/stats'],
    ['GET', '/dashboard'],
    ['POST', '/v1/sl/objects'],
    ['GET', '/v1/sl/time'],
    ['GET', '/v1/sl/whoami'],
    ['POST', '/v1/sl/commands'],
    ['GET', '/v1/sl/state'],
    ['GET', '/v1/sl/events'],
    ['POST', '/v1/sl/register'],
    ['POST', '/v1/sl/unregister'],
  ];

  it('http - an oversize body on every endpoint gets 413 BODY_TOO_LARGE', async () => {
    const trips = await metric('ringstate_limit_trips_total', 'limit="http_body_bytes"');
    const big = 'x'.repeat(64 * 1024);
    for (const [, path] of ENDPOINTS) {
      // Every endpoint, whatever its method: the cap applies before routing.
      const response = await fetch(`${httpUrl}${path}`, { method: 'POST', body: big });
      const answer = (await response.json()) as { error?: { code?: string } };
      expect({ path, status: response.status, code: answer.error?.code }).toEqual({ path, status: 413, code: 'BODY_TOO_LARGE' });
    }
    expect(await metric('ringstate_limit_trips_total', 'limit="http_body_bytes"')).toBe(trips + ENDPOINTS.length);
    await expectHealthy();
  });

  it('http - malformed bodies, bad queries, unknown paths and methods get stable error codes', async () => {
    const bodies = ['{', 'null', '[]', '"text"', '\u0000\u00ff\u00fe', '{"player":{"$gt":""}}', JSON.stringify({ player: 'x'.repeat(5000) })];
    const allowed = new Set(['INVALID_MESSAGE', 'AUTH_INVALID_TOKEN', 'NOT_FOUND', 'FORBIDDEN']);
    for (const [method, path] of ENDPOINTS.filter(([verb]) => verb === 'POST')) {
      for (const body of bodies) {
        const response = await fetch(`${httpUrl}${path}?a=%ZZ&i=${'y'.repeat(3000)}`, { method, body, headers: { 'content-type': 'application/json' } });
        const answer = (await response.json()) as { error?: { code?: string } };
        expect(response.status, `${path} ${body}`).toBeGreaterThanOrEqual(400);
        expect(response.status, `${path} ${body}`).toBeLessThan(500);
        expect(allowed.has(answer.error?.code ?? ''), `${path} ${body}: ${answer.error?.code}`).toBe(true);
      }
    }
    const strays: Array<[string, string]> = [['GET', '/nope'], ['DELETE', '/healthz'], ['PUT', '/v1/admin/cluster'], ['GET', '/v1/ws/../admin'], ['GET', `/${'a'.repeat(4000)}`]];
    for (const [method, path] of strays) {
      const response = await fetch(`${httpUrl}${path}`, { method });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    }
    await expectHealthy();
    expect(await seqOf('bob')).toBe(1);
  });
});

describe('security - dev shortcuts', () => {
  it('dev - outside dev mode the dev token issuer answers 404 NOT_FOUND', async () => {
    const production = await startTestNode({ devMode: false });
    try {
      const response = await fetch(`${production.httpUrl}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player: 'alice' }) });
      expect(response.status).toBe(404);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    } finally {
      await production.stop();
    }
  });
});

/** `ringstate start` as a real process, with exactly the RINGSTATE_* variables given (none inherited). */
function startCommand(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('RINGSTATE_')));
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', 'start', ...args], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('security - secrets', () => {
  it('secrets - `start` without its own player token key (none, or the dev key listed) exits non-zero with one line naming the setting, without a stack trace', async () => {
    const own = { kid: 'own-1', secret: randomBytes(32).toString('hex') };
    for (const [problem, keys] of [['missing', undefined], ['the public dev value', [own, DEV_TOKEN_KEY]]] as const) {
      const data = tempDir('no-secrets');
      const started = startCommand(['--port', String(await freePort()), '--data-dir', data.path, '--log-level', 'warn'], {
        RINGSTATE_ADMIN_TOKEN: randomBytes(32).toString('hex'),
        ...(keys === undefined ? {} : { RINGSTATE_TOKENS_KEYS: JSON.stringify(keys) }),
      });
      try {
        // A node that does start would serve forever: give it a bounded time to refuse.
        const code = await Promise.race([started.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 15_000))]);
        expect(code, started.output()).not.toBe('running');
        expect(code, started.output()).not.toBe(0);
        expect(code).not.toBeNull();
        const lines = started.output().trimEnd().split('\n');
        expect(lines, started.output()).toHaveLength(1);
        expect(lines[0]).toContain(`tokens.keys or RINGSTATE_TOKENS_KEYS=`);
        expect(lines[0]).toContain(`(${problem})`);
        expect(lines[0]).toContain('openssl rand');
        expect(lines[0]).not.toMatch(/admin\.token|\bat .*\.ts:\d+/);
      } finally {
        started.child.kill('SIGKILL');
        await started.exited;
        data.remove();
      }
    }
  }, 60_000);

  it('secrets - a node started with its own key refuses tokens forged with the public dev key', async () => {
    const data = tempDir('own-secrets');
    const port = await freePort();
    const own = { kid: 'own-1', secret: randomBytes(32).toString('hex') };
    const started = startCommand(['--port', String(port), '--data-dir', data.path, '--log-level', 'warn'], {
      RINGSTATE_TOKENS_KEYS: JSON.stringify([own]),
      RINGSTATE_TOKENS_ISSUER: ISSUER,
      RINGSTATE_TOKENS_AUDIENCE: AUDIENCE,
      RINGSTATE_ADMIN_TOKEN: randomBytes(32).toString('hex'),
      RINGSTATE_REPLICATION_FACTOR: '1',
    });
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        if (started.child.exitCode !== null) throw new Error(`node exited (${started.child.exitCode}):\n${started.output()}`);
        if (await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.ok, () => false)) break;
        if (Date.now() > deadline) throw new Error(`node not ready:\n${started.output()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const helloWith = async (text: string): Promise<{ answer: Frame; closeCode: number | undefined }> => {
        const client = await RawClient.connect(`ws://127.0.0.1:${port}/v1/ws`);
        client.send({ t: T.HELLO, v: 1, token: text });
        const answer = (await client.waitFor((message) => message.t === T.WELCOME || message.t === T.ERROR)) as unknown as Frame;
        const closeCode = answer.t === T.ERROR ? await client.waitClosed() : undefined;
        client.close();
        return { answer, closeCode };
      };
      // The dev key under its own kid, and the dev secret under the node's kid: both forgeries.
      for (const forged of [DEV_TOKEN_KEY, { kid: own.kid, secret: DEV_TOKEN_KEY.secret }]) {
        const { answer, closeCode } = await helloWith(await token({ sub: 'alice' }, forged));
        expect([forged.kid, answer.t, answer.code, closeCode]).toEqual([forged.kid, T.ERROR, 'AUTH_INVALID_TOKEN', 4001]);
      }
      expect((await helloWith(await token({ sub: 'alice' }, own))).answer.t).toBe(T.WELCOME);
      // No dev token issuer either: the node is not in dev mode.
      expect((await fetch(`http://127.0.0.1:${port}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player: 'alice' }) })).status).toBe(404);
    } finally {
      started.child.kill('SIGTERM');
      await started.exited;
      data.remove();
    }
  }, 60_000);
});

describe('security - floods', () => {
  it('floods - a WebSocket message flood is rate limited (RATE_LIMITED, then close 4008) and counted', async () => {
    const trips = await metric('ringstate_limit_trips_total', 'limit="messages_per_second"');
    const { client, answer } = await hello(await token({ sub: 'flooder' }));
    expect(answer.t).toBe(T.WELCOME);
    for (let n = 0; n < 500; n += 1) client.send({ t: T.PING, n });
    expect(await client.waitClosed(10_000)).toBe(4008);
    expect(client.received.some((frame) => (frame as unknown as Frame).code === 'RATE_LIMITED')).toBe(true);
    expect(await metric('ringstate_limit_trips_total', 'limit="messages_per_second"')).toBeGreaterThan(trips);
    await expectHealthy();
  });

  it('floods - garbage frames and a burst of connections do not crash the node', async () => {
    const sockets = await Promise.all(Array.from({ length: 100 }, () => RawClient.connect(wsUrl)));
    for (const socket of sockets) {
      socket.sendRaw(new Uint8Array([0xc1, 0xff, 0x00, 0x13]));
      socket.sendRaw('text frames are refused');
    }
    await Promise.all(sockets.slice(0, 10).map((socket) => socket.waitFor((frame) => frame.t === T.ERROR)));
    for (const socket of sockets) socket.close();
    const requests = await Promise.all(Array.from({ length: 500 }, (_, n) => fetch(`${httpUrl}/v1/dev/token`, { method: 'POST', body: n % 2 === 0 ? '{' : '[]' }).then((response) => response.status)));
    expect(requests.every((status) => status === 400)).toBe(true);
    await expectHealthy();
    expect(await seqOf('bob')).toBe(1);
  });
});

/**
 * A real non-loopback client: the node runs in its own network namespace and the test talks to
 * it over a veth bridge, so the node sees the test's 10.x address. Needs root and iproute2
 * (.ci/run installs them for the partition test).
 */
const canNetns = process.getuid?.() === 0 && (() => {
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.runIf(canNetns)('security - from a non-loopback address', () => {
  let lab: NetnsLab | undefined;
  let remote: ProcessCluster | undefined;
  let base = '';

  beforeAll(async () => {
    lab = createNetnsLab(1);
    remote = await startProcessCluster(1, { host: '0.0.0.0', admin: { token: ADMIN_TOKEN }, limits: { connectionsPerIpMax: 3 } }, { netns: { hosts: lab.hosts, namespaces: lab.namespaces } });
    const member = remote.members[0];
    if (member === undefined) throw new Error('no member');
    base = `${member.host}:${member.port}`;
  }, 90_000);

  /** The node's security warnings of one kind (observability/security-log.ts), from its stdout. */
  const securityLines = (kind: string): Array<Record<string, unknown>> =>
    (remote?.members[0]?.output ?? '')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((record) => record['security'] === kind);

  afterAll(async () => {
    await remote?.stopAll();
    remote?.remove();
    lab?.teardown();
  });

  it('admin - admin API, stats and dashboard refuse remote clients without the token (403 FORBIDDEN) and open with it', async () => {
    for (const path of ['/v1/admin/cluster', '/v1/admin/stats', '/dashboard']) {
      const anonymous = await fetch(`http://${base}${path}`);
      expect([path, anonymous.status, ((await anonymous.json()) as { error: { code: string } }).error.code]).toEqual([path, 403, 'FORBIDDEN']);
      const wrong = await fetch(`http://${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}x` } });
      expect(wrong.status).toBe(403);
      const authorized = await fetch(`http://${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect([path, authorized.status]).toEqual([path, 200]);
    }
    expect((await fetch(`http://${base}/healthz`)).status).toBe(200);
    // Each refusal is a security warning naming the remote address (never the token).
    const refused = securityLines('admin_refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ code: 'FORBIDDEN', remoteAddress: expect.not.stringMatching(/^127\./) });
    expect(remote?.members[0]?.output).not.toContain(ADMIN_TOKEN.slice(0, -1));
  });

  it('limits - connections per IP are capped with 429 RATE_LIMITED and counted; closing one admits the next', async () => {
    const open = (): Promise<WebSocket> =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`ws://${base}/v1/ws`);
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      });
    const refusedStatus = (): Promise<number> =>
      new Promise((resolve) => {
        const socket = new WebSocket(`ws://${base}/v1/ws`);
        socket.once('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          socket.terminate();
        });
        socket.once('open', () => {
          resolve(101);
          socket.close();
        });
        socket.once('error', () => undefined);
      });
    const held = [await open(), await open(), await open()];
    expect(await refusedStatus()).toBe(429);
    const metrics = await (await fetch(`http://${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    expect(metrics).toMatch(/ringstate_limit_trips_total\{limit="connections_per_ip"\} [1-9]/);
    expect(securityLines('connections_per_ip')[0]).toMatchObject({ code: 'RATE_LIMITED', remoteAddress: expect.not.stringMatching(/^127\./), connectionsPerIpMax: 3 });
    const closed = new Promise((resolve) => held[0]?.once('close', resolve));
    held[0]?.close();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await open();
    again.close();
    for (const socket of held.slice(1)) socket.close();
  });
});
