/**
 * Stops Noise's frame decoder from throwing an exception per received chunk.
 *
 * @chainsafe/libp2p-noise reads its length-prefixed frames with @libp2p/utils'
 * LengthPrefixedDecoder. That decoder learns that a chunk held only whole frames by calling
 * the length decoder on its empty remainder and catching the RangeError it throws. So every
 * chunk read from every peer connection creates an Error, with its stack trace, and unwinds
 * it. A system-wide CPU profile (perf, with the nodes under a steady 200 commands/s) put 4.9 %
 * of the cluster's busy CPU into those errors (docs/benchmarks.md).
 *
 * The fix, applied once when this module is imported (before any connection exists): on its
 * first use, each decoder's length decoder is wrapped so that an empty buffer answers "a frame
 * longer than the buffer" instead of throwing. The decoder's loop then stops exactly where the
 * RangeError stopped it: it waits for more data. Nothing else changes: a buffer holding one
 * byte still goes to the original decoder, and real lengths are checked as before.
 * test/unit/peer/length-prefix-fix.test.ts checks that frames split at every byte
 * decode as before, without a single RangeError. The package is pinned (server/package.json),
 * and the patch refuses to apply, loudly, if the decoder is not the expected shape.
 */
import { LengthPrefixedDecoder } from '@libp2p/utils';

/** The decoder's fields this patch relies on (public in the JavaScript, undeclared in its types). */
interface DecoderFields {
  lengthDecoder: (data: { readonly byteLength: number }) => number;
  maxDataLength: number;
}

export const LENGTH_PREFIX_PATCHED = Symbol.for('ringstate.length-prefix-fix');
const GUARDED = Symbol('ringstate.length-prefix-fix.guarded');

type Patchable = typeof LengthPrefixedDecoder.prototype & { [LENGTH_PREFIX_PATCHED]?: true };

function applyFix(): void {
  const prototype = LengthPrefixedDecoder.prototype as Patchable;
  if (prototype[LENGTH_PREFIX_PATCHED] === true) return;
  const probe = new LengthPrefixedDecoder() as unknown as Partial<DecoderFields>;
  if (typeof prototype.decode !== 'function' || typeof probe.lengthDecoder !== 'function' || typeof probe.maxDataLength !== 'number') {
    throw new Error('@libp2p/utils LengthPrefixedDecoder is not the expected shape; review server/src/peer/length-prefix-fix.ts');
  }
  const decode = prototype.decode;
  prototype.decode = function decodeWithoutEmptyThrow(this: DecoderFields & { [GUARDED]?: true }, buf) {
    if (this[GUARDED] !== true) {
      this[GUARDED] = true;
      const decodeLength = this.lengthDecoder;
      // maxDataLength passes the decoder's bounds check and is longer than an empty buffer,
      // so the loop breaks on "not enough data" as it did on the RangeError.
      this.lengthDecoder = (data) => (data.byteLength === 0 ? this.maxDataLength : decodeLength(data));
    }
    return decode.call(this, buf);
  } as typeof prototype.decode;
  prototype[LENGTH_PREFIX_PATCHED] = true;
}

applyFix();
