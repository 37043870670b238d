import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeFrame } from '../../../server/src/peer/framing.ts';
import { FrameTooLargeError } from '../../../server/src/peer/index.ts';

// Property tests print their seed; rerun a failure with FC_SEED=<seed>.
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`peer framing: fast-check seed ${seed}`);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

describe('peer framing', () => {
  it('framing - a frame is a big-endian u32 length and the body', () => {
    expect([...encodeFrame(new Uint8Array([7, 8, 9]))]).toEqual([0, 0, 0, 3, 7, 8, 9]);
    expect([...encodeFrame(new Uint8Array(0))]).toEqual([0, 0, 0, 0]);
  });

  it('framing - any split of a byte stream decodes to the same frames in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (bodies, cuts) => {
          const stream = concat(bodies.map(encodeFrame));
          const decoder = new FrameDecoder(1024);
          const decoded: Uint8Array[] = [];
          let offset = 0;
          let i = 0;
          while (offset < stream.byteLength) {
            const size = cuts[i++ % cuts.length]!;
            decoded.push(...decoder.push(stream.subarray(offset, offset + size)));
            offset += size;
          }
          expect(decoded.map((b) => [...b])).toEqual(bodies.map((b) => [...b]));
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { seed, numRuns: 500 },
    );
  });

  it('framing - a header announcing more than the limit is refused before the body arrives', () => {
    const decoder = new FrameDecoder(100);
    expect(decoder.push(encodeFrame(new Uint8Array(100)))).toHaveLength(1);
    const header = encodeFrame(new Uint8Array(101)).subarray(0, 4);
    expect(() => decoder.push(header)).toThrow(FrameTooLargeError);
  });

  it('framing - a partial frame waits for the rest', () => {
    const decoder = new FrameDecoder(100);
    const frame = encodeFrame(new Uint8Array([1, 2, 3, 4, 5]));
    expect(decoder.push(frame.subarray(0, 2))).toEqual([]);
    expect(decoder.push(frame.subarray(2, 6))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(6);
    const [body] = decoder.push(frame.subarray(6));
    expect([...body!]).toEqual([1, 2, 3, 4, 5]);
  });
});
