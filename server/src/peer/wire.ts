/**
 * Frame bodies of the peer protocols. Each body is one msgpack array whose first element is
 * the frame kind (plain msgpack, no msgpackr records, so any msgpack library can speak it).
 * Frames travel inside the length prefix of framing.ts.
 *
 * Control protocol `/ringstate/peer/1.0.0`, one long-lived stream per direction and peer:
 *
 *   opener   -> acceptor  [1 HELLO,     version, nodeId, address, incarnation]
 *   acceptor -> opener    [2 WELCOME,   nodeId, address, incarnation]
 *                       | [3 REFUSE,    reason, text]            (then the stream closes)
 *   opener   -> acceptor  [4 HEARTBEAT, members: [nodeId, address, incarnation][]]  (repeated)
 *
 * Data protocols (`/ringstate/replication/1.0.0`, `/ringstate/forward/1.0.0`, ...), one
 * long-lived stream per direction, peer and protocol; the sender is the node bound to the
 * stream's authenticated PeerId by the control hello:
 *
 *   [16 MESSAGE,  message]                  one-way, best effort
 *   [17 REQUEST,  requestId, payload]        answered on the responder's own stream by
 *   [18 RESPONSE, requestId, payload]          a RESPONSE
 *   [19 FAILURE,  requestId, reason, text]     or a FAILURE (reason: 'no-handler' | 'too-large' |
 *                                              a remote error code)
 *
 * `address` is `host:port` as the node advertises it. `incarnation` is a number that grows
 * with every process start of a node (its start time), so gossip about a newer run of a node
 * replaces what is known about an older one. `message` and `payload` are any plain data.
 */
import { Packr } from 'msgpackr';
import { BadFrameError } from './errors.ts';

export const PEER_PROTOCOL_VERSION = 1;

export const FrameKind = {
  HELLO: 1,
  WELCOME: 2,
  REFUSE: 3,
  HEARTBEAT: 4,
  MESSAGE: 16,
  REQUEST: 17,
  RESPONSE: 18,
  FAILURE: 19,
} as const;

export type RefuseReason = 'version' | 'node-id-in-use' | 'same-node-id' | 'bad-hello' | 'members-full';

export interface GossipEntry {
  readonly nodeId: string;
  readonly address: string;
  readonly incarnation: number;
}

export type ControlFrame =
  | { readonly kind: 'hello'; readonly version: number; readonly self: GossipEntry }
  | { readonly kind: 'welcome'; readonly self: GossipEntry }
  | { readonly kind: 'refuse'; readonly reason: string; readonly text: string }
  | { readonly kind: 'heartbeat'; readonly members: readonly GossipEntry[] };

export type DataFrame =
  | { readonly kind: 'message'; readonly message: unknown }
  | { readonly kind: 'request'; readonly requestId: number; readonly payload: unknown }
  | { readonly kind: 'response'; readonly requestId: number; readonly payload: unknown }
  | { readonly kind: 'failure'; readonly requestId: number; readonly reason: string; readonly text: string };

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

/** Encodes a control frame body (unframed). */
export function encodeControlFrame(frame: ControlFrame): Uint8Array {
  switch (frame.kind) {
    case 'hello':
      return packr.pack([FrameKind.HELLO, frame.version, ...entryTuple(frame.self)]);
    case 'welcome':
      return packr.pack([FrameKind.WELCOME, ...entryTuple(frame.self)]);
    case 'refuse':
      return packr.pack([FrameKind.REFUSE, frame.reason, frame.text]);
    case 'heartbeat':
      return packr.pack([FrameKind.HEARTBEAT, frame.members.map(entryTuple)]);
  }
}

/** Encodes a data frame body (unframed). Throws if `message`/`payload` is not encodable. */
export function encodeDataFrame(frame: DataFrame): Uint8Array {
  switch (frame.kind) {
    case 'message':
      return packr.pack([FrameKind.MESSAGE, frame.message]);
    case 'request':
      return packr.pack([FrameKind.REQUEST, frame.requestId, frame.payload]);
    case 'response':
      return packr.pack([FrameKind.RESPONSE, frame.requestId, frame.payload]);
    case 'failure':
      return packr.pack([FrameKind.FAILURE, frame.requestId, frame.reason, frame.text]);
  }
}

/** Decodes and validates a control frame body; throws `BadFrameError` on anything else. */
export function decodeControlFrame(body: Uint8Array): ControlFrame {
  const value = unpack(body);
  switch (value[0]) {
    case FrameKind.HELLO:
      expectLength(value, 5);
      return { kind: 'hello', version: uint(value[1], 'version'), self: entryFrom(value.slice(2)) };
    case FrameKind.WELCOME:
      expectLength(value, 4);
      return { kind: 'welcome', self: entryFrom(value.slice(1)) };
    case FrameKind.REFUSE:
      expectLength(value, 3);
      return { kind: 'refuse', reason: text(value[1], 'reason'), text: text(value[2], 'text') };
    case FrameKind.HEARTBEAT: {
      expectLength(value, 2);
      const members = value[1];
      if (!Array.isArray(members)) throw new BadFrameError('heartbeat members is not an array');
      return { kind: 'heartbeat', members: members.map((m: unknown) => entryFrom(m)) };
    }
    default:
      throw new BadFrameError(`unknown control frame kind ${String(value[0])}`);
  }
}

/** Decodes and validates a data frame body; throws `BadFrameError` on anything else. */
export function decodeDataFrame(body: Uint8Array): DataFrame {
  const value = unpack(body);
  switch (value[0]) {
    case FrameKind.MESSAGE:
      expectLength(value, 2);
      return { kind: 'message', message: value[1] };
    case FrameKind.REQUEST:
      expectLength(value, 3);
      return { kind: 'request', requestId: uint(value[1], 'requestId'), payload: value[2] };
    case FrameKind.RESPONSE:
      expectLength(value, 3);
      return { kind: 'response', requestId: uint(value[1], 'requestId'), payload: value[2] };
    case FrameKind.FAILURE:
      expectLength(value, 4);
      return {
        kind: 'failure',
        requestId: uint(value[1], 'requestId'),
        reason: text(value[2], 'reason'),
        text: text(value[3], 'text'),
      };
    default:
      throw new BadFrameError(`unknown data frame kind ${String(value[0])}`);
  }
}

function entryTuple(entry: GossipEntry): [string, string, number] {
  return [entry.nodeId, entry.address, entry.incarnation];
}

function entryFrom(value: unknown): GossipEntry {
  if (!Array.isArray(value) || value.length !== 3) throw new BadFrameError('member entry is not a 3-tuple');
  return {
    nodeId: nonEmptyText(value[0], 'nodeId'),
    address: nonEmptyText(value[1], 'address'),
    incarnation: uint(value[2], 'incarnation'),
  };
}

function unpack(body: Uint8Array): unknown[] {
  let value: unknown;
  try {
    value = packr.unpack(body);
  } catch (err) {
    throw new BadFrameError('frame body is not valid msgpack', { cause: err });
  }
  if (!Array.isArray(value) || value.length === 0) throw new BadFrameError('frame body is not a non-empty array');
  return value;
}

function expectLength(value: unknown[], length: number): void {
  if (value.length !== length) throw new BadFrameError(`frame kind ${String(value[0])} needs ${length} elements`);
}

const TEXT_CHARS_MAX = 1024;

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length > TEXT_CHARS_MAX) throw new BadFrameError(`${field} is not a short string`);
  return value;
}

function nonEmptyText(value: unknown, field: string): string {
  const s = text(value, field);
  if (s.length === 0) throw new BadFrameError(`${field} is empty`);
  return s;
}

function uint(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new BadFrameError(`${field} is not a non-negative integer`);
  }
  return value;
}
