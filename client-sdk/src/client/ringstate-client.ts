/**
 * RingstateClient: one player's session with a ringstate cluster.
 *
 * It owns three things and keeps them across connections:
 *   - the connection policy: a state machine over Links (one WebSocket each) that reconnects
 *     with full-jitter exponential backoff, gives up after `reconnect.attemptsMax` failures in a
 *     row, and stops at a refused handshake unless the token provider yields a new token;
 *   - the outbox of unanswered commands, re-sent with their original ids, in order, after
 *     every reconnect (the server dedupes by id, so a command applies at most once);
 *   - the subscriptions, whose Yjs replicas resubscribe with their state vectors.
 *
 *   idle --connect()--> connecting --WELCOME--> online --drop--> reconnecting --delay--> connecting
 *                          |  ^                                     |
 *                          |  +------ attempt failed: reconnecting -+
 *                          +--> offline (attempts exhausted, handshake refused)  --connect()--> connecting
 *   connecting/online/reconnecting --pause()--> paused --resume()/connect()--> connecting
 *   any state --close()--> closed (final)
 *
 * Reconnects use a resume token (WELCOME `resume`): a player token every node accepts, so a
 * client fails over without calling the app's token provider; the provider is asked again only
 * when the resume token is refused (expired) or absent.
 *
 * The core touches no Node API: the socket, clock, randomness and storage are injected, so the
 * same code runs in browsers, React Native, Node and the simulator.
 */
import { aggregateKey, encodeFrame, MessageType, RingstateError } from '@ringstate/protocol';
import type {
  CommandBody,
  ServerMessage,
  SnapshotMessage,
  UnsubbedMessage,
  UpdateMessage,
  WelcomeMessage,
} from '@ringstate/protocol';
import { Link } from '../connection/link.ts';
import type { LinkEnd, LinkHandler } from '../connection/link.ts';
import type { HostProvider } from '../connection/host-provider.ts';
import { fullJitterDelayMs } from '../util/backoff.ts';
import type { TimerHandle } from '../util/clock.ts';
import { createCommandIdGenerator } from '../util/command-id.ts';
import { Emitter } from '../util/emitter.ts';
import type { Listener, Unlisten } from '../util/emitter.ts';
import { resolveOptions } from './options.ts';
import type { ClientOptions, ResolvedOptions } from './options.ts';
import { Outbox } from './outbox.ts';
import type { CommandResult, PendingCommand } from './outbox.ts';
import type { AggregateTypeOf, CommandOf, LooseSchema, SchemaShape, ViewOf } from './schema.ts';
import { Replica, Subscription } from './subscription.ts';

export type ConnectionState = 'idle' | 'connecting' | 'online' | 'reconnecting' | 'paused' | 'offline' | 'closed';

export interface SessionInfo {
  readonly url: string;
  readonly player: string;
  readonly session: string;
  readonly node: string;
  readonly heartbeatMs: number;
}

export interface ClientEvents {
  /** Every change of `client.state`. */
  state: { readonly state: ConnectionState; readonly previous: ConnectionState };
  /** A connection attempt starts. `retry` is 0 for the first attempt after being online or idle. */
  connecting: { readonly url: string; readonly retry: number };
  /** The handshake completed; commands and subscriptions flow. */
  online: SessionInfo;
  /** The connection dropped or an attempt failed; the next attempt starts after `delayMs`. */
  reconnecting: { readonly retry: number; readonly delayMs: number; readonly error: RingstateError };
  /** The client gave up; call `connect()` to try again. Pending commands were rejected. */
  offline: { readonly error: RingstateError };
  /** `close()` was called. */
  closed: undefined;
  /** A problem not tied to a command: a refused handshake, or a server ERROR without `ref`. */
  error: RingstateError;
}

export interface SendOptions {
  /** Deadline for this command; defaults to the client's `commandTimeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * Re-sends a command whose outcome is unknown under its original id (`error.commandId` of a
   * TIMEOUT or DISCONNECTED): the server applies it at most once and answers `duplicate` if an
   * earlier attempt took effect. Must be the same command; omit it for new commands.
   */
  readonly commandId?: string;
}

/** The server accepts command ids up to this length. */
const COMMAND_ID_LENGTH_MAX = 128;

/** A probe after `networkChanged()` waits at least this long for an answer. */
const PROBE_TIMEOUT_MIN_MS = 1_000;

/** A refused handshake may be retried with a fresh token this many times in a row. */
const HANDSHAKE_FAILURES_MAX = 3;

export class RingstateClient<S extends SchemaShape<S> = LooseSchema> {
  readonly #options: ResolvedOptions;
  readonly #events: Emitter<ClientEvents>;
  readonly #outbox: Outbox;
  readonly #replicas = new Map<string, Replica>();
  readonly #hostProvider: HostProvider;
  readonly #nextCommandId: () => string;
  readonly #linkHandler: LinkHandler;
  #state: ConnectionState = 'idle';
  #link: Link | undefined;
  /** Since when every command answer on this connection said "cannot serve right now" (see #noteCommandAnswer). */
  #unservedSinceMs: number | undefined;
  /** When the last such answer came. */
  #lastUnservedMs: number | undefined;
  #linkToken: string | undefined;
  /** From the last WELCOME; used for reconnects until a server refuses it. */
  #resumeToken: string | undefined;
  #session: SessionInfo | undefined;
  #frameBytesMax: number | undefined;
  /** Bumped whenever in-flight attempt work (host pick, token fetch) must be abandoned. */
  #generation = 0;
  #retries = 0;
  #reconnectTimer: TimerHandle | undefined;
  #handshakeFailures = 0;
  #rejection: { readonly error: RingstateError; readonly token: string } | undefined;
  #previousUrl: string | undefined;
  #previousError: RingstateError | undefined;
  #connectWaiters: { resolve(): void; reject(error: RingstateError): void }[] = [];

  constructor(options: ClientOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    const onListenerError = (error: unknown): void => resolved.logger('error', 'event listener threw', { error });
    this.#events = new Emitter<ClientEvents>(onListenerError);
    this.#nextCommandId = createCommandIdGenerator(resolved.randomBytes);
    this.#hostProvider = resolved.hostProvider({
      clock: resolved.clock,
      random: resolved.random,
      storage: resolved.storage,
      logger: resolved.logger,
    });
    this.#outbox = new Outbox({
      outboxMax: resolved.outboxMax,
      retry: resolved.commandRetry,
      clock: resolved.clock,
      random: resolved.random,
      logger: resolved.logger,
      transmit: (pending) => this.#transmit(pending),
    });
    this.#linkHandler = {
      welcome: (link, welcome) => this.#onWelcome(link, welcome),
      message: (link, message) => this.#onMessage(link, message),
      end: (link, end) => this.#onLinkEnd(link, end),
    };
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The current session while online. */
  get session(): SessionInfo | undefined {
    return this.#session;
  }

  /** Commands sent and not yet answered. */
  get pendingCommandCount(): number {
    return this.#outbox.size;
  }

  on<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): Unlisten {
    return this.#events.on(event, listener);
  }

  once<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): Unlisten {
    return this.#events.once(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: Listener<ClientEvents[K]>): void {
    this.#events.off(event, listener);
  }

  /**
   * Starts connecting (or restarts after `offline`). Resolves when online; rejects if the
   * client goes offline or is closed first. Reconnects after that are automatic.
   */
  connect(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(closedError());
    if (this.#state === 'online') return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
    if (this.#state === 'idle' || this.#state === 'offline' || this.#state === 'paused') {
      this.#hostProvider.reset?.();
      this.#retries = 0;
      this.#handshakeFailures = 0;
      this.#startAttempt();
    }
    return promise;
  }

  /**
   * The app went to the background (or does not need the connection for a while): closes the
   * connection and stops reconnecting until `resume()`. Commands sent meanwhile wait in the
   * outbox and still end at their deadline; subscriptions are kept and catch up on resume.
   */
  pause(): void {
    if (this.#state !== 'connecting' && this.#state !== 'online' && this.#state !== 'reconnecting') return;
    this.#abandonConnection();
    this.#options.logger('info', 'paused');
    this.#setState('paused');
  }

  /**
   * The app is back in the foreground: reconnects at once with the backoff reset and recent
   * host failures forgotten. While reconnecting, it cuts the current wait short.
   */
  resume(): void {
    if (this.#state !== 'paused' && this.#state !== 'reconnecting') return;
    this.#restartNow();
  }

  /**
   * A hint that the network changed (Wi-Fi to cellular, back online). Online, the connection is
   * probed at once, since its TCP path may be gone; otherwise the next attempt starts now with
   * the backoff reset.
   */
  networkChanged(): void {
    if (this.#state === 'online') {
      const link = this.#link;
      link?.probe(Math.max(link.heartbeatIntervalMs, PROBE_TIMEOUT_MIN_MS));
      return;
    }
    if (this.#state === 'reconnecting' || this.#state === 'connecting') this.#restartNow();
  }

  /** Closes the connection for good: pending commands reject, subscriptions end. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#abandonConnection();
    this.#setState('closed');
    const error = closedError();
    this.#settleConnectWaiters(error);
    this.#outbox.failAll('DISCONNECTED', (pending) => `client closed before command ${pending.id} was answered`, undefined);
    for (const replica of [...this.#replicas.values()]) this.#endReplica(replica, error);
    this.#events.emit('closed', undefined);
    this.#events.removeAllListeners();
  }

  /**
   * Sends a command. Resolves with the aggregate's new seq once the server committed it;
   * rejects with a RingstateError: the server's code (with `reason` for domain rejections),
   * TIMEOUT at the deadline, OVERLOADED when the outbox is full, DISCONNECTED when the client
   * goes offline or closes. After TIMEOUT or DISCONNECTED the command may or may not have
   * been applied; the error's `commandId` lets the app send it again under the same id.
   */
  send<A extends AggregateTypeOf<S>>(
    aggregateType: A,
    aggregateId: string,
    command: CommandOf<S, A>,
    options: SendOptions = {},
  ): Promise<CommandResult> {
    assertAggregate(aggregateType, aggregateId);
    assertCommand(command);
    const timeoutMs = options.timeoutMs ?? this.#options.commandTimeoutMs;
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new TypeError('ringstate: `timeoutMs` must be a positive number');
    if (this.#state === 'closed') return Promise.reject(closedError());
    if (this.#state === 'offline') {
      return Promise.reject(new RingstateError('DISCONNECTED', 'client is offline; call connect() first'));
    }
    const id = options.commandId ?? this.#nextCommandId();
    if (typeof id !== 'string' || id === '' || id.length > COMMAND_ID_LENGTH_MAX) {
      throw new TypeError(`ringstate: \`commandId\` must be a string of 1-${COMMAND_ID_LENGTH_MAX} characters`);
    }
    if (this.#outbox.has(id)) throw new TypeError(`ringstate: command ${id} is still pending`);
    const frame = encodeFrame({ t: MessageType.COMMAND, id, a: aggregateType, i: aggregateId, c: command as CommandBody });
    return this.#outbox.add({ id, aggregateType, aggregateId, frame, timeoutMs });
  }

  /**
   * Subscribes to an aggregate's public view. Subscribing twice to the same aggregate shares
   * one replica; each Subscription must be unsubscribed on its own.
   */
  subscribe<A extends AggregateTypeOf<S>>(aggregateType: A, aggregateId: string): Subscription<ViewOf<S, A>> {
    assertAggregate(aggregateType, aggregateId);
    if (this.#state === 'closed') throw closedError();
    const key = aggregateKey(aggregateType, aggregateId);
    let replica = this.#replicas.get(key);
    if (replica === undefined) {
      replica = new Replica(aggregateType, aggregateId, (error) =>
        this.#options.logger('error', 'subscription listener threw', { aggregate: key, error }),
      );
      this.#replicas.set(key, replica);
      if (this.#state === 'online') this.#link?.send(replica.subMessage());
    }
    replica.handleCount += 1;
    return new Subscription<ViewOf<S, A>>(
      replica,
      (released) => this.#release(released),
      (error) => this.#options.logger('error', 'subscription listener threw', { aggregate: key, error }),
    );
  }

  // Connection policy ----------------------------------------------------------------------

  #restartNow(): void {
    this.#abandonConnection();
    this.#retries = 0;
    this.#hostProvider.reset?.();
    this.#startAttempt();
  }

  #startAttempt(): void {
    this.#clearReconnectTimer();
    const generation = ++this.#generation;
    this.#attempt(generation).catch((error: unknown) => {
      if (generation === this.#generation) this.#onAttemptError(error);
    });
  }

  async #attempt(generation: number): Promise<void> {
    const retry = this.#retries;
    const url = await this.#hostProvider.pick({ retry, previousUrl: this.#previousUrl, error: this.#previousError });
    if (generation !== this.#generation) return;
    this.#setState('connecting');
    this.#events.emit('connecting', { url, retry });
    this.#options.logger('debug', 'connecting', { url, retry });
    const rejection = this.#rejection;
    const resumeToken = this.#resumeToken;
    const token = resumeToken ?? (await this.#options.tokenProvider({ rejected: rejection?.error }));
    if (generation !== this.#generation) return;
    if (resumeToken === undefined && rejection !== undefined && token === rejection.token) {
      this.#goOffline(rejection.error);
      return;
    }
    this.#linkToken = token;
    this.#link = new Link(
      {
        url,
        token,
        WebSocket: this.#options.WebSocket,
        clock: this.#options.clock,
        logger: this.#options.logger,
        connectTimeoutMs: this.#options.connectTimeoutMs,
        heartbeatMs: this.#options.heartbeatIntervalMs,
        heartbeatDefaultMs: this.#options.heartbeatDefaultMs,
        heartbeatMissesMax: this.#options.heartbeatMissesMax,
      },
      this.#linkHandler,
    );
    this.#link.open();
  }

  /** The host provider or the token provider failed: a non-retryable error is final. */
  #onAttemptError(cause: unknown): void {
    const error =
      cause instanceof RingstateError ? cause : new RingstateError('DISCONNECTED', 'connection attempt failed', { cause });
    this.#options.logger('warn', 'connection attempt failed', { code: error.code, message: error.message });
    if (!error.retryable) {
      this.#events.emit('error', error);
      this.#goOffline(error);
      return;
    }
    this.#previousError = error;
    this.#scheduleReconnect(error);
  }

  #onWelcome(link: Link, welcome: WelcomeMessage): void {
    if (link !== this.#link) return;
    this.#retries = 0;
    this.#unservedSinceMs = undefined;
    this.#lastUnservedMs = undefined;
    this.#handshakeFailures = 0;
    this.#rejection = undefined;
    this.#previousError = undefined;
    this.#previousUrl = link.url;
    this.#resumeToken = welcome.resume;
    this.#frameBytesMax = welcome.limits.frameBytesMax;
    this.#session = {
      url: link.url,
      player: welcome.player,
      session: welcome.session,
      node: welcome.node,
      heartbeatMs: welcome.heartbeatMs,
    };
    this.#hostProvider.report?.(link.url, { ok: true, player: welcome.player });
    this.#setState('online');
    this.#options.logger('info', 'online', { url: link.url, node: welcome.node, session: welcome.session });
    // Resubscribe and re-send before telling the app, so that commands the app sends from an
    // 'online' listener queue behind the older ones.
    for (const replica of this.#replicas.values()) {
      this.#clearReplicaRetry(replica);
      link.send(replica.subMessage());
    }
    this.#outbox.transmitAll();
    this.#settleConnectWaiters(undefined);
    this.#events.emit('online', this.#session);
  }

  #onLinkEnd(link: Link, end: LinkEnd): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    this.#session = undefined;
    this.#previousUrl = link.url;
    this.#previousError = end.error;
    this.#hostProvider.report?.(link.url, { ok: false, error: end.error });
    this.#options.logger(end.kind === 'rejected' ? 'warn' : 'info', 'connection ended', {
      url: link.url,
      kind: end.kind,
      code: end.error.code,
      message: end.error.message,
    });
    if (end.kind === 'rejected') this.#onHandshakeRejected(end.error);
    else this.#scheduleReconnect(end.error);
  }

  /**
   * A refused handshake is final for that token. With a token provider the client asks it
   * for a new token and tries again, a bounded number of times; otherwise it goes offline.
   */
  #onHandshakeRejected(error: RingstateError): void {
    const token = this.#linkToken;
    if (token !== undefined && token === this.#resumeToken && error.code !== 'PROTOCOL_VERSION_UNSUPPORTED') {
      // The resume token expired (or its key was retired): fall back to the app's token provider.
      this.#resumeToken = undefined;
      this.#options.logger('info', 'resume token refused; asking the token provider', { code: error.code });
      this.#scheduleReconnect(error);
      return;
    }
    this.#events.emit('error', error);
    this.#handshakeFailures += 1;
    const canRetry =
      token !== undefined &&
      this.#options.tokenIsRefreshable &&
      error.code !== 'PROTOCOL_VERSION_UNSUPPORTED' &&
      this.#handshakeFailures < HANDSHAKE_FAILURES_MAX;
    if (!canRetry) {
      this.#goOffline(error);
      return;
    }
    this.#rejection = { error, token };
    this.#scheduleReconnect(error);
  }

  #scheduleReconnect(error: RingstateError): void {
    const { reconnect, random, clock } = this.#options;
    if (this.#retries >= reconnect.attemptsMax) {
      this.#goOffline(error);
      return;
    }
    const delayMs = fullJitterDelayMs(reconnect, this.#retries, random);
    this.#retries += 1;
    this.#setState('reconnecting');
    this.#events.emit('reconnecting', { retry: this.#retries, delayMs, error });
    this.#clearReconnectTimer();
    this.#reconnectTimer = clock.setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#startAttempt();
    }, delayMs);
  }

  #goOffline(error: RingstateError): void {
    this.#abandonConnection();
    this.#setState('offline');
    this.#options.logger('warn', 'offline', { code: error.code, message: error.message });
    this.#settleConnectWaiters(error);
    this.#outbox.failAll('DISCONNECTED', (pending) => `client went offline before command ${pending.id} was answered`, error);
    this.#events.emit('offline', { error });
  }

  /** Stops every attempt, timer and socket of the current connection. */
  #abandonConnection(): void {
    this.#generation += 1;
    this.#clearReconnectTimer();
    this.#link?.dispose();
    this.#link = undefined;
    this.#session = undefined;
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#events.emit('state', { state, previous });
  }

  #settleConnectWaiters(error: RingstateError | undefined): void {
    const waiters = this.#connectWaiters;
    this.#connectWaiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  #clearReconnectTimer(): void {
    if (this.#reconnectTimer === undefined) return;
    this.#options.clock.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
  }

  // Messages --------------------------------------------------------------------------------

  #onMessage(link: Link, message: ServerMessage): void {
    if (link !== this.#link) return;
    switch (message.t) {
      case MessageType.ACK:
        this.#unservedSinceMs = undefined;
        this.#outbox.acknowledge(message);
        return;
      case MessageType.REJECT: {
        const options = {
          commandId: message.id,
          ...(message.reason === undefined ? {} : { reason: message.reason }),
          ...(message.ra === undefined ? {} : { retryAfterMs: message.ra }),
        };
        const error = new RingstateError(message.code, message.msg, options);
        this.#outbox.refuse(message.id, error, message.retry);
        this.#noteCommandAnswer(link, error, message.retry);
        return;
      }
      case MessageType.SNAPSHOT:
      case MessageType.UPDATE:
        this.#onState(message);
        return;
      case MessageType.UNSUBBED:
        this.#onUnsubbed(message);
        return;
      case MessageType.ERROR: {
        if (message.ref !== undefined && this.#outbox.has(message.ref)) {
          const error = new RingstateError(message.code, message.msg, { commandId: message.ref });
          this.#outbox.refuse(message.ref, error, message.retry);
          this.#noteCommandAnswer(link, error, message.retry);
          return;
        }
        this.#options.logger('warn', 'server error', { code: message.code, message: message.msg, ref: message.ref });
        this.#events.emit('error', new RingstateError(message.code, message.msg));
        return;
      }
      default:
        this.#options.logger('debug', 'ignored unexpected message', { t: message.t });
    }
  }

  /**
   * Moves to another host once this one has answered nothing but "cannot serve right now"
   * (retryable UNAVAILABLE or NO_QUORUM) for `unservedMoveMs`: the node may sit on the minority
   * side of a split. Pending commands stay in the outbox and go out again, with their ids, on
   * the next host.
   */
  #noteCommandAnswer(link: Link, error: RingstateError, retry: boolean): void {
    if (!retry || (error.code !== 'UNAVAILABLE' && error.code !== 'NO_QUORUM')) {
      this.#unservedSinceMs = undefined;
      return;
    }
    const { clock, unservedMoveMs } = this.#options;
    const nowMs = clock.now();
    // Only an unbroken run of refusals counts: one long ago (say, a command that ran out of
    // time) followed by quiet must not make the next single refusal look like a long one.
    const lastMs = this.#lastUnservedMs;
    this.#lastUnservedMs = nowMs;
    if (this.#unservedSinceMs === undefined || lastMs === undefined || nowMs - lastMs > unservedMoveMs) {
      this.#unservedSinceMs = nowMs;
      return;
    }
    if (unservedMoveMs === 0 || nowMs - this.#unservedSinceMs < unservedMoveMs) return;
    this.#unservedSinceMs = undefined;
    this.#options.logger('info', 'moving to another host: this one has not served a command for a while', {
      url: link.url,
      code: error.code,
      unservedMs: unservedMoveMs,
    });
    this.#previousUrl = link.url;
    this.#previousError = error;
    this.#hostProvider.report?.(link.url, { ok: false, error });
    this.#abandonConnection();
    this.#scheduleReconnect(error);
  }

  /** Puts a command on the wire; true when it left on the socket (see Outbox). */
  #transmit(pending: PendingCommand): boolean {
    const link = this.#link;
    if (link === undefined || this.#state !== 'online') return false;
    const frameBytesMax = this.#frameBytesMax;
    if (frameBytesMax !== undefined && frameBytesMax > 0 && pending.frame.byteLength > frameBytesMax) {
      const message = `command ${pending.id} is ${pending.frame.byteLength} bytes; the server accepts at most ${frameBytesMax}`;
      this.#outbox.fail(pending.id, new RingstateError('FRAME_TOO_LARGE', message, { commandId: pending.id }));
      return false;
    }
    link.sendFrame(pending.frame);
    return true;
  }

  // Subscriptions ---------------------------------------------------------------------------

  #onState(message: SnapshotMessage | UpdateMessage): void {
    const key = aggregateKey(message.a, message.i);
    const replica = this.#replicas.get(key);
    if (replica === undefined) return; // unsubscribed while the frame was in flight
    try {
      if (message.t === MessageType.SNAPSHOT) replica.applySnapshot(message);
      else if (!replica.applyUpdate(message)) this.#options.logger('debug', 'skipped known update', { aggregate: key, seq: message.seq });
    } catch (cause) {
      // Yjs could not apply the update: the replica can no longer be trusted.
      this.#options.logger('error', 'cannot apply state update', { aggregate: key, seq: message.seq, error: cause });
      this.#endReplica(replica, new RingstateError('INTERNAL', `cannot apply state update for ${key}`, { cause }));
    }
  }

  #onUnsubbed(message: UnsubbedMessage): void {
    const key = aggregateKey(message.a, message.i);
    const replica = this.#replicas.get(key);
    if (replica === undefined) return;
    const error = new RingstateError(message.code, message.msg);
    const { reconnect, random, clock } = this.#options;
    if (!error.retryable || replica.retries >= reconnect.attemptsMax) {
      this.#options.logger('info', 'subscription ended by server', { aggregate: key, code: error.code });
      this.#endReplica(replica, error);
      return;
    }
    // A partition moving or electing an owner: resubscribe after a backoff.
    const delayMs = fullJitterDelayMs(reconnect, replica.retries, random);
    replica.retries += 1;
    this.#clearReplicaRetry(replica);
    replica.retryTimer = clock.setTimeout(() => {
      replica.retryTimer = undefined;
      if (this.#replicas.get(key) === replica && this.#state === 'online') this.#link?.send(replica.subMessage());
    }, delayMs);
  }

  #release(replica: Replica): void {
    replica.handleCount -= 1;
    if (replica.handleCount > 0) return;
    const key = aggregateKey(replica.aggregateType, replica.aggregateId);
    if (this.#replicas.get(key) !== replica) return;
    this.#replicas.delete(key);
    this.#clearReplicaRetry(replica);
    if (this.#state === 'online') this.#link?.send({ t: MessageType.UNSUB, a: replica.aggregateType, i: replica.aggregateId });
  }

  #endReplica(replica: Replica, error: RingstateError): void {
    const key = aggregateKey(replica.aggregateType, replica.aggregateId);
    if (this.#replicas.get(key) === replica) this.#replicas.delete(key);
    this.#clearReplicaRetry(replica);
    replica.end(error);
  }

  #clearReplicaRetry(replica: Replica): void {
    if (replica.retryTimer === undefined) return;
    this.#options.clock.clearTimeout(replica.retryTimer);
    replica.retryTimer = undefined;
  }
}

function closedError(): RingstateError {
  return new RingstateError('DISCONNECTED', 'client is closed');
}

function assertAggregate(aggregateType: unknown, aggregateId: unknown): void {
  if (typeof aggregateType !== 'string' || aggregateType === '') {
    throw new TypeError('ringstate: aggregate type must be a non-empty string');
  }
  if (typeof aggregateId !== 'string' || aggregateId === '') {
    throw new TypeError('ringstate: aggregate id must be a non-empty string');
  }
}

function assertCommand(command: unknown): void {
  if (command === null || typeof command !== 'object' || typeof (command as { type?: unknown }).type !== 'string') {
    throw new TypeError('ringstate: a command must be an object with a string `type`');
  }
}
