/**
 * Fetches a player token from a server running in dev mode (`POST /v1/dev/token`). Only for
 * development and tests: production tokens come from the game's own backend.
 */
import { RingstateError } from '@ringstate/protocol';

export interface DevToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

export interface DevTokenOptions {
  /** `host:port` of any node, e.g. `localhost:7070`. */
  readonly host: string;
  readonly player: string;
  readonly secure?: boolean;
  /** Defaults to `globalThis.fetch` (Node >= 18, browsers, React Native). */
  readonly fetch?: typeof globalThis.fetch;
}

export async function fetchDevToken(options: DevTokenOptions): Promise<DevToken> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const url = `${options.secure === true ? 'https' : 'http'}://${options.host}/v1/dev/token`;
  const response = await fetchImpl(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ player: options.player }),
  });
  if (!response.ok) {
    throw new RingstateError('AUTH_INVALID_TOKEN', `POST ${url} answered ${response.status} (is the server in dev mode?)`);
  }
  const body = (await response.json()) as Partial<DevToken>;
  if (typeof body.token !== 'string' || typeof body.expiresAtMs !== 'number') {
    throw new RingstateError('INTERNAL', `POST ${url} answered without token and expiresAtMs`);
  }
  return { token: body.token, expiresAtMs: body.expiresAtMs };
}
