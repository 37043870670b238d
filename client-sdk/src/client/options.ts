/**
 * Client options: every setting with its default and unit, validated once at construction
 * and then frozen. Invalid options are programmer errors and throw a TypeError.
 */
import type { RingstateError } from '@ringstate/protocol';
import { hostFailover } from '../connection/host-failover.ts';
import { staticHost, webSocketUrl } from '../connection/host-provider.ts';
import type { HostProviderFactory } from '../connection/host-provider.ts';
import { defaultWebSocket } from '../connection/websocket.ts';
import type { WebSocketConstructor } from '../connection/websocket.ts';
import { MemoryStorage } from '../storage/storage.ts';
import type { KeyValueStorage } from '../storage/storage.ts';
import type { BackoffSettings } from '../util/backoff.ts';
import { systemClock } from '../util/clock.ts';
import type { Clock } from '../util/clock.ts';
import { defaultRandomBytes } from '../util/command-id.ts';
import type { RandomBytes } from '../util/command-id.ts';
import { silentLogger } from '../util/logger.ts';
import type { Logger } from '../util/logger.ts';

export interface TokenRequest {
  /**
   * Set when the server refused the previous token (AUTH_TOKEN_EXPIRED, AUTH_INVALID_TOKEN):
   * return a new one. Returning the refused token again makes the client go offline.
   */
  readonly rejected: RingstateError | undefined;
}

/** Returns the player token for the next connection attempt; called before every attempt. */
export type TokenProvider = (request: TokenRequest) => string | Promise<string>;

export interface ReconnectOptions {
  /** Upper bound of the first reconnect delay. Default 500 ms. */
  readonly baseMs?: number;
  /** Longest delay between attempts. Default 30 s. */
  readonly capMs?: number;
  /** Failed attempts in a row before the client goes `offline`. Default 30; Infinity allowed. */
  readonly attemptsMax?: number;
}

export interface HeartbeatOptions {
  /**
   * Ping interval. Default 1 s, or the server's `heartbeatMs` from WELCOME when that is shorter;
   * a value given here is used as is. 0 disables pings. See docs/client-sdk.md for the trade-off.
   */
  readonly intervalMs?: number;
  /** Intervals without any frame from the server before the connection counts as dead. Default 2. */
  readonly missesMax?: number;
}

export interface ClientOptions {
  /** Full WebSocket URL, e.g. `wss://eu1.example.com/v1/ws`. Give `url` or `host`. */
  readonly url?: string;
  /** `host:port`; the client dials `ws://host:port/v1/ws` (`wss://` when `secure`). */
  readonly host?: string;
  /**
   * Seed `host:port` names of the cluster: turns on host failover (suggestions from
   * GET /v1/hosts, the host list cached in `storage`, another host after a failure).
   */
  readonly hosts?: readonly string[];
  readonly secure?: boolean;
  /** A fixed player token. Give `token` or `getToken`. */
  readonly token?: string;
  /** A token provider, called before every connection attempt (cache inside it). */
  readonly getToken?: TokenProvider;
  /** Deadline for a command, from `send` to ACK or REJECT. Default 10 s. */
  readonly commandTimeoutMs?: number;
  /**
   * Unanswered commands kept at most; `send` rejects with OVERLOADED beyond. Default 256, so
   * that re-sending a full outbox after a reconnect stays within the server's message burst.
   */
  readonly outboxMax?: number;
  /** Backoff between retries of a command the server rejected as retryable. */
  readonly commandRetry?: { readonly baseMs?: number; readonly capMs?: number };
  /** Time from opening a socket to WELCOME before the attempt counts as failed. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /**
   * When every answer to commands on a connection has been a retryable UNAVAILABLE or
   * NO_QUORUM for this long, the client moves to another host: the node is probably on the
   * minority side of a network split and cannot serve until it heals. Longer than a normal
   * failover (about 1-2 s), so elections do not make clients hop. Default 4 s; 0 disables.
   */
  readonly unservedMoveMs?: number;
  readonly reconnect?: ReconnectOptions;
  readonly heartbeat?: HeartbeatOptions;
  /** The WebSocket constructor. Default `globalThis.WebSocket` (absent in Node 20: pass `ws`). */
  readonly WebSocket?: WebSocketConstructor;
  /** Where the SDK keeps data between launches (the host list, from host failover on). */
  readonly storage?: KeyValueStorage;
  /** Chooses the URL of each attempt; defaults to `hostFailover` over `hosts`, or the `url`/`host`. */
  readonly hostProvider?: HostProviderFactory;
  readonly logger?: Logger;
  /** Time and timers; inject a manual clock in tests. */
  readonly clock?: Clock;
  /** Uniform in [0, 1); used for backoff jitter. Default Math.random. */
  readonly random?: () => number;
  /** Random bytes for the command id prefix. Default `crypto.getRandomValues`. */
  readonly randomBytes?: RandomBytes;
}

export interface ResolvedOptions {
  readonly tokenProvider: TokenProvider;
  readonly tokenIsRefreshable: boolean;
  readonly commandTimeoutMs: number;
  readonly outboxMax: number;
  readonly commandRetry: BackoffSettings;
  readonly connectTimeoutMs: number;
  /** 0 when disabled. */
  readonly unservedMoveMs: number;
  readonly reconnect: BackoffSettings & { readonly attemptsMax: number };
  /** Set when the app chose an interval; otherwise `heartbeatDefaultMs` capped by the server's. */
  readonly heartbeatIntervalMs: number | undefined;
  readonly heartbeatDefaultMs: number;
  readonly heartbeatMissesMax: number;
  readonly WebSocket: WebSocketConstructor;
  readonly storage: KeyValueStorage;
  readonly hostProvider: HostProviderFactory;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly randomBytes: RandomBytes;
}

export const DEFAULTS = Object.freeze({
  commandTimeoutMs: 10_000,
  outboxMax: 256,
  commandRetryBaseMs: 100,
  commandRetryCapMs: 5_000,
  connectTimeoutMs: 10_000,
  unservedMoveMs: 4_000,
  reconnectBaseMs: 500,
  reconnectCapMs: 30_000,
  reconnectAttemptsMax: 30,
  heartbeatIntervalMs: 1_000,
  heartbeatMissesMax: 2,
});

export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    ...resolveToken(options),
    commandTimeoutMs: positive('commandTimeoutMs', options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs),
    outboxMax: positive('outboxMax', options.outboxMax ?? DEFAULTS.outboxMax),
    commandRetry: {
      baseMs: positive('commandRetry.baseMs', options.commandRetry?.baseMs ?? DEFAULTS.commandRetryBaseMs),
      capMs: positive('commandRetry.capMs', options.commandRetry?.capMs ?? DEFAULTS.commandRetryCapMs),
    },
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs),
    unservedMoveMs: nonNegative('unservedMoveMs', options.unservedMoveMs ?? DEFAULTS.unservedMoveMs),
    reconnect: {
      baseMs: positive('reconnect.baseMs', options.reconnect?.baseMs ?? DEFAULTS.reconnectBaseMs),
      capMs: positive('reconnect.capMs', options.reconnect?.capMs ?? DEFAULTS.reconnectCapMs),
      attemptsMax: attemptsMax(options.reconnect?.attemptsMax ?? DEFAULTS.reconnectAttemptsMax),
    },
    heartbeatIntervalMs:
      options.heartbeat?.intervalMs === undefined ? undefined : nonNegative('heartbeat.intervalMs', options.heartbeat.intervalMs),
    heartbeatDefaultMs: DEFAULTS.heartbeatIntervalMs,
    heartbeatMissesMax: positive('heartbeat.missesMax', options.heartbeat?.missesMax ?? DEFAULTS.heartbeatMissesMax),
    WebSocket: options.WebSocket ?? defaultWebSocket(),
    storage: options.storage ?? new MemoryStorage(),
    hostProvider: options.hostProvider ?? defaultHostProvider(options),
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    randomBytes: options.randomBytes ?? defaultRandomBytes(),
  };
  return Object.freeze(resolved);
}

function resolveToken(options: ClientOptions): Pick<ResolvedOptions, 'tokenProvider' | 'tokenIsRefreshable'> {
  const { token, getToken } = options;
  if ((token === undefined) === (getToken === undefined)) {
    throw new TypeError('ringstate: give exactly one of `token` and `getToken`');
  }
  if (getToken !== undefined) return { tokenProvider: getToken, tokenIsRefreshable: true };
  if (typeof token !== 'string' || token === '') throw new TypeError('ringstate: `token` must be a non-empty string');
  return { tokenProvider: () => token, tokenIsRefreshable: false };
}

function defaultHostProvider(options: ClientOptions): HostProviderFactory {
  const given = [options.url, options.host, options.hosts].filter((value) => value !== undefined).length;
  if (given !== 1) throw new TypeError('ringstate: give exactly one of `url`, `host` and `hosts` (or a `hostProvider`)');
  if (options.hosts !== undefined) return hostFailover({ seeds: options.hosts, secure: options.secure === true });
  return staticHost(resolveUrl(options));
}

function resolveUrl(options: ClientOptions): string {
  if (options.url !== undefined) {
    if (!/^wss?:\/\//.test(options.url)) throw new TypeError(`ringstate: \`url\` must start with ws:// or wss://`);
    return options.url;
  }
  return webSocketUrl(options.host ?? '', options.secure === true);
}

// Timers treat Infinity and NaN as "now", so durations and sizes must be finite.
function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new TypeError(`ringstate: \`${name}\` must be a positive number`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new TypeError(`ringstate: \`${name}\` must be a number >= 0`);
  return value;
}

function attemptsMax(value: number): number {
  if (value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 0)) return value;
  throw new TypeError('ringstate: `reconnect.attemptsMax` must be an integer >= 0 or Infinity');
}
