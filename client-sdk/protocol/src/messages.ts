/**
 * Wire protocol, version 1.
 *
 * Every WebSocket message is one binary frame holding one msgpack-encoded map. The map's
 * `t` field is the message type (a small integer, below). Field names are short because
 * they are sent with every frame. Binary fields (`sv`, `u`) are msgpack `bin`.
 *
 *   client -> server                           server -> client
 *   HELLO   {t:1, v, token, resume?}           WELCOME  {t:101, v, player, session, node, heartbeatMs, limits, resume?}
 *   COMMAND {t:2, id, a, i, c}                 ACK      {t:102, id, seq, dup?}
 *   SUB     {t:3, a, i, sv?}                   REJECT   {t:103, id, code, msg, reason?, retry, ra?}
 *   UNSUB   {t:4, a, i}                        SNAPSHOT {t:104, a, i, seq, u}
 *   PING    {t:5, n}                           UPDATE   {t:105, a, i, seq, u}
 *                                              ERROR    {t:106, code, msg, ref?, retry}
 *                                              PONG     {t:107, n}
 *                                              UNSUBBED {t:108, a, i, code, msg}
 *
 * - `a`/`i`: aggregate type and id. `c`: the command, a map with a string `type` field.
 * - `id` (COMMAND): a client-chosen command id, unique per player (the SDK uses a random
 *   session prefix plus a counter). Retrying with the same id applies the command once.
 * - `seq`: the aggregate's sequence number after the command (ACK) or of the state sent.
 * - `sv`: a Yjs state vector; SNAPSHOT then carries only what the client is missing.
 * - `u`: a Yjs update for the aggregate's public document.
 * - `ref` (ERROR): the command id or message type the error is about, when known.
 * - `ra` (REJECT): retry after this many ms, on a retryable refusal (OVERLOADED); optional.
 * - `resume` (WELCOME): a resume token, a player token for the same player with the same expiry
 *   that every node of the cluster accepts as HELLO `token`; the SDK reconnects with it. HELLO's
 *   own `resume` field is reserved and ignored.
 */

export const PROTOCOL_VERSION = 1;

export const MessageType = {
  HELLO: 1,
  COMMAND: 2,
  SUB: 3,
  UNSUB: 4,
  PING: 5,
  WELCOME: 101,
  ACK: 102,
  REJECT: 103,
  SNAPSHOT: 104,
  UPDATE: 105,
  ERROR: 106,
  PONG: 107,
  UNSUBBED: 108,
} as const;

import type { ErrorCode } from './error-codes.ts';

/** A command sent to an aggregate: a plain map whose `type` picks the handler. */
export interface CommandBody {
  type: string;
  [field: string]: unknown;
}

export interface HelloMessage {
  t: typeof MessageType.HELLO;
  v: number;
  token: string;
  resume?: string;
}
export interface CommandMessage {
  t: typeof MessageType.COMMAND;
  id: string;
  a: string;
  i: string;
  c: CommandBody;
}
export interface SubMessage {
  t: typeof MessageType.SUB;
  a: string;
  i: string;
  sv?: Uint8Array;
}
export interface UnsubMessage {
  t: typeof MessageType.UNSUB;
  a: string;
  i: string;
}
export interface PingMessage {
  t: typeof MessageType.PING;
  n: number;
}
export type ClientMessage = HelloMessage | CommandMessage | SubMessage | UnsubMessage | PingMessage;

export interface ConnectionLimits {
  frameBytesMax: number;
  messagesPerSecondMax: number;
  subscriptionsPerConnectionMax: number;
}
export interface WelcomeMessage {
  t: typeof MessageType.WELCOME;
  v: number;
  player: string;
  session: string;
  node: string;
  heartbeatMs: number;
  limits: ConnectionLimits;
  /** Resume token: a player token valid on every node, until the presented token's expiry. */
  resume?: string;
}
export interface AckMessage {
  t: typeof MessageType.ACK;
  id: string;
  seq: number;
  /** Present and true when the command had already been applied (a retry). */
  dup?: boolean;
}
export interface RejectMessage {
  t: typeof MessageType.REJECT;
  id: string;
  code: ErrorCode;
  msg: string;
  reason?: string;
  retry: boolean;
  /**
   * Retry after (ms), on a retryable refusal such as OVERLOADED: the server's hint from how far
   * over capacity it is. Clients wait at least this long (plus jitter) before the next attempt.
   */
  ra?: number;
}
export interface SnapshotMessage {
  t: typeof MessageType.SNAPSHOT;
  a: string;
  i: string;
  seq: number;
  u: Uint8Array;
}
export interface UpdateMessage {
  t: typeof MessageType.UPDATE;
  a: string;
  i: string;
  seq: number;
  u: Uint8Array;
}
export interface ErrorMessage {
  t: typeof MessageType.ERROR;
  code: ErrorCode;
  msg: string;
  ref?: string;
  retry: boolean;
}
export interface PongMessage {
  t: typeof MessageType.PONG;
  n: number;
}
export interface UnsubbedMessage {
  t: typeof MessageType.UNSUBBED;
  a: string;
  i: string;
  code: ErrorCode;
  msg: string;
}
export type ServerMessage =
  | WelcomeMessage
  | AckMessage
  | RejectMessage
  | SnapshotMessage
  | UpdateMessage
  | ErrorMessage
  | PongMessage
  | UnsubbedMessage;
