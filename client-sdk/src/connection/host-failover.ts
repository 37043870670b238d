/**
 * Host failover: the HostProvider that finds a node of the cluster on its own.
 *
 * It starts from seed hostnames compiled into the app and keeps the latest host list the
 * cluster gave it in the client's KeyValueStorage (key `hosts`), so a restarted app still finds
 * the cluster when its seeds are gone. Before every connection attempt it asks a reachable host
 * for a suggestion:
 *
 *   GET http(s)://<host>/v1/hosts?player=<id>  ->  {suggested, hosts, ringVersion, ttlSeconds}
 *
 * asking the cached hosts first, in random order, then the seeds, and skipping hosts that failed
 * recently (`failedHostTtlMs`). It dials the suggested host, unless that host failed recently,
 * in which case it dials another host of the answer at random. When nobody answers it dials a
 * candidate at random: the WebSocket attempt itself is the last word. The client's reconnect
 * loop supplies the full-jitter exponential backoff between attempts; this provider only decides
 * where each attempt goes. After every successful connect it refreshes the cached list from the
 * connected host.
 *
 * The player for suggestions comes from `player` or, after the first WELCOME, from the session.
 * Time, randomness, storage and `fetch` are injected, so tests run it on a fake clock.
 */
import type { RingstateError } from '@ringstate/protocol';
import type { KeyValueStorage } from '../storage/storage.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { webSocketUrl } from './host-provider.ts';
import type { HostPickContext, HostProvider, HostProviderComponents } from './host-provider.ts';

/** The part of the Fetch API the provider uses (global `fetch` in browsers, React Native, Node >= 18). */
export type FetchLike = (
  url: string,
  init: { readonly signal: AbortSignal; readonly headers: Record<string, string> },
) => Promise<{ readonly ok: boolean; readonly status: number; json(): Promise<unknown> }>;

export interface HostFailoverOptions {
  /** Seed `host:port` names compiled into the app; at least one. */
  readonly seeds: readonly string[];
  /** Dial wss:// and ask https:// (default false). */
  readonly secure?: boolean;
  /** The player whose partition owner to prefer; learned from WELCOME when absent. */
  readonly player?: string;
  /** Deadline of one GET /v1/hosts. Default 2 s. */
  readonly suggestionTimeoutMs?: number;
  /** Hosts asked for a suggestion per attempt before dialing without one. Default 3. */
  readonly suggestionHostsMax?: number;
  /** A host that failed is skipped for this long unless every host failed. Default 30 s. */
  readonly failedHostTtlMs?: number;
  /** A cached list older than this is ignored (hosts get retired). Default 30 days. */
  readonly cachedListAgeMaxMs?: number;
  /** Storage key of the cached list (the storage adds its own prefix). Default `hosts`. */
  readonly storageKey?: string;
  /** Default `globalThis.fetch`. */
  readonly fetch?: FetchLike;
}

/** What `GET /v1/hosts` answers. */
export interface HostsAnswer {
  readonly suggested: string;
  readonly hosts: readonly string[];
  readonly ringVersion: number;
  readonly ttlSeconds: number;
}

/** The cached list as stored (JSON). */
export interface CachedHostList {
  readonly hosts: readonly string[];
  readonly ringVersion: number;
  readonly ttlSeconds: number;
  /** Wall-clock time of the answer (ms since the epoch), to age the list across launches. */
  readonly fetchedAtMs: number;
}

/** A HostProvider that also exposes what it knows, for diagnostics and token fetching. */
export interface FailoverHostProvider extends HostProvider {
  /** The hosts known now: the cached list, or the seeds before any answer. */
  knownHosts(): readonly string[];
}

export const HOST_FAILOVER_DEFAULTS = Object.freeze({
  suggestionTimeoutMs: 2_000,
  suggestionHostsMax: 3,
  failedHostTtlMs: 30_000,
  cachedListAgeMaxMs: 30 * 24 * 60 * 60 * 1000,
  storageKey: 'hosts',
});

/** Hosts kept from one answer at most: a bound on storage and on the work of one pick. */
const HOSTS_MAX = 256;
const HOST_PATTERN = /^[A-Za-z0-9.-]{1,253}:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/;

/** Parses a `/v1/hosts` answer; undefined when it is not one. */
export function parseHostsAnswer(value: unknown): HostsAnswer | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { suggested, hosts, ringVersion, ttlSeconds } = value as Record<string, unknown>;
  if (typeof suggested !== 'string' || !HOST_PATTERN.test(suggested)) return undefined;
  if (!Array.isArray(hosts) || hosts.length === 0) return undefined;
  if (typeof ringVersion !== 'number' || typeof ttlSeconds !== 'number' || !(ttlSeconds >= 0)) return undefined;
  const valid = hosts.filter((host): host is string => typeof host === 'string' && HOST_PATTERN.test(host)).slice(0, HOSTS_MAX);
  if (valid.length === 0) return undefined;
  return { suggested, hosts: valid, ringVersion, ttlSeconds };
}

/** Fisher-Yates with the injected randomness. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = Math.min(index, Math.floor(random() * (index + 1)));
    const swap = copy[index] as T;
    copy[index] = copy[other] as T;
    copy[other] = swap;
  }
  return copy;
}

/** The provider factory for `ClientOptions.hostProvider` (what `hosts: [...]` uses). */
export function hostFailover(options: HostFailoverOptions): (components: HostProviderComponents) => FailoverHostProvider {
  const seeds = [...new Set(options.seeds)];
  if (seeds.length === 0) throw new TypeError('ringstate: host failover needs at least one seed host');
  for (const seed of seeds) {
    if (!HOST_PATTERN.test(seed)) throw new TypeError(`ringstate: seed host ${JSON.stringify(seed)} must be host:port`);
  }
  const settings = {
    secure: options.secure === true,
    suggestionTimeoutMs: options.suggestionTimeoutMs ?? HOST_FAILOVER_DEFAULTS.suggestionTimeoutMs,
    suggestionHostsMax: options.suggestionHostsMax ?? HOST_FAILOVER_DEFAULTS.suggestionHostsMax,
    failedHostTtlMs: options.failedHostTtlMs ?? HOST_FAILOVER_DEFAULTS.failedHostTtlMs,
    cachedListAgeMaxMs: options.cachedListAgeMaxMs ?? HOST_FAILOVER_DEFAULTS.cachedListAgeMaxMs,
    storageKey: options.storageKey ?? HOST_FAILOVER_DEFAULTS.storageKey,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value === 'number' && !(Number.isFinite(value) && value > 0)) throw new TypeError(`ringstate: \`${name}\` must be a positive number`);
  }
  return (components) => new HostFailover(seeds, settings, options.player, options.fetch ?? defaultFetch(), components);
}

interface Settings {
  readonly secure: boolean;
  readonly suggestionTimeoutMs: number;
  readonly suggestionHostsMax: number;
  readonly failedHostTtlMs: number;
  readonly cachedListAgeMaxMs: number;
  readonly storageKey: string;
}

class HostFailover implements FailoverHostProvider {
  readonly #seeds: readonly string[];
  readonly #settings: Settings;
  readonly #fetch: FetchLike;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #storage: KeyValueStorage;
  readonly #logger: Logger;
  #player: string | undefined;
  #cached: CachedHostList | undefined;
  #loaded: Promise<void> | undefined;
  /** host -> clock time of its last failure. */
  readonly #failedAtMs = new Map<string, number>();
  /** url -> host, for `report`. */
  readonly #hostOfUrl = new Map<string, string>();

  constructor(seeds: readonly string[], settings: Settings, player: string | undefined, fetchHosts: FetchLike, components: HostProviderComponents) {
    this.#seeds = seeds;
    this.#settings = settings;
    this.#player = player;
    this.#fetch = fetchHosts;
    this.#clock = components.clock;
    this.#random = components.random;
    this.#storage = components.storage;
    this.#logger = components.logger;
  }

  knownHosts(): readonly string[] {
    return this.#cached?.hosts ?? this.#seeds;
  }

  async pick(context: HostPickContext): Promise<string> {
    await this.#load();
    const candidates = this.#candidates();
    for (const host of candidates.slice(0, this.#settings.suggestionHostsMax)) {
      const answer = await this.#ask(host);
      if (answer === undefined) {
        this.#markFailed(host);
        continue;
      }
      await this.#remember(answer);
      return this.#urlOf(this.#choose(answer));
    }
    // Nobody answered: dial a candidate anyway (an old node may lack /v1/hosts, a proxy may block it).
    const fallback = candidates[0] ?? this.#seeds[0] ?? '';
    this.#logger('debug', 'no host suggestion; dialing a candidate', { host: fallback, retry: context.retry });
    return this.#urlOf(fallback);
  }

  report(url: string, outcome: { ok: true; player?: string } | { ok: false; error: RingstateError }): void {
    const host = this.#hostOfUrl.get(url);
    if (host === undefined) return;
    if (!outcome.ok) {
      this.#markFailed(host);
      return;
    }
    this.#failedAtMs.delete(host);
    if (outcome.player !== undefined) this.#player = outcome.player;
    // Refresh the cached list from the host we just reached, in the background.
    void this.#ask(host).then((answer) => (answer === undefined ? undefined : this.#remember(answer)));
  }

  reset(): void {
    this.#failedAtMs.clear();
  }

  /**
   * Hosts to ask, best first: cached hosts, then seeds, each group shuffled, skipping hosts that
   * failed within `failedHostTtlMs`; when every host failed recently, all of them, longest-ago
   * failure first (the cluster may be back).
   */
  #candidates(): string[] {
    const nowMs = this.#clock.now();
    const cached = shuffled(this.#cached?.hosts ?? [], this.#random);
    const seeds = shuffled(this.#seeds.filter((seed) => !cached.includes(seed)), this.#random);
    const all = [...cached, ...seeds];
    const fresh = all.filter((host) => !this.#failedRecently(host, nowMs));
    if (fresh.length > 0) return fresh;
    return all.sort((a, b) => (this.#failedAtMs.get(a) ?? 0) - (this.#failedAtMs.get(b) ?? 0));
  }

  #choose(answer: HostsAnswer): string {
    const nowMs = this.#clock.now();
    if (!this.#failedRecently(answer.suggested, nowMs)) return answer.suggested;
    const others = answer.hosts.filter((host) => !this.#failedRecently(host, nowMs));
    return others[Math.min(others.length - 1, Math.floor(this.#random() * others.length))] ?? answer.suggested;
  }

  #failedRecently(host: string, nowMs: number): boolean {
    const failedAtMs = this.#failedAtMs.get(host);
    return failedAtMs !== undefined && nowMs - failedAtMs < this.#settings.failedHostTtlMs;
  }

  #markFailed(host: string): void {
    this.#failedAtMs.set(host, this.#clock.now());
    // Bound the map: hosts are few, but a broken server could hand out many names.
    if (this.#failedAtMs.size > HOSTS_MAX) this.#failedAtMs.delete(this.#failedAtMs.keys().next().value as string);
  }

  #urlOf(host: string): string {
    const url = webSocketUrl(host, this.#settings.secure);
    this.#hostOfUrl.set(url, host);
    return url;
  }

  /** GET /v1/hosts on one host; undefined on any failure (logged at debug). */
  async #ask(host: string): Promise<HostsAnswer | undefined> {
    const controller = new AbortController();
    const timer = this.#clock.setTimeout(() => controller.abort(), this.#settings.suggestionTimeoutMs);
    const query = this.#player === undefined ? '' : `?player=${encodeURIComponent(this.#player)}`;
    const url = `${this.#settings.secure ? 'https' : 'http'}://${host}/v1/hosts${query}`;
    try {
      // Race the timer too: an injected fetch may ignore the abort signal.
      const aborted = new Promise<never>((_, reject) => controller.signal.addEventListener('abort', () => reject(new Error('timeout'))));
      const response = await Promise.race([this.#fetch(url, { signal: controller.signal, headers: { accept: 'application/json' } }), aborted]);
      if (!response.ok) throw new Error(`status ${response.status}`);
      const answer = parseHostsAnswer(await Promise.race([response.json(), aborted]));
      if (answer === undefined) throw new Error('not a hosts answer');
      return answer;
    } catch (error) {
      this.#logger('debug', 'host suggestion failed', { host, error: error instanceof Error ? error.message : String(error) });
      return undefined;
    } finally {
      this.#clock.clearTimeout(timer);
    }
  }

  #load(): Promise<void> {
    this.#loaded ??= this.#storage.get(this.#settings.storageKey).then(
      (text) => {
        if (this.#cached !== undefined || text === undefined) return;
        const list = parseCachedList(text);
        if (list !== undefined && Date.now() - list.fetchedAtMs < this.#settings.cachedListAgeMaxMs) this.#cached = list;
      },
      (error: unknown) => this.#logger('warn', 'cannot read the cached host list', { error }),
    );
    return this.#loaded;
  }

  async #remember(answer: HostsAnswer): Promise<void> {
    const list: CachedHostList = { hosts: answer.hosts, ringVersion: answer.ringVersion, ttlSeconds: answer.ttlSeconds, fetchedAtMs: Date.now() };
    this.#cached = list;
    try {
      await this.#storage.set(this.#settings.storageKey, JSON.stringify(list));
    } catch (error) {
      this.#logger('warn', 'cannot store the host list', { error });
    }
  }
}

function parseCachedList(text: string): CachedHostList | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const answer = parseHostsAnswer({ ...value, suggested: Array.isArray(value['hosts']) ? value['hosts'][0] : undefined });
    const fetchedAtMs = value['fetchedAtMs'];
    if (answer === undefined || typeof fetchedAtMs !== 'number') return undefined;
    return { hosts: answer.hosts, ringVersion: answer.ringVersion, ttlSeconds: answer.ttlSeconds, fetchedAtMs };
  } catch {
    return undefined;
  }
}

function defaultFetch(): FetchLike {
  const fetchFunction = (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof fetchFunction !== 'function') throw new TypeError('ringstate: no global fetch; pass `fetch` to hostFailover');
  return (url, init) => fetchFunction(url, init);
}
