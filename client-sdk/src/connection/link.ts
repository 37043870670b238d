/**
 * A Link is one WebSocket connection from open to close: it sends HELLO, waits for WELCOME
 * (bounded by the connect timeout), keeps the connection alive with PING/PONG, decodes and
 * validates frames, and reports exactly once how it ended. It holds no session state and never
 * reconnects; the client decides what to do next, so a Link can be thrown away at any time.
 *
 *   open -> HELLO -> WELCOME -> (frames, PING every heartbeat) -> end
 *                 -> ERROR(auth/version code) + close 4001 -> end { kind: 'rejected' }
 *   any other close, connect timeout, heartbeat timeout -> end { kind: 'lost' }
 *
 * When the Link decides the connection is dead it reports the end at once instead of waiting
 * for the socket's close event, which a half-open TCP connection may not deliver for minutes.
 */
import {
  CloseCodes,
  decodeFrame,
  encodeFrame,
  MessageType,
  PROTOCOL_VERSION,
  RingstateError,
  isErrorCode,
} from '@ringstate/protocol';
import type { ClientMessage, ErrorCode, ServerMessage, WelcomeMessage } from '@ringstate/protocol';
import type { Clock, TimerHandle } from '../util/clock.ts';
import type { Logger } from '../util/logger.ts';
import { parseServerMessage } from './server-message.ts';
import { ClientCloseCodes, frameBytes, WEBSOCKET_OPEN } from './websocket.ts';
import type { CloseEventLike, MessageEventLike, WebSocketConstructor, WebSocketLike } from './websocket.ts';

export interface LinkSettings {
  readonly url: string;
  readonly token: string;
  readonly WebSocket: WebSocketConstructor;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Time allowed from opening the socket to receiving WELCOME. */
  readonly connectTimeoutMs: number;
  /** Overrides the server's `heartbeatMs`; 0 disables pings. */
  readonly heartbeatMs: number | undefined;
  /** Interval when `heartbeatMs` is not set; the server's `heartbeatMs` caps it. */
  readonly heartbeatDefaultMs: number;
  /** The connection is dead after this many heartbeat intervals without any frame. */
  readonly heartbeatMissesMax: number;
}

export type LinkEnd =
  /** The server refused the handshake: retrying with the same token would fail again. */
  | { readonly kind: 'rejected'; readonly error: RingstateError }
  /** The connection failed or dropped; reconnecting may help. */
  | { readonly kind: 'lost'; readonly error: RingstateError; readonly welcomed: boolean };

export interface LinkHandler {
  welcome(link: Link, welcome: WelcomeMessage): void;
  message(link: Link, message: ServerMessage): void;
  end(link: Link, end: LinkEnd): void;
}

const HANDSHAKE_ERROR_CODES: ReadonlySet<ErrorCode> = new Set([
  'AUTH_INVALID_TOKEN',
  'AUTH_TOKEN_EXPIRED',
  'PROTOCOL_VERSION_UNSUPPORTED',
]);

type Phase = 'opening' | 'handshaking' | 'welcomed' | 'ended';

const ignoreEvent = (): void => {};

export class Link {
  readonly url: string;
  #phase: Phase = 'opening';
  #socket: WebSocketLike | undefined;
  #timer: TimerHandle | undefined;
  #probeTimer: TimerHandle | undefined;
  #lastFrameAtMs = 0;
  /** Frames received; a probe compares counts, since clock readings can tie. */
  #frameCount = 0;
  #pingCounter = 0;
  /** An ERROR received before WELCOME; explains the close that follows it. */
  #handshakeError: RingstateError | undefined;
  #welcome: WelcomeMessage | undefined;
  readonly #settings: LinkSettings;
  readonly #handler: LinkHandler;

  constructor(settings: LinkSettings, handler: LinkHandler) {
    this.url = settings.url;
    this.#settings = settings;
    this.#handler = handler;
  }

  get welcome(): WelcomeMessage | undefined {
    return this.#welcome;
  }

  open(): void {
    if (this.#socket !== undefined) throw new Error('Link.open called twice');
    let socket: WebSocketLike;
    try {
      socket = new this.#settings.WebSocket(this.url);
    } catch (cause) {
      // Report asynchronously so that the caller never sees `end` before `open` returns.
      const error = new RingstateError('DISCONNECTED', `cannot open WebSocket to ${this.url}`, { cause });
      void Promise.resolve().then(() => this.#end({ kind: 'lost', error, welcomed: false }));
      return;
    }
    this.#socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => this.#onOpen();
    socket.onmessage = (event: MessageEventLike) => this.#onFrame(event.data);
    socket.onclose = (event: CloseEventLike) => this.#onClose(event);
    socket.onerror = () => this.#settings.logger('debug', 'websocket error event', { url: this.url });
    this.#schedule(this.#settings.connectTimeoutMs, () => this.#onConnectTimeout());
  }

  /** Sends a message; false when the socket is not open (the caller keeps it for later). */
  send(message: ClientMessage): boolean {
    return this.sendFrame(encodeFrame(message));
  }

  sendFrame(frame: Uint8Array): boolean {
    const socket = this.#socket;
    if (this.#phase === 'ended' || socket === undefined || socket.readyState !== WEBSOCKET_OPEN) return false;
    socket.send(frame);
    return true;
  }

  /**
   * Checks now that the connection still carries frames (the network changed, the app woke up):
   * sends a PING and ends the Link as lost if no frame arrives within `timeoutMs`, instead of
   * waiting for the heartbeat to notice.
   */
  probe(timeoutMs: number): void {
    if (this.#phase !== 'welcomed') return;
    const framesBefore = this.#frameCount;
    this.#pingCounter += 1;
    this.send({ t: MessageType.PING, n: this.#pingCounter });
    this.#clearProbe();
    this.#probeTimer = this.#settings.clock.setTimeout(() => {
      this.#probeTimer = undefined;
      if (this.#frameCount > framesBefore) return;
      const error = new RingstateError('DISCONNECTED', `no answer from ${this.url} to a probe within ${timeoutMs} ms`);
      this.#end({ kind: 'lost', error, welcomed: true }, ClientCloseCodes.HEARTBEAT_TIMEOUT, 'probe timeout');
    }, timeoutMs);
  }

  /** The heartbeat interval in effect (0 before WELCOME or when disabled). */
  get heartbeatIntervalMs(): number {
    const welcome = this.#welcome;
    if (welcome === undefined) return 0;
    if (this.#settings.heartbeatMs !== undefined) return this.#settings.heartbeatMs;
    const serverMs = welcome.heartbeatMs;
    return serverMs > 0 ? Math.min(serverMs, this.#settings.heartbeatDefaultMs) : this.#settings.heartbeatDefaultMs;
  }

  /** Closes the connection without reporting an end: the owner is no longer interested. */
  dispose(): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    this.#shutdown(ClientCloseCodes.NORMAL, 'client closed');
  }

  #onOpen(): void {
    if (this.#phase !== 'opening') return;
    this.#phase = 'handshaking';
    this.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token: this.#settings.token });
  }

  #onFrame(data: unknown): void {
    if (this.#phase === 'ended') return;
    const message = this.#decode(data);
    if (message === undefined) return;
    this.#lastFrameAtMs = this.#settings.clock.now();
    this.#frameCount += 1;
    if (message.t === MessageType.PONG) return;
    if (this.#phase === 'welcomed') {
      this.#handler.message(this, message);
      return;
    }
    this.#onHandshakeFrame(message);
  }

  #decode(data: unknown): ServerMessage | undefined {
    const bytes = frameBytes(data);
    let value: unknown;
    try {
      value = bytes === undefined ? undefined : decodeFrame(bytes);
    } catch {
      value = undefined;
    }
    const message = parseServerMessage(value);
    if (message === undefined) this.#settings.logger('warn', 'ignored a malformed server frame', { url: this.url });
    return message;
  }

  #onHandshakeFrame(message: ServerMessage): void {
    if (message.t === MessageType.ERROR) {
      this.#handshakeError = new RingstateError(message.code, message.msg);
      return;
    }
    if (message.t !== MessageType.WELCOME) {
      this.#settings.logger('warn', 'ignored a message received before WELCOME', { url: this.url, t: message.t });
      return;
    }
    if (message.v !== PROTOCOL_VERSION) {
      const error = new RingstateError(
        'PROTOCOL_VERSION_UNSUPPORTED',
        `server speaks protocol version ${message.v}, this SDK speaks ${PROTOCOL_VERSION}`,
      );
      this.#end({ kind: 'rejected', error }, ClientCloseCodes.NORMAL, 'protocol version');
      return;
    }
    this.#phase = 'welcomed';
    this.#welcome = message;
    this.#clearTimer();
    this.#scheduleHeartbeat();
    this.#handler.welcome(this, message);
  }

  #onConnectTimeout(): void {
    const error = new RingstateError('TIMEOUT', `no WELCOME from ${this.url} within ${this.#settings.connectTimeoutMs} ms`);
    this.#end({ kind: 'lost', error, welcomed: false }, ClientCloseCodes.HANDSHAKE_TIMEOUT, 'handshake timeout');
  }

  #scheduleHeartbeat(): void {
    const intervalMs = this.heartbeatIntervalMs;
    if (intervalMs <= 0) return;
    this.#schedule(intervalMs, () => this.#onHeartbeat(intervalMs));
  }

  #onHeartbeat(intervalMs: number): void {
    const silentMs = this.#settings.clock.now() - this.#lastFrameAtMs;
    if (silentMs >= intervalMs * this.#settings.heartbeatMissesMax) {
      const error = new RingstateError('DISCONNECTED', `no pong from ${this.url} for ${silentMs} ms`);
      this.#end({ kind: 'lost', error, welcomed: true }, ClientCloseCodes.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      return;
    }
    this.#pingCounter += 1;
    this.send({ t: MessageType.PING, n: this.#pingCounter });
    this.#schedule(intervalMs, () => this.#onHeartbeat(intervalMs));
  }

  #onClose(event: CloseEventLike): void {
    if (this.#phase === 'ended') return;
    const code = event.code ?? 1006;
    const reason = event.reason ?? '';
    const welcomed = this.#phase === 'welcomed';
    const refusal = welcomed ? undefined : this.#refusal(code, reason);
    if (refusal !== undefined) {
      this.#end({ kind: 'rejected', error: refusal });
      return;
    }
    const handshakeError = this.#handshakeError;
    const suffix = reason === '' ? '' : `: ${reason}`;
    const error = new RingstateError('DISCONNECTED', `connection to ${this.url} closed (${code}${suffix})`, {
      ...(handshakeError === undefined ? {} : { cause: handshakeError }),
    });
    this.#end({ kind: 'lost', error, welcomed });
  }

  /**
   * Whether a close before WELCOME means the server refused this token or version. The server
   * sends ERROR with the code and then closes with 4001 and the code as reason. A 4001 whose
   * cause is unknown (the server's own handshake timeout) is treated as a dropped connection:
   * retrying with backoff is right for a slow server and bounded for a broken one.
   */
  #refusal(code: number, reason: string): RingstateError | undefined {
    const handshakeError = this.#handshakeError;
    if (handshakeError !== undefined && HANDSHAKE_ERROR_CODES.has(handshakeError.code)) return handshakeError;
    if (code === CloseCodes.HANDSHAKE_FAILED && isErrorCode(reason) && HANDSHAKE_ERROR_CODES.has(reason)) {
      return new RingstateError(reason, `handshake refused: ${reason}`);
    }
    return undefined;
  }

  #end(end: LinkEnd, closeCode: number = ClientCloseCodes.NORMAL, closeReason = ''): void {
    if (this.#phase === 'ended') return;
    this.#phase = 'ended';
    this.#shutdown(closeCode, closeReason);
    this.#handler.end(this, end);
  }

  #shutdown(closeCode: number, closeReason: string): void {
    this.#clearTimer();
    this.#clearProbe();
    const socket = this.#socket;
    if (socket === undefined) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    // Not null: closing a socket that is still connecting makes the `ws` package emit 'error',
    // and an EventEmitter 'error' without a listener would crash Node.
    socket.onerror = ignoreEvent;
    try {
      socket.close(closeCode, closeReason);
    } catch (error) {
      this.#settings.logger('debug', 'websocket close threw', { url: this.url, error });
    }
  }

  #schedule(delayMs: number, callback: () => void): void {
    this.#clearTimer();
    this.#timer = this.#settings.clock.setTimeout(callback, delayMs);
  }

  #clearProbe(): void {
    if (this.#probeTimer === undefined) return;
    this.#settings.clock.clearTimeout(this.#probeTimer);
    this.#probeTimer = undefined;
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#settings.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
