/**
 * The benchmark's simulated client: one WebSocket speaking just enough of the protocol to send
 * commands and count answers. The same class drives the echo baseline (where the "answer" is the
 * echoed frame), so both servers are measured with identical client cost.
 */
import WebSocket from 'ws';
import { MessageType, PROTOCOL_VERSION, decodeFrame, encodeFrame, type ServerMessage } from '@ringstate/protocol';

export class FrameClient {
  private onAnswer: ((message: ServerMessage) => void) | undefined;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.onAnswer?.(decodeFrame(data) as ServerMessage);
    });
  }

  static async open(url: string): Promise<FrameClient> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new FrameClient(socket);
  }

  /** Protocol handshake; skipped for the echo server. */
  async hello(token: string): Promise<void> {
    const welcome = new Promise<void>((resolve, reject) => {
      this.onAnswer = (message) => (message.t === MessageType.WELCOME ? resolve() : reject(new Error(`handshake failed: ${JSON.stringify(message)}`)));
    });
    this.socket.send(encodeFrame({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token }));
    await welcome;
  }

  answers(handler: (message: ServerMessage) => void): void {
    this.onAnswer = handler;
  }

  send(frame: Uint8Array): void {
    this.socket.send(frame);
  }

  close(): void {
    this.socket.terminate();
  }
}
