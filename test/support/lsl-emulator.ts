/**
 * An emulator of what Second Life does around a script, for end-to-end tests of the SL API,
 * plus a TypeScript model of client-sdk/lsl/ringstate-client.lsl that runs on it.
 *
 * LslSimulator behaves like the region simulator:
 *   - llHTTPRequest adds the X-SecondLife-* headers, User-Agent and the LSL content type;
 *   - it refuses requests beyond its throttle (token bucket, ~1/s) by returning NULL_KEY;
 *   - it cuts response bodies at 2048 bytes (or HTTP_BODY_MAXLENGTH) and records a violation,
 *     which the tests assert never happens;
 *   - it gives up after `timeoutMs` (60 s in SL) with status 499, and reports refused
 *     connections as 499 too;
 *   - llRequestURL opens an HTTP-in URL (node:http on loopback) that cuts incoming bodies at
 *     2048 bytes, answers 504 when the script takes longer than 25 s, and can be "lost" the
 *     way a region restart loses it (connection refused, 404, or a hang).
 *
 * LslClientModel mirrors the LSL script's logic step for step (queue spaced at ~1 request/s,
 * host rotation on NULL_KEY, 499 and 5xx, llHMAC signing with its own llEscapeURL, long-poll
 * with resume by seq, push registration and re-registration). It starts from seq 0, where the
 * script without a saved cursor first reads the state's seq (0 for the fresh aggregates used
 * here). It deliberately signs with its
 * own code, not the server's, so a canonicalisation mismatch between script and server fails
 * the tests.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export const NULL_KEY = '00000000-0000-0000-0000-000000000000';
const LSL_BODY_BYTES = 2048;
const HTTP_IN_BODY_BYTES = 2048;
const HTTP_IN_ANSWER_MS = 25_000;

export interface LslHttpResult {
  /** NULL_KEY when the throttle refused the request (nothing was sent). */
  readonly key: string;
  readonly status: number;
  readonly body: string;
}

export interface LslRequestParams {
  readonly method?: 'GET' | 'POST';
  readonly body?: string;
  readonly mimeType?: string;
  readonly customHeaders?: Readonly<Record<string, string>>;
  /** HTTP_BODY_MAXLENGTH; 2048 when not set. */
  readonly bodyMaxLength?: number;
}

export interface SimulatorOptions {
  readonly objectKey?: string;
  readonly ownerKey?: string;
  readonly region?: string;
  /** llHTTPRequest throttle: sustained requests per second, and burst. */
  readonly ratePerSecond?: number;
  readonly burst?: number;
  /** llHTTPRequest gives up after this (60 s in SL), with 499. */
  readonly timeoutMs?: number;
}

export type HttpInHandler = (request: { method: string; body: string; query: string; headers: Readonly<Record<string, string>> }) => Promise<{ status: number; body: string }>;

export class LslSimulator {
  readonly violations: string[] = [];
  readonly objectKey: string;
  readonly ownerKey: string;
  sent = 0;
  throttled = 0;
  private tokens: number;
  private lastRefillMs = Date.now();
  private readonly ratePerSecond: number;
  private readonly burst: number;
  private readonly timeoutMs: number;
  private readonly region: string;
  private httpIn: { server: Server; url: string; mode: 'live' | 'refuse' | '404' | 'hang' } | undefined;
  private httpInHandler: HttpInHandler | undefined;
  readonly httpInReceived: Array<{ body: string; query: string }> = [];

  constructor(options: SimulatorOptions = {}) {
    this.objectKey = options.objectKey ?? randomUUID();
    this.ownerKey = options.ownerKey ?? randomUUID();
    this.region = options.region ?? 'Ringstate Test (256000, 256000)';
    this.ratePerSecond = options.ratePerSecond ?? 1;
    this.burst = options.burst ?? 2;
    this.tokens = this.burst;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** llHTTPRequest: resolves when http_response would fire. */
  async llHTTPRequest(url: string, params: LslRequestParams = {}): Promise<LslHttpResult> {
    if (!this.takeToken()) {
      this.throttled += 1;
      return { key: NULL_KEY, status: 0, body: '' };
    }
    this.sent += 1;
    const key = randomUUID();
    const method = params.method ?? 'GET';
    const headers: Record<string, string> = {
      'user-agent': 'Second Life LSL/2026.01.01.000000 (https://secondlife.com)',
      'x-secondlife-shard': 'Production',
      'x-secondlife-region': this.region,
      'x-secondlife-owner-name': 'Test Resident',
      'x-secondlife-owner-key': this.ownerKey,
      'x-secondlife-object-name': 'Ringstate Object',
      'x-secondlife-object-key': this.objectKey,
      'x-secondlife-local-position': '(128.000000, 128.000000, 25.000000)',
      'content-type': `${params.mimeType ?? 'text/plain'}; charset=utf-8`,
      ...params.customHeaders,
    };
    const limit = params.bodyMaxLength ?? LSL_BODY_BYTES;
    try {
      const response = await fetch(url, {
        method,
        headers,
        ...(method === 'POST' ? { body: params.body ?? '' } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      if (bytes.byteLength > limit) this.violations.push(`response of ${bytes.byteLength} bytes from ${new URL(url).pathname} cut at ${limit}`);
      return { key, status: response.status, body: bytes.subarray(0, limit).toString('utf8') };
    } catch {
      // SL reports timeouts (and failed connections) as 499.
      return { key, status: 499, body: '' };
    }
  }

  /** llRequestURL: a fresh HTTP-in URL that delivers to `handler`. */
  async llRequestURL(handler: HttpInHandler): Promise<string> {
    this.httpInHandler = handler;
    if (this.httpIn !== undefined && this.httpIn.mode === 'live') return this.httpIn.url;
    const server = createServer((request, response) => void this.serveHttpIn(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    this.httpIn = { server, url: `http://127.0.0.1:${address.port}/cap/${randomUUID()}`, mode: 'live' };
    return this.httpIn.url;
  }

  /** What a region restart does to the URL: it stops answering (refused), answers 404, or hangs. */
  async loseUrl(mode: 'refuse' | '404' | 'hang' = 'refuse'): Promise<void> {
    const current = this.httpIn;
    if (current === undefined) return;
    current.mode = mode;
    if (mode === 'refuse') {
      this.httpIn = undefined;
      current.server.closeAllConnections();
      await new Promise<void>((resolve) => current.server.close(() => resolve()));
    }
  }

  async close(): Promise<void> {
    const current = this.httpIn;
    this.httpIn = undefined;
    if (current === undefined) return;
    current.server.closeAllConnections();
    await new Promise<void>((resolve) => current.server.close(() => resolve()));
  }

  private async serveHttpIn(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const mode = this.httpIn?.mode ?? 'refuse';
    if (mode === 'hang') return; // never answers: the sender's timeout fires
    const base = this.httpIn?.url ?? '';
    const [path = '', query = ''] = (request.url ?? '').split('?', 2);
    if (mode === '404' || base === '' || !base.endsWith(path)) {
      response.writeHead(404).end('cap not found');
      return;
    }
    let bytes = Buffer.concat(chunks);
    if (bytes.byteLength > HTTP_IN_BODY_BYTES) {
      this.violations.push(`HTTP-in body of ${bytes.byteLength} bytes cut at ${HTTP_IN_BODY_BYTES}`);
      bytes = bytes.subarray(0, HTTP_IN_BODY_BYTES);
    }
    const body = bytes.toString('utf8');
    this.httpInReceived.push({ body, query });
    const headers: Record<string, string> = { 'x-query-string': query, 'x-remote-ip': request.socket.remoteAddress ?? '' };
    const handler = this.httpInHandler;
    if (handler === undefined) {
      response.writeHead(500).end();
      return;
    }
    const answer = await Promise.race([
      handler({ method: request.method ?? 'GET', body, query, headers }),
      new Promise<{ status: number; body: string }>((resolve) => setTimeout(() => resolve({ status: 504, body: 'script did not answer in 25 s' }), HTTP_IN_ANSWER_MS).unref()),
    ]);
    response.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8' }).end(answer.body);
  }

  private takeToken(): boolean {
    const nowMs = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastRefillMs) * this.ratePerSecond) / 1000);
    this.lastRefillMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

// ---- the script model ------------------------------------------------------------------

/** llEscapeURL: every byte but A-Z a-z 0-9 as %XX (upper-case hex). */
export function llEscapeURL(text: string): string {
  return [...Buffer.from(text, 'utf8')].map((byte) => (/[A-Za-z0-9]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** llHMAC(key, message, "sha256"). */
export function llHMAC(key: string, message: string): string {
  return createHmac('sha256', key).update(message, 'utf8').digest('base64');
}

/** The hosts notecard: one host:port per line, blank lines and # comments ignored. */
export function parseHostsNotecard(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

export interface ClientModelOptions {
  readonly sim: LslSimulator;
  readonly hosts: readonly string[];
  readonly objectId: string;
  readonly secret: string;
  /** The credential's expiry (unix seconds), as POST /v1/sl/objects answered it. */
  readonly exp: number;
  /**
   * The script's renewal (TOKEN_URL, then POST /v1/sl/objects/renew): called when a request is
   * refused CREDENTIAL_EXPIRED; the refused request is then sent again with the new credential.
   */
  readonly renew?: () => Promise<{ readonly secret: string; readonly exp: number }>;
  readonly aggregate: { readonly type: string; readonly id: string };
  /** 'poll': keep one long-poll open; 'push': register an HTTP-in URL; 'none': commands only. */
  readonly mode: 'poll' | 'push' | 'none';
  /** Spacing of requests (the script's QUEUE_SPACING, ~1 s). */
  readonly spacingMs?: number;
  readonly waitSeconds?: number;
  /** Seconds between registrations; the script uses ttl/2 from the server. */
  readonly reregisterSeconds?: number;
  /** Clock offset added to llGetUnixTime, to model a skewed region clock. */
  readonly clockSkewSeconds?: number;
}

export interface ReceivedEvent {
  readonly s: number;
  readonly p: string;
  readonly e?: ReadonlyArray<Record<string, unknown>>;
  readonly big?: number;
  readonly atMs: number;
}

interface Outgoing {
  readonly kind: 'command' | 'poll' | 'register' | 'state';
  readonly path: string;
  readonly method: 'GET' | 'POST';
  /** GET: the sorted query; POST: the body. Rebuilt on each attempt for polls (cursor may move). */
  readonly payload: () => string;
  readonly done: (result: LslHttpResult) => void;
  attempts: number;
}

export class LslClientModel {
  readonly received: ReceivedEvent[] = [];
  readonly rotations: Array<{ from: string; why: string; atMs: number }> = [];
  readonly statuses: number[] = [];
  after = 0;
  hostIndex = 0;
  private readonly queue: Outgoing[] = [];
  private lastSendMs = 0;
  private running = false;
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;
  private pollOutstanding = false;
  private reregisterTimer: ReturnType<typeof setInterval> | undefined;
  private nonceCounter = 0;
  private readonly listeners = new Set<() => void>();
  /** The current credential: the one provisioned, then each renewal's. */
  private secret: string;
  private exp: number;
  renewals = 0;

  constructor(private readonly options: ClientModelOptions) {
    this.secret = options.secret;
    this.exp = options.exp;
  }

  get host(): string {
    return this.options.hosts[this.hostIndex % this.options.hosts.length] ?? '';
  }

  async start(): Promise<void> {
    this.running = true;
    if (this.options.mode === 'poll') this.enqueuePoll();
    if (this.options.mode === 'push') {
      await this.requestUrlAndRegister();
      this.reregisterTimer = setInterval(() => this.enqueueRegister(), (this.options.reregisterSeconds ?? 60) * 1000);
    }
    this.schedule();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.pumpTimer);
    clearInterval(this.reregisterTimer);
  }

  /** changed(CHANGED_REGION_START): the old URL is gone; get a new one and register it. */
  async regionRestarted(): Promise<void> {
    await this.requestUrlAndRegister();
  }

  /** Sends a command (link message 'rs:cmd' in the script); resolves with the final response. */
  command(command: Record<string, unknown>, id: string = randomUUID()): Promise<{ status: number; body: Record<string, unknown> }> {
    const body = JSON.stringify({ id, a: this.options.aggregate.type, i: this.options.aggregate.id, c: command });
    return new Promise((resolve) => {
      this.queue.push({ kind: 'command', path: '/v1/sl/commands', method: 'POST', payload: () => body, attempts: 0, done: (result) => resolve({ status: result.status, body: parse(result.body) }) });
      this.schedule();
    });
  }

  readState(keys?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const { type, id } = this.options.aggregate;
    const query = `a=${llEscapeURL(type)}&i=${llEscapeURL(id)}${keys === undefined ? '' : `&k=${llEscapeURL(keys)}`}`;
    return new Promise((resolve) => {
      this.queue.push({ kind: 'state', path: '/v1/sl/state', method: 'GET', payload: () => query, attempts: 0, done: (result) => resolve({ status: result.status, body: parse(result.body) }) });
      this.schedule();
    });
  }

  /** Resolves once `predicate` holds over the received events (checked on every arrival). */
  waitFor(predicate: (received: readonly ReceivedEvent[]) => boolean, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.received)) return;
        this.listeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`timed out; received seqs ${this.received.map((event) => event.s).join(',')}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  private async requestUrlAndRegister(): Promise<void> {
    this.url = await this.options.sim.llRequestURL((request) => this.onHttpIn(request));
    this.enqueueRegister();
  }

  private url = '';

  private enqueueRegister(): void {
    if (this.queue.some((item) => item.kind === 'register')) return;
    const { type, id } = this.options.aggregate;
    this.queue.push({
      kind: 'register',
      path: '/v1/sl/register',
      method: 'POST',
      payload: () => JSON.stringify({ a: type, i: id, url: this.url, after: this.after }),
      attempts: 0,
      done: () => undefined,
    });
    this.schedule();
  }

  private enqueuePoll(): void {
    if (!this.running || this.pollOutstanding) return;
    this.pollOutstanding = true;
    const { type, id } = this.options.aggregate;
    const wait = this.options.waitSeconds ?? 20;
    this.queue.push({
      kind: 'poll',
      path: '/v1/sl/events',
      method: 'GET',
      // Sorted by name, as the canonical form requires: a, after, i, wait.
      payload: () => `a=${llEscapeURL(type)}&after=${this.after}&i=${llEscapeURL(id)}&wait=${wait}`,
      attempts: 0,
      done: (result) => {
        this.pollOutstanding = false;
        if (result.status === 200) this.acceptBatch(result.body);
        this.enqueuePoll();
      },
    });
    this.schedule();
  }

  private acceptBatch(body: string): void {
    const batch = parse(body) as { seq?: number; ev?: Array<Omit<ReceivedEvent, 'atMs'>>; reset?: number };
    const atMs = Date.now();
    for (const event of batch.ev ?? []) {
      if (event.s > this.after) {
        this.received.push({ ...event, atMs });
        this.after = event.s;
      }
    }
    if (batch.reset === 1 && typeof batch.seq === 'number') this.after = batch.seq;
    for (const listener of [...this.listeners]) listener();
  }

  private async onHttpIn(request: { body: string; query: string }): Promise<{ status: number; body: string }> {
    // Verify like the script: t, n, s from x-query-string, HMAC over the push canonical string.
    const params = new Map(request.query.split('&').map((pair) => pair.split('=', 2) as [string, string]));
    const time = params.get('t') ?? '';
    const nonce = params.get('n') ?? '';
    const signature = decodeURIComponent(params.get('s') ?? '');
    const expected = llHMAC(this.secret, `POST\n/v1/sl/push\n${time}\n${nonce}\n${request.body}`);
    if (signature !== expected) return { status: 403, body: 'bad signature' };
    if (Math.abs(this.unixTime() - Number(time)) > 300) return { status: 403, body: 'stale' };
    this.acceptBatch(request.body);
    return { status: 200, body: 'ok' };
  }

  private schedule(): void {
    if (!this.running || this.pumpTimer !== undefined || this.queue.length === 0) return;
    const spacingMs = this.options.spacingMs ?? 1_050;
    const delayMs = Math.max(0, this.lastSendMs + spacingMs - Date.now());
    this.pumpTimer = setTimeout(() => {
      this.pumpTimer = undefined;
      this.sendNext();
    }, delayMs);
  }

  private sendNext(): void {
    const item = this.queue.shift();
    if (item === undefined || !this.running) return;
    this.lastSendMs = Date.now();
    item.attempts += 1;
    const time = this.unixTime();
    this.nonceCounter += 1;
    const nonce = `${randomUUID().slice(0, 8)}-${this.nonceCounter}`;
    const payload = item.payload();
    const signature = llHMAC(this.secret, `${item.method}\n${item.path}\n${time}\n${nonce}\n${payload}`);
    const host = this.host;
    const url = `http://${host}${item.path}${item.method === 'GET' ? `?${payload}` : ''}`;
    const request = this.options.sim.llHTTPRequest(url, {
      method: item.method,
      ...(item.method === 'POST' ? { body: payload, mimeType: 'application/json' } : {}),
      customHeaders: { 'X-Ringstate-Object': this.options.objectId, 'X-Ringstate-Expires': String(this.exp), 'X-Ringstate-Time': String(time), 'X-Ringstate-Nonce': nonce, 'X-Ringstate-Signature': signature },
    });
    this.schedule();
    void request.then((result) => this.onResponse(item, host, result));
  }

  private onResponse(item: Outgoing, host: string, result: LslHttpResult): void {
    this.statuses.push(result.status);
    const retryable = result.key === NULL_KEY || result.status === 499 || result.status >= 500 || result.status === 429;
    if (retryable && this.running) {
      // The script rotates on NULL_KEY, 499 and 5xx; 429 only waits for the next slot.
      if (result.status !== 429 && host === this.host) {
        this.rotations.push({ from: host, why: result.key === NULL_KEY ? 'NULL_KEY' : String(result.status), atMs: Date.now() });
        this.hostIndex = (this.hostIndex + 1) % this.options.hosts.length;
        // A new host may hold none of our push registrations (in memory per node).
        if (this.options.mode === 'push' && item.kind !== 'register') this.enqueueRegister();
      }
      this.queue.unshift(item);
      this.schedule();
      return;
    }
    const renew = this.options.renew;
    if (result.status === 401 && renew !== undefined && this.running && (parse(result.body)['error'] as { code?: unknown } | undefined)?.code === 'CREDENTIAL_EXPIRED') {
      // Like the script: fetch a fresh token, renew, then send the refused request again (and
      // register again, since a registration ends with the credential that made it).
      void renew().then((fresh) => {
        this.secret = fresh.secret;
        this.exp = fresh.exp;
        this.renewals += 1;
        this.queue.unshift(item);
        if (this.options.mode === 'push' && item.kind !== 'register') this.enqueueRegister();
        this.schedule();
      }, () => item.done(result));
      return;
    }
    item.done(result);
  }

  private unixTime(): number {
    return Math.floor(Date.now() / 1000) + (this.options.clockSkewSeconds ?? 0);
  }
}

function parse(body: string): Record<string, unknown> {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return {};
  }
}
