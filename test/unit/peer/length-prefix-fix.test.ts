import { describe, expect, it } from 'vitest';
import { LengthPrefixedDecoder } from '@libp2p/utils';
import { LENGTH_PREFIX_PATCHED } from '../../../server/src/peer/length-prefix-fix.ts';
import '../../../server/src/peer/peer-network.ts';

/** Noise's length decoder (2-byte big-endian), counting the RangeErrors it throws. */
function countingDecoder(): { decoder: LengthPrefixedDecoder; throws: () => number } {
  let throws = 0;
  const lengthDecoder = (data: { readonly length: number; subarray(start: number, end: number): Uint8Array }): number => {
    if (data.length < 2) {
      throws += 1;
      throw new RangeError('Could not decode int16BE');
    }
    const bytes = data.subarray(0, 2);
    return ((bytes[0] ?? 0) << 8) + (bytes[1] ?? 0);
  };
  return { decoder: new LengthPrefixedDecoder({ lengthDecoder, encodingLength: () => 2 }), throws: () => throws };
}

function frame(body: number[]): number[] {
  return [body.length >> 8, body.length & 0xff, ...body];
}

const bodies = [[1, 2, 3], Array.from({ length: 300 }, (_, index) => index % 256), [9]];
const stream = Uint8Array.from(bodies.flatMap(frame));

function decodeAll(decoder: LengthPrefixedDecoder, chunks: Uint8Array[]): number[][] {
  const out: number[][] = [];
  for (const chunk of chunks) for (const buf of decoder.decode(chunk)) out.push([...buf.subarray()]);
  return out;
}

describe('length-prefix fix', () => {
  it('length-prefix fix - is applied by the peer network module', () => {
    expect((LengthPrefixedDecoder.prototype as unknown as Record<symbol, unknown>)[LENGTH_PREFIX_PATCHED]).toBe(true);
  });

  it('length-prefix fix - whole chunks decode as before without a single RangeError', () => {
    const { decoder, throws } = countingDecoder();
    expect(decodeAll(decoder, [stream, stream])).toEqual([...bodies, ...bodies]);
    expect(throws()).toBe(0);
  });

  it('length-prefix fix - frames split at every byte decode as before; only one-byte remainders reach the thrower', () => {
    const { decoder, throws } = countingDecoder();
    const chunks = [...stream].map((byte) => Uint8Array.of(byte));
    expect(decodeAll(decoder, chunks)).toEqual(bodies);
    // One RangeError per frame: when its first length byte arrived alone.
    expect(throws()).toBe(bodies.length);
  });

  it('length-prefix fix - lengths beyond the limit are still refused', () => {
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: () => 70_000, encodingLength: () => 2, maxDataLength: 65_535 });
    expect(() => [...decoder.decode(Uint8Array.of(1, 2, 3))]).toThrow(/length/i);
  });
});
