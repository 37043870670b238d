/**
 * An in-memory WebSocket and a tiny ringstate server behind it, for SDK unit tests.
 *
 * `network.WebSocket` is a constructor with the WHATWG shape the SDK expects. Frames travel as
 * copies through microtasks, so ordering is FIFO per direction, as over TCP. The server decodes
 * frames with the real protocol codec and implements just enough of the protocol: handshake
 * with token checks, command dedupe and ACK/REJECT, Yjs SNAPSHOT/UPDATE, PING/PONG. Tests
 * override behaviour through the hooks (`onCommand`, `answerPings`, `refuseConnections`).
 */
import * as Y from 'yjs';
import {
  aggregateKey,
  CloseCodes,
  decodeFrame,
  encodeFrame,
  MessageType,
} from '@ringstate/protocol';
import type {
  ClientMessage,
  CommandMessage,
  ErrorCode,
  ServerMessage,
} from '@ringstate/protocol';
import type { WebSocketConstructor, WebSocketLike } from '../../../../client-sdk/src/index.ts';

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

type Handler = ((event: never) => void) | null;

export class FakeSocket implements WebSocketLike {
  binaryType = 'blob';
  readyState = CONNECTING;
  onopen: Handler = null;
  onmessage: Handler = null;
  onclose: Handler = null;
  onerror: Handler = null;
  readonly url: string;
  connection: ServerConnection | undefined;
  readonly #server: FakeServer;

  constructor(url: string, server: FakeServer) {
    this.url = url;
    this.#server = server;
    queueMicrotask(() => server.accept(this));
  }

  send(data: Uint8Array): void {
    if (this.readyState !== OPEN) throw new Error('FakeSocket.send on a socket that is not open');
    const copy = new Uint8Array(data);
    queueMicrotask(() => this.connection?.receive(copy));
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === CLOSED) return;
    const connection = this.connection;
    this.connection = undefined;
    this.readyState = CLOSED;
    queueMicrotask(() => call(this.onclose, { code, reason }));
    connection?.onClientClosed(code);
  }

  /** Delivers a frame from the server, after any frame delivered before it. */
  deliver(frame: Uint8Array): void {
    if (this.readyState !== OPEN || this.connection === undefined) return;
    const copy = new Uint8Array(frame);
    queueMicrotask(() => {
      if (this.readyState === OPEN) call(this.onmessage, { data: copy.buffer });
    });
  }

  open(): void {
    this.readyState = OPEN;
    call(this.onopen, {});
  }

  /**
   * The network or the server closes the socket. Frames already on their way are delivered
   * first, as TCP would, then the close event fires.
   */
  closeFromNetwork(code: number, reason: string): void {
    const alreadyClosing = this.readyState === OPEN && this.connection === undefined;
    if (this.readyState === CLOSED || alreadyClosing) return;
    const wasConnecting = this.readyState === CONNECTING;
    this.connection = undefined;
    queueMicrotask(() => {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      if (wasConnecting) call(this.onerror, {});
      call(this.onclose, { code, reason });
    });
  }
}

function call(handler: Handler, event: unknown): void {
  (handler as ((event: unknown) => void) | null)?.(event);
}

interface Aggregate {
  readonly doc: Y.Doc;
  seq: number;
}

export type CommandAnswer =
  | { readonly kind: 'apply' }
  /** Applies the command, then the connection drops before the ACK leaves (a lost answer). */
  | { readonly kind: 'apply-lost' }
  | { readonly kind: 'reject'; readonly code: ErrorCode; readonly reason?: string; readonly retry?: boolean }
  | { readonly kind: 'silence' };

export class ServerConnection {
  readonly index: number;
  readonly socket: FakeSocket;
  welcomed = false;
  player: string | undefined;
  readonly subscriptions = new Set<string>();
  readonly #server: FakeServer;

  constructor(server: FakeServer, socket: FakeSocket, index: number) {
    this.#server = server;
    this.socket = socket;
    this.index = index;
  }

  send(message: ServerMessage): void {
    this.socket.deliver(encodeFrame(message));
  }

  /** Server-side close: the client sees a close event with this code. */
  close(code: number, reason = ''): void {
    this.#server.forget(this);
    this.socket.closeFromNetwork(code, reason);
  }

  receive(frame: Uint8Array): void {
    this.#server.handle(this, decodeFrame(frame) as ClientMessage);
  }

  onClientClosed(code: number): void {
    this.#server.clientCloseCodes.push(code);
    this.#server.forget(this);
  }
}

export interface ReceivedCommand {
  readonly connection: number;
  readonly message: CommandMessage;
}

export class FakeServer {
  heartbeatMs = 1_000;
  frameBytesMax = 64 * 1024;
  answerPings = true;
  /** Sent as WELCOME `resume` when set. */
  resumeToken: string | undefined = undefined;
  refuseConnections = false;
  /** Tokens the server refuses, with the code it refuses them with. */
  readonly badTokens = new Map<string, ErrorCode>();
  /**
   * Runs before dedupe, like a real node's admission or a partition without quorum: a refusal
   * returned here answers even a command id that was applied before.
   */
  /** Refuses a command before the command id is looked up (admission, or validation with `retry: false`). */
  admit: (message: CommandMessage) => { readonly code: ErrorCode; readonly reason?: string; readonly retry?: boolean; readonly ra?: unknown } | undefined = () => undefined;
  /** Decides what happens to each command; default: apply it. */
  onCommand: (message: CommandMessage, connection: ServerConnection) => CommandAnswer = () => ({ kind: 'apply' });

  readonly received: ClientMessage[] = [];
  readonly commands: ReceivedCommand[] = [];
  readonly hellos: string[] = [];
  readonly subs: { key: string; sv: Uint8Array | undefined }[] = [];
  readonly clientCloseCodes: number[] = [];
  readonly connections = new Set<ServerConnection>();
  readonly aggregates = new Map<string, Aggregate>();
  readonly #applied = new Map<string, number>();
  #connectionCount = 0;

  /** The WebSocket constructor to pass to the client. */
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string) {
        super(url, server);
      }
    };
  }

  get connectionCount(): number {
    return this.#connectionCount;
  }

  accept(socket: FakeSocket): void {
    if (socket.readyState !== CONNECTING) return;
    if (this.refuseConnections) {
      socket.closeFromNetwork(1006, '');
      return;
    }
    this.#connectionCount += 1;
    const connection = new ServerConnection(this, socket, this.#connectionCount);
    socket.connection = connection;
    this.connections.add(connection);
    socket.open();
  }

  forget(connection: ServerConnection): void {
    this.connections.delete(connection);
  }

  /** Drops every connection as a network failure would (close code 1006). */
  dropAll(): void {
    for (const connection of [...this.connections]) connection.close(1006);
  }

  aggregate(type: string, id: string): Aggregate {
    const key = aggregateKey(type, id);
    let aggregate = this.aggregates.get(key);
    if (aggregate === undefined) {
      aggregate = { doc: new Y.Doc(), seq: 0 };
      this.aggregates.set(key, aggregate);
    }
    return aggregate;
  }

  /** Commits a change to an aggregate's view and streams the UPDATE to subscribers. */
  commit(type: string, id: string, change: (view: Y.Map<unknown>) => void): number {
    const aggregate = this.aggregate(type, id);
    const before = Y.encodeStateVector(aggregate.doc);
    aggregate.doc.transact(() => change(aggregate.doc.getMap('view')));
    aggregate.seq += 1;
    const update = Y.encodeStateAsUpdate(aggregate.doc, before);
    const key = aggregateKey(type, id);
    for (const connection of this.connections) {
      if (!connection.subscriptions.has(key)) continue;
      connection.send({ t: MessageType.UPDATE, a: type, i: id, seq: aggregate.seq, u: update });
    }
    return aggregate.seq;
  }

  handle(connection: ServerConnection, message: ClientMessage): void {
    this.received.push(message);
    if (message.t === MessageType.HELLO) return this.#hello(connection, message.token);
    if (!connection.welcomed) return connection.close(CloseCodes.PROTOCOL_ERROR);
    switch (message.t) {
      case MessageType.COMMAND:
        return this.#command(connection, message);
      case MessageType.SUB: {
        const key = aggregateKey(message.a, message.i);
        this.subs.push({ key, sv: message.sv });
        connection.subscriptions.add(key);
        const aggregate = this.aggregate(message.a, message.i);
        const u = Y.encodeStateAsUpdate(aggregate.doc, message.sv);
        return connection.send({ t: MessageType.SNAPSHOT, a: message.a, i: message.i, seq: aggregate.seq, u });
      }
      case MessageType.UNSUB:
        connection.subscriptions.delete(aggregateKey(message.a, message.i));
        return;
      case MessageType.PING:
        if (this.answerPings) connection.send({ t: MessageType.PONG, n: message.n });
        return;
      default:
        return;
    }
  }

  #hello(connection: ServerConnection, token: string): void {
    this.hellos.push(token);
    const refusal = this.badTokens.get(token);
    if (refusal !== undefined) {
      connection.send({ t: MessageType.ERROR, code: refusal, msg: `token refused: ${refusal}`, retry: false });
      connection.close(CloseCodes.HANDSHAKE_FAILED, 'handshake failed');
      return;
    }
    connection.welcomed = true;
    connection.player = token;
    connection.send({
      t: MessageType.WELCOME,
      v: 1,
      player: token,
      session: `session-${connection.index}`,
      node: 'node-a',
      heartbeatMs: this.heartbeatMs,
      limits: { frameBytesMax: this.frameBytesMax, messagesPerSecondMax: 100, subscriptionsPerConnectionMax: 100 },
      ...(this.resumeToken === undefined ? {} : { resume: this.resumeToken }),
    });
  }

  #command(connection: ServerConnection, message: CommandMessage): void {
    this.commands.push({ connection: connection.index, message });
    const refusal = this.admit(message);
    if (refusal !== undefined) {
      connection.send({
        t: MessageType.REJECT,
        id: message.id,
        code: refusal.code,
        msg: `refused: ${refusal.code}`,
        ...(refusal.reason === undefined ? {} : { reason: refusal.reason }),
        retry: refusal.retry ?? true,
        ...(refusal.ra === undefined ? {} : { ra: refusal.ra as number }),
      });
      return;
    }
    const appliedSeq = this.#applied.get(message.id);
    if (appliedSeq !== undefined) {
      connection.send({ t: MessageType.ACK, id: message.id, seq: appliedSeq, dup: true });
      return;
    }
    const answer = this.onCommand(message, connection);
    if (answer.kind === 'silence') return;
    if (answer.kind === 'reject') {
      connection.send({
        t: MessageType.REJECT,
        id: message.id,
        code: answer.code,
        msg: `rejected: ${answer.code}`,
        ...(answer.reason === undefined ? {} : { reason: answer.reason }),
        retry: answer.retry ?? false,
      });
      return;
    }
    const seq = this.#apply(message);
    this.#applied.set(message.id, seq);
    if (answer.kind === 'apply-lost') return connection.close(1006);
    connection.send({ t: MessageType.ACK, id: message.id, seq });
  }

  /** Commands `{type:'set', key, value}` write the view; others only bump the seq. */
  #apply(message: CommandMessage): number {
    const { c } = message;
    if (c.type === 'set' && typeof c['key'] === 'string') {
      return this.commit(message.a, message.i, (view) => view.set(c['key'] as string, c['value']));
    }
    const aggregate = this.aggregate(message.a, message.i);
    aggregate.seq += 1;
    return aggregate.seq;
  }
}
