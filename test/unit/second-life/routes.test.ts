import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PlayerTokens } from '../../../server/src/auth/index.ts';
import { HttpRouter, type HttpRequestInfo } from '../../../server/src/http/index.ts';
import { canonicalQuery, mintObjectId, objectSecret, secondLifeRoutes, sign, type SecondLifeBackend, type SecondLifeSettings } from '../../../server/src/second-life/index.ts';
import { loadConfig } from '../../../server/src/config/index.ts';
import { RingstateError } from '@ringstate/protocol';

const MASTER_KEY = 'm'.repeat(40);

function settings(overrides: Partial<SecondLifeSettings> = {}): SecondLifeSettings {
  return { ...loadConfig({ overrides: { devMode: true, secondLife: { enabled: true, masterKey: MASTER_KEY } } }).secondLife, ...overrides };
}

/** A backend whose view and entries the test sets; watch listeners are kept so a test can fire them. */
function fakeBackend(view: Record<string, unknown>): SecondLifeBackend & { listeners: Set<(seq: number) => void> } {
  const listeners = new Set<(seq: number) => void>();
  return {
    listeners,
    execute: async () => ({ seq: 1, duplicate: false }),
    read: async () => ({ seq: 3, view }),
    eventsAfter: async (_aggregate, _player, afterSeq) => ({ headSeq: 3, entries: afterSeq >= 3 ? [] : [{ seq: 3, playerId: 'p', events: [{ type: 'x' }] }], behind: false }),
    watch: (_aggregate, _player, listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

function signedGet(path: string, query: string, objectId: string): HttpRequestInfo {
  const params = new URLSearchParams(query);
  const timeSeconds = Math.floor(Date.now() / 1000);
  const nonce = `nonce-${Math.random().toString(36).slice(2, 12)}`;
  const signature = sign(objectSecret(MASTER_KEY, objectId, EXPIRES), { method: 'GET', path, timeSeconds, nonce, payload: canonicalQuery(params) });
  const headers = new Map([
    ['x-ringstate-object', objectId],
    ['x-ringstate-expires', String(EXPIRES)],
    ['x-ringstate-time', String(timeSeconds)],
    ['x-ringstate-nonce', nonce],
    ['x-ringstate-signature', signature],
  ]);
  return { method: 'GET', path, query: params, headers, body: new Uint8Array(0), remoteAddress: '127.0.0.1' };
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** Every credential in these tests expires an hour from when the file loads. */
const EXPIRES = Math.floor(Date.now() / 1000) + 3600;
const tokens = new PlayerTokens({ issuer: 'i', audience: 'a', keys: [{ kid: 'k', secret: 's'.repeat(32) }], lifetimeMaxMs: 24 * 60 * 60 * 1000 });
let serving = true;
afterEach(() => {
  serving = false;
});

function api(view: Record<string, unknown>, overrides: Partial<SecondLifeSettings> = {}) {
  serving = true;
  const router = new HttpRouter();
  const backend = fakeBackend(view);
  const handle = secondLifeRoutes(router, { settings: settings(overrides), backend, tokens, credentialLifetimeMaxMs: DAY_MS, adminAccess: { token: 'admin-token', devMode: false }, logger: pino({ level: 'silent' }), nodeId: 'n1', isServing: () => serving });
  return { router, backend, handle };
}

describe('second-life routes', () => {
  it('routes - nothing is registered unless enabled', async () => {
    const router = new HttpRouter();
    expect(secondLifeRoutes(router, { settings: settings({ enabled: false }), backend: fakeBackend({}), tokens, credentialLifetimeMaxMs: DAY_MS, adminAccess: { token: 'admin-token', devMode: false }, logger: pino({ level: 'silent' }), nodeId: 'n1', isServing: () => true })).toBeUndefined();
    expect((await router.handle({ method: 'GET', path: '/v1/sl/time', query: new URLSearchParams(), headers: new Map(), body: new Uint8Array(0), remoteAddress: '127.0.0.1' })).status).toBe(404);
  });

  it('routes - a view larger than the budget answers RESPONSE_TOO_LARGE within 2048 bytes; max= and k= serve it', async () => {
    const { router } = api({ big: 'x'.repeat(3_000), small: 1 });
    const objectId = mintObjectId('alice');
    const refused = await router.handle(signedGet('/v1/sl/state', 'a=player&i=alice', objectId));
    expect(refused.status).toBe(400);
    expect(Buffer.byteLength(String(refused.body))).toBeLessThanOrEqual(2048);
    expect(JSON.parse(String(refused.body))).toMatchObject({ error: { code: 'INVALID_MESSAGE', reason: 'RESPONSE_TOO_LARGE' } });
    const raised = await router.handle(signedGet('/v1/sl/state', 'a=player&i=alice&max=4096', objectId));
    expect(raised.status).toBe(200);
    const selected = await router.handle(signedGet('/v1/sl/state', 'a=player&i=alice&k=small', objectId));
    expect(JSON.parse(String(selected.body))).toEqual({ seq: 3, v: { small: 1 } });
    const badMax = await router.handle(signedGet('/v1/sl/state', 'a=player&i=alice&max=99999', objectId));
    expect(JSON.parse(String(badMax.body))).toMatchObject({ error: { code: 'INVALID_MESSAGE' } });
  });

  it('routes - a held long-poll ends with SHUTTING_DOWN when the node stops, and new requests are refused', async () => {
    const { router, backend } = api({});
    const objectId = mintObjectId('bob');
    const held = router.handle(signedGet('/v1/sl/events', 'a=player&after=3&i=bob&wait=20', objectId));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(backend.listeners.size).toBe(1);
    serving = false;
    const startedMs = Date.now();
    const answer = await held;
    expect(Date.now() - startedMs).toBeLessThan(1_500);
    expect(answer.status).toBe(503);
    expect(JSON.parse(String(answer.body))).toMatchObject({ error: { code: 'SHUTTING_DOWN', retry: 1 } });
    expect(backend.listeners.size).toBe(0);
    const refused = await router.handle(signedGet('/v1/sl/events', 'a=player&after=3&i=bob&wait=20', objectId));
    expect(refused.status).toBe(503);
  });

  it('routes - the per-object request rate is bounded', async () => {
    const { router } = api({ small: 1 }, { requestsPerSecondPerObjectMax: 2 });
    const objectId = mintObjectId('cid');
    const statuses: number[] = [];
    for (let n = 0; n < 6; n += 1) statuses.push((await router.handle(signedGet('/v1/sl/state', 'a=player&i=cid', objectId))).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('routes - a command id reused with another body answers 409 COMMAND_ID_REUSED, not to be retried', async () => {
    const { router, backend } = api({});
    backend.execute = async () => {
      throw new RingstateError('COMMAND_ID_REUSED', 'command id "c1" was already used on player/alice for another command');
    };
    const body = new TextEncoder().encode(JSON.stringify({ id: 'c1', a: 'player', i: 'alice', c: { type: 'score', points: 2 } }));
    const answer = await router.handle(signedPost('/v1/sl/commands', body, mintObjectId('alice')));
    expect(answer.status).toBe(409);
    expect(JSON.parse(String(answer.body))).toMatchObject({ error: { code: 'COMMAND_ID_REUSED', retry: 0 } });
  });
});

function signedPost(path: string, body: Uint8Array, objectId: string): HttpRequestInfo {
  const timeSeconds = Math.floor(Date.now() / 1000);
  const nonce = `nonce-${Math.random().toString(36).slice(2, 12)}`;
  const signature = sign(objectSecret(MASTER_KEY, objectId, EXPIRES), { method: 'POST', path, timeSeconds, nonce, payload: body });
  const headers = new Map([
    ['x-ringstate-object', objectId],
    ['x-ringstate-expires', String(EXPIRES)],
    ['x-ringstate-time', String(timeSeconds)],
    ['x-ringstate-nonce', nonce],
    ['x-ringstate-signature', signature],
  ]);
  return { method: 'POST', path, query: new URLSearchParams(), headers, body, remoteAddress: '127.0.0.1' };
}
