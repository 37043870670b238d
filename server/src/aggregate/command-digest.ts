/**
 * The digest of a command: what makes "a command id means one command" checkable (S4).
 *
 * A command's dedupe record keeps this digest (it travels in the command's log entry, so every
 * replica and every later owner derives the same record). A repeat of the command id with the
 * same digest is a retry and gets the first answer; with another digest it is a different
 * command under a reused id and is refused (COMMAND_ID_REUSED).
 *
 * Digest: the first 16 bytes of SHA-256 over a canonical encoding of (aggregate type, aggregate
 * id, command body). The encoding is a tagged, length-prefixed walk of the value:
 *
 *   null 'n' | true 't' | false 'f' | number 'd' <8 bytes float64 BE> | bigint 'i' <len><decimal>
 *   string 's' <len><utf-8> | bytes 'b' <len><bytes> | date 'D' <8 bytes float64 BE of ms>
 *   array 'a' <count> item... | object 'o' <count> (key string, value)... with keys sorted
 *
 * (len and count are 4-byte big-endian.) It is injective over the values the codecs produce,
 * and deliberately blind to differences that are not the client's: object key order, keys
 * whose value is undefined (dropped by JSON, kept by msgpack), undefined vs null in arrays,
 * -0 vs 0, Buffer vs Uint8Array, a Map vs an object with the same string keys, a `__proto__`
 * key as JSON keeps it vs `__proto_` as msgpackr renames it. A command
 * relayed by another node (forwarding re-encodes it) or sent over the other API must still
 * be recognised as the same command: a false "reused" would refuse a genuine retry, whereas
 * a false "same" is what every retry got before digests existed.
 */
import { createHash, type Hash } from 'node:crypto';

export const COMMAND_DIGEST_BYTES = 16;

export function commandDigest(aggregateType: string, aggregateId: string, command: unknown): Uint8Array {
  const hash = createHash('sha256');
  writeString(hash, aggregateType);
  writeString(hash, aggregateId);
  writeValue(hash, command, 0);
  return new Uint8Array(hash.digest().subarray(0, COMMAND_DIGEST_BYTES));
}

/** Two digests are the same bytes. */
export function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let n = 0; n < a.byteLength; n += 1) if (a[n] !== b[n]) return false;
  return true;
}

/**
 * msgpackr decodes a `__proto__` key as `__proto_` (so a decoded map cannot set a prototype),
 * and JSON.parse keeps it as an own property: the same command sent as JSON (Second Life) and
 * relayed as msgpack (forwarding) must digest alike, so the digest writes it as msgpackr does.
 */
const MSGPACKR_PROTO_KEY = '__proto_';

/** Deeper than any codec decodes (msgpackr refuses deeper input), so a cycle is a programmer error. */
const DEPTH_MAX = 1_000;

function writeValue(hash: Hash, value: unknown, depth: number): void {
  if (depth > DEPTH_MAX) throw new Error(`command digest: value nested deeper than ${DEPTH_MAX}`);
  if (value === null || value === undefined) return tag(hash, 'n');
  switch (typeof value) {
    case 'boolean':
      return tag(hash, value ? 't' : 'f');
    case 'number':
      return writeFloat(hash, 'd', value);
    case 'bigint':
      tag(hash, 'i');
      return writeString(hash, value.toString());
    case 'string':
      tag(hash, 's');
      return writeString(hash, value);
    default:
      break;
  }
  if (value instanceof Uint8Array) {
    tag(hash, 'b');
    writeLength(hash, value.byteLength);
    hash.update(value);
    return;
  }
  if (value instanceof Date) return writeFloat(hash, 'D', value.getTime());
  if (Array.isArray(value)) {
    tag(hash, 'a');
    writeLength(hash, value.length);
    for (const item of value) writeValue(hash, item, depth + 1);
    return;
  }
  const fields = value instanceof Map ? [...value].map(([key, item]) => [String(key), item] as const) : Object.entries(value as object);
  const present = fields.filter(([, item]) => item !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  tag(hash, 'o');
  writeLength(hash, present.length);
  for (const [key, item] of present) {
    writeString(hash, key === '__proto__' ? MSGPACKR_PROTO_KEY : key);
    writeValue(hash, item, depth + 1);
  }
}

function tag(hash: Hash, letter: string): void {
  hash.update(letter);
}

function writeFloat(hash: Hash, letter: string, value: number): void {
  tag(hash, letter);
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleBE(Object.is(value, -0) ? 0 : value);
  hash.update(bytes);
}

function writeLength(hash: Hash, length: number): void {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(length);
  hash.update(bytes);
}

function writeString(hash: Hash, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  writeLength(hash, bytes.byteLength);
  hash.update(bytes);
}
