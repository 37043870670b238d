/**
 * Who may use the operator endpoints (/v1/admin/* and /dashboard).
 *
 * Outside dev mode every request must carry `Authorization: Bearer <admin.token>`, loopback
 * included: "loopback" stops meaning "the operator" as soon as a reverse proxy runs on the same
 * host, because then every client arrives from 127.0.0.1. In dev mode loopback clients need no
 * token (one machine, one developer); remote clients always need it.
 *
 * The one exception is the dashboard page itself (scope 'page'): a static document with no
 * data, served to loopback clients so that a browser behind a tunnel can load it and then send
 * the token (taken from the URL fragment or typed in) on every data request.
 *
 * Tokens are compared as SHA-256 digests with timingSafeEqual: equal lengths always, so neither
 * the content nor the length of the configured token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { errorResult, isLoopbackAddress, type HttpRequestInfo, type HttpResult } from '../http/index.ts';
import type { SecurityLog } from './security-log.ts';

export interface AdminAccess {
  /** `admin.token`; without it, outside dev mode, every admin request is refused (fail closed). */
  readonly token: string | undefined;
  readonly devMode: boolean;
  readonly securityLog?: SecurityLog | undefined;
}

/** 'data': admin API and the JSON the dashboard polls. 'page': the dashboard's static HTML. */
export type AdminScope = 'data' | 'page';

type Verdict = 'allowed' | 'token-missing' | 'token-wrong' | 'token-unset';

export function adminVerdict(request: HttpRequestInfo, access: AdminAccess, scope: AdminScope = 'data'): Verdict {
  const presented = bearerToken(request.headers.get('authorization'));
  if (presented !== undefined && access.token !== undefined && sameSecret(presented, access.token)) return 'allowed';
  if (isLoopbackAddress(request.remoteAddress) && (access.devMode || scope === 'page')) return 'allowed';
  if (access.token === undefined) return 'token-unset';
  return presented === undefined ? 'token-missing' : 'token-wrong';
}

/** undefined when the request may proceed; otherwise the 403 FORBIDDEN answer (and a security log line). */
export function refuseAdmin(request: HttpRequestInfo, access: AdminAccess, scope: AdminScope = 'data'): HttpResult | undefined {
  const verdict = adminVerdict(request, access, scope);
  if (verdict === 'allowed') return undefined;
  access.securityLog?.record({
    kind: 'admin_refused',
    code: 'FORBIDDEN',
    reason: verdict,
    remoteAddress: request.remoteAddress,
    detail: { path: request.path, method: request.method },
  });
  return errorResult('FORBIDDEN', refusalMessage(verdict, access.devMode));
}

function refusalMessage(verdict: Exclude<Verdict, 'allowed'>, devMode: boolean): string {
  if (verdict === 'token-unset') return 'admin endpoints are closed: this node has no admin.token';
  if (verdict === 'token-wrong') return 'the admin token is not valid';
  return devMode ? 'admin endpoints answer loopback clients or Authorization: Bearer <admin.token>' : 'admin endpoints need Authorization: Bearer <admin.token>';
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match?.[1];
}

function sameSecret(presented: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
