/**
 * The xsalsa20 patch (server/src/peer/xsalsa20-fix.ts): many cipher instances sharing
 * the package's WebAssembly memory, with large and small updates interleaved the way busy
 * connections produce them. Unpatched, this throws "Maximum memory size exceeded" within a
 * few rounds; patched, every instance's output must equal an independent XSalsa20 keystream.
 */
import { createRequire } from 'node:module';
import { xsalsa20 as referenceXsalsa20 } from '@noble/ciphers/salsa.js';
import { describe, expect, it } from 'vitest';
import { XSALSA20_PATCHED } from '../../../server/src/peer/xsalsa20-fix.ts';

type Cipher = { update(input: Uint8Array): Uint8Array; _xor: { _memory: Uint8Array } };
const require = createRequire(import.meta.url);
const pnetXsalsa20 = require(require.resolve('xsalsa20', { paths: [require.resolve('@libp2p/pnet')] })) as (nonce: Uint8Array, key: Uint8Array) => Cipher;

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i += 1) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('xsalsa20 fix - the cipher under the cluster key', () => {
  it('xsalsa20 fix - is installed on the copy pnet loads', () => {
    const cipher = pnetXsalsa20(new Uint8Array(24), new Uint8Array(32));
    expect((Object.getPrototypeOf(cipher._xor) as Record<symbol, unknown>)[XSALSA20_PATCHED]).toBe(true);
  });

  it('xsalsa20 fix - interleaved large and small updates on many instances stay correct and bounded', () => {
    const streams = Array.from({ length: 40 }, (_, n) => ({ key: bytes(32, n + 1), nonce: bytes(24, n + 100), sent: [] as Uint8Array[], received: [] as Uint8Array[] }));
    const ciphers = streams.map((stream) => pnetXsalsa20(stream.nonce, stream.key));
    for (let round = 0; round < 60; round += 1) {
      streams.forEach((stream, index) => {
        // Every round one connection sends a large batch (as catch-up does), the others a little.
        const size = index === round % streams.length ? 3 * 1024 * 1024 + 17 : 100 + ((round * 31 + index * 7) % 900);
        const plain = bytes(size, round * 1000 + index);
        stream.sent.push(plain);
        stream.received.push((ciphers[index] as Cipher).update(plain));
      });
    }
    for (const stream of streams) {
      const plain = Buffer.concat(stream.sent);
      const expected = referenceXsalsa20(stream.key, stream.nonce, plain);
      expect(Buffer.concat(stream.received).equals(Buffer.from(expected))).toBe(true);
    }
    // Bounded: the shared memory holds one slice, not the largest chunk ever seen.
    expect(ciphers[0]?._xor._memory.buffer.byteLength).toBeLessThan(4 * 1024 * 1024);
  });
});
