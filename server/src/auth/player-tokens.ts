/**
 * Player tokens: compact JWS (HS256) with `sub` (player id), `iss`, `aud`, `exp`, and a `kid`
 * header that selects one of several verification keys, so keys can be rotated by adding the
 * new key, switching issuers to it, and removing the old one after the token lifetime.
 *
 * Every token expires (DESIGN.md F1): one without `exp`, or claiming a lifetime longer than
 * `lifetimeMaxMs`, is refused, so a leaked or carelessly issued token stops working within a
 * bounded time and key rotation can finish.
 *
 * Every refusal carries a stable `reason` (TokenRefusalReasons) besides its code, so a
 * security log line can say why a token was refused without quoting the token.
 */
import { errors, jwtVerify, SignJWT } from 'jose';
import { RingstateError } from '@ringstate/protocol';

export interface TokenKey {
  readonly kid: string;
  readonly secret: string;
}

export interface TokenSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly keys: readonly TokenKey[];
  /** Longest lifetime a token may claim (ms; JWT times are whole seconds, so rounded up to one). */
  readonly lifetimeMaxMs: number;
  /**
   * How far the issuer's clock may be off from ours (ms, default 30 s): allowed past `exp` and
   * on top of the lifetime. Without it an issuer whose clock runs a second ahead mints
   * full-lifetime tokens that look a second too long here, and every one is refused.
   */
  readonly clockSkewMs?: number;
}

const CLOCK_SKEW_DEFAULT_MS = 30_000;

/** Why a token was refused: the `reason` of the RingstateError, logged in security events. */
export const TokenRefusalReasons = {
  TOKEN_MALFORMED: 'not a non-empty string of at most 4096 characters, or not a compact JWS/JWT',
  KEY_UNKNOWN: 'the `kid` header names no key in tokens.keys (a forged key, or one rotated out)',
  ALG_REFUSED: 'the `alg` header is not HS256',
  SIGNATURE_BAD: 'the signature does not verify with the key its `kid` names',
  NO_EXP: 'no `exp` claim: every token must expire',
  LIFETIME_OVER_MAX: 'the lifetime it claims is over tokens.lifetimeMaxMs',
  EXPIRED: '`exp` has passed (beyond tokens.clockSkewMs)',
  NOT_YET_VALID: '`nbf` or `iat` is in the future (beyond tokens.clockSkewMs)',
  ISSUER_WRONG: '`iss` is not tokens.issuer',
  AUDIENCE_WRONG: '`aud` is not tokens.audience',
  SUBJECT_INVALID: '`sub` is missing or not a valid player id',
  CLAIM_INVALID: 'another claim is missing or ill-typed',
} as const;

export type TokenRefusalReason = keyof typeof TokenRefusalReasons;

function refusal(reason: TokenRefusalReason, message: string, cause?: unknown): RingstateError {
  const code = reason === 'EXPIRED' ? 'AUTH_TOKEN_EXPIRED' : 'AUTH_INVALID_TOKEN';
  return new RingstateError(code, message, cause === undefined ? { reason } : { reason, cause });
}

/** The reason for a jose verification failure. */
function reasonOf(error: unknown): TokenRefusalReason {
  if (error instanceof errors.JWTExpired) return 'EXPIRED';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'SIGNATURE_BAD';
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'ALG_REFUSED';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'exp') return error.reason === 'missing' ? 'NO_EXP' : 'CLAIM_INVALID';
    if (error.claim === 'iss') return 'ISSUER_WRONG';
    if (error.claim === 'aud') return 'AUDIENCE_WRONG';
    if (error.claim === 'sub') return 'SUBJECT_INVALID';
    if ((error.claim === 'nbf' || error.claim === 'iat') && error.reason === 'check_failed') return 'NOT_YET_VALID';
    return 'CLAIM_INVALID';
  }
  return 'TOKEN_MALFORMED';
}

export interface VerifiedPlayer {
  readonly playerId: string;
  readonly expiresAtMs: number;
}

/** Player ids are opaque to the server but bounded and printable. */
const PLAYER_ID = /^[A-Za-z0-9._:@-]{1,64}$/;
const TOKEN_LENGTH_MAX = 4096;

export class PlayerTokens {
  private readonly keys: Map<string, Uint8Array>;
  private readonly signingKey: TokenKey;

  constructor(private readonly settings: TokenSettings) {
    const first = settings.keys[0];
    if (first === undefined) throw new Error('at least one token key is required');
    this.signingKey = first;
    const encoder = new TextEncoder();
    this.keys = new Map(settings.keys.map((key) => [key.kid, encoder.encode(key.secret)]));
  }

  async issue(playerId: string, ttlMs: number, nowMs: number): Promise<{ token: string; expiresAtMs: number }> {
    if (!PLAYER_ID.test(playerId)) throw new RingstateError('INVALID_MESSAGE', 'player id must be 1-64 characters of A-Z a-z 0-9 . _ : @ -');
    if (ttlMs > this.settings.lifetimeMaxMs) throw new Error(`token ttl ${ttlMs} ms exceeds lifetimeMaxMs ${this.settings.lifetimeMaxMs} ms`);
    // JWT times are whole seconds: the answer names the exp the token carries.
    const expSeconds = Math.floor((nowMs + ttlMs) / 1000);
    const expiresAtMs = expSeconds * 1000;
    const secret = this.keys.get(this.signingKey.kid);
    if (secret === undefined) throw new Error('signing key missing');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: this.signingKey.kid })
      .setSubject(playerId)
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setIssuedAt(Math.floor(nowMs / 1000))
      .setExpirationTime(expSeconds)
      .sign(secret);
    return { token, expiresAtMs };
  }

  /**
   * The resume token for a verified player: the same player, expiring when the presented token
   * does, never later. Clamped to [0, lifetimeMaxMs] because clockSkewMs lets a token verify
   * slightly past its exp or with slightly more than the maximum lifetime left.
   */
  resume(verified: VerifiedPlayer, nowMs: number): Promise<{ token: string; expiresAtMs: number }> {
    const ttlMs = Math.max(0, Math.min(verified.expiresAtMs - nowMs, this.settings.lifetimeMaxMs));
    return this.issue(verified.playerId, ttlMs, nowMs);
  }

  /** Verifies a token; throws RingstateError AUTH_INVALID_TOKEN or AUTH_TOKEN_EXPIRED, with a `reason`. */
  async verify(token: unknown, nowMs: number): Promise<VerifiedPlayer> {
    if (typeof token !== 'string' || token.length === 0 || token.length > TOKEN_LENGTH_MAX) {
      throw refusal('TOKEN_MALFORMED', 'token must be a non-empty string');
    }
    try {
      const { payload } = await jwtVerify(token, (header) => this.keyFor(header.kid), {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ['HS256'],
        currentDate: new Date(nowMs),
        clockTolerance: Math.floor(this.clockSkewMs / 1000),
        requiredClaims: ['sub', 'exp'],
      });
      const playerId = payload.sub;
      if (playerId === undefined || !PLAYER_ID.test(playerId)) throw refusal('SUBJECT_INVALID', 'token subject is not a valid player id');
      const exp = payload.exp;
      if (exp === undefined) throw refusal('NO_EXP', 'token has no exp claim: every token must expire');
      this.checkLifetime(exp, payload.iat, nowMs);
      return { playerId, expiresAtMs: exp * 1000 };
    } catch (error) {
      if (error instanceof RingstateError) throw error;
      const reason = reasonOf(error);
      if (reason === 'EXPIRED') throw refusal(reason, 'token has expired', error);
      if (reason === 'NO_EXP') throw refusal(reason, 'token has no exp claim: every token must expire', error);
      throw refusal(reason, `token is invalid: ${TokenRefusalReasons[reason]}`, error);
    }
  }

  /**
   * The lifetime a token claims is exp - iat, or exp - now without iat. An `iat` in the future
   * does not shorten it: the token is usable from now, so exp - now counts then too. The
   * issuer's clock may be off by clockSkewMs, so that much more is allowed.
   */
  private checkLifetime(expSeconds: number, iatSeconds: number | undefined, nowMs: number): void {
    const fromSeconds = Math.min(iatSeconds ?? nowMs / 1000, nowMs / 1000);
    const allowedSeconds = Math.ceil(this.settings.lifetimeMaxMs / 1000);
    if (expSeconds - fromSeconds > allowedSeconds + this.clockSkewMs / 1000) {
      throw refusal('LIFETIME_OVER_MAX', `token lifetime exceeds tokens.lifetimeMaxMs (${allowedSeconds} s): issue tokens that expire sooner`);
    }
  }

  private get clockSkewMs(): number {
    return this.settings.clockSkewMs ?? CLOCK_SKEW_DEFAULT_MS;
  }

  private keyFor(kid: string | undefined): Uint8Array {
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (key === undefined) throw refusal('KEY_UNKNOWN', 'token signed with an unknown key id');
    return key;
  }
}
