/**
 * Validation of decoded server frames. The codec returns unvalidated values; the client acts
 * only on messages that have every field the protocol promises (see protocol/messages.ts), so
 * a server bug or a proxy mangling frames surfaces as a logged warning, not a crash deep in
 * the client. Unknown error codes (from a newer server) are mapped to INTERNAL.
 */
import { isErrorCode, MessageType } from '@ringstate/protocol';
import type { ErrorCode, ServerMessage } from '@ringstate/protocol';

type Fields = Record<string, unknown>;

const isString = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const isOptional = <T>(value: unknown, check: (v: unknown) => v is T): boolean => value === undefined || check(value);

function errorCode(value: unknown): ErrorCode | undefined {
  if (isErrorCode(value)) return value;
  return isString(value) ? 'INTERNAL' : undefined;
}

export function parseServerMessage(value: unknown): ServerMessage | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const m = value as Fields;
  switch (m['t']) {
    case MessageType.WELCOME:
      return parseWelcome(m);
    case MessageType.ACK:
      if (!isString(m['id']) || !isCount(m['seq'])) return undefined;
      return m['dup'] === true
        ? { t: MessageType.ACK, id: m['id'], seq: m['seq'], dup: true }
        : { t: MessageType.ACK, id: m['id'], seq: m['seq'] };
    case MessageType.REJECT:
      return parseReject(m);
    case MessageType.SNAPSHOT:
    case MessageType.UPDATE:
      if (!isString(m['a']) || !isString(m['i']) || !isCount(m['seq']) || !isBytes(m['u'])) return undefined;
      return { t: m['t'], a: m['a'], i: m['i'], seq: m['seq'], u: m['u'] };
    case MessageType.ERROR:
      return parseError(m);
    case MessageType.PONG:
      return isCount(m['n']) ? { t: MessageType.PONG, n: m['n'] } : undefined;
    case MessageType.UNSUBBED: {
      const code = errorCode(m['code']);
      if (!isString(m['a']) || !isString(m['i']) || code === undefined || !isString(m['msg'])) return undefined;
      return { t: MessageType.UNSUBBED, a: m['a'], i: m['i'], code, msg: m['msg'] };
    }
    default:
      return undefined;
  }
}

function parseWelcome(m: Fields): ServerMessage | undefined {
  const limits = m['limits'] as Fields | undefined;
  if (!isCount(m['v']) || !isString(m['player']) || !isString(m['session']) || !isString(m['node'])) return undefined;
  if (!isCount(m['heartbeatMs']) || limits === null || typeof limits !== 'object') return undefined;
  const frameBytesMax = limits['frameBytesMax'];
  const messagesPerSecondMax = limits['messagesPerSecondMax'];
  const subscriptionsPerConnectionMax = limits['subscriptionsPerConnectionMax'];
  if (!isCount(frameBytesMax) || !isCount(messagesPerSecondMax) || !isCount(subscriptionsPerConnectionMax)) {
    return undefined;
  }
  if (!isOptional(m['resume'], isString)) return undefined;
  const welcome = {
    t: MessageType.WELCOME,
    v: m['v'],
    player: m['player'],
    session: m['session'],
    node: m['node'],
    heartbeatMs: m['heartbeatMs'],
    limits: { frameBytesMax, messagesPerSecondMax, subscriptionsPerConnectionMax },
  } as const;
  return isString(m['resume']) && m['resume'] !== '' ? { ...welcome, resume: m['resume'] } : welcome;
}

/** Longest retry hint honoured (ms): a larger one is a server bug, not a reason to stall a command. */
const RETRY_AFTER_MAX_MS = 30_000;

function parseReject(m: Fields): ServerMessage | undefined {
  const code = errorCode(m['code']);
  if (!isString(m['id']) || code === undefined || !isString(m['msg'])) return undefined;
  if (!isOptional(m['reason'], isString)) return undefined;
  const message = { t: MessageType.REJECT, id: m['id'], code, msg: m['msg'], retry: m['retry'] === true } as const;
  const withReason = isString(m['reason']) ? { ...message, reason: m['reason'] } : message;
  // A hint of the wrong type or out of range is ignored, not a protocol error (it is advice).
  const ra = m['ra'];
  return typeof ra === 'number' && Number.isFinite(ra) && ra > 0 && ra <= RETRY_AFTER_MAX_MS ? { ...withReason, ra } : withReason;
}

function parseError(m: Fields): ServerMessage | undefined {
  const code = errorCode(m['code']);
  if (code === undefined || !isString(m['msg']) || !isOptional(m['ref'], isString)) return undefined;
  const message = { t: MessageType.ERROR, code, msg: m['msg'], retry: m['retry'] === true } as const;
  return isString(m['ref']) ? { ...message, ref: m['ref'] } : message;
}
