/**
 * The uWebSockets.js adapter: the only file that knows the WebSocket/HTTP library.
 *
 * WebSocket upgrades on /v1/ws become ClientSessions; every other request goes to the HttpRouter.
 * Sends from outside uWS callbacks are corked so each answer is one syscall, not several.
 *
 * Oversize frames: uWS refuses a frame above `maxPayloadLength` by dropping the TCP connection
 * without a close frame (the client sees 1006 and no reason). So `maxPayloadLength` is not the
 * protocol limit but FRAME_READ_BYTES_MAX (16 MiB, or 4x the protocol limit if that is more):
 * uWS reads an oversize frame to its end, and the session refuses it with a FRAME_TOO_LARGE
 * error frame (up to 4x `limits.frameBytesMax`) or closes with 1009 and reason FRAME_TOO_LARGE
 * (above). A connection buffers at most that much while a frame arrives, and only as many bytes
 * as the client actually sent (the idle timeout ends one that stops sending); frames above it
 * are still cut off by uWS (logged as oversize with `closedBy: "uws"`).
 */
import uWS from 'uWebSockets.js';
import { CloseCodes } from '@ringstate/protocol';
import type { Logger } from '../observability/index.ts';
import { isLoopbackAddress, type HttpRouter, type HttpRequestInfo } from '../http/index.ts';
import { ClientSession, FRAME_CLOSE_FACTOR, type ConnectionPort, type SessionDeps } from './session.ts';

/** uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT (1): listen without SO_REUSEPORT. */
const LISTEN_EXCLUSIVE_PORT = exclusivePortOption();

function exclusivePortOption(): number {
  const value = (uWS as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT?: unknown }).LIBUS_LISTEN_EXCLUSIVE_PORT;
  if (typeof value !== 'number') throw new Error('uWebSockets.js does not export LIBUS_LISTEN_EXCLUSIVE_PORT: this build cannot listen exclusively');
  return value;
}

interface SocketData {
  session?: ClientSession;
  open: boolean;
  /** Counted against limits.connectionsPerIpMax; undefined when exempt (loopback) or unlimited. */
  countedIp?: string;
  /** Counted against limits.handshakesInFlightMax until HELLO is accepted or the socket closes. */
  handshaking?: boolean;
  remoteAddress: string;
}

export interface GatewayOptions {
  readonly host: string;
  readonly port: number;
  readonly frameBytesMax: number;
  readonly idleTimeoutSeconds: number;
  readonly httpBodyBytesMax: number;
}

export class UwsGateway {
  private readonly app: uWS.TemplatedApp;
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly sessions = new Set<ClientSession>();
  private sessionCounter = 0;
  private readonly sessionPrefix = Math.random().toString(36).slice(2, 8);
  /** Open connections per remote IP, for limits.connectionsPerIpMax. */
  private readonly connectionsPerIp = new Map<string, number>();
  /** Connections upgraded and not yet past HELLO, for limits.handshakesInFlightMax. */
  private handshakesInFlight = 0;

  constructor(
    private readonly options: GatewayOptions,
    private readonly sessionDeps: SessionDeps,
    private readonly router: HttpRouter,
    private readonly logger: Logger,
  ) {
    this.app = uWS.App();
    this.app.ws<SocketData>('/v1/ws', {
      compression: uWS.DISABLED,
      maxPayloadLength: this.frameReadBytesMax,
      idleTimeout: options.idleTimeoutSeconds,
      // We enforce our own outgoing limit with a clear close code (session.ts); uWS's own is a backstop.
      maxBackpressure: 64 * 1024 * 1024,
      closeOnBackpressureLimit: 1,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => {
        const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
        // Strangers get a bounded share: each connection before HELLO may buffer one frame of up
        // to frameReadBytesMax, so their number is capped (and the handshake timeout ends each).
        const handshakesMax = this.sessionDeps.limits.handshakesInFlightMax;
        if (this.handshakesInFlight >= handshakesMax) {
          this.sessionDeps.metrics.limitTrips.inc({ limit: 'handshakes_in_flight' });
          this.sessionDeps.securityLog?.record({ kind: 'handshakes_in_flight', code: 'OVERLOADED', reason: 'HANDSHAKES_IN_FLIGHT_MAX', remoteAddress, detail: { handshakesInFlightMax: handshakesMax } });
          const body = JSON.stringify({ error: { code: 'OVERLOADED', message: `${handshakesMax} connections are still completing HELLO; retry shortly` } });
          res.cork(() => res.writeStatus(statusLine(503)).writeHeader('content-type', 'application/json').writeHeader('retry-after', '1').end(body));
          return;
        }
        const countedIp = this.admitIp(remoteAddress);
        if (countedIp === false) {
          this.sessionDeps.metrics.limitTrips.inc({ limit: 'connections_per_ip' });
          this.sessionDeps.securityLog?.record({ kind: 'connections_per_ip', code: 'RATE_LIMITED', reason: 'CONNECTIONS_PER_IP_MAX', remoteAddress, detail: { connectionsPerIpMax: this.sessionDeps.limits.connectionsPerIpMax } });
          const body = JSON.stringify({ error: { code: 'RATE_LIMITED', message: `more than ${this.sessionDeps.limits.connectionsPerIpMax} connections from this address` } });
          res.cork(() => res.writeStatus(statusLine(429)).writeHeader('content-type', 'application/json').end(body));
          return;
        }
        res.upgrade<SocketData>(
          countedIp === undefined ? { open: false, remoteAddress } : { open: false, countedIp, remoteAddress },
          req.getHeader('sec-websocket-key'),
          req.getHeader('sec-websocket-protocol'),
          req.getHeader('sec-websocket-extensions'),
          context,
        );
      },
      open: (ws) => {
        const data = ws.getUserData();
        data.open = true;
        data.handshaking = true;
        this.handshakesInFlight += 1;
        const port: ConnectionPort = {
          send: (frame) => {
            if (!data.open) return;
            ws.cork(() => ws.send(frame, true, false));
          },
          close: (code, reason) => {
            if (!data.open) return;
            data.open = false;
            ws.end(code, reason);
          },
          bufferedBytes: () => (data.open ? ws.getBufferedAmount() : 0),
          remoteAddress: data.remoteAddress,
          handshakeDone: () => this.endHandshake(data),
        };
        this.sessionCounter += 1;
        const session = new ClientSession(port, this.sessionDeps, `${this.sessionDeps.nodeId}-${this.sessionPrefix}-${this.sessionCounter}`);
        data.session = session;
        this.sessions.add(session);
        this.sessionDeps.metrics.connections.inc();
      },
      message: (ws, message, isBinary) => {
        // The ArrayBuffer is only valid during this callback; sessions decode synchronously.
        ws.getUserData().session?.receive(new Uint8Array(message), isBinary);
      },
      close: (ws, code, message) => {
        const data = ws.getUserData();
        // uWS cut the connection itself: a frame above maxPayloadLength (no close frame possible).
        if (code === 1006 && data.open && Buffer.from(message).toString() === UWS_TOO_BIG) {
          this.sessionDeps.metrics.limitTrips.inc({ limit: 'frame_bytes' });
          this.sessionDeps.securityLog?.record({ kind: 'oversize', code: 'FRAME_TOO_LARGE', reason: 'FRAME_OVER_UWS_MAX', remoteAddress: data.remoteAddress, player: data.session?.player, detail: { closedBy: 'uws', bytesMin: this.frameReadBytesMax + 1 } });
        }
        data.open = false;
        this.endHandshake(data);
        if (data.countedIp !== undefined) this.releaseIp(data.countedIp);
        if (data.session !== undefined) {
          data.session.closed();
          this.sessions.delete(data.session);
          this.sessionDeps.metrics.connections.dec();
        }
      },
    });
    this.app.any('/*', (res, req) => this.http(res, req));
  }

  private endHandshake(data: SocketData): void {
    if (data.handshaking !== true) return;
    data.handshaking = false;
    this.handshakesInFlight -= 1;
  }

  private get frameReadBytesMax(): number {
    return Math.max(FRAME_READ_BYTES_MAX, this.options.frameBytesMax * FRAME_CLOSE_FACTOR + 1);
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      // Exclusive: uSockets sets SO_REUSEPORT otherwise, and a second node on this port would
      // then share its connections instead of failing to bind. The (host, port, options, cb)
      // form and the constant are in the native binding but not in its typings (which declare an
      // enum `ListenOptions` that the module does not export).
      const listen = this.app.listen.bind(this.app) as unknown as (host: string, port: number, options: number, cb: (socket: uWS.us_listen_socket | false) => void) => void;
      listen(this.options.host, this.options.port, LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (socket === false) return reject(new Error(`cannot listen on ${this.options.host}:${this.options.port}`));
        this.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  /** Stops accepting, then closes every client with 1001 so SDKs reconnect elsewhere. */
  close(): void {
    if (this.listenSocket !== undefined) {
      uWS.us_listen_socket_close(this.listenSocket);
      this.listenSocket = undefined;
    }
    for (const session of [...this.sessions]) session.closeWith(CloseCodes.GOING_AWAY, 'SHUTTING_DOWN');
  }

  /**
   * Counts a new connection from `ip`: the address to release on close, undefined when not
   * counted (loopback, or no limit), false when the address is at its limit. The count is taken
   * at upgrade, so a connection that never completes the upgrade is released by the same close.
   */
  private admitIp(ip: string): string | undefined | false {
    const max = this.sessionDeps.limits.connectionsPerIpMax;
    if (max === 0 || isLoopbackAddress(ip)) return undefined;
    const open = this.connectionsPerIp.get(ip) ?? 0;
    if (open >= max) return false;
    this.connectionsPerIp.set(ip, open + 1);
    return ip;
  }

  private releaseIp(ip: string): void {
    const open = (this.connectionsPerIp.get(ip) ?? 1) - 1;
    if (open <= 0) this.connectionsPerIp.delete(ip);
    else this.connectionsPerIp.set(ip, open);
  }

  private http(res: uWS.HttpResponse, req: uWS.HttpRequest): void {
    const method = req.getMethod().toUpperCase();
    const path = req.getUrl();
    const query = new URLSearchParams(req.getQuery() ?? '');
    const headers = new Map<string, string>();
    req.forEach((key, value) => headers.set(key, value));
    const remoteAddress = Buffer.from(res.getRemoteAddressAsText()).toString();
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const respond = (status: number, contentType: string, body: string | Uint8Array, extra?: Readonly<Record<string, string>>): void => {
      if (aborted) return;
      res.cork(() => {
        res.writeStatus(statusLine(status)).writeHeader('content-type', contentType).writeHeader('cache-control', 'no-store');
        for (const [name, value] of Object.entries(extra ?? {})) res.writeHeader(name, value);
        res.end(body);
      });
    };
    const chunks: Uint8Array[] = [];
    let received = 0;
    let tooLarge = false;
    res.onData((chunk, isLast) => {
      if (tooLarge) return;
      received += chunk.byteLength;
      if (received > this.options.httpBodyBytesMax) {
        tooLarge = true;
        this.sessionDeps.metrics.limitTrips.inc({ limit: 'http_body_bytes' });
        this.sessionDeps.securityLog?.record({ kind: 'oversize', code: 'BODY_TOO_LARGE', reason: 'BODY_OVER_MAX', remoteAddress, detail: { path: path.slice(0, 128), method } });
        const body = JSON.stringify({ error: { code: 'BODY_TOO_LARGE', message: `body exceeds ${this.options.httpBodyBytesMax} bytes` } });
        respond(413, 'application/json', body);
        return;
      }
      // Copy: uWS reuses the chunk's memory after this callback returns.
      chunks.push(new Uint8Array(chunk.slice(0)));
      if (!isLast) return;
      const request: HttpRequestInfo = { method, path, query, headers, body: concat(chunks, received), remoteAddress };
      this.router.handle(request).then(
        (result) => respond(result.status, result.contentType, result.body, result.headers),
        (error: unknown) => {
          this.logger.error({ err: error, path }, 'http handler failed');
          respond(500, 'application/json', JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }));
        },
      );
    });
  }
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * uWS maxPayloadLength. Not a setting: nothing legitimate comes near it (the SDK never sends a
 * frame over `limits.frameBytesMax`); it bounds what one connection can make the node hold while
 * it sends an oversize frame, which is then refused with 1009 instead of a bare TCP drop.
 */
const FRAME_READ_BYTES_MAX = 16 * 1024 * 1024;

/** The reason uWS gives its own close when a frame exceeds maxPayloadLength (WebSocketProtocol.h). */
const UWS_TOO_BIG = 'Received too big message';

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Status'}`;
}
