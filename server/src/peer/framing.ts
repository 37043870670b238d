/**
 * Length-prefixed framing for peer streams.
 *
 * A libp2p stream is a byte stream: chunk boundaries are not message boundaries. Every frame is
 * a 4-byte big-endian unsigned length followed by that many body bytes (one msgpack value, see
 * wire.ts):
 *
 *   +----------------+------------------------------+
 *   | length: u32 BE | body: `length` bytes         |
 *   +----------------+------------------------------+
 *
 * The decoder refuses a frame whose declared length exceeds its limit before buffering the
 * body, so a peer cannot make this node allocate more than `frameBytesMax` per stream.
 */
import { assert } from '../replication/index.ts';
import { FrameTooLargeError } from './errors.ts';

export const FRAME_HEADER_BYTES = 4;
const U32_MAX = 0xffff_ffff;

/** Prefixes `body` with its length. The caller checks the body against its own limit. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  assert(body.byteLength <= U32_MAX, 'frame body does not fit a u32 length');
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.byteLength);
  new DataView(frame.buffer).setUint32(0, body.byteLength, false);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

/**
 * Splits a byte stream into frame bodies. Chunks are kept in a list and joined only once a
 * whole frame is present, so a large frame arriving in many small chunks costs one copy.
 */
export class FrameDecoder {
  readonly #frameBytesMax: number;
  #chunks: Uint8Array[] = [];
  #bufferedBytes = 0;

  constructor(frameBytesMax: number) {
    assert(Number.isInteger(frameBytesMax) && frameBytesMax > 0, 'frameBytesMax must be a positive integer');
    this.#frameBytesMax = frameBytesMax;
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /**
   * Adds a chunk and returns every frame body it completes, in order. Throws
   * `FrameTooLargeError` when a header announces a body above the limit; the stream is then
   * unusable (its framing is lost) and must be closed.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk);
      this.#bufferedBytes += chunk.byteLength;
    }
    const bodies: Uint8Array[] = [];
    for (;;) {
      if (this.#bufferedBytes < FRAME_HEADER_BYTES) return bodies;
      const header = this.#peek(FRAME_HEADER_BYTES);
      const bodyBytes = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0, false);
      if (bodyBytes > this.#frameBytesMax) throw new FrameTooLargeError(bodyBytes, this.#frameBytesMax);
      if (this.#bufferedBytes < FRAME_HEADER_BYTES + bodyBytes) return bodies;
      const frame = this.#take(FRAME_HEADER_BYTES + bodyBytes);
      bodies.push(frame.subarray(FRAME_HEADER_BYTES));
    }
  }

  /** The first `n` buffered bytes, without consuming them. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0];
    assert(first !== undefined, 'peek on an empty buffer');
    if (first.byteLength >= n) return first.subarray(0, n);
    this.#coalesce();
    return this.#chunks[0]!.subarray(0, n);
  }

  /** Removes and returns the first `n` buffered bytes. */
  #take(n: number): Uint8Array {
    assert(n <= this.#bufferedBytes, 'take beyond the buffered bytes');
    let first = this.#chunks[0]!;
    if (first.byteLength < n) {
      this.#coalesce();
      first = this.#chunks[0]!;
    }
    const taken = first.subarray(0, n);
    if (first.byteLength === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#bufferedBytes -= n;
    return taken;
  }

  #coalesce(): void {
    const joined = new Uint8Array(this.#bufferedBytes);
    let offset = 0;
    for (const chunk of this.#chunks) {
      joined.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.#chunks = [joined];
  }
}
