/**
 * Host selection seam. Before every connection attempt the client asks its HostProvider
 * which WebSocket URL to dial, and tells it how the attempt went. Two providers ship:
 * `staticHost` (always the same URL) and `hostFailover` (host-failover.ts: seeds, the cached
 * host list in `components.storage`, `/v1/hosts` suggestions, another host at random after a
 * failure). The client's reconnect logic (backoff, attempt limits) is the same for both.
 *
 * Providers are factories (`(components) => HostProvider`) so that they receive the client's
 * clock, randomness, storage and logger instead of reaching for globals.
 */
import type { RingstateError } from '@ringstate/protocol';
import type { KeyValueStorage } from '../storage/storage.ts';
import type { Clock } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';

export interface HostPickContext {
  /** Attempts since the client was last online; 0 for the first attempt. */
  readonly retry: number;
  /** The URL of the previous attempt, if any. */
  readonly previousUrl: string | undefined;
  /** Why the previous attempt or connection ended, if it did. */
  readonly error: RingstateError | undefined;
}

export interface HostProvider {
  /** The WebSocket URL for the next attempt. */
  pick(context: HostPickContext): string | Promise<string>;
  /** Called when an attempt reached WELCOME (with the session's player) or failed; lets a provider rank hosts. */
  report?(url: string, outcome: { ok: true; player?: string } | { ok: false; error: RingstateError }): void;
  /** Forget what failed recently: the app came back to the foreground or the network changed. */
  reset?(): void;
}

export interface HostProviderComponents {
  readonly clock: Clock;
  readonly random: () => number;
  readonly storage: KeyValueStorage;
  readonly logger: Logger;
}

export type HostProviderFactory = (components: HostProviderComponents) => HostProvider;

/** `ws://host:port/v1/ws`, or `wss://` when `secure`. */
export function webSocketUrl(host: string, secure: boolean): string {
  return `${secure ? 'wss' : 'ws'}://${host}/v1/ws`;
}

/** Always dials the same URL: reconnects go back to the same host. */
export function staticHost(url: string): HostProviderFactory {
  return () => ({ pick: () => url });
}
