/**
 * Authenticates requests from Second Life objects (header layout and canonical string in
 * signing.ts). Checks run cheapest first, and only a request with a valid signature may
 * touch per-object memory (nonce cache, rate bucket), so forged traffic cannot fill it.
 *
 * X-SecondLife-* headers are recorded for logs and diagnostics and never decide anything:
 * the simulator adds them, but anyone else can send them too.
 *
 * Refusals are AUTH_INVALID_TOKEN (401) with a stable `reason`:
 *   UNSIGNED            a X-Ringstate-* header is missing (SL headers alone are not credentials)
 *   OBJECT_UNKNOWN      the object id is malformed
 *   OBJECT_REVOKED      the object id is on secondLife.revokedObjectIds
 *   TIMESTAMP_STALE     X-Ringstate-Time is outside secondLife.signatureWindowSeconds
 *   NONCE_INVALID       the nonce is not 8-64 chars of A-Z a-z 0-9 -
 *   SIGNATURE_MISMATCH  the signature does not match the canonical string
 *   NONCE_REPLAYED      this object already used this nonce within the window
 * and RATE_LIMITED (429) / OVERLOADED (503) when the per-object or node-wide bounds are hit.
 */
import { RingstateError } from '@ringstate/protocol';
import { TokenBucket } from '../gateway/index.ts';
import type { HttpRequestInfo } from '../http/index.ts';
import { ReplayCache } from './replay-cache.ts';
import { canonicalQuery, isValidNonce, objectSecret, parseObjectId, verifySignature } from './signing.ts';

export interface AuthSettings {
  readonly masterKey: string;
  readonly revokedObjectIds: readonly string[];
  readonly signatureWindowSeconds: number;
  readonly nonceCachePerObjectMax: number;
  readonly nonceCacheObjectsMax: number;
  readonly requestsPerSecondPerObjectMax: number;
}

export interface VerifiedObject {
  readonly objectId: string;
  readonly playerId: string;
  readonly secret: string;
}

/** X-SecondLife-* headers as sent, for logs and diagnostics only. */
export type SecondLifeHeaders = Readonly<Record<string, string>>;

const SL_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['x-secondlife-owner-key', 'owner'],
  ['x-secondlife-owner-name', 'ownerName'],
  ['x-secondlife-object-key', 'object'],
  ['x-secondlife-object-name', 'objectName'],
  ['x-secondlife-region', 'region'],
  ['x-secondlife-shard', 'shard'],
  ['x-secondlife-local-position', 'position'],
];
const SL_HEADER_CHARS_MAX = 96;
const OBJECT_ID_CHARS_MAX = 128;
/** Buckets hold two seconds of tokens: one idle this long is full, so forgetting it changes nothing. */
const BUCKET_REFILL_MS = 2_000;

export function secondLifeHeaders(headers: ReadonlyMap<string, string>): SecondLifeHeaders {
  const out: Record<string, string> = {};
  for (const [header, field] of SL_HEADERS) {
    const value = headers.get(header);
    if (value !== undefined) out[field] = value.slice(0, SL_HEADER_CHARS_MAX);
  }
  return out;
}

export function authError(reason: string, message: string): RingstateError {
  return new RingstateError('AUTH_INVALID_TOKEN', message, { reason });
}

export class ObjectAuthenticator {
  private readonly revoked: ReadonlySet<string>;
  private readonly replay: ReplayCache;
  private readonly buckets = new Map<string, { readonly bucket: TokenBucket; lastMs: number }>();
  private readonly bucketsMax: number;

  constructor(private readonly settings: AuthSettings) {
    this.revoked = new Set(settings.revokedObjectIds);
    this.replay = new ReplayCache({ perObjectMax: settings.nonceCachePerObjectMax, objectsMax: settings.nonceCacheObjectsMax });
    this.bucketsMax = settings.nonceCacheObjectsMax;
  }

  secretOf(objectId: string): string {
    return objectSecret(this.settings.masterKey, objectId);
  }

  /** Verifies a signed request or throws a RingstateError saying why not. */
  authenticate(request: HttpRequestInfo, nowMs: number): VerifiedObject {
    const objectId = request.headers.get('x-ringstate-object');
    const time = request.headers.get('x-ringstate-time');
    const nonce = request.headers.get('x-ringstate-nonce');
    const signature = request.headers.get('x-ringstate-signature');
    if (objectId === undefined || time === undefined || nonce === undefined || signature === undefined) {
      const slOnly = [...request.headers.keys()].some((name) => name.startsWith('x-secondlife-'));
      throw authError('UNSIGNED', slOnly ? 'X-SecondLife-* headers are not credentials: sign the request (X-Ringstate-Object, -Time, -Nonce, -Signature)' : 'missing X-Ringstate-Object, -Time, -Nonce or -Signature');
    }
    const parsed = objectId.length > OBJECT_ID_CHARS_MAX ? undefined : parseObjectId(objectId);
    if (parsed === undefined) throw authError('OBJECT_UNKNOWN', 'X-Ringstate-Object is not an object id issued by POST /v1/sl/objects');
    if (this.revoked.has(objectId)) throw authError('OBJECT_REVOKED', 'this object id has been revoked');
    const timeSeconds = /^\d{1,12}$/.test(time) ? Number(time) : Number.NaN;
    const nowSeconds = Math.floor(nowMs / 1000);
    if (!(Math.abs(nowSeconds - timeSeconds) <= this.settings.signatureWindowSeconds)) {
      throw authError('TIMESTAMP_STALE', `X-Ringstate-Time must be within ${this.settings.signatureWindowSeconds} s of the server's unix time (see t)`);
    }
    if (!isValidNonce(nonce)) throw authError('NONCE_INVALID', 'X-Ringstate-Nonce must be 8-64 characters of A-Z a-z 0-9 -');
    const secret = this.secretOf(objectId);
    const payload = request.method === 'GET' ? canonicalQuery(request.query) : request.body;
    if (!verifySignature(secret, { method: request.method, path: request.path, timeSeconds, nonce, payload }, signature)) {
      throw authError('SIGNATURE_MISMATCH', 'X-Ringstate-Signature does not match the canonical request (docs/second-life.md)');
    }
    const expiresAtMs = (timeSeconds + this.settings.signatureWindowSeconds + 1) * 1000;
    const verdict = this.replay.check(objectId, nonce, expiresAtMs, nowMs);
    if (verdict === 'replayed') throw authError('NONCE_REPLAYED', 'this nonce was already used: every request needs a new one');
    if (verdict === 'object-full') throw new RingstateError('RATE_LIMITED', 'too many requests from this object within the signature window', { reason: 'NONCES_PER_OBJECT_MAX' });
    if (verdict === 'cache-full') throw new RingstateError('OVERLOADED', 'too many objects active on this node; try another host', { reason: 'OBJECTS_MAX' });
    if (!this.takeToken(objectId, nowMs)) throw new RingstateError('RATE_LIMITED', `more than ${this.settings.requestsPerSecondPerObjectMax} requests per second from this object`, { reason: 'OBJECT_RATE_OVER_MAX' });
    return { objectId, playerId: parsed.playerId, secret };
  }

  /** Forgets expired nonces and idle buckets; called periodically. */
  sweep(nowMs: number): void {
    this.replay.sweep(nowMs);
    for (const [objectId, record] of this.buckets) {
      if (record.lastMs + BUCKET_REFILL_MS < nowMs) this.buckets.delete(objectId);
    }
  }

  private takeToken(objectId: string, nowMs: number): boolean {
    let record = this.buckets.get(objectId);
    if (record === undefined) {
      if (this.buckets.size >= this.bucketsMax) this.sweep(nowMs);
      // Past the bound even after sweeping: the replay cache already caps objects at the same
      // number, so this only happens transiently; admit without a bucket rather than refuse.
      if (this.buckets.size >= this.bucketsMax) return true;
      const rate = this.settings.requestsPerSecondPerObjectMax;
      record = { bucket: new TokenBucket(rate * 2, rate, nowMs), lastMs: nowMs };
      this.buckets.set(objectId, record);
    }
    record.lastMs = nowMs;
    return record.bucket.take(nowMs);
  }
}
