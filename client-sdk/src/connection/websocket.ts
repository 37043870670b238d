/**
 * The WebSocket seam. The core never imports a socket library: it takes a constructor that
 * behaves like the WHATWG WebSocket (browsers, React Native, Node >= 22, or the `ws` package
 * in Node 20) and uses only the members below.
 */

/** The subset of the WHATWG WebSocket the SDK uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  // Handler parameters are typed `never` so that the stricter handler types of real
  // implementations (DOM MessageEvent, ws's MessageEvent) are assignable; the SDK assigns its
  // own handlers, typed with the *EventLike interfaces below.
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface MessageEventLike {
  readonly data: unknown;
}

export interface CloseEventLike {
  readonly code?: number;
  readonly reason?: string;
}

/** WebSocket.OPEN; read from the spec rather than the constructor, which fakes may lack. */
export const WEBSOCKET_OPEN = 1;

/** Close codes the client itself uses (the 4000-4999 range is for applications). */
export const ClientCloseCodes = {
  NORMAL: 1000,
  /** No pong within the heartbeat deadline. */
  HEARTBEAT_TIMEOUT: 4100,
  /** No WELCOME within the connect timeout. */
  HANDSHAKE_TIMEOUT: 4101,
} as const;

/** The bytes of a binary frame, or undefined for a text frame or an unsupported type. */
export function frameBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

export function defaultWebSocket(): WebSocketConstructor {
  const candidate = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (candidate === undefined) {
    throw new TypeError(
      'ringstate: no global WebSocket in this environment (Node 20 has none); pass the ' +
        "`WebSocket` option, e.g. `import WebSocket from 'ws'`.",
    );
  }
  return candidate;
}
