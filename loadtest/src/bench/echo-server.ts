/**
 * The baseline: a raw uWebSockets.js echo server, the cheapest thing that can answer a frame.
 * Usage: tsx loadtest/src/bench/echo-server.ts <port>
 */
import uWS from 'uWebSockets.js';

const port = Number(process.argv[2] ?? 9100);
uWS
  .App()
  .ws('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: 64 * 1024,
    idleTimeout: 60,
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary);
    },
  })
  .get('/healthz', (res) => {
    res.end('ok');
  })
  .listen('127.0.0.1', port, (socket) => {
    if (socket === false) {
      console.error(`echo server cannot listen on ${port}`);
      process.exit(1);
    }
    console.log(`echo server on ${port}`);
  });
process.on('SIGTERM', () => process.exit(0));
