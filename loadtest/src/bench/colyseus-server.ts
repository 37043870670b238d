/**
 * The Colyseus peer for `npm run bench:peers`: one room per player holding its position, the
 * equivalent of ringstate's player aggregate. A "move" message updates the state (Colyseus
 * sends state patches at its default patch rate, 20/s) and answers `ack` with the command id,
 * so the driver measures the same command round trip it measures on ringstate.
 * Colyseus replicates nothing and stores nothing: it is the in-memory baseline.
 * Usage: tsx loadtest/src/bench/colyseus-server.ts <port>
 */
import { createServer } from 'node:http';
import { Room, Server, type Client } from '@colyseus/core';
import { WebSocketTransport } from '@colyseus/ws-transport';
import { schema } from '@colyseus/schema';

const PlayerState = schema({ x: 'number', y: 'number', moves: 'number' }, 'PlayerState');

class PlayerRoom extends Room {
  override maxClients = 1;

  override onCreate(): void {
    const state = new PlayerState();
    state.x = 0;
    state.y = 0;
    state.moves = 0;
    this.setState(state);
    this.onMessage('move', (client: Client, message: { id: string; x: number; y: number }) => {
      const state = this.state as InstanceType<typeof PlayerState>;
      state.x = message.x;
      state.y = message.y;
      state.moves += 1;
      client.send('ack', message.id);
    });
  }
}

const port = Number(process.argv[2] ?? 9200);
const http = createServer((request, response) => {
  response.writeHead(request.url === '/healthz' ? 200 : 404).end('ok');
});
const gameServer = new Server({ transport: new WebSocketTransport({ server: http }) });
gameServer.define('player', PlayerRoom);
await gameServer.listen(port, '127.0.0.1');
console.log(`colyseus on ${port}`);
process.on('SIGTERM', () => process.exit(0));
