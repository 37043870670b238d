/**
 * The SDK against a real WebSocket: the `ws` package as the injected constructor (as a Node 20
 * app would use it) and a `ws` server on loopback speaking just enough of the protocol.
 * This checks what a fake cannot: binaryType handling, Buffer/ArrayBuffer frames, real closes.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { RingstateClient } from '../../../client-sdk/src/index.ts';
import type { WebSocketConstructor } from '../../../client-sdk/src/index.ts';
import { decodeFrame, encodeFrame, MessageType } from '@ringstate/protocol';
import type { ClientMessage } from '@ringstate/protocol';
import * as Y from 'yjs';

// Compile-time check: the ws package's class fits the SDK's constructor type without a cast.
const wsConstructor: WebSocketConstructor = WebSocket;
// And so does the browser's (DOM lib) WebSocket; in Node 20 the value itself is undefined.
const browserConstructor: WebSocketConstructor | undefined = globalThis.WebSocket as typeof globalThis.WebSocket | undefined;
void browserConstructor;

const servers: WebSocketServer[] = [];
const tcpServers: { server: Server; sockets: Socket[] }[] = [];
afterEach(async () => {
  for (const { server, sockets } of tcpServers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
  for (const server of servers.splice(0)) {
    for (const socket of server.clients) socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function startServer(): Promise<{ server: WebSocketServer; port: number }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/ws' });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  const doc = new Y.Doc();
  doc.getMap('view').set('name', 'Alice');
  let seq = 0;
  server.on('connection', (socket) => {
    socket.on('message', (data: Buffer) => {
      const message = decodeFrame(data) as ClientMessage;
      const reply = (value: Parameters<typeof encodeFrame>[0]): void => socket.send(encodeFrame(value));
      if (message.t === MessageType.HELLO) {
        reply({
          t: MessageType.WELCOME,
          v: 1,
          player: message.token,
          session: 's1',
          node: 'n1',
          heartbeatMs: 50,
          limits: { frameBytesMax: 65_536, messagesPerSecondMax: 100, subscriptionsPerConnectionMax: 10 },
        });
      } else if (message.t === MessageType.COMMAND) {
        seq += 1;
        reply({ t: MessageType.ACK, id: message.id, seq });
      } else if (message.t === MessageType.SUB) {
        reply({ t: MessageType.SNAPSHOT, a: message.a, i: message.i, seq, u: Y.encodeStateAsUpdate(doc, message.sv) });
      } else if (message.t === MessageType.PING) {
        reply({ t: MessageType.PONG, n: message.n });
      }
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}

describe('client-sdk over a real WebSocket', () => {
  it('real websocket - handshake, command, subscription and heartbeat over ws on loopback', async () => {
    const { port } = await startServer();
    const client = new RingstateClient({ host: `127.0.0.1:${port}`, token: 'alice', WebSocket: wsConstructor });

    await client.connect();
    expect(client.session?.player).toBe('alice');
    expect(await client.send('player', 'alice', { type: 'move', x: 1 })).toEqual({ seq: 1, duplicate: false });
    const subscription = client.subscribe('player', 'alice');
    await subscription.whenReady();
    expect(subscription.snapshot()).toEqual({ name: 'Alice' });
    // Several heartbeat intervals pass with pongs answered: the connection stays up.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(client.state).toBe('online');
    client.close();
  });

  it('real websocket - a server-side drop reconnects and the command still gets its answer', async () => {
    const { server, port } = await startServer();
    const client = new RingstateClient({
      host: `127.0.0.1:${port}`,
      token: 'alice',
      WebSocket: wsConstructor,
      reconnect: { baseMs: 20, capMs: 50 },
    });
    await client.connect();
    for (const socket of server.clients) socket.terminate();
    const result = await client.send('player', 'alice', { type: 'move' });
    expect(result.seq).toBeGreaterThan(0);
    expect(client.state).toBe('online');
    client.close();
  });

  it('real websocket - a connect timeout while the socket is still connecting does not crash Node', async () => {
    // A TCP server that accepts connections and never answers the HTTP upgrade (a black hole).
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    tcpServers.push({ server, sockets });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const client = new RingstateClient({
      host: `127.0.0.1:${port}`,
      token: 'alice',
      WebSocket: wsConstructor,
      connectTimeoutMs: 50,
      reconnect: { baseMs: 10, capMs: 10, attemptsMax: 2 },
    });
    const errors: string[] = [];
    client.on('reconnecting', ({ error }) => errors.push(error.code));

    await expect(client.connect()).rejects.toMatchObject({ code: 'TIMEOUT' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toEqual(['TIMEOUT', 'TIMEOUT']);
    expect(client.state).toBe('offline');
    client.close();
  });
});
