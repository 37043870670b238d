/**
 * Operating errors of the peer layer.
 *
 * `send` never throws for a peer problem (it drops and counts), so these surface from
 * `request`, from configuration, and inside the layer where a stream must be closed. Errors a
 * caller may see carry a wire `code` shared with the SDK (`UNAVAILABLE`, `TIMEOUT`,
 * `FRAME_TOO_LARGE`, `OVERLOADED`, `SHUTTING_DOWN`, `INTERNAL`) plus a finer `condition` to
 * branch on.
 */
import { RingstateError } from '@ringstate/protocol';

export type PeerCondition =
  | 'PEER_UNAVAILABLE'
  | 'REQUEST_TIMEOUT'
  | 'MESSAGE_TOO_LARGE'
  | 'QUEUE_FULL'
  | 'NO_HANDLER'
  | 'HANDLER_FAILED'
  | 'STOPPED';

export abstract class PeerError extends RingstateError {
  abstract readonly condition: PeerCondition;
}

/** The peer is unknown, down, or its connection was lost before it answered. */
export class PeerUnavailableError extends PeerError {
  override readonly name: string = 'PeerUnavailableError';
  override readonly condition = 'PEER_UNAVAILABLE';
  readonly nodeId: string;

  constructor(nodeId: string, why: string) {
    super('UNAVAILABLE', `peer ${nodeId} is unavailable: ${why}`);
    this.nodeId = nodeId;
  }
}

/** No response arrived within the request's deadline. */
export class RequestTimeoutError extends PeerError {
  override readonly name: string = 'RequestTimeoutError';
  override readonly condition = 'REQUEST_TIMEOUT';
  readonly nodeId: string;
  readonly timeoutMs: number;

  constructor(nodeId: string, protocol: string, timeoutMs: number) {
    super('TIMEOUT', `request to ${nodeId} on ${protocol} timed out after ${timeoutMs} ms`);
    this.nodeId = nodeId;
    this.timeoutMs = timeoutMs;
  }
}

/** The encoded message is larger than `messageBytesMax`. */
export class MessageTooLargeError extends PeerError {
  override readonly name: string = 'MessageTooLargeError';
  override readonly condition = 'MESSAGE_TOO_LARGE';
  readonly bytes: number;
  readonly bytesMax: number;

  constructor(bytes: number, bytesMax: number) {
    super('FRAME_TOO_LARGE', `message of ${bytes} bytes exceeds the limit of ${bytesMax} bytes`);
    this.bytes = bytes;
    this.bytesMax = bytesMax;
  }
}

/** A frame header on a stream announced a body above the limit; the stream is closed. */
export class FrameTooLargeError extends PeerError {
  override readonly name: string = 'FrameTooLargeError';
  override readonly condition = 'MESSAGE_TOO_LARGE';
  readonly bytes: number;
  readonly bytesMax: number;

  constructor(bytes: number, bytesMax: number) {
    super('FRAME_TOO_LARGE', `incoming frame of ${bytes} bytes exceeds the limit of ${bytesMax} bytes`);
    this.bytes = bytes;
    this.bytesMax = bytesMax;
  }
}

/** The peer's outgoing queue or the pending-request table is full. */
export class QueueFullError extends PeerError {
  override readonly name: string = 'QueueFullError';
  override readonly condition = 'QUEUE_FULL';

  constructor(what: string) {
    super('OVERLOADED', `${what} is full`);
  }
}

/** The remote node has no handler for the request's protocol. */
export class NoHandlerError extends PeerError {
  override readonly name: string = 'NoHandlerError';
  override readonly condition = 'NO_HANDLER';

  constructor(nodeId: string, protocol: string) {
    super('UNAVAILABLE', `peer ${nodeId} has no handler for ${protocol}`);
  }
}

/** The remote handler threw; `message` carries its error message. */
export class RemoteHandlerError extends PeerError {
  override readonly name: string = 'RemoteHandlerError';
  override readonly condition = 'HANDLER_FAILED';
  /** The `code` of the remote error when it had one (e.g. a RingstateError's code). */
  readonly remoteCode: string;

  constructor(nodeId: string, remoteCode: string, message: string) {
    super('INTERNAL', `handler on ${nodeId} failed: ${message}`);
    this.remoteCode = remoteCode;
  }
}

/** The network was stopped (or not started) while the call was made or pending. */
export class PeerNetworkStoppedError extends PeerError {
  override readonly name: string = 'PeerNetworkStoppedError';
  override readonly condition = 'STOPPED';

  constructor() {
    super('SHUTTING_DOWN', 'the peer network is not running');
  }
}

/** Invalid operator-supplied settings (addresses, cluster key). Thrown at construction. */
export class PeerConfigError extends Error {
  override readonly name = 'PeerConfigError';
  readonly code = 'PEER_CONFIG_INVALID';
}

/** A frame that is not valid msgpack or not of a known shape; the stream is closed. */
export class BadFrameError extends Error {
  override readonly name = 'BadFrameError';
  readonly code = 'BAD_FRAME';
}
