/**
 * Player tokens: compact JWS (HS256) with `sub` (player id), `iss`, `aud`, `exp`, and a `kid`
 * header that selects one of several verification keys, so keys can be rotated by adding the
 * new key, switching issuers to it, and removing the old one after the token lifetime.
 *
 * Every token expires (DESIGN.md F1): one without `exp`, or claiming a lifetime longer than
 * `lifetimeMaxMs`, is refused, so a leaked or carelessly issued token stops working within a
 * bounded time and key rotation can finish.
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

  /** Verifies a token; throws RingstateError AUTH_INVALID_TOKEN or AUTH_TOKEN_EXPIRED. */
  async verify(token: unknown, nowMs: number): Promise<VerifiedPlayer> {
    if (typeof token !== 'string' || token.length === 0 || token.length > TOKEN_LENGTH_MAX) {
      throw new RingstateError('AUTH_INVALID_TOKEN', 'token must be a non-empty string');
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
      if (playerId === undefined || !PLAYER_ID.test(playerId)) throw new RingstateError('AUTH_INVALID_TOKEN', 'token subject is not a valid player id');
      const exp = payload.exp;
      if (exp === undefined) throw new RingstateError('AUTH_INVALID_TOKEN', 'token has no exp claim: every token must expire');
      this.checkLifetime(exp, payload.iat, nowMs);
      return { playerId, expiresAtMs: exp * 1000 };
    } catch (error) {
      if (error instanceof RingstateError) throw error;
      if (error instanceof errors.JWTExpired) throw new RingstateError('AUTH_TOKEN_EXPIRED', 'token has expired', { cause: error });
      if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'exp' && error.reason === 'missing') {
        throw new RingstateError('AUTH_INVALID_TOKEN', 'token has no exp claim: every token must expire', { cause: error });
      }
      throw new RingstateError('AUTH_INVALID_TOKEN', 'token is invalid', { cause: error });
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
      throw new RingstateError('AUTH_INVALID_TOKEN', `token lifetime exceeds tokens.lifetimeMaxMs (${allowedSeconds} s): issue tokens that expire sooner`);
    }
  }

  private get clockSkewMs(): number {
    return this.settings.clockSkewMs ?? CLOCK_SKEW_DEFAULT_MS;
  }

  private keyFor(kid: string | undefined): Uint8Array {
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (key === undefined) throw new RingstateError('AUTH_INVALID_TOKEN', 'token signed with an unknown key id');
    return key;
  }
}
