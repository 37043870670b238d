/**
 * One client connection's protocol state machine, independent of the WebSocket library.
 *
 * The transport hands in raw frames and tells the session when the socket closed; the session
 * answers through a ConnectionPort. Every frame is decoded and validated before anything acts on
 * it; every failure becomes an ERROR or REJECT frame with a stable code, and repeated abuse
 * closes the connection with a documented close code. Nothing a client sends can throw out of
 * here.
 */
import {
  CloseCodes,
  MessageType,
  PROTOCOL_VERSION,
  RingstateError,
  decodeFrame,
  encodeFrame,
  isRetryable,
  type CommandMessage,
  type ErrorCode,
  type RejectMessage,
  type ServerMessage,
  type SubMessage,
} from '@ringstate/protocol';
import type { AggregateRuntime, CommandRequest, SubscriptionStart } from '../aggregate/index.ts';
import type { CommandRouter } from '../router/index.ts';
import type { PlayerTokens } from '../auth/index.ts';
import type { Config } from '../config/index.ts';
import type { Logger, NodeMetrics, SecurityEvent, SecurityLog } from '../observability/index.ts';
import { parseClientMessage } from './client-messages.ts';
import { TokenBucket } from './token-bucket.ts';

export interface ConnectionPort {
  send(frame: Uint8Array): void;
  close(code: number, reason: string): void;
  bufferedBytes(): number;
  /** The peer's address as the transport sees it, for security logs. */
  readonly remoteAddress?: string;
  /** HELLO was accepted: the connection no longer counts against limits.handshakesInFlightMax. */
  handshakeDone?(): void;
}

export interface SessionDeps {
  /** Subscriptions are served by the runtime; commands go through the router. */
  readonly runtime: AggregateRuntime;
  readonly router: Pick<CommandRouter, 'route' | 'refusal'>;
  readonly tokens: PlayerTokens;
  readonly limits: Config['limits'];
  readonly nodeId: string;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly isShuttingDown: () => boolean;
  /** Rate-limited warnings for refusals an attacker can provoke (observability/security-log.ts). */
  readonly securityLog?: SecurityLog;
}

/**
 * Frames above this many times `limits.frameBytesMax` close the connection with 1009 (the
 * WebSocket "message too big" code) and reason FRAME_TOO_LARGE; smaller oversize frames get an
 * ERROR frame and count as malformed. No client of this protocol sends either.
 */
export const FRAME_CLOSE_FACTOR = 4;
const CLOSE_MESSAGE_TOO_BIG = 1009;

type Phase = 'handshake' | 'verifying' | 'ready' | 'closed';

export class ClientSession {
  private phase: Phase = 'handshake';
  private playerId = '';
  private readonly subscriptions = new Map<string, SubscriptionStart>();
  private readonly bucket: TokenBucket;
  private rateViolations = 0;
  private invalidFrames = 0;
  private readonly handshakeTimer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly port: ConnectionPort,
    private readonly deps: SessionDeps,
    readonly sessionId: string,
  ) {
    const rate = deps.limits.messagesPerSecondMax;
    this.bucket = new TokenBucket(rate * 2, rate, deps.nowMs());
    this.handshakeTimer = setTimeout(() => {
      if (this.phase === 'handshake' || this.phase === 'verifying') this.closeWith(CloseCodes.HANDSHAKE_FAILED, 'handshake timeout');
    }, deps.limits.handshakeTimeoutMs);
    this.handshakeTimer.unref?.();
  }

  get player(): string {
    return this.playerId;
  }

  get subscriptionCount(): number {
    return this.subscriptions.size;
  }

  /** A frame arrived. `isBinary` false means a text frame, which this protocol never uses. */
  receive(frame: Uint8Array, isBinary: boolean): void {
    if (this.phase === 'closed') return;
    if (frame.byteLength > this.deps.limits.frameBytesMax) return this.frameTooLarge(frame.byteLength);
    if (!isBinary) return this.badFrame('BAD_FRAME', 'text frames are not part of the protocol; send binary msgpack');
    if (!this.bucket.take(this.deps.nowMs())) return this.rateLimited(frame);

    let decoded: unknown;
    try {
      decoded = decodeFrame(frame);
    } catch {
      return this.badFrame('BAD_FRAME', 'frame is not valid msgpack');
    }
    // Refused before validation when admission is full: the command id is all a refusal needs,
    // and an overloaded node refuses most of what it is offered (a command with a bad body is
    // told so when it is retried and admitted).
    if (this.phase === 'ready') {
      const id = commandIdOf(decoded);
      const refusal = id === undefined ? undefined : this.deps.router.refusal();
      if (refusal !== undefined) return this.refuse(id as string, refusal, this.deps.nowMs());
    }
    const parsed = parseClientMessage(decoded);
    if (!parsed.ok && this.phase === 'handshake' && isHello(decoded)) return this.malformedHello(decoded, parsed.message);
    if (!parsed.ok) return this.badFrame(parsed.code, parsed.message, parsed.ref);
    this.invalidFrames = 0;
    const message = parsed.message;

    if (this.phase !== 'ready') {
      if (message.t === MessageType.HELLO && this.phase === 'handshake') return void this.hello(message.v, message.token);
      if (message.t === MessageType.PING) return this.sendMessage({ t: MessageType.PONG, n: message.n });
      return this.error('HANDSHAKE_REQUIRED', 'send HELLO and wait for WELCOME first');
    }
    switch (message.t) {
      case MessageType.COMMAND:
        return this.command(message);
      case MessageType.SUB:
        return this.subscribe(message);
      case MessageType.UNSUB:
        return this.unsubscribe(`${message.a}/${message.i}`);
      case MessageType.PING:
        return this.sendMessage({ t: MessageType.PONG, n: message.n });
      case MessageType.HELLO:
        return this.error('INVALID_MESSAGE', 'HELLO was already accepted on this connection');
    }
  }

  /** The transport closed; release everything the session holds. */
  closed(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    clearTimeout(this.handshakeTimer);
    for (const subscription of this.subscriptions.values()) subscription.close();
    this.deps.metrics.subscriptions.dec(this.subscriptions.size);
    this.subscriptions.clear();
  }

  /** Closes with a reason the client can act on (shutdown, slow consumer). */
  closeWith(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.port.close(code, reason);
    this.closed();
  }

  private async hello(version: number, token: string): Promise<void> {
    if (version !== PROTOCOL_VERSION) {
      this.security({ kind: 'handshake_failed', code: 'PROTOCOL_VERSION_UNSUPPORTED', reason: 'PROTOCOL_UNSUPPORTED', detail: { version } });
      this.error('PROTOCOL_VERSION_UNSUPPORTED', `server speaks protocol ${PROTOCOL_VERSION}, client sent ${version}`);
      return this.closeWith(CloseCodes.HANDSHAKE_FAILED, 'PROTOCOL_VERSION_UNSUPPORTED');
    }
    this.phase = 'verifying';
    try {
      const nowMs = this.deps.nowMs();
      const verified = await this.deps.tokens.verify(token, nowMs);
      // The resume token is a player token for the same player with the same expiry, signed with
      // the current key: any node accepts it, so the SDK reconnects anywhere without asking the
      // app's token provider again, and it never extends what the presented token allowed.
      const resume = await this.deps.tokens.resume(verified, nowMs);
      if (this.phase !== 'verifying') return;
      this.playerId = verified.playerId;
      this.phase = 'ready';
      clearTimeout(this.handshakeTimer);
      this.port.handshakeDone?.();
      const { frameBytesMax, messagesPerSecondMax, subscriptionsPerConnectionMax, heartbeatMs } = this.deps.limits;
      this.sendMessage({
        t: MessageType.WELCOME,
        v: PROTOCOL_VERSION,
        player: verified.playerId,
        session: this.sessionId,
        node: this.deps.nodeId,
        heartbeatMs,
        limits: { frameBytesMax, messagesPerSecondMax, subscriptionsPerConnectionMax },
        resume: resume.token,
      });
    } catch (error) {
      if (this.phase !== 'verifying') return;
      const code: ErrorCode = error instanceof RingstateError ? error.code : 'AUTH_INVALID_TOKEN';
      const reason = error instanceof RingstateError && error.reason !== undefined ? error.reason : 'TOKEN_MALFORMED';
      this.security({ kind: 'auth_failed', code, reason });
      this.error(code, error instanceof Error ? error.message : 'token rejected');
      this.closeWith(CloseCodes.HANDSHAKE_FAILED, code);
    }
  }

  /**
   * A HELLO that fails validation (an empty, oversize or non-string token, a version that is not
   * an integer) ends the handshake at once: waiting for the handshake timeout would hold a
   * stranger's connection for nothing. Logged with the token's type and length, never its text.
   */
  private malformedHello(decoded: Readonly<Record<string, unknown>>, message: string): void {
    const token = decoded['token'];
    const detail: Record<string, string | number> = { tokenType: token === null ? 'null' : typeof token };
    if (typeof token === 'string') detail['tokenChars'] = token.length;
    this.security({ kind: 'handshake_failed', code: 'INVALID_MESSAGE', reason: 'HELLO_MALFORMED', detail });
    this.error('INVALID_MESSAGE', `malformed HELLO: ${message}`);
    this.closeWith(CloseCodes.HANDSHAKE_FAILED, 'INVALID_MESSAGE');
  }

  private command(message: CommandMessage): void {
    const startedMs = this.deps.nowMs();
    if (this.deps.isShuttingDown()) return this.reject(message.id, new RingstateError('SHUTTING_DOWN', 'node is shutting down'), startedMs);
    const request: CommandRequest = { aggregateType: message.a, aggregateId: message.i, playerId: this.playerId, commandId: message.id, command: message.c };
    // Admission, execution here or forwarding to the owner: the router decides (router/).
    this.deps.router.route(request).then(
      (ack) => {
        this.observe(ack.duplicate ? 'duplicate' : 'acked', startedMs);
        this.sendMessage(ack.duplicate ? { t: MessageType.ACK, id: message.id, seq: ack.seq, dup: true } : { t: MessageType.ACK, id: message.id, seq: ack.seq });
      },
      (error: unknown) => this.reject(message.id, error, startedMs),
    );
  }

  private reject(commandId: string, error: unknown, startedMs: number): void {
    this.refuse(commandId, this.asRingstateError(error), startedMs);
  }

  private refuse(commandId: string, failure: RingstateError, startedMs: number): void {
    this.observe(failure.code, startedMs);
    const answer: RejectMessage = { t: MessageType.REJECT, id: commandId, code: failure.code, msg: failure.message, retry: failure.retryable };
    if (failure.reason !== undefined) answer.reason = failure.reason;
    if (failure.retryAfterMs !== undefined) answer.ra = failure.retryAfterMs;
    this.sendMessage(answer);
  }

  private subscribe(message: SubMessage): void {
    const key = `${message.a}/${message.i}`;
    const existing = this.subscriptions.get(key);
    if (existing === undefined && this.subscriptions.size >= this.deps.limits.subscriptionsPerConnectionMax) {
      this.deps.metrics.limitTrips.inc({ limit: 'subscriptions' });
      return this.unsubscribed(message.a, message.i, 'TOO_MANY_SUBSCRIPTIONS', `at most ${this.deps.limits.subscriptionsPerConnectionMax} subscriptions per connection`);
    }
    try {
      const started = this.deps.runtime.subscribe(message.a, message.i, this.playerId, message.sv, {
        onUpdate: (seq, update) => this.sendMessage({ t: MessageType.UPDATE, a: message.a, i: message.i, seq, u: update }),
      });
      if (existing !== undefined) existing.close();
      else this.deps.metrics.subscriptions.inc();
      this.subscriptions.set(key, started);
      this.sendMessage({ t: MessageType.SNAPSHOT, a: message.a, i: message.i, seq: started.seq, u: started.update });
    } catch (error) {
      const failure = this.asRingstateError(error);
      this.unsubscribed(message.a, message.i, failure.code, failure.message);
    }
  }

  private unsubscribe(key: string): void {
    const subscription = this.subscriptions.get(key);
    if (subscription === undefined) return;
    subscription.close();
    this.subscriptions.delete(key);
    this.deps.metrics.subscriptions.dec();
  }

  private unsubscribed(aggregateType: string, aggregateId: string, code: ErrorCode, msg: string): void {
    this.sendMessage({ t: MessageType.UNSUBBED, a: aggregateType, i: aggregateId, code, msg });
  }

  private rateLimited(frame: Uint8Array): void {
    this.deps.metrics.limitTrips.inc({ limit: 'messages_per_second' });
    this.rateViolations += 1;
    if (this.rateViolations > this.deps.limits.rateViolationsBeforeClose) {
      this.security({ kind: 'flood_close', code: 'RATE_LIMITED', reason: 'RATE_VIOLATIONS_OVER_MAX', detail: { refused: this.rateViolations - 1 } });
      return this.closeWith(CloseCodes.RATE_LIMIT_EXCEEDED, 'RATE_LIMITED');
    }
    this.security({ kind: 'rate_limited', code: 'RATE_LIMITED', reason: 'MESSAGES_PER_SECOND_OVER_MAX' });
    // Answer a rate-limited command with a retryable REJECT so the SDK backs off and retries it.
    const commandId = peekCommandId(frame);
    if (commandId !== undefined) return this.reject(commandId, new RingstateError('RATE_LIMITED', 'too many messages per second'), this.deps.nowMs());
    this.error('RATE_LIMITED', 'too many messages per second');
  }

  private frameTooLarge(bytes: number): void {
    const { frameBytesMax } = this.deps.limits;
    this.deps.metrics.limitTrips.inc({ limit: 'frame_bytes' });
    const closing = bytes > frameBytesMax * FRAME_CLOSE_FACTOR;
    this.security({ kind: 'oversize', code: 'FRAME_TOO_LARGE', reason: 'FRAME_OVER_MAX', detail: { bytes, closed: closing } });
    if (!closing) return this.badFrame('FRAME_TOO_LARGE', `frame of ${bytes} bytes exceeds ${frameBytesMax}`);
    this.error('FRAME_TOO_LARGE', `frame of ${bytes} bytes exceeds ${frameBytesMax}; closing`);
    this.closeWith(CLOSE_MESSAGE_TOO_BIG, 'FRAME_TOO_LARGE');
  }

  private badFrame(code: ErrorCode, message: string, ref?: string): void {
    this.invalidFrames += 1;
    this.error(code, message, ref);
    if (this.invalidFrames >= this.deps.limits.invalidFramesBeforeClose) {
      this.security({ kind: 'protocol_close', code, reason: 'INVALID_FRAMES_IN_A_ROW', detail: { invalidFrames: this.invalidFrames } });
      this.closeWith(CloseCodes.PROTOCOL_ERROR, code);
    }
  }

  private security(event: Omit<SecurityEvent, 'remoteAddress' | 'player'>): void {
    this.deps.securityLog?.record({ ...event, remoteAddress: this.port.remoteAddress, player: this.playerId });
  }

  private error(code: ErrorCode, msg: string, ref?: string): void {
    this.deps.metrics.protocolErrors.inc({ code });
    this.sendMessage({ t: MessageType.ERROR, code, msg, retry: isRetryable(code), ...(ref === undefined ? {} : { ref }) });
  }

  private sendMessage(message: ServerMessage): void {
    if (this.phase === 'closed') return;
    this.port.send(encodeFrame(message));
    if (this.port.bufferedBytes() > this.deps.limits.outgoingBufferBytesMax) {
      this.deps.metrics.limitTrips.inc({ limit: 'outgoing_buffer' });
      this.security({ kind: 'slow_consumer', code: 'SLOW_CONSUMER', reason: 'OUTGOING_BUFFER_OVER_MAX', detail: { bufferedBytes: this.port.bufferedBytes() } });
      this.closeWith(CloseCodes.SLOW_CONSUMER, 'SLOW_CONSUMER');
    }
  }

  private observe(outcome: string, startedMs: number): void {
    this.deps.metrics.commandOutcome(outcome).inc();
    this.deps.metrics.commandLatency.observe((this.deps.nowMs() - startedMs) / 1000);
  }

  private asRingstateError(error: unknown): RingstateError {
    if (error instanceof RingstateError) return error;
    this.deps.logger.error({ err: error, player: this.playerId }, 'unexpected error while handling a client message');
    return new RingstateError('INTERNAL', 'internal error', { cause: error });
  }
}

/** The id of a decoded COMMAND frame, if it has a usable one (checked as the validator would). */
function commandIdOf(decoded: unknown): string | undefined {
  if (typeof decoded !== 'object' || decoded === null) return undefined;
  const { t, id } = decoded as { t?: unknown; id?: unknown };
  return t === MessageType.COMMAND && typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
}

/** Best effort: the command id of a frame we refuse to fully process. */
function peekCommandId(frame: Uint8Array): string | undefined {
  try {
    const value = decodeFrame(frame) as { t?: unknown; id?: unknown };
    return value.t === MessageType.COMMAND && typeof value.id === 'string' && value.id.length <= 128 ? value.id : undefined;
  } catch {
    return undefined;
  }
}

/** A decoded frame that claims to be a HELLO (whether or not its fields are valid). */
function isHello(decoded: unknown): decoded is Readonly<Record<string, unknown>> {
  return typeof decoded === 'object' && decoded !== null && !Array.isArray(decoded) && (decoded as { t?: unknown }).t === MessageType.HELLO;
}
