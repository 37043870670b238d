/**
 * Every player token expires (DESIGN.md F1): a token without `exp`, or claiming a lifetime
 * over tokens.lifetimeMaxMs, is refused with AUTH_INVALID_TOKEN however well it is signed.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { RingstateError } from '@ringstate/protocol';
import { PlayerTokens } from '../../../server/src/auth/index.ts';

const HOUR_MS = 60 * 60 * 1000;
const KEY = { kid: 'k1', secret: randomBytes(32).toString('hex') };
const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;
/** No clock skew allowed: the limits are exact. */
const tokens = new PlayerTokens({ issuer: 'iss', audience: 'aud', keys: [KEY], lifetimeMaxMs: 24 * HOUR_MS, clockSkewMs: 0 });

function sign(times: { iat?: number; exp?: number }): Promise<string> {
  const jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: KEY.kid }).setSubject('alice').setIssuer('iss').setAudience('aud');
  if (times.iat !== undefined) jwt.setIssuedAt(times.iat);
  if (times.exp !== undefined) jwt.setExpirationTime(times.exp);
  return jwt.sign(new TextEncoder().encode(KEY.secret));
}

async function refusal(token: string, verifier = tokens): Promise<RingstateError> {
  const error = await verifier.verify(token, NOW_MS).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RingstateError);
  return error as RingstateError;
}

describe('auth - player token expiry', () => {
  it('tokens - a token without exp is refused, with or without iat', async () => {
    for (const times of [{}, { iat: NOW_S - 10 }]) {
      const error = await refusal(await sign(times));
      expect(error.code).toBe('AUTH_INVALID_TOKEN');
      expect(error.message).toMatch(/no exp claim/);
    }
  });

  it('tokens - a lifetime over lifetimeMaxMs is refused: exp - iat, or exp - now without iat', async () => {
    const day = 24 * 60 * 60;
    for (const times of [{ iat: NOW_S - 10, exp: NOW_S - 10 + day + 1 }, { exp: NOW_S + day + 1 }, { iat: NOW_S + 3600, exp: NOW_S + day + 60 }, { iat: NOW_S, exp: NOW_S + 10 * 365 * day }]) {
      const error = await refusal(await sign(times));
      expect(error.code, JSON.stringify(times)).toBe('AUTH_INVALID_TOKEN');
      expect(error.message).toMatch(/lifetime exceeds tokens\.lifetimeMaxMs \(86400 s\)/);
    }
  });

  it('tokens - a lifetime up to lifetimeMaxMs verifies, and so does a dev token issued at the limit', async () => {
    const day = 24 * 60 * 60;
    for (const times of [{ iat: NOW_S - 10, exp: NOW_S - 10 + day }, { exp: NOW_S + day }, { iat: NOW_S - 10, exp: NOW_S + 60 }]) {
      expect((await tokens.verify(await sign(times), NOW_MS)).playerId).toBe('alice');
    }
    // A TTL that is not whole seconds still fits: JWT times round to seconds.
    const odd = new PlayerTokens({ issuer: 'iss', audience: 'aud', keys: [KEY], lifetimeMaxMs: 1500, clockSkewMs: 0 });
    const issued = await odd.issue('bob', 1500, NOW_MS + 600);
    expect((await odd.verify(issued.token, NOW_MS + 700)).playerId).toBe('bob');
    // The answer names the exp the token carries (whole seconds), not a time between two.
    expect(issued.expiresAtMs).toBe(Math.floor((NOW_MS + 2100) / 1000) * 1000);
  });

  it('tokens - clockSkewMs (default 30 s) allows an issuer clock that is off: ahead stamps a longer-looking lifetime, behind a recent exp', async () => {
    const day = 24 * 60 * 60;
    const skewed = new PlayerTokens({ issuer: 'iss', audience: 'aud', keys: [KEY], lifetimeMaxMs: 24 * HOUR_MS });
    // The issuer's clock runs 20 s ahead: a full-lifetime token, iat in our future.
    for (const times of [{ iat: NOW_S + 20, exp: NOW_S + 20 + day }, { exp: NOW_S + 20 + day }]) {
      expect((await skewed.verify(await sign(times), NOW_MS)).playerId, JSON.stringify(times)).toBe('alice');
      expect((await refusal(await sign(times))).message).toMatch(/lifetime exceeds/);
    }
    // The issuer's clock runs behind: exp 10 s ago by ours is still inside the allowance.
    expect((await skewed.verify(await sign({ iat: NOW_S - 100, exp: NOW_S - 10 }), NOW_MS)).playerId).toBe('alice');
    expect((await refusal(await sign({ iat: NOW_S - 100, exp: NOW_S - 31 }), skewed)).code).toBe('AUTH_TOKEN_EXPIRED');
    // The resume token of such a token is clamped to the maximum lifetime and never outlives it.
    const ahead = await skewed.verify(await sign({ iat: NOW_S + 20, exp: NOW_S + 20 + day }), NOW_MS);
    expect((await skewed.resume(ahead, NOW_MS)).expiresAtMs).toBe(NOW_MS + 24 * HOUR_MS);
    const late = await skewed.verify(await sign({ iat: NOW_S - 100, exp: NOW_S - 10 }), NOW_MS);
    expect((await skewed.resume(late, NOW_MS)).expiresAtMs).toBe(NOW_MS);
    // Beyond the allowance both still fail closed.
    expect((await refusal(await sign({ iat: NOW_S + 31, exp: NOW_S + 31 + day }), skewed)).message).toMatch(/lifetime exceeds/);
  });

  it('tokens - issuing beyond lifetimeMaxMs is a programmer error', async () => {
    await expect(tokens.issue('bob', 24 * HOUR_MS + 1, NOW_MS)).rejects.toThrow(/exceeds lifetimeMaxMs/);
  });
});
