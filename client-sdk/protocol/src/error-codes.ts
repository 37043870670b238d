/**
 * Stable error codes shared by the server and every client.
 *
 * A code never changes meaning once released; new conditions get new codes. `retryable`
 * says whether the same request may succeed later without being changed (the SDK retries
 * those by itself, with the same command id). docs/errors.md documents each code.
 */
export const ErrorCodes = {
  BAD_FRAME: { retryable: false, meaning: 'The frame is not a binary msgpack message the server can decode.' },
  FRAME_TOO_LARGE: { retryable: false, meaning: 'The frame is larger than `limits.frameBytesMax`.' },
  UNKNOWN_MESSAGE_TYPE: { retryable: false, meaning: 'The message\'s `t` field names no known message type.' },
  INVALID_MESSAGE: { retryable: false, meaning: 'The message has a known type but missing or ill-typed fields.' },
  PROTOCOL_VERSION_UNSUPPORTED: { retryable: false, meaning: 'The client speaks a protocol version this server does not.' },
  HANDSHAKE_REQUIRED: { retryable: false, meaning: 'A message other than `hello` arrived before the handshake completed.' },
  AUTH_INVALID_TOKEN: { retryable: false, meaning: 'The player token is malformed, badly signed, or for another issuer/audience.' },
  AUTH_TOKEN_EXPIRED: { retryable: false, meaning: 'The player token has expired; get a new one and reconnect.' },
  CREDENTIAL_EXPIRED: { retryable: false, meaning: 'Second Life: the object\'s credential has expired (it lives no longer than the player token that provisioned or last renewed it, and at most `tokens.lifetimeMaxMs`); `reason` is `CREDENTIAL_EXPIRED`, or `EXPIRES_MISSING` for a credential minted before credentials expired. Get a fresh player token and renew (`POST /v1/sl/objects/renew`); the object id and its event cursor stay the same.' },
  FORBIDDEN: { retryable: false, meaning: 'The aggregate\'s authorization rule refused this player.' },
  UNKNOWN_AGGREGATE_TYPE: { retryable: false, meaning: 'No aggregate type with this name is registered.' },
  INVALID_COMMAND: { retryable: false, meaning: 'The command failed the aggregate\'s command schema (an unknown command type included).' },
  REJECTED: { retryable: false, meaning: 'The aggregate\'s `decide` rejected the command; `reason` carries the domain code.' },
  HANDLER_ERROR: { retryable: false, meaning: 'The aggregate\'s handler threw; only this command was affected.' },
  ENTRY_TOO_LARGE: { retryable: false, meaning: 'The command\'s committed entry (its events and view update) would be larger than the replication entry limit (1 MiB); nothing was applied. Split the change into smaller commands.' },
  COMMAND_ID_REUSED: { retryable: false, meaning: 'The player already used this command id on this aggregate for a command with another body; this one changed nothing. A command id means one command: send a new command under a new id.' },
  RATE_LIMITED: { retryable: true, meaning: 'The connection sent more messages per second than allowed.' },
  TOO_MANY_SUBSCRIPTIONS: { retryable: false, meaning: 'The connection already holds `limits.subscriptionsPerConnectionMax` subscriptions.' },
  UNAVAILABLE: { retryable: true, meaning: 'This node cannot serve the partition right now (moving, electing, not owner). It does not say whether the command was applied: ownership may have moved while it was being committed (retry with the same id; it takes effect at most once).' },
  NO_QUORUM: { retryable: true, meaning: 'The partition\'s replica set has no write quorum reachable from here; the command was not applied. With `reason` `OUTCOME_UNKNOWN` it had already been proposed when the quorum was lost and may still take effect: retry with the same id.' },
  OVERLOADED: { retryable: true, meaning: 'The node is overloaded (queues full); the command was not applied. Back off and retry: a REJECT carries `ra`, the node\'s hint in ms (Second Life: `retryAfterMs` and a Retry-After header), which the SDK waits at least.' },
  SHUTTING_DOWN: { retryable: true, meaning: 'The node is shutting down; reconnect elsewhere.' },
  TIMEOUT: { retryable: true, meaning: 'The request did not complete within its deadline (client-side).' },
  DISCONNECTED: { retryable: true, meaning: 'The connection was lost before an answer arrived (client-side).' },
  NOT_FOUND: { retryable: false, meaning: 'HTTP: no such endpoint (or the endpoint is disabled, like the dev token issuer outside dev mode).' },
  INVALID_QUERY: { retryable: false, meaning: 'HTTP: a query parameter is malformed (for example `player` in GET /v1/hosts).' },
  BODY_TOO_LARGE: { retryable: false, meaning: 'HTTP: the request body is larger than `limits.httpBodyBytesMax`.' },
  MEMBERSHIP_REFUSED: { retryable: false, meaning: 'Admin API: the ring change was refused (not a member, the last member, alive when removal needs it down, or fewer members than `replicationFactor` without `force`); the message says which.' },
  STORE_DAMAGED: { retryable: false, meaning: 'The serving node found this aggregate\'s stored records inconsistent with its log (for example an aggregate-index record that points at another aggregate\'s entry); nothing was applied. The node logs one line naming `ringstate repair --data DIR`; until an operator repairs the store (or drops the replica, docs/operations.md), commands on this aggregate get this code. Other aggregates are served as usual.' },
  INTERNAL: { retryable: true, meaning: 'An unexpected server fault; logged with details on the server.' },
} as const satisfies Record<string, { retryable: boolean; meaning: string }>;

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
  /** For an error that ends a command (SDK): the command's id, to retry it with `send(..., { commandId })`. */
  readonly commandId: string | undefined;
  /** For `TIMEOUT`/`DISCONNECTED` ending a command (SDK): the last code the server answered it with, for diagnosis. */
  readonly lastCode: ErrorCode | undefined;
  /**
   * For a retryable refusal: the server's hint of how long to wait before retrying (ms),
   * from how overloaded it is (REJECT `ra`). The SDK waits at least this long.
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; reason?: string; commandId?: string; lastCode?: ErrorCode; retryAfterMs?: number } = {},
  ) {
    // A retryable refusal (OVERLOADED, UNAVAILABLE, ...) is an answer, not a fault: it gets no
    // stack trace. An overloaded node makes tens of thousands a second, and capturing the stack
    // cost more than the rest of the refusal (5.8 % of a node's CPU in a bench:peers profile).
    const stackTraceLimit = Error.stackTraceLimit;
    if (ErrorCodes[code].retryable) Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.code = code;
    this.retryable = ErrorCodes[code].retryable;
    this.reason = options.reason;
    this.commandId = options.commandId;
    this.lastCode = options.lastCode;
    this.retryAfterMs = options.retryAfterMs;
  }
}
