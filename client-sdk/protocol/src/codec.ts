/**
 * Frame codec: one msgpack map per binary WebSocket frame (see messages.ts for the layout).
 *
 * Plain msgpack (no msgpackr record extension) so that any msgpack library can speak the
 * protocol. Decoding never trusts the input: callers validate the decoded value.
 */
import { Packr } from 'msgpackr';
import type { ClientMessage, ServerMessage } from './messages.ts';

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

export function encodeFrame(message: ClientMessage | ServerMessage): Uint8Array {
  return packr.pack(message);
}

/** Decodes a frame; throws on malformed msgpack. The result is unvalidated. */
export function decodeFrame(frame: Uint8Array): unknown {
  return packr.unpack(frame);
}
