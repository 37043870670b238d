/**
 * A bare protocol client over the `ws` package, for tests that must send what the SDK never
 * would (garbage, oversize frames, text frames) and read every frame the server answers.
 */
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, type ClientMessage, type ServerMessage } from '@ringstate/protocol';

export class RawClient {
  readonly received: ServerMessage[] = [];
  closeCode: number | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      this.received.push(decodeFrame(new Uint8Array(data)) as ServerMessage);
      this.wake();
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
  }

  static connect(url: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      socket.once('open', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(message: ClientMessage | Record<string, unknown>): void {
    this.socket.send(encodeFrame(message as ClientMessage));
  }

  sendRaw(data: Uint8Array | string): void {
    this.socket.send(data);
  }

  /**
   * Waits until a received frame matches, or the socket closes, or the timeout passes. Frames
   * before index `since` are not looked at: a retry under the same command id passes the count
   * of frames received before it was sent, so the answer to an earlier attempt does not match.
   */
  async waitFor<T extends ServerMessage>(match: (message: ServerMessage) => boolean, timeoutMs = 5_000, since = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find((message, index) => index >= since && match(message));
      if (found !== undefined) return found as T;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) before the expected frame`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out; received ${JSON.stringify(this.received.map((m) => m.t))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitClosed(timeoutMs = 5_000): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.closeCode !== undefined) return resolve(this.closeCode);
      const timer = setTimeout(() => reject(new Error('socket did not close')), timeoutMs);
      this.socket.once('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  close(): void {
    this.socket.close();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
