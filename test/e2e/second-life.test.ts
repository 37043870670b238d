/**
 * The Second Life API end to end, driven through an emulator of the region simulator
 * (test/support/lsl-emulator.ts) and a model of the LSL script, against a real node: in
 * process for most cases, as a child process for kill -9. Every case also checks that no
 * response or push was cut at 2048 bytes.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { devToken, startTestNode, type TestNode } from '../support/in-process-node.ts';
import { LslClientModel, LslSimulator, NULL_KEY, llHMAC, parseHostsNotecard } from '../support/lsl-emulator.ts';
import { freePort, spawnNode } from '../support/process-node.ts';
import { tempDir } from '../support/temp-dir.ts';

const MASTER_KEY = 'test-second-life-master-key-0123456789abcdef';

interface Credentials {
  objectId: string;
  secret: string;
  exp: number;
}

async function provision(httpUrl: string, player: string): Promise<Credentials> {
  const token = await devToken(httpUrl, player);
  const response = await fetch(`${httpUrl}/v1/sl/objects`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  return (await response.json()) as Credentials;
}

/** A signed request outside the emulator (no throttle), for "another client" and forgeries. */
async function signedFetch(
  httpUrl: string,
  creds: Credentials,
  method: 'GET' | 'POST',
  path: string,
  payload: string,
  overrides: { time?: number; nonce?: string; signature?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; bytes: number }> {
  const time = overrides.time ?? Math.floor(Date.now() / 1000);
  const nonce = overrides.nonce ?? `n-${Math.random().toString(36).slice(2, 14)}`;
  const signature = overrides.signature ?? llHMAC(creds.secret, `${method}\n${path}\n${time}\n${nonce}\n${payload}`);
  const response = await fetch(`${httpUrl}${path}${method === 'GET' ? `?${payload}` : ''}`, {
    method,
    ...(method === 'POST' ? { body: payload } : {}),
    headers: { 'x-ringstate-object': creds.objectId, 'x-ringstate-expires': String(creds.exp), 'x-ringstate-time': String(time), 'x-ringstate-nonce': nonce, 'x-ringstate-signature': signature, ...overrides.headers },
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Record<string, unknown>, bytes: Buffer.byteLength(text) };
}

function hostOf(httpUrl: string): string {
  return new URL(httpUrl).host;
}

const simulators: LslSimulator[] = [];
const models: LslClientModel[] = [];
function simulator(options: ConstructorParameters<typeof LslSimulator>[0] = {}): LslSimulator {
  const sim = new LslSimulator(options);
  simulators.push(sim);
  return sim;
}
function model(options: ConstructorParameters<typeof LslClientModel>[0]): LslClientModel {
  const client = new LslClientModel(options);
  models.push(client);
  return client;
}

afterEach(async () => {
  for (const client of models.splice(0)) client.stop();
  for (const sim of simulators.splice(0)) {
    await sim.close();
    expect(sim.violations, 'a response or push was cut at 2048 bytes').toEqual([]);
  }
});

/** A credential renewed with a fresh token: the same object id, a new exp and secret. */
async function renew(httpUrl: string, player: string, objectId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const token = await devToken(httpUrl, player);
  const response = await fetch(`${httpUrl}/v1/sl/objects/renew`, { method: 'POST', body: JSON.stringify({ o: objectId }), headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('second-life - credentials end with their token', () => {
  let node: TestNode;
  const TOKEN_TTL_MS = 3_000;

  beforeAll(async () => {
    // Dev tokens live 3 s here: an object provisioned or renewed with one lives as long.
    node = await startTestNode({ tokens: { devTokenTtlMs: TOKEN_TTL_MS }, secondLife: { enabled: true, masterKey: MASTER_KEY, allowPrivatePushTargets: true, longPollWaitMs: 2_000, requestsPerSecondPerObjectMax: 20 } });
  });
  afterAll(async () => {
    await node.stop();
  });

  it('second-life - a credential provisioned with a short-lived token is refused CREDENTIAL_EXPIRED after the token expires, and works again after renewal (same id, same seq)', async () => {
    const creds = await provision(node.httpUrl, 'ivy');
    expect(creds.exp * 1000).toBeLessThanOrEqual(Date.now() + TOKEN_TTL_MS);
    const first = await signedFetch(node.httpUrl, creds, 'POST', '/v1/sl/commands', JSON.stringify({ id: 'ivy-1', a: 'player', i: 'ivy', c: { type: 'score', points: 1 } }));
    expect(first).toMatchObject({ status: 200, body: { seq: 1 } });

    await new Promise((resolve) => setTimeout(resolve, creds.exp * 1000 - Date.now() + 200));
    const expired = await signedFetch(node.httpUrl, creds, 'POST', '/v1/sl/commands', JSON.stringify({ id: 'ivy-2', a: 'player', i: 'ivy', c: { type: 'score', points: 1 } }));
    expect(expired.status).toBe(401);
    expect(expired.body).toMatchObject({ error: { code: 'CREDENTIAL_EXPIRED', reason: 'CREDENTIAL_EXPIRED', retry: 0, t: expect.any(Number) } });
    // Moving the expiry forward by hand changes the secret it needs: refused as a forgery.
    const stretched = await signedFetch(node.httpUrl, { ...creds, exp: creds.exp + 3600 }, 'GET', '/v1/sl/state', 'a=player&i=ivy');
    expect(stretched.body).toMatchObject({ error: { code: 'AUTH_INVALID_TOKEN', reason: 'SIGNATURE_MISMATCH' } });
    // A credential without an expiry (minted before credentials expired) is told to renew.
    const unbounded = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/state', 'a=player&i=ivy', { headers: { 'x-ringstate-expires': '' } });
    expect(unbounded.status).toBe(401);
    // Renewal needs a valid token of the object's player.
    expect((await renew(node.httpUrl, 'mallory', creds.objectId)).status).toBe(403);
    const refusedRenewal = await fetch(`${node.httpUrl}/v1/sl/objects/renew`, { method: 'POST', body: JSON.stringify({ o: creds.objectId }), headers: { authorization: 'Bearer nope' } });
    expect(refusedRenewal.status).toBe(401);
    const renewed = await renew(node.httpUrl, 'ivy', creds.objectId);
    expect(renewed).toMatchObject({ status: 200, body: { objectId: creds.objectId, player: 'ivy' } });
    const fresh = renewed.body as unknown as Credentials;
    expect(fresh.exp).toBeGreaterThan(creds.exp);
    const again = await signedFetch(node.httpUrl, fresh, 'POST', '/v1/sl/commands', JSON.stringify({ id: 'ivy-2', a: 'player', i: 'ivy', c: { type: 'score', points: 1 } }));
    expect(again).toMatchObject({ status: 200, body: { seq: 2, dup: 0 } });
    // The old credential stays dead.
    expect((await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/state', 'a=player&i=ivy')).body).toMatchObject({ error: { code: 'CREDENTIAL_EXPIRED' } });
  });

  it('second-life - the script model renews by itself when told CREDENTIAL_EXPIRED, and the command goes through once', async () => {
    const creds = await provision(node.httpUrl, 'jay');
    const sim = simulator();
    const client = model({
      sim,
      hosts: [hostOf(node.httpUrl)],
      ...creds,
      renew: async () => {
        const renewed = await renew(node.httpUrl, 'jay', creds.objectId);
        return renewed.body as unknown as Credentials;
      },
      aggregate: { type: 'player', id: 'jay' },
      mode: 'none',
    });
    await client.start();
    expect((await client.command({ type: 'score', points: 1 }, 'jay-1')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, creds.exp * 1000 - Date.now() + 200));
    const after = await client.command({ type: 'score', points: 1 }, 'jay-2');
    expect(after).toMatchObject({ status: 200, body: { seq: 2, dup: 0 } });
    expect(client.renewals).toBe(1);
  });

  it('second-life - an object revoked by itself or by an admin is refused OBJECT_REVOKED and cannot be renewed; other objects of the player keep working', async () => {
    const own = await provision(node.httpUrl, 'kim');
    const other = await provision(node.httpUrl, 'kim');
    const revoked = await signedFetch(node.httpUrl, own, 'POST', '/v1/sl/revoke', '{}');
    expect(revoked).toMatchObject({ status: 200, body: { ok: 1 } });
    expect((await signedFetch(node.httpUrl, own, 'GET', '/v1/sl/state', 'a=player&i=kim')).body).toMatchObject({ error: { code: 'AUTH_INVALID_TOKEN', reason: 'OBJECT_REVOKED' } });
    expect((await renew(node.httpUrl, 'kim', own.objectId)).body).toMatchObject({ error: { code: 'AUTH_INVALID_TOKEN', reason: 'OBJECT_REVOKED' } });
    expect((await signedFetch(node.httpUrl, other, 'GET', '/v1/sl/state', 'a=player&i=kim')).status).toBe(200);

    const byAdmin = await fetch(`${node.httpUrl}/v1/admin/sl/revoke`, { method: 'POST', body: JSON.stringify({ o: other.objectId }) });
    expect(byAdmin.status).toBe(200);
    expect((await signedFetch(node.httpUrl, other, 'GET', '/v1/sl/state', 'a=player&i=kim')).body).toMatchObject({ error: { reason: 'OBJECT_REVOKED' } });
  });
});

describe('second-life - in-process node', () => {
  let node: TestNode;

  beforeAll(async () => {
    node = await startTestNode({
      secondLife: { enabled: true, masterKey: MASTER_KEY, allowPrivatePushTargets: true, longPollWaitMs: 2_000, requestsPerSecondPerObjectMax: 20, pushTimeoutMs: 1_000, pushFailuresBeforeDrop: 2 },
    });
  });
  afterAll(async () => {
    await node.stop();
  });

  it('second-life - provisioning binds an object id to the token\'s player; bad tokens are refused', async () => {
    const creds = await provision(node.httpUrl, 'alice');
    expect(creds.objectId.startsWith('alice.')).toBe(true);
    expect(creds.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const refused = await fetch(`${node.httpUrl}/v1/sl/objects`, { method: 'POST', headers: { authorization: 'Bearer nope' } });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('AUTH_INVALID_TOKEN');
    const whoami = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/whoami', '', { headers: { 'x-secondlife-owner-key': 'owner-key-as-sent' } });
    expect(whoami.status).toBe(200);
    expect(whoami.body).toMatchObject({ o: creds.objectId, p: 'alice', sl: { owner: 'owner-key-as-sent' } });
  });

  it('second-life - a command with an id is acknowledged once; a retry answers the same seq with dup', async () => {
    const creds = await provision(node.httpUrl, 'bob');
    const sim = simulator();
    const client = model({ sim, hosts: [hostOf(node.httpUrl)], ...creds, aggregate: { type: 'player', id: 'bob' }, mode: 'none' });
    await client.start();
    const first = await client.command({ type: 'move', x: 3, y: 4 }, 'cmd-move-1');
    expect(first).toEqual({ status: 200, body: { id: 'cmd-move-1', seq: 1, dup: 0 } });
    const retry = await client.command({ type: 'move', x: 3, y: 4 }, 'cmd-move-1');
    expect(retry).toEqual({ status: 200, body: { id: 'cmd-move-1', seq: 1, dup: 1 } });
    // The same id with another body is another command: refused, definitely, and nothing moves.
    const reused = await client.command({ type: 'move', x: 5, y: 6 }, 'cmd-move-1');
    expect(reused.status).toBe(409);
    expect(reused.body).toMatchObject({ id: 'cmd-move-1', error: { code: 'COMMAND_ID_REUSED', retry: 0 } });
    const rejected = await client.command({ type: 'drop', itemId: 'sword' }, 'cmd-drop-1');
    expect(rejected.status).toBe(400);
    expect(rejected.body).toMatchObject({ id: 'cmd-drop-1', error: { code: 'REJECTED', reason: 'ITEM_NOT_HELD', retry: 0 } });
    const state = await client.readState();
    expect(state.body).toMatchObject({ seq: 1, v: { x: 3, y: 4, score: 0 } });
    const some = await client.readState('x,y');
    expect(some.body).toEqual({ seq: 1, v: { x: 3, y: 4 } });
    expect(sim.throttled).toBe(0);
  });

  it('second-life - a backlog arrives in batches of at most 2048 bytes with more=1, resumed by seq; max= raises the budget', async () => {
    const creds = await provision(node.httpUrl, 'carol');
    for (let n = 1; n <= 30; n += 1) {
      const body = JSON.stringify({ id: `big-${n}`, a: 'player', i: 'carol', c: { type: 'append', value: `${n}-${'x'.repeat(120)}` } });
      expect((await signedFetch(node.httpUrl, creds, 'POST', '/v1/sl/commands', body)).status).toBe(200);
    }
    const seen: number[] = [];
    let after = 0;
    let batches = 0;
    for (let more = 1; more === 1; batches += 1) {
      const page = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/events', `a=player&after=${after}&i=carol&wait=0`);
      expect(page.bytes).toBeLessThanOrEqual(2048);
      for (const event of page.body['ev'] as Array<{ s: number }>) seen.push(event.s);
      after = page.body['seq'] as number;
      more = page.body['more'] as number;
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
    expect(batches).toBeGreaterThanOrEqual(3);
    const large = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/events', 'a=player&after=0&i=carol&max=16384&wait=0');
    expect(large.bytes).toBeGreaterThan(2048);
    expect(large.bytes).toBeLessThanOrEqual(16384);
    expect((large.body['ev'] as unknown[]).length).toBe(30);
  });

  it('second-life - a long-poll wakes on another client\'s command and resumes by seq', async () => {
    const creds = await provision(node.httpUrl, 'dave');
    const writer = await provision(node.httpUrl, 'dave');
    const sim = simulator();
    const reader = model({ sim, hosts: [hostOf(node.httpUrl)], ...creds, aggregate: { type: 'player', id: 'dave' }, mode: 'poll', waitSeconds: 2 });
    await reader.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const latenciesMs: number[] = [];
    for (let n = 1; n <= 4; n += 1) {
      const body = JSON.stringify({ id: `w-${n}`, a: 'player', i: 'dave', c: { type: 'append', value: `v${n}` } });
      const acked = await signedFetch(node.httpUrl, writer, 'POST', '/v1/sl/commands', body);
      const ackedAtMs = Date.now();
      expect(acked.body['seq']).toBe(n);
      await reader.waitFor((received) => received.some((event) => event.s === n), 10_000);
      latenciesMs.push((reader.received.find((event) => event.s === n)?.atMs ?? 0) - ackedAtMs);
      // Let the reader re-arm its long-poll (one request per second).
      await new Promise((resolve) => setTimeout(resolve, 1_200));
    }
    expect(reader.received.map((event) => event.s)).toEqual([1, 2, 3, 4]);
    expect(reader.received.map((event) => event.e?.[0]?.['value'])).toEqual(['v1', 'v2', 'v3', 'v4']);
    console.log(`second-life long-poll wake latency after ack (ms): ${latenciesMs.join(', ')}`);
    expect(Math.max(...latenciesMs)).toBeLessThan(500);
    expect(sim.throttled).toBe(0);
  });

  it('second-life - an idle long-poll answers within the configured wait, well inside the 60 s timeout', async () => {
    const creds = await provision(node.httpUrl, 'erin');
    const startedMs = Date.now();
    const idle = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/events', 'a=player&after=0&i=erin&wait=60');
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(1_900);
    expect(Date.now() - startedMs).toBeLessThan(3_000);
    expect(idle.body).toEqual({ a: 'player', i: 'erin', seq: 0, ev: [], more: 0 });
  });

  it('second-life - push delivers signed batches to the HTTP-in URL; a lost URL is dropped and re-registration resumes by seq', async () => {
    const creds = await provision(node.httpUrl, 'fay');
    const writer = await provision(node.httpUrl, 'fay');
    const sim = simulator();
    const reader = model({ sim, hosts: [hostOf(node.httpUrl)], ...creds, aggregate: { type: 'player', id: 'fay' }, mode: 'push' });
    await reader.start();
    const send = async (n: number): Promise<number> => {
      const body = JSON.stringify({ id: `p-${n}`, a: 'player', i: 'fay', c: { type: 'append', value: `v${n}` } });
      const acked = await signedFetch(node.httpUrl, writer, 'POST', '/v1/sl/commands', body);
      expect(acked.status).toBe(200);
      return Date.now();
    };
    // Registration goes out with the first queued request (about 1 s).
    await new Promise((resolve) => setTimeout(resolve, 1_300));
    const pushLatenciesMs: number[] = [];
    for (let n = 1; n <= 3; n += 1) {
      const ackedAtMs = await send(n);
      await reader.waitFor((received) => received.some((event) => event.s === n), 5_000);
      pushLatenciesMs.push((reader.received.find((event) => event.s === n)?.atMs ?? 0) - ackedAtMs);
    }
    console.log(`second-life push latency after ack (ms): ${pushLatenciesMs.join(', ')}`);
    expect(Math.max(...pushLatenciesMs)).toBeLessThan(500);

    // Region restart: the URL stops answering; pushes fail until the node drops it.
    await sim.loseUrl('refuse');
    await send(4);
    await send(5);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(reader.received.map((event) => event.s)).toEqual([1, 2, 3]);
    // changed(CHANGED_REGION_START): a new URL, registered with the cursor: 4 and 5 arrive.
    await reader.regionRestarted();
    await reader.waitFor((received) => received.some((event) => event.s === 5), 5_000);
    expect(reader.received.map((event) => event.s)).toEqual([1, 2, 3, 4, 5]);

    // A URL that hangs (a dead region) is dropped after one push timeout.
    await sim.loseUrl('hang');
    await send(6);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await sim.close();
    await reader.regionRestarted();
    await reader.waitFor((received) => received.some((event) => event.s === 6), 5_000);
    expect(reader.received.map((event) => event.s)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sim.throttled).toBe(0);
  });

  it('second-life - forged signatures, stale timestamps, replayed nonces and X-SecondLife-only requests are refused with clear codes', async () => {
    const creds = await provision(node.httpUrl, 'gus');
    const query = 'a=player&i=gus';
    const forged = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/state', query, { signature: llHMAC('not-the-secret', 'whatever') });
    expect(forged.status).toBe(401);
    expect(forged.body).toMatchObject({ error: { code: 'AUTH_INVALID_TOKEN', reason: 'SIGNATURE_MISMATCH' } });
    // Signed for another query: the signature covers the parameters.
    const time = Math.floor(Date.now() / 1000);
    const other = llHMAC(creds.secret, `GET\n/v1/sl/state\n${time}\nnonce-other-1\na=player&i=someone`);
    const tampered = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/state', query, { time, nonce: 'nonce-other-1', signature: other });
    expect(tampered.body).toMatchObject({ error: { reason: 'SIGNATURE_MISMATCH' } });
    const stale = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/state', query, { time: time - 600 });
    expect(stale.status).toBe(401);
    expect(stale.body).toMatchObject({ error: { code: 'AUTH_INVALID_TOKEN', reason: 'TIMESTAMP_STALE' } });
    expect(Math.abs(((stale.body['error'] as { t: number }).t) - time)).toBeLessThanOrEqual(2);
    const once = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/state', query, { nonce: 'replayed-nonce-1' });
    expect(once.status).toBe(200);
    const again = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/state', query, { nonce: 'replayed-nonce-1' });
    expect(again.status).toBe(401);
    expect(again.body).toMatchObject({ error: { code: 'AUTH_INVALID_TOKEN', reason: 'NONCE_REPLAYED' } });
    // Only simulator headers, no signature: the headers are not credentials.
    const slOnly = await fetch(`${node.httpUrl}/v1/sl/state?${query}`, { headers: { 'x-secondlife-owner-key': '01234567-89ab-cdef-0123-456789abcdef', 'x-secondlife-object-key': 'fedcba98-7654-3210-fedc-ba9876543210' } });
    expect(slOnly.status).toBe(401);
    expect(((await slOnly.json()) as { error: { reason: string; message: string } }).error).toMatchObject({ reason: 'UNSIGNED', message: expect.stringContaining('X-SecondLife') });
    // Another player's object id with this object's secret: refused (the secret is per object).
    const impostor = await signedFetch(node.httpUrl, { objectId: creds.objectId.replace('gus.', 'alice.'), secret: creds.secret, exp: creds.exp }, 'GET', '/v1/sl/state', query);
    expect(impostor.body).toMatchObject({ error: { reason: 'SIGNATURE_MISMATCH' } });
    // Commands for another player's aggregate are refused by the aggregate's rule.
    const foreign = await signedFetch(node.httpUrl, creds, 'POST', '/v1/sl/commands', JSON.stringify({ id: 'x-1', a: 'player', i: 'alice', c: { type: 'score', points: 5 } }));
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });

  it('second-life - the throttle answers NULL_KEY to a burst; the script model rotates hosts on NULL_KEY, 499 and 5xx and still applies each command once', async () => {
    const sim = simulator({ timeoutMs: 1_500 });
    const burst = await Promise.all([1, 2, 3, 4].map(() => sim.llHTTPRequest(`${node.httpUrl}/v1/sl/time`)));
    const burstThrottled = burst.filter((result) => result.key === NULL_KEY).length;
    expect(burstThrottled).toBeGreaterThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, 2_100));

    const failing = createServer((_, response) => response.writeHead(503).end('{"error":{"code":"UNAVAILABLE"}}'));
    const stalling = createServer(() => undefined);
    const listen = async (server: Server): Promise<string> => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      return typeof address === 'object' && address !== null ? `127.0.0.1:${address.port}` : '';
    };
    const hosts = parseHostsNotecard(`# ringstate hosts\n${hostOf(node.httpUrl)}\n${await listen(failing)}\n\n${await listen(stalling)}\n${hostOf(node.httpUrl)}   \n`);
    expect(hosts).toHaveLength(4);
    try {
      const creds = await provision(node.httpUrl, 'hal');
      const client = model({ sim, hosts, ...creds, aggregate: { type: 'player', id: 'hal' }, mode: 'none' });
      // Another script in the object just used the throttle up: the first send gets NULL_KEY.
      await Promise.all([1, 2].map(() => sim.llHTTPRequest(`${node.httpUrl}/v1/sl/time`)));
      await client.start();
      const result = await client.command({ type: 'score', points: 7 }, 'rotate-1');
      expect(result.body).toMatchObject({ id: 'rotate-1', seq: 1, dup: 0 });
      expect(client.rotations.map((rotation) => rotation.why)).toEqual(['NULL_KEY', '503', '499']);
      expect(sim.throttled).toBe(burstThrottled + 1);
    } finally {
      stalling.closeAllConnections();
      failing.close();
      stalling.close();
    }
  });

  it('second-life - long-polls per object are bounded', async () => {
    const creds = await provision(node.httpUrl, 'ivy');
    const held = [1, 2].map(() => signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/events', 'a=player&after=0&i=ivy&wait=2'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const third = await signedFetch(node.httpUrl, creds, 'GET', '/v1/sl/events', 'a=player&after=0&i=ivy&wait=2');
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({ error: { code: 'RATE_LIMITED', retry: 1 } });
    for (const result of await Promise.all(held)) expect(result.status).toBe(200);
  });
});

describe('second-life - a node killed mid-conversation', () => {
  const dir = tempDir('sl-crash');
  afterAll(() => dir.remove());

  it('second-life - after kill -9 and restart the script model rotates, retries and resumes by seq with nothing lost', async () => {
    const port = await freePort();
    const deadPort = await freePort();
    let node = await spawnNode({ dataDir: dir.path, port });
    try {
      const reader = await provision(node.httpUrl, 'kim');
      const writer = await provision(node.httpUrl, 'kim');
      const hosts = [`127.0.0.1:${port}`, `127.0.0.1:${deadPort}`];
      const readerSim = simulator();
      const writerSim = simulator();
      const readerModel = model({ sim: readerSim, hosts, ...reader, aggregate: { type: 'player', id: 'kim' }, mode: 'poll', waitSeconds: 20 });
      const writerModel = model({ sim: writerSim, hosts, ...writer, aggregate: { type: 'player', id: 'kim' }, mode: 'none' });
      await readerModel.start();
      await writerModel.start();
      const acked: Array<{ value: string; seq: number }> = [];
      let writing = true;
      const writes = (async () => {
        for (let n = 1; writing; n += 1) {
          const result = await writerModel.command({ type: 'append', value: `v${n}` }, `kill-${n}`);
          expect(result.status).toBe(200);
          acked.push({ value: `v${n}`, seq: result.body['seq'] as number });
        }
      })();
      await readerModel.waitFor((received) => received.length >= 3, 15_000);
      node.child.kill('SIGKILL');
      await node.exited;
      const killedAtMs = Date.now();
      const seqAtKill = readerModel.after;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      node = await spawnNode({ dataDir: dir.path, port });
      const restartedAtMs = Date.now();
      await readerModel.waitFor((received) => received.some((event) => event.s > seqAtKill), 20_000);
      const recoveredAtMs = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      writing = false;
      await writes;
      const lastSeq = acked.at(-1)?.seq ?? 0;
      await readerModel.waitFor((received) => received.some((event) => event.s === lastSeq), 25_000);
      console.log(
        `second-life kill -9: restart took ${restartedAtMs - killedAtMs} ms, reader resumed ${recoveredAtMs - restartedAtMs} ms after restart (${recoveredAtMs - killedAtMs} ms after kill); rotations ${readerModel.rotations.length + writerModel.rotations.length}`,
      );
      // Every acknowledged command exactly once, in order, and nothing else.
      const seqs = readerModel.received.map((event) => event.s);
      expect(seqs).toEqual(Array.from({ length: lastSeq }, (_, index) => index + 1));
      const values = readerModel.received.map((event) => event.e?.[0]?.['value']);
      for (const ack of acked) expect(values.filter((value) => value === ack.value)).toHaveLength(1);
      expect(new Set(values).size).toBe(values.length);
      expect(readerModel.rotations.length + writerModel.rotations.length).toBeGreaterThan(0);
      expect(readerSim.throttled + writerSim.throttled).toBe(0);
    } finally {
      node.child.kill('SIGKILL');
      await node.exited;
    }
  }, 90_000);
});
