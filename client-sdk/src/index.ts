/**
 * @ringstate/client-sdk: the one public surface of the client SDK.
 *
 * Everything a client developer needs is exported here; deeper paths are internal. The Node
 * file store is the exception: it lives at `@ringstate/client-sdk/storage/file-storage` so that
 * browser and React Native bundles never include `node:fs`.
 */
export { RingstateClient } from './client/ringstate-client.ts';
export type { ClientEvents, ConnectionState, SendOptions, SessionInfo } from './client/ringstate-client.ts';
export { DEFAULTS } from './client/options.ts';
export type {
  ClientOptions,
  HeartbeatOptions,
  ReconnectOptions,
  TokenProvider,
  TokenRequest,
} from './client/options.ts';
export type { CommandResult } from './client/outbox.ts';
export { SERVER_ORIGIN, Subscription, VIEW_MAP_NAME } from './client/subscription.ts';
export type { ChangeEvent, EndEvent, SubscriptionEvents } from './client/subscription.ts';
export type { AggregateSchema, CommandOf, LooseSchema, SchemaShape, ViewOf } from './client/schema.ts';

export { fetchDevToken } from './connection/dev-token.ts';
export type { DevToken, DevTokenOptions } from './connection/dev-token.ts';
export { staticHost, webSocketUrl } from './connection/host-provider.ts';
export { HOST_FAILOVER_DEFAULTS, hostFailover, parseHostsAnswer } from './connection/host-failover.ts';
export type { CachedHostList, FailoverHostProvider, FetchLike, HostFailoverOptions, HostsAnswer } from './connection/host-failover.ts';
export type {
  HostPickContext,
  HostProvider,
  HostProviderComponents,
  HostProviderFactory,
} from './connection/host-provider.ts';
export { ClientCloseCodes } from './connection/websocket.ts';
export type { WebSocketConstructor, WebSocketLike } from './connection/websocket.ts';

export { AsyncStorageAdapter, MemoryStorage, STORAGE_KEY_PREFIX, WebStorageAdapter } from './storage/storage.ts';
export type { AsyncStorageLike, KeyValueStorage, WebStorageLike } from './storage/storage.ts';

export { backoffCeilingMs, fullJitterDelayMs } from './util/backoff.ts';
export type { BackoffSettings } from './util/backoff.ts';
export { systemClock } from './util/clock.ts';
export type { Clock, TimerHandle } from './util/clock.ts';
export type { RandomBytes } from './util/command-id.ts';
export type { Listener, Unlisten } from './util/emitter.ts';
export { consoleLogger } from './util/logger.ts';
export type { Logger, LogLevel } from './util/logger.ts';

// The protocol pieces an app needs to handle errors; the full wire protocol is available at
// `@ringstate/client-sdk/protocol`.
export { CloseCodes, ErrorCodes, isErrorCode, isRetryable, PROTOCOL_VERSION, RingstateError } from '@ringstate/protocol';
export type { CommandBody, ConnectionLimits, ErrorCode } from '@ringstate/protocol';
