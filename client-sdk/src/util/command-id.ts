/**
 * Command ids: a random session prefix plus a counter, e.g. `3f9a0c2a1b4d6e8f.1f`.
 *
 * The server dedupes commands by id per player, so ids must never repeat for a player, even
 * across app restarts and several devices. 64 random bits per client instance make a
 * collision between two instances negligible; the counter makes ids within an instance
 * distinct and keeps them short on the wire.
 *
 * Randomness comes from `crypto.getRandomValues` (Web Crypto), which exists in Node >= 20 and
 * browsers; React Native needs a polyfill such as `react-native-get-random-values`.
 */
export type RandomBytes = (length: number) => Uint8Array;

export function defaultRandomBytes(): RandomBytes {
  const webCrypto = (globalThis as { crypto?: { getRandomValues?<T extends Uint8Array>(array: T): T } }).crypto;
  if (typeof webCrypto?.getRandomValues !== 'function') {
    throw new TypeError(
      'ringstate: crypto.getRandomValues is not available. On React Native, import ' +
        "'react-native-get-random-values' before the SDK, or pass the `randomBytes` option.",
    );
  }
  const getRandomValues = webCrypto.getRandomValues.bind(webCrypto);
  return (length) => getRandomValues(new Uint8Array(length));
}

const SESSION_PREFIX_BYTES = 8;

export function createCommandIdGenerator(randomBytes: RandomBytes): () => string {
  const bytes = randomBytes(SESSION_PREFIX_BYTES);
  if (bytes.length !== SESSION_PREFIX_BYTES) {
    throw new TypeError(`randomBytes(${SESSION_PREFIX_BYTES}) returned ${bytes.length} bytes`);
  }
  const prefix = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  let counter = 0;
  return () => {
    counter += 1;
    return `${prefix}.${counter.toString(36)}`;
  };
}
