/**
 * Issue 12 "Fail closed", over real sockets against in-process nodes:
 * - outside dev mode the admin endpoints need the admin token from loopback too (a reverse proxy
 *   on the same host makes every client look like loopback); dev mode keeps loopback open
 * - oversize WebSocket frames (65 KB, 10 MB) end with close 1009 and reason FRAME_TOO_LARGE,
 *   not a bare TCP drop (1006)
 * - refusals show up as structured, rate-limited security warnings
 */
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleGame } from '../../server/example-game/index.ts';
import { loadConfig } from '../../server/src/config/index.ts';
import { GameNode } from '../../server/src/game-node.ts';
import { tempDir } from '../support/temp-dir.ts';

const ADMIN_TOKEN = 'fail-closed-admin-token-0123456789abcdef0123';
const TOKEN_KEY = { kid: 'k1', secret: 'fail-closed-token-key-0123456789abcdef0123456' };
const MASTER_KEY = 'fail-closed-sl-master-key-0123456789abcdef012345';
const ADMIN_READS = ['/v1/admin/cluster', '/v1/admin/stats', '/v1/admin/aggregate?type=player&id=ann'];

interface LogLine {
  level: number;
  msg: string;
  security?: string;
  code?: string;
  remoteAddress?: string;
  reason?: string;
  path?: string;
  object?: string;
  bytes?: number;
  closed?: boolean;
  suppressed?: number;
}

interface RunningNode {
  node: GameNode;
  base: string;
  ws: string;
  lines: LogLine[];
  stop: () => Promise<void>;
}

async function startNode(devMode: boolean, limits: Record<string, number> = {}): Promise<RunningNode> {
  const dir = tempDir(devMode ? 'fail-closed-dev' : 'fail-closed');
  const lines: LogLine[] = [];
  const config = loadConfig({
    overrides: {
      nodeId: devMode ? 'dev-1' : 'prod-1',
      port: 0,
      dataDir: dir.path,
      devMode,
      replicationFactor: 1,
      logLevel: 'info',
      tokens: { keys: [TOKEN_KEY] },
      admin: { token: ADMIN_TOKEN },
      secondLife: { enabled: true, masterKey: MASTER_KEY },
      limits,
    },
  });
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  const node = new GameNode({ config, aggregates: exampleGame, logger, processMetrics: false });
  await node.start();
  return {
    node,
    base: `http://127.0.0.1:${node.port}`,
    ws: `ws://127.0.0.1:${node.port}/v1/ws`,
    lines,
    stop: async () => {
      await node.stop();
      dir.remove();
    },
  };
}

async function status(url: string, init: RequestInit = {}): Promise<{ status: number; code: string | undefined }> {
  const response = await fetch(url, init);
  const text = await response.text();
  const code = response.headers.get('content-type')?.includes('json') === true ? (JSON.parse(text) as { error?: { code: string } }).error?.code : undefined;
  return { status: response.status, code };
}

const bearer = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

/** Sends one binary frame of `bytes` after the upgrade; resolves the close code and reason the client saw. */
function sendOversize(url: string, bytes: number): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error(`no close within 15 s for a ${bytes}-byte frame`)), 15_000);
    socket.once('open', () => socket.send(Buffer.alloc(bytes, 7)));
    socket.on('error', () => undefined);
    socket.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

describe('fail closed - outside dev mode', () => {
  let prod: RunningNode;
  beforeAll(async () => {
    prod = await startNode(false);
  });
  afterAll(async () => {
    await prod.stop();
  });

  it('admin - a loopback request without the token gets 403 FORBIDDEN, a wrong token 403, the right token 200', async () => {
    for (const path of ADMIN_READS) {
      expect([path, await status(`${prod.base}${path}`)]).toEqual([path, { status: 403, code: 'FORBIDDEN' }]);
      expect([path, await status(`${prod.base}${path}`, bearer(`${ADMIN_TOKEN.slice(0, -1)}x`))]).toEqual([path, { status: 403, code: 'FORBIDDEN' }]);
      expect([path, await status(`${prod.base}${path}`, bearer('short'))]).toEqual([path, { status: 403, code: 'FORBIDDEN' }]);
      expect([path, (await status(`${prod.base}${path}`, bearer(ADMIN_TOKEN))).status]).toEqual([path, 200]);
    }
    // Writes are refused before they act: the node is still running afterwards.
    for (const path of ['/v1/admin/leave', '/v1/admin/members/remove']) {
      expect(await status(`${prod.base}${path}`, { method: 'POST', body: '{"force":true}' })).toEqual({ status: 403, code: 'FORBIDDEN' });
    }
    // The header is the only way in: Basic, a token in the query or a cookie count for nothing.
    expect((await status(`${prod.base}/v1/admin/cluster?token=${ADMIN_TOKEN}`)).status).toBe(403);
    expect((await status(`${prod.base}/v1/admin/cluster`, { headers: { authorization: `Basic ${ADMIN_TOKEN}` } })).status).toBe(403);
    expect((await fetch(`${prod.base}/readyz`)).status).toBe(200);
  });

  it('admin - the dashboard page (no data) loads from loopback and sends the token; the data it polls needs the token', async () => {
    const page = await fetch(`${prod.base}/dashboard`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("authorization: 'Bearer ' + adminToken");
    expect(html).toContain('id="token-form"');
    expect((await status(`${prod.base}/v1/admin/stats`)).status).toBe(403);
    expect((await status(`${prod.base}/v1/admin/stats`, bearer(ADMIN_TOKEN))).status).toBe(200);
  });

  it('logs - refused admin requests are security warnings with address, code, path and reason', () => {
    const refused = prod.lines.filter((line) => line.security === 'admin_refused');
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0]).toMatchObject({ level: 40, msg: 'security event', code: 'FORBIDDEN', remoteAddress: '127.0.0.1' });
    expect(refused.map((line) => line.reason)).toEqual(expect.arrayContaining(['token-missing', 'token-wrong']));
    // Bounded: far fewer lines than refusals (each kind logs at most 10 per 10 s).
    expect(refused.length).toBeLessThanOrEqual(10);
  });
});

describe('fail closed - dev mode', () => {
  let dev: RunningNode;
  beforeAll(async () => {
    dev = await startNode(true);
  });
  afterAll(async () => {
    await dev.stop();
  });

  it('admin - dev mode is unchanged: loopback clients need no token (and may send one)', async () => {
    for (const path of [...ADMIN_READS, '/dashboard']) expect([path, (await status(`${dev.base}${path}`)).status]).toEqual([path, 200]);
    for (const path of ADMIN_READS) expect([path, (await status(`${dev.base}${path}`, bearer(ADMIN_TOKEN))).status]).toEqual([path, 200]);
  });

  it('gateway - a 65 KB and a 10 MB frame end with close 1009 and reason FRAME_TOO_LARGE; the node keeps serving', async () => {
    for (const bytes of [65 * 1024, 10 * 1024 * 1024]) {
      expect([bytes, await sendOversize(dev.ws, bytes)]).toEqual([bytes, { code: 1009, reason: 'FRAME_TOO_LARGE' }]);
    }
    expect((await fetch(`${dev.base}/healthz`)).status).toBe(200);
    const logged = dev.lines.filter((line) => line.security === 'oversize' && line.code === 'FRAME_TOO_LARGE');
    expect(logged.map((line) => [line.bytes, line.closed, line.remoteAddress])).toEqual([
      [65 * 1024, true, '127.0.0.1'],
      [10 * 1024 * 1024, true, '127.0.0.1'],
    ]);
  });

  it('logs - a refused Second Life signature and a refused provisioning token are security warnings', async () => {
    const unsigned = await fetch(`${dev.base}/v1/sl/whoami`, { headers: { 'x-secondlife-object-name': 'forger' } });
    expect(unsigned.status).toBe(401);
    const forged = await fetch(`${dev.base}/v1/sl/whoami`, {
      headers: { 'x-ringstate-object': 'o1.ann.abcdef', 'x-ringstate-time': String(Math.floor(Date.now() / 1000)), 'x-ringstate-nonce': 'nonce-0001', 'x-ringstate-signature': 'bad' },
    });
    expect(forged.status).toBe(401);
    expect((await fetch(`${dev.base}/v1/sl/objects`, { method: 'POST', headers: { authorization: 'Bearer not-a-token' } })).status).toBe(401);
    const refused = dev.lines.filter((line) => line.security === 'second_life_refused');
    expect(refused.map((line) => line.reason)).toEqual(expect.arrayContaining(['UNSIGNED']));
    expect(refused[0]).toMatchObject({ level: 40, code: 'AUTH_INVALID_TOKEN', remoteAddress: '127.0.0.1', path: '/v1/sl/whoami' });
    expect(dev.lines.some((line) => line.security === 'auth_failed' && line.path === '/v1/sl/objects' && line.code === 'AUTH_INVALID_TOKEN')).toBe(true);
  });
});

describe('fail closed - connections that have not said HELLO', () => {
  /** Opens a WebSocket that never sends HELLO; resolves it open, or the HTTP status of a refused upgrade. */
  function connect(url: string): Promise<WebSocket | number> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('error', reject);
    });
  }

  it('gateway - past limits.handshakesInFlightMax an upgrade gets 503 OVERLOADED and a security warning; a slot frees when one closes', async () => {
    const node = await startNode(false, { handshakesInFlightMax: 3 });
    try {
      const waiting = await Promise.all([connect(node.ws), connect(node.ws), connect(node.ws)]);
      expect(waiting.every((socket) => socket instanceof WebSocket)).toBe(true);
      expect(await connect(node.ws)).toBe(503);
      const refused = await fetch(`${node.base}/healthz`);
      expect(refused.status).toBe(200);
      const first = waiting[0] as WebSocket;
      await new Promise((resolve) => {
        first.once('close', resolve);
        first.close();
      });
      await expect.poll(async () => {
        const next = await connect(node.ws);
        if (next instanceof WebSocket) next.close();
        return next instanceof WebSocket;
      }, { timeout: 5_000, interval: 50 }).toBe(true);
      for (const socket of waiting.slice(1)) (socket as WebSocket).close();
      expect(node.lines.filter((line) => line.security === 'handshakes_in_flight').map((line) => [line.code, line.remoteAddress])).toEqual([['OVERLOADED', '127.0.0.1']]);
    } finally {
      await node.stop();
    }
  });
});
