/**
 * Stable error codes shared by the server and every client.
 *
 * A code never changes meaning once released; new conditions get new codes. `retryable`
 * says whether the same request may succeed later without being changed (the SDK retries
 * those by itself, with the same command id). docs/errors.md documents each code.
 */
export const ErrorCodes = {
  /** The frame is not a binary msgpack message the server can decode. */
  BAD_FRAME: { retryable: false },
  /** The frame is larger than `limits.frameBytesMax`. */
  FRAME_TOO_LARGE: { retryable: false },
  /** The message's `t` field names no known message type. */
  UNKNOWN_MESSAGE_TYPE: { retryable: false },
  /** The message has a known type but missing or ill-typed fields. */
  INVALID_MESSAGE: { retryable: false },
  /** The client speaks a protocol version this server does not. */
  PROTOCOL_VERSION_UNSUPPORTED: { retryable: false },
  /** A message other than `hello` arrived before the handshake completed. */
  HANDSHAKE_REQUIRED: { retryable: false },
  /** The player token is malformed, badly signed, or for another issuer/audience. */
  AUTH_INVALID_TOKEN: { retryable: false },
  /** The player token has expired; get a new one and reconnect. */
  AUTH_TOKEN_EXPIRED: { retryable: false },
  /** The aggregate's authorization rule refused this player. */
  FORBIDDEN: { retryable: false },
  /** No aggregate type with this name is registered. */
  UNKNOWN_AGGREGATE_TYPE: { retryable: false },
  /** The aggregate type has no handler for this command type. */
  UNKNOWN_COMMAND: { retryable: false },
  /** The command payload failed the aggregate's validation. */
  INVALID_COMMAND: { retryable: false },
  /** The aggregate's `decide` rejected the command; `reason` carries the domain code. */
  REJECTED: { retryable: false },
  /** The aggregate's handler threw; only this command was affected. */
  HANDLER_ERROR: { retryable: false },
  /** The connection sent more messages per second than allowed. */
  RATE_LIMITED: { retryable: true },
  /** The connection already holds `limits.subscriptionsPerConnectionMax` subscriptions. */
  TOO_MANY_SUBSCRIPTIONS: { retryable: false },
  /** The same command id was reused for a different aggregate. */
  COMMAND_ID_CONFLICT: { retryable: false },
  /** This node cannot serve the partition right now (moving, electing, not owner). */
  UNAVAILABLE: { retryable: true },
  /** The partition's replica set has no write quorum reachable from here. */
  NO_QUORUM: { retryable: true },
  /** The node is overloaded (queues full); back off and retry. */
  OVERLOADED: { retryable: true },
  /** The node is shutting down; reconnect elsewhere. */
  SHUTTING_DOWN: { retryable: true },
  /** The request did not complete within its deadline (client-side). */
  TIMEOUT: { retryable: true },
  /** The connection was lost before an answer arrived (client-side). */
  DISCONNECTED: { retryable: true },
  /** HTTP: no such endpoint (or the endpoint is disabled, like the dev token issuer outside dev mode). */
  NOT_FOUND: { retryable: false },
  /** HTTP: the request body is larger than `limits.httpBodyBytesMax`. */
  BODY_TOO_LARGE: { retryable: false },
  /** An unexpected server fault; logged with details on the server. */
  INTERNAL: { retryable: true },
} as const satisfies Record<string, { retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCodes, value);
}

export function isRetryable(code: ErrorCode): boolean {
  return ErrorCodes[code].retryable;
}

/**
 * WebSocket close codes the server uses (4000-4999 is the application range).
 * The SDK reconnects after every close except the ones marked final.
 */
export const CloseCodes = {
  /** Server going away (shutdown); reconnect elsewhere. */
  GOING_AWAY: 1001,
  /** The handshake failed: bad or expired token, wrong version. Final until the cause is fixed. */
  HANDSHAKE_FAILED: 4001,
  /** The connection kept exceeding its message rate. */
  RATE_LIMIT_EXCEEDED: 4008,
  /** The client did not read fast enough and its outgoing buffer hit the limit. */
  SLOW_CONSUMER: 4009,
  /** No message (not even a ping) within the idle timeout. */
  IDLE_TIMEOUT: 4010,
  /** Too many malformed frames in a row: the peer is not speaking this protocol. */
  PROTOCOL_ERROR: 4002,
} as const;

/** An operating error with a stable code, shared by server and SDK. */
export class RingstateError extends Error {
  override readonly name: string = 'RingstateError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** For `REJECTED`: the domain reason chosen by the aggregate's `decide`. */
  readonly reason: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; reason?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = ErrorCodes[code].retryable;
    this.reason = options.reason;
  }
}
