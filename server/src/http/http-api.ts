/**
 * The node's HTTP endpoints, as plain async functions of a parsed request so the transport stays
 * a thin adapter. Errors are JSON `{ "error": { "code", "message" } }` with stable codes.
 */
import { RingstateError, type ErrorCode } from '@ringstate/protocol';

export interface HttpRequestInfo {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Uint8Array;
  /** The peer's IP address as text (IPv4 or IPv6). */
  readonly remoteAddress: string;
}

export interface HttpResult {
  readonly status: number;
  readonly contentType: string;
  readonly body: string | Uint8Array;
  /** Extra response headers (for example CORS on the public host-suggestion endpoint). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type HttpRoute = (request: HttpRequestInfo) => Promise<HttpResult> | HttpResult;

export function json(status: number, value: unknown): HttpResult {
  return { status, contentType: 'application/json', body: JSON.stringify(value) };
}

export function errorResult(code: ErrorCode, message: string): HttpResult {
  return json(statusOf(code), { error: { code, message } });
}

function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'NOT_FOUND':
      return 404;
    case 'BODY_TOO_LARGE':
    case 'ENTRY_TOO_LARGE':
      return 413;
    case 'AUTH_INVALID_TOKEN':
    case 'AUTH_TOKEN_EXPIRED':
    case 'CREDENTIAL_EXPIRED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'RATE_LIMITED':
      return 429;
    case 'MEMBERSHIP_REFUSED':
    case 'COMMAND_ID_REUSED':
      return 409;
    case 'UNAVAILABLE':
    case 'NO_QUORUM':
    case 'SHUTTING_DOWN':
    case 'OVERLOADED':
      return 503;
    case 'INTERNAL':
    case 'STORE_DAMAGED':
      return 500;
    default:
      return 400;
  }
}

/** Routes by "METHOD /path"; unknown paths answer NOT_FOUND, and route errors become error JSON. */
export class HttpRouter {
  private readonly routes = new Map<string, HttpRoute>();

  add(method: string, path: string, route: HttpRoute): this {
    this.routes.set(`${method} ${path}`, route);
    return this;
  }

  async handle(request: HttpRequestInfo): Promise<HttpResult> {
    const route = this.routes.get(`${request.method} ${request.path}`);
    if (route === undefined) return errorResult('NOT_FOUND', `no endpoint ${request.method} ${request.path}`);
    try {
      return await route(request);
    } catch (error) {
      if (error instanceof RingstateError) return errorResult(error.code, error.message);
      throw error;
    }
  }
}

/** Parses a JSON object body or throws INVALID_MESSAGE. */
export function parseJsonBody(body: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new RingstateError('INVALID_MESSAGE', 'body must be JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RingstateError('INVALID_MESSAGE', 'body must be a JSON object');
  return value as Record<string, unknown>;
}

/** True for 127.0.0.0/8 and ::1 (also in their IPv4-mapped IPv6 forms). */
export function isLoopbackAddress(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  return plain.startsWith('127.') || plain === '::1' || plain === '0000:0000:0000:0000:0000:0000:0000:0001';
}
