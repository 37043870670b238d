import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostFailover, MemoryStorage, parseHostsAnswer, fullJitterDelayMs } from '../../../client-sdk/src/index.ts';
import type { FetchLike, HostProviderComponents } from '../../../client-sdk/src/index.ts';
import { harness } from './helpers/harness.ts';
import { ManualClock, settle } from './helpers/manual-clock.ts';

// Property tests print their seed; rerun a failure with FC_SEED=<seed>.
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`client-sdk host failover: fast-check seed ${seed}`);

/** A fake cluster behind `fetch`: hosts in `down` refuse, the others answer `answer(host, url)`. */
function fakeFetch(answer: (host: string, url: string) => unknown, down: Set<string>, asked: string[]): FetchLike {
  return async (url) => {
    const host = new URL(url).host;
    asked.push(url);
    if (down.has(host)) throw new TypeError('fetch failed');
    return { ok: true, status: 200, json: async () => answer(host, url) };
  };
}

function components(clock: ManualClock, storage = new MemoryStorage(), random: () => number = () => 0): HostProviderComponents {
  return { clock, random, storage, logger: () => {} };
}

const ALL = ['a.example.com:9001', 'b.example.com:9001', 'c.example.com:9001'];

describe('client-sdk host failover - provider', () => {
  it('host failover - asks a seed, dials the suggestion, stores the host list, and asks for the player after WELCOME', async () => {
    const clock = new ManualClock();
    const storage = new MemoryStorage();
    const asked: string[] = [];
    const fetch = fakeFetch(() => ({ suggested: 'c.example.com:9001', hosts: ALL, ringVersion: 7, ttlSeconds: 60 }), new Set(), asked);
    const provider = hostFailover({ seeds: ['a.example.com:9001'], fetch })(components(clock, storage));
    const url = await provider.pick({ retry: 0, previousUrl: undefined, error: undefined });
    expect(url).toBe('ws://c.example.com:9001/v1/ws');
    expect(asked).toEqual(['http://a.example.com:9001/v1/hosts']);
    const stored = JSON.parse((await storage.get('hosts')) ?? '{}') as { hosts: string[]; ringVersion: number };
    expect(stored).toMatchObject({ hosts: ALL, ringVersion: 7 });
    expect(provider.knownHosts()).toEqual(ALL);
    provider.report?.(url, { ok: true, player: 'alice' });
    await settle();
    expect(asked.at(-1)).toBe('http://c.example.com:9001/v1/hosts?player=alice');
  });

  it('host failover - a restarted app asks its cached hosts before the seeds, and survives dead seeds', async () => {
    const clock = new ManualClock();
    const storage = new MemoryStorage();
    await storage.set('hosts', JSON.stringify({ hosts: ['new-1.example.com:9001', 'new-2.example.com:9001'], ringVersion: 9, ttlSeconds: 60, fetchedAtMs: Date.now() }));
    const asked: string[] = [];
    const down = new Set(['old.example.com:9001', 'new-1.example.com:9001']);
    const fetch = fakeFetch((host) => ({ suggested: host, hosts: ['new-1.example.com:9001', 'new-2.example.com:9001'], ringVersion: 9, ttlSeconds: 60 }), down, asked);
    const provider = hostFailover({ seeds: ['old.example.com:9001'], fetch })(components(clock, storage, () => 0.99));
    const url = await provider.pick({ retry: 0, previousUrl: undefined, error: undefined });
    expect(url).toBe('ws://new-2.example.com:9001/v1/ws');
    expect(asked.every((request) => !request.includes('old.example.com'))).toBe(true);
  });

  it('host failover - after a lost connection the failed host is skipped, even when it is still suggested', async () => {
    const clock = new ManualClock();
    const asked: string[] = [];
    const down = new Set<string>();
    const fetch = fakeFetch(() => ({ suggested: 'a.example.com:9001', hosts: ALL, ringVersion: 1, ttlSeconds: 60 }), down, asked);
    const provider = hostFailover({ seeds: ALL, fetch, failedHostTtlMs: 30_000 })(components(clock, new MemoryStorage(), () => 0));
    const first = await provider.pick({ retry: 0, previousUrl: undefined, error: undefined });
    expect(first).toBe('ws://a.example.com:9001/v1/ws');
    down.add('a.example.com:9001');
    provider.report?.(first, { ok: false, error: new (await import('../../../client-sdk/src/index.ts')).RingstateError('DISCONNECTED', 'lost') });
    asked.length = 0;
    const second = await provider.pick({ retry: 1, previousUrl: first, error: undefined });
    expect(second).not.toBe(first);
    expect(asked.some((request) => request.includes('a.example.com'))).toBe(false);
    // After failedHostTtlMs it is a candidate again; reset() forgets failures at once.
    provider.reset?.();
    down.delete('a.example.com:9001');
    expect(await provider.pick({ retry: 0, previousUrl: undefined, error: undefined })).toBe(first);
  });

  it('host failover - when nobody answers in time it dials a candidate anyway', async () => {
    const clock = new ManualClock();
    const never: FetchLike = () => new Promise(() => {});
    const provider = hostFailover({ seeds: ['a.example.com:9001'], fetch: never, suggestionTimeoutMs: 500 })(components(clock));
    const picked = provider.pick({ retry: 0, previousUrl: undefined, error: undefined });
    await clock.advance(500);
    expect(await picked).toBe('ws://a.example.com:9001/v1/ws');
  });

  it('host failover - refuses malformed answers and seeds', () => {
    expect(parseHostsAnswer({ suggested: 'a:1', hosts: ['a:1', 'not a host', 7], ringVersion: 1, ttlSeconds: 5 })).toEqual({ suggested: 'a:1', hosts: ['a:1'], ringVersion: 1, ttlSeconds: 5 });
    expect(parseHostsAnswer({ suggested: 'http://x', hosts: ['a:1'], ringVersion: 1, ttlSeconds: 5 })).toBeUndefined();
    expect(parseHostsAnswer({ suggested: 'a:1', hosts: [], ringVersion: 1, ttlSeconds: 5 })).toBeUndefined();
    expect(() => hostFailover({ seeds: [] })).toThrow(TypeError);
    expect(() => hostFailover({ seeds: ['ws://a:1'] })).toThrow(TypeError);
  });

  it('host failover - property: picks stay within known hosts, skip recent failures when possible, and backoff stays in bounds', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.constantFrom(...ALL, 'd.example.com:9001', 'e.example.com:9001'), { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 40 }),
        async (seeds, failures, random, retry) => {
          const clock = new ManualClock();
          const down = new Set<string>();
          const fetch = fakeFetch(() => ({ suggested: seeds[0], hosts: seeds, ringVersion: 1, ttlSeconds: 60 }), down, []);
          const provider = hostFailover({ seeds, fetch })(components(clock, new MemoryStorage(), () => random));
          const failed = new Set<string>();
          for (const fail of failures) {
            const url = await provider.pick({ retry, previousUrl: undefined, error: undefined });
            const host = url.slice('ws://'.length, -'/v1/ws'.length);
            expect(seeds).toContain(host);
            if (failed.size < seeds.length) expect(failed.has(host)).toBe(false);
            if (fail) {
              failed.add(host);
              provider.report?.(url, { ok: false, error: new (await import('../../../client-sdk/src/index.ts')).RingstateError('DISCONNECTED', 'x') });
            }
          }
          const delayMs = fullJitterDelayMs({ baseMs: 500, capMs: 30_000 }, retry, () => random);
          expect(delayMs).toBeGreaterThanOrEqual(0);
          expect(delayMs).toBeLessThan(Math.min(30_000, 500 * 2 ** retry));
        },
      ),
      { seed, numRuns: 200 },
    );
  });
});

describe('client-sdk host failover - client', () => {
  it('client - reconnects with the resume token instead of calling the token provider, and falls back when it is refused', async () => {
    let calls = 0;
    const { client, server, clock } = harness({ getToken: () => `app-token-${++calls}`, reconnect: { baseMs: 10, capMs: 10 } });
    server.resumeToken = 'resume-1';
    await client.connect();
    expect(server.hellos).toEqual(['app-token-1']);
    server.dropAll();
    await clock.advance(20);
    expect(client.state).toBe('online');
    expect(server.hellos).toEqual(['app-token-1', 'resume-1']);
    expect(calls).toBe(1);
    server.badTokens.set('resume-1', 'AUTH_TOKEN_EXPIRED');
    server.resumeToken = undefined;
    server.dropAll();
    await clock.advance(20);
    await clock.advance(20);
    expect(client.state).toBe('online');
    expect(server.hellos).toEqual(['app-token-1', 'resume-1', 'resume-1', 'app-token-2']);
    client.close();
  });

  it('client - pause() closes and stops reconnecting; resume() reconnects at once and sends what waited', async () => {
    const { client, server, clock } = harness({ reconnect: { baseMs: 60_000, capMs: 60_000 } });
    await client.connect();
    client.pause();
    expect(client.state).toBe('paused');
    await settle();
    expect(server.connections.size).toBe(0);
    const sent = client.send('player', 'alice', { type: 'move' });
    await clock.advance(5_000);
    expect(server.commands.length).toBe(0);
    client.resume();
    await clock.advance(0);
    expect(client.state).toBe('online');
    await expect(sent).resolves.toMatchObject({ seq: 1 });
    // While reconnecting with a long backoff, networkChanged() retries now.
    server.dropAll();
    await clock.advance(0);
    expect(client.state).toBe('reconnecting');
    client.networkChanged();
    await clock.advance(0);
    expect(client.state).toBe('online');
    client.close();
  });

  it('client - networkChanged() while online probes the connection and drops it when nothing answers', async () => {
    const { client, server, clock } = harness({ reconnect: { baseMs: 60_000, capMs: 60_000 } });
    await client.connect();
    server.answerPings = false;
    client.networkChanged();
    await clock.advance(999);
    expect(client.state).toBe('online');
    await clock.advance(1);
    expect(client.state).toBe('reconnecting');
    client.close();
  });

  it('client - the default heartbeat is 1 s, capped by a shorter server interval', async () => {
    const { client, server, clock } = harness();
    server.heartbeatMs = 15_000;
    await client.connect();
    const pings = (): number => server.received.filter((message) => message.t === 5).length;
    await clock.advance(3_000);
    expect(pings()).toBe(3);
    client.close();
  });
});
