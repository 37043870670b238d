/**
 * Object credentials and request signatures, shaped so an LSL script can produce them with
 * llHMAC, llEscapeURL and llGetUnixTime alone. Pure functions: no clock, no I/O.
 *
 * Object id and credential (stateless, so every node verifies without a lookup):
 *
 *   objectId = <playerId> "." <random: 16 chars of A-Z a-z 0-9 _ ->
 *   expires  = unix seconds: the credential's end, never later than the player token that
 *              provisioned or last renewed it (nor than now + tokens.lifetimeMaxMs)
 *   secret   = base64url(HMAC-SHA256(masterKey, objectId "\n" expires))   (43 chars, no padding)
 *
 * The expiry is inside the secret's derivation, so an object cannot move its own end: a
 * changed X-Ringstate-Expires makes a different secret and the signature fails. Renewal
 * mints a new (expires, secret) pair for the same object id.
 *
 * A signed request carries five headers:
 *
 *   X-Ringstate-Object     objectId
 *   X-Ringstate-Expires    expires (as POST /v1/sl/objects or /v1/sl/objects/renew answered)
 *   X-Ringstate-Time       unix seconds (llGetUnixTime)
 *   X-Ringstate-Nonce      8-64 chars of A-Z a-z 0-9 -, never reused by the object
 *   X-Ringstate-Signature  base64(HMAC-SHA256(secret, canonical))   (what llHMAC returns)
 *
 * and the canonical string is, lines joined by "\n":
 *
 *   METHOD            GET or POST, upper case
 *   PATH              e.g. /v1/sl/events (no query)
 *   TIME              the X-Ringstate-Time value
 *   NONCE             the X-Ringstate-Nonce value
 *   PAYLOAD           GET: the query with pairs sorted by name then value, each name and
 *                     value escaped like llEscapeURL (every byte but A-Z a-z 0-9 as %XX,
 *                     upper-case hex), joined "k=v&k=v"; POST: the body bytes exactly as sent
 *
 * The payload is last so a body may contain newlines without making the layout ambiguous.
 * Pushes to a script's HTTP-in URL are signed the same way with METHOD "POST" and the fixed
 * PATH "/v1/sl/push".
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const PUSH_CANONICAL_PATH = '/v1/sl/push';
const PLAYER_ID = /^[A-Za-z0-9._:@-]{1,64}$/;
const OBJECT_SUFFIX = /^[A-Za-z0-9_-]{16}$/;
const NONCE = /^[A-Za-z0-9-]{8,64}$/;
const SIGNATURE_BYTES = 32;

export interface ParsedObjectId {
  readonly objectId: string;
  readonly playerId: string;
}

/** A fresh object id for a player. */
export function mintObjectId(playerId: string): string {
  if (!PLAYER_ID.test(playerId)) throw new Error(`not a player id: ${playerId}`);
  return `${playerId}.${randomBytes(12).toString('base64url')}`;
}

/** Splits an object id into its player; undefined when it is not one this API minted. */
export function parseObjectId(objectId: string): ParsedObjectId | undefined {
  const dot = objectId.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const playerId = objectId.slice(0, dot);
  if (!PLAYER_ID.test(playerId) || !OBJECT_SUFFIX.test(objectId.slice(dot + 1))) return undefined;
  return { objectId, playerId };
}

/** The secret of one credential: an object id and the unix second it expires at. */
export function objectSecret(masterKey: string, objectId: string, expiresSeconds: number): string {
  if (!Number.isSafeInteger(expiresSeconds) || expiresSeconds < 0) throw new Error(`not a unix time: ${expiresSeconds}`);
  return createHmac('sha256', masterKey).update(`${objectId}\n${expiresSeconds}`, 'utf8').digest('base64url');
}

export function isValidNonce(nonce: string): boolean {
  return NONCE.test(nonce);
}

/** Escapes like LSL's llEscapeURL: every UTF-8 byte outside A-Z a-z 0-9 becomes %XX. */
export function lslEscape(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const alnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
    out += alnum ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The canonical form of a query: escaped pairs sorted by name, then value. */
export function canonicalQuery(query: URLSearchParams | ReadonlyArray<readonly [string, string]>): string {
  const pairs = [...query].map(([name, value]) => [lslEscape(name), lslEscape(value)] as const);
  pairs.sort((a, b) => (a[0] === b[0] ? compare(a[1], b[1]) : compare(a[0], b[0])));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface SignedParts {
  readonly method: string;
  readonly path: string;
  readonly timeSeconds: number;
  readonly nonce: string;
  /** Canonical query (GET) or the raw body (POST). */
  readonly payload: string | Uint8Array;
}

export function canonicalBytes(parts: SignedParts): Buffer {
  const head = Buffer.from(`${parts.method.toUpperCase()}\n${parts.path}\n${parts.timeSeconds}\n${parts.nonce}\n`, 'utf8');
  const payload = typeof parts.payload === 'string' ? Buffer.from(parts.payload, 'utf8') : Buffer.from(parts.payload.buffer, parts.payload.byteOffset, parts.payload.byteLength);
  return Buffer.concat([head, payload]);
}

/** base64 HMAC-SHA256, keyed by the secret's UTF-8 bytes: what llHMAC(secret, message, "sha256") returns. */
export function sign(secret: string, parts: SignedParts): string {
  return createHmac('sha256', secret).update(canonicalBytes(parts)).digest('base64');
}

/** Constant-time check of a base64 signature. */
export function verifySignature(secret: string, parts: SignedParts, signature: string): boolean {
  const given = Buffer.from(signature, 'base64');
  if (given.byteLength !== SIGNATURE_BYTES) return false;
  const expected = createHmac('sha256', secret).update(canonicalBytes(parts)).digest();
  return timingSafeEqual(given, expected);
}
