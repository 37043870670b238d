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
 *   OBJECT_REVOKED      the object id is on secondLife.revokedObjectIds, or was revoked at run
 *                       time (by itself or an admin; Revocations below)
 *   EXPIRES_INVALID     X-Ringstate-Expires is not a unix time
 *   TIMESTAMP_STALE     X-Ringstate-Time is outside secondLife.signatureWindowSeconds
 *   NONCE_INVALID       the nonce is not 8-64 chars of A-Z a-z 0-9 -
 *   SIGNATURE_MISMATCH  the signature does not match the canonical string and credential
 *   NONCE_REPLAYED      this object already used this nonce within the window
 * CREDENTIAL_EXPIRED (401) when a correctly signed request's credential has expired (`reason`
 * CREDENTIAL_EXPIRED), or carries no expiry at all (EXPIRES_MISSING: minted before credentials
 * expired); the object renews with a fresh player token (POST /v1/sl/objects/renew).
 * RATE_LIMITED (429) / OVERLOADED (503) when the per-object or node-wide bounds are hit.
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
  /** When the credential the request was signed with expires. */
  readonly expiresAtMs: number;
}

/** A run-time revocation: the object id is refused until `untilMs`, when every credential it had has expired. */
export interface Revocation {
  readonly objectId: string;
  readonly untilMs: number;
}

/**
 * Object ids revoked at run time, each kept until every credential it could hold has expired
 * (revocation time + tokens.lifetimeMaxMs), so the set forgets on its own. Bounded: past
 * `revocationsMax` live entries a revocation is refused (OVERLOADED) rather than an older one
 * forgotten, since forgetting one would silently un-revoke an object.
 */
export class Revocations {
  private readonly until = new Map<string, number>();

  constructor(private readonly revocationsMax: number) {}

  /** Records a revocation; false when the set is full of live entries. */
  add(revocation: Revocation, nowMs: number): boolean {
    const known = this.until.get(revocation.objectId);
    if (known === undefined && this.until.size >= this.revocationsMax) this.sweep(nowMs);
    if (known === undefined && this.until.size >= this.revocationsMax) return false;
    this.until.set(revocation.objectId, Math.max(known ?? 0, revocation.untilMs));
    return true;
  }

  has(objectId: string, nowMs: number): boolean {
    const untilMs = this.until.get(objectId);
    return untilMs !== undefined && nowMs < untilMs;
  }

  sweep(nowMs: number): void {
    for (const [objectId, untilMs] of this.until) if (untilMs <= nowMs) this.until.delete(objectId);
  }
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
const UNIX_SECONDS = /^\d{1,12}$/;
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
  /** Revoked at run time (by the object itself or an admin), shared with the cluster's other nodes by the caller. */
  readonly revocations: Revocations;
  private readonly replay: ReplayCache;
  private readonly buckets = new Map<string, { readonly bucket: TokenBucket; lastMs: number }>();
  private readonly bucketsMax: number;

  constructor(private readonly settings: AuthSettings) {
    this.revoked = new Set(settings.revokedObjectIds);
    this.replay = new ReplayCache({ perObjectMax: settings.nonceCachePerObjectMax, objectsMax: settings.nonceCacheObjectsMax });
    this.bucketsMax = settings.nonceCacheObjectsMax;
    this.revocations = new Revocations(settings.nonceCacheObjectsMax);
  }

  secretOf(objectId: string, expiresSeconds: number): string {
    return objectSecret(this.settings.masterKey, objectId, expiresSeconds);
  }

  isRevoked(objectId: string, nowMs: number): boolean {
    return this.revoked.has(objectId) || this.revocations.has(objectId, nowMs);
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
    if (this.isRevoked(objectId, nowMs)) throw authError('OBJECT_REVOKED', 'this object id has been revoked');
    const expires = request.headers.get('x-ringstate-expires');
    if (expires === undefined) throw new RingstateError('CREDENTIAL_EXPIRED', 'X-Ringstate-Expires is missing: this credential has no expiry; renew it with a fresh player token (POST /v1/sl/objects/renew)', { reason: 'EXPIRES_MISSING' });
    if (!UNIX_SECONDS.test(expires)) throw authError('EXPIRES_INVALID', 'X-Ringstate-Expires must be the unix time POST /v1/sl/objects answered as exp');
    const expiresSeconds = Number(expires);
    const timeSeconds = UNIX_SECONDS.test(time) ? Number(time) : Number.NaN;
    const nowSeconds = Math.floor(nowMs / 1000);
    if (!(Math.abs(nowSeconds - timeSeconds) <= this.settings.signatureWindowSeconds)) {
      throw authError('TIMESTAMP_STALE', `X-Ringstate-Time must be within ${this.settings.signatureWindowSeconds} s of the server's unix time (see t)`);
    }
    if (!isValidNonce(nonce)) throw authError('NONCE_INVALID', 'X-Ringstate-Nonce must be 8-64 characters of A-Z a-z 0-9 -');
    const secret = this.secretOf(objectId, expiresSeconds);
    const payload = request.method === 'GET' ? canonicalQuery(request.query) : request.body;
    if (!verifySignature(secret, { method: request.method, path: request.path, timeSeconds, nonce, payload }, signature)) {
      throw authError('SIGNATURE_MISMATCH', 'X-Ringstate-Signature does not match the canonical request (docs/second-life.md)');
    }
    // Checked after the signature, so CREDENTIAL_EXPIRED is only ever said of a real credential,
    // and before the replay cache, so an expired one touches no per-object memory.
    if (nowMs >= expiresSeconds * 1000) {
      throw new RingstateError('CREDENTIAL_EXPIRED', 'this object credential has expired with the player token that minted it; renew it with a fresh player token (POST /v1/sl/objects/renew)', { reason: 'CREDENTIAL_EXPIRED' });
    }
    const expiresAtMs = (timeSeconds + this.settings.signatureWindowSeconds + 1) * 1000;
    const verdict = this.replay.check(objectId, nonce, expiresAtMs, nowMs);
    if (verdict === 'replayed') throw authError('NONCE_REPLAYED', 'this nonce was already used: every request needs a new one');
    if (verdict === 'object-full') throw new RingstateError('RATE_LIMITED', 'too many requests from this object within the signature window', { reason: 'NONCES_PER_OBJECT_MAX' });
    if (verdict === 'cache-full') throw new RingstateError('OVERLOADED', 'too many objects active on this node; try another host', { reason: 'OBJECTS_MAX' });
    if (!this.takeToken(objectId, nowMs)) throw new RingstateError('RATE_LIMITED', `more than ${this.settings.requestsPerSecondPerObjectMax} requests per second from this object`, { reason: 'OBJECT_RATE_OVER_MAX' });
    return { objectId, playerId: parsed.playerId, secret, expiresAtMs: expiresSeconds * 1000 };
  }

  /** Forgets expired nonces and idle buckets; called periodically. */
  sweep(nowMs: number): void {
    this.replay.sweep(nowMs);
    this.revocations.sweep(nowMs);
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
