/**
 * The node-to-node peer layer on libp2p: private network, node-id hello, per-peer long-lived
 * streams, heartbeats with gossip, failure detection, reconnects, request/response.
 *
 * Layers of one connection, bottom up:
 *
 *   TCP -> pnet (XSalsa20 with the cluster key) -> Noise (authenticates the PeerId) -> yamux
 *       -> one stream per direction, peer and protocol, each a sequence of frames:
 *          [u32 BE length][msgpack body]            (framing.ts; bodies in wire.ts)
 *
 * Streams are used one way: a node writes only to streams it opened and reads only from
 * streams the peer opened. The opener of a control stream says HELLO (its node id, address
 * and incarnation) and the acceptor answers WELCOME or REFUSE, which binds the Noise-verified
 * PeerId to a node id. A node opens data streams to a peer only after its own hello was
 * welcomed, so the acceptor always knows who is writing; frames from a PeerId that is not
 * bound (any more) are refused, so a previous run of a node can never deliver after its
 * successor was accepted.
 */
import { randomInt } from 'node:crypto';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { preSharedKey } from '@libp2p/pnet';
// Must run before the first connection: fixes the cipher under pnet (see the module).
import './xsalsa20-fix.ts';
import './length-prefix-fix.ts';
import './window-update-fix.ts';
import type { Connection, MultiaddrConnection, PeerId, Stream, StreamMessageEvent } from '@libp2p/interface';
import type { Logger } from 'pino';
import { assert } from '../replication/index.ts';
import { formatAddress, isWildcardHost, parseAddress, tcpPortOf, toMultiaddr, type HostPort } from './address.ts';
import { backoffDelayMs } from './backoff.ts';
import { swarmKeyFromClusterKey } from './cluster-key.ts';
import { TypedEmitter } from './emitter.ts';
import {
  FrameTooLargeError,
  MessageTooLargeError,
  NoHandlerError,
  PeerConfigError,
  PeerNetworkStoppedError,
  PeerUnavailableError,
  QueueFullError,
  RemoteHandlerError,
  RequestTimeoutError,
} from './errors.ts';
import { FailureDetector } from './failure-detector.ts';
import { FrameDecoder, encodeFrame } from './framing.ts';
import { MemberTable } from './member-table.ts';
import { WarnLimiter } from './warn-limiter.ts';
import {
  FORWARD_PROTOCOL,
  PEER_PROTOCOL,
  REPLICATION_PROTOCOL,
  type MemberInfo,
  type NodeId,
  type PeerNetwork,
  type PeerNetworkComponents,
  type PeerNetworkEvents,
  type PeerNetworkInit,
  type PeerNetworkStats,
  type RequestHandler,
  zeroPeerNetworkStats,
} from './types.ts';
import {
  PEER_PROTOCOL_VERSION,
  decodeControlFrame,
  decodeDataFrame,
  encodeControlFrame,
  encodeDataFrame,
  type ControlFrame,
  type DataFrame,
  type GossipEntry,
  type RefuseReason,
} from './wire.ts';

const DEFAULTS = {
  heartbeatIntervalMs: 200,
  failureTimeoutMs: 800,
  connectTimeoutMs: 2_000,
  reconnectMinMs: 100,
  reconnectMaxMs: 2_000,
  messageBytesMax: 4 * 1024 * 1024,
  queuedBytesPerPeerMax: 16 * 1024 * 1024,
  pendingRequestsMax: 10_000,
  membersMax: 1_024,
  inboundConnectionsPerHostPerSecondMax: 32,
} as const;

/** Control frames carry at most `membersMax` gossip entries of bounded size. */
const CONTROL_FRAME_BYTES_MAX = 256 * 1024;
/** Streams per protocol a peer may have open to us at once (normally one, briefly two). */
const INBOUND_STREAMS_PER_PROTOCOL_MAX = 4;
/** Rate limit for warnings: one per kind and peer or address, and all together, per interval (warn-limiter.ts). */
const WARN_LIMITS = { intervalMs: 10_000, linesMax: 50, keysMax: 1_024 } as const;

type Settings = Required<Omit<PeerNetworkInit, 'advertise' | 'bootstrap' | 'protocols' | 'listen' | 'nodeId' | 'clusterKey'>>;

/** A data stream this node writes to, with the frames waiting for it. */
interface Channel {
  readonly protocol: string;
  stream: Stream | null;
  opening: boolean;
  readonly queue: Uint8Array[];
}

/** Everything this node holds about one other node. */
interface Link {
  readonly nodeId: NodeId;
  /** The PeerId bound to this node id by an accepted hello or welcome. */
  peerId: PeerId | null;
  /** Our welcomed control stream to the node and the connection it runs on. */
  control: Stream | null;
  connection: Connection | null;
  connecting: boolean;
  attempt: number;
  nextDialAtMs: number;
  readonly channels: Map<string, Channel>;
  queuedBytes: number;
  queueFullLogged: boolean;
}

/** A bootstrap address whose node id is not known yet. */
interface Seed {
  readonly address: string;
  readonly hostPort: HostPort;
  done: boolean;
  connecting: boolean;
  attempt: number;
  nextDialAtMs: number;
}

interface PendingRequest {
  readonly toNodeId: NodeId;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

class HelloRefusedError extends Error {
  override readonly name = 'HelloRefusedError';
}

/** Creates the libp2p peer network; call `start()` to listen and join. */
export function createPeerNetwork(init: PeerNetworkInit, components: PeerNetworkComponents): Libp2pPeerNetwork {
  return new Libp2pPeerNetwork(init, components);
}

export class Libp2pPeerNetwork implements PeerNetwork {
  readonly nodeId: NodeId;
  readonly #init: PeerNetworkInit;
  readonly #settings: Settings;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #components: PeerNetworkComponents;
  readonly #swarmKey: Uint8Array;
  readonly #protocols: ReadonlySet<string>;
  readonly #detector: FailureDetector;
  readonly #table: MemberTable;
  readonly #links = new Map<NodeId, Link>();
  /** PeerId string -> node id, for every PeerId whose hello or welcome was accepted. */
  readonly #peerNodes = new Map<string, NodeId>();
  /** Per node: bumped each time it comes up or restarts with a new identity (liveness()). */
  readonly #sessions = new Map<NodeId, number>();
  readonly #seeds: Seed[];
  readonly #handlers = new Map<string, RequestHandler>();
  readonly #pending = new Map<number, PendingRequest>();
  readonly #emitter: TypedEmitter<PeerNetworkEvents>;
  readonly #stats: PeerNetworkStats = zeroPeerNetworkStats();
  /** Inbound raw connections that completed Noise, i.e. proved they hold the cluster key. */
  readonly #authenticated = new WeakSet<MultiaddrConnection>();
  readonly #warnings: WarnLimiter;
  #state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  #libp2p: Libp2p | null = null;
  #address = '';
  #incarnation = 0;
  #timer: ReturnType<typeof setInterval> | null = null;
  #nextHeartbeatAtMs = 0;
  /**
   * Starts at a random point, not at 1: a responder answers on whatever link it holds to the
   * requester's node id, so an answer to a request of this node's previous process can reach
   * this process. With ids restarting at 1 it matched a new request of the same id, and a
   * forwarded command was acknowledged with another command's result (simulator seed 79524: an
   * acknowledged append that was never committed). 2^47 possible starts make such a match
   * vanishingly unlikely; `pending.toNodeId` already rules out answers from other nodes.
   */
  #nextRequestId = randomInt(1, 2 ** 47);

  constructor(init: PeerNetworkInit, components: PeerNetworkComponents) {
    assert(init.nodeId.length > 0 && init.nodeId.length <= 256, 'nodeId must be 1-256 characters');
    this.nodeId = init.nodeId;
    this.#init = init;
    this.#components = components;
    this.#settings = {
      heartbeatIntervalMs: init.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
      failureTimeoutMs: init.failureTimeoutMs ?? DEFAULTS.failureTimeoutMs,
      connectTimeoutMs: init.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      reconnectMinMs: init.reconnectMinMs ?? DEFAULTS.reconnectMinMs,
      reconnectMaxMs: init.reconnectMaxMs ?? DEFAULTS.reconnectMaxMs,
      messageBytesMax: init.messageBytesMax ?? DEFAULTS.messageBytesMax,
      queuedBytesPerPeerMax: init.queuedBytesPerPeerMax ?? DEFAULTS.queuedBytesPerPeerMax,
      pendingRequestsMax: init.pendingRequestsMax ?? DEFAULTS.pendingRequestsMax,
      membersMax: init.membersMax ?? DEFAULTS.membersMax,
      inboundConnectionsPerHostPerSecondMax:
        init.inboundConnectionsPerHostPerSecondMax ?? DEFAULTS.inboundConnectionsPerHostPerSecondMax,
    };
    const s = this.#settings;
    assert(s.heartbeatIntervalMs > 0, 'heartbeatIntervalMs must be positive');
    assert(s.failureTimeoutMs >= 2 * s.heartbeatIntervalMs, 'failureTimeoutMs must be at least two heartbeat intervals');
    assert(s.connectTimeoutMs > 0, 'connectTimeoutMs must be positive');
    assert(s.reconnectMinMs > 0 && s.reconnectMaxMs >= s.reconnectMinMs, 'need 0 < reconnectMinMs <= reconnectMaxMs');
    assert(s.messageBytesMax > 0, 'messageBytesMax must be positive');
    assert(s.queuedBytesPerPeerMax >= s.messageBytesMax, 'queuedBytesPerPeerMax must hold at least one message');
    assert(s.pendingRequestsMax > 0 && s.membersMax > 0, 'pendingRequestsMax and membersMax must be positive');
    this.#protocols = new Set(init.protocols ?? [REPLICATION_PROTOCOL, FORWARD_PROTOCOL]);
    assert(!this.#protocols.has(PEER_PROTOCOL), 'the control protocol is not a data protocol');
    this.#log = components.logger.child({ component: 'peer-network' });
    this.#clock = components.clock ?? (() => performance.timeOrigin + performance.now());
    this.#warnings = new WarnLimiter(WARN_LIMITS, this.#clock, (fields, message) => this.#log.warn(fields, message));
    this.#random = components.random ?? Math.random;
    // Both throw PeerConfigError for operator mistakes, before anything listens.
    this.#swarmKey = swarmKeyFromClusterKey(init.clusterKey);
    this.#seeds = (init.bootstrap ?? []).map((address) => ({
      address,
      hostPort: parseAddress(address),
      done: false,
      connecting: false,
      attempt: 0,
      nextDialAtMs: 0,
    }));
    if (init.advertise !== undefined) parseAddress(init.advertise);
    else if (isWildcardHost(init.listen.host)) {
      throw new PeerConfigError(`listening on ${init.listen.host} needs an advertised host:port`);
    }
    this.#detector = new FailureDetector({ failureTimeoutMs: s.failureTimeoutMs });
    this.#table = new MemberTable(this.nodeId, s.membersMax);
    this.#emitter = new TypedEmitter((event, err) => {
      this.#stats.listenerErrors += 1;
      this.#log.error({ err, event }, 'peer network listener threw');
    });
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    assert(this.#state === 'new', 'a peer network starts once');
    this.#state = 'starting';
    try {
      await this.#startLibp2p();
    } catch (err) {
      // A port in use or a bad listen host: release whatever was opened, then report it.
      this.#state = 'stopped';
      await Promise.resolve(this.#libp2p?.stop()).catch(() => undefined);
      throw err;
    }
    this.#state = 'running';
    const s = this.#settings;
    const tickMs = Math.max(10, Math.min(s.heartbeatIntervalMs, Math.floor(s.failureTimeoutMs / 10)));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#log.info(
      { address: this.#address, peerId: this.#node().peerId.toString(), incarnation: this.#incarnation },
      'peer network started',
    );
    this.#tick();
  }

  async #startLibp2p(): Promise<void> {
    const s = this.#settings;
    const node = await createLibp2p({
      ...(this.#components.privateKey === undefined ? {} : { privateKey: this.#components.privateKey }),
      start: false,
      addresses: { listen: [toMultiaddr(this.#init.listen).toString()] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionProtector: preSharedKey({ psk: this.#swarmKey, timeout: s.connectTimeoutMs }),
      connectionGater: {
        denyInboundConnection: (maConn) => this.#watchInbound(maConn),
        denyInboundEncryptedConnection: (_peerId, maConn) => {
          this.#authenticated.add(maConn);
          return false;
        },
      },
      connectionManager: {
        dialTimeout: s.connectTimeoutMs,
        // Also bounds how long a stranger whose garbled bytes look like a partial message can
        // hold one of libp2p's pending-connection slots.
        inboundUpgradeTimeout: s.connectTimeoutMs,
        inboundConnectionThreshold: s.inboundConnectionsPerHostPerSecondMax,
      },
      // Our heartbeats already prove liveness; libp2p's ping monitor would only add traffic.
      connectionMonitor: { enabled: false },
    });
    this.#libp2p = node;
    // Handlers go in before listening so that no early peer finds a protocol missing.
    const handlerOptions = { maxInboundStreams: INBOUND_STREAMS_PER_PROTOCOL_MAX };
    await node.handle(PEER_PROTOCOL, (stream, connection) => this.#onControlStream(stream, connection), handlerOptions);
    for (const protocol of this.#protocols) {
      await node.handle(
        protocol,
        (stream, connection) => this.#onDataStream(protocol, stream, connection),
        handlerOptions,
      );
    }
    await node.start();
    const port = node.getMultiaddrs().map(tcpPortOf).find((p) => p !== undefined);
    assert(port !== undefined, 'libp2p listens on a TCP port');
    this.#address = this.#init.advertise ?? formatAddress({ host: this.#init.listen.host, port });
    // Grows with every process start, so gossip about this run replaces gossip about the last.
    this.#incarnation = Math.floor(this.#clock());
    for (const seed of this.#seeds) {
      if (formatAddress(seed.hostPort) === this.#address) seed.done = true;
    }
  }

  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    const wasStarted = this.#libp2p !== null;
    this.#state = 'stopped';
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.reject(new PeerNetworkStoppedError());
      this.#pending.delete(id);
    }
    if (wasStarted) await this.#libp2p?.stop();
    this.#log.info({ stats: this.#stats }, 'peer network stopped');
  }

  address(): string {
    assert(this.#address !== '', 'address() is known after start()');
    return this.#address;
  }

  // ---------------------------------------------------------------- public API

  send(toNodeId: NodeId, message: unknown, protocol: string = REPLICATION_PROTOCOL): boolean {
    assert(this.#protocols.has(protocol), `send on unknown protocol ${protocol}`);
    assert(toNodeId !== this.nodeId, 'a node does not send to itself');
    const link = this.#links.get(toNodeId);
    if (this.#state !== 'running' || link === undefined || !this.#detector.isAlive(toNodeId)) {
      this.#stats.droppedUnreachable += 1;
      return false;
    }
    let body: Uint8Array;
    try {
      body = encodeDataFrame({ kind: 'message', message });
    } catch (err) {
      this.#stats.droppedUnencodable += 1;
      this.#warnLimited(`unencodable:${toNodeId}`, { err, toNodeId, protocol }, 'message is not encodable; dropped');
      return false;
    }
    if (body.byteLength > this.#settings.messageBytesMax) {
      this.#stats.droppedOversize += 1;
      this.#warnLimited(
        `oversize-out:${toNodeId}`,
        { toNodeId, protocol, bytes: body.byteLength, bytesMax: this.#settings.messageBytesMax },
        'message exceeds messageBytesMax; dropped',
      );
      return false;
    }
    if (!this.#enqueue(link, protocol, encodeFrame(body))) return false;
    this.#stats.messagesSent += 1;
    return true;
  }

  request(toNodeId: NodeId, protocol: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    assert(this.#protocols.has(protocol), `request on unknown protocol ${protocol}`);
    assert(toNodeId !== this.nodeId, 'a node does not request from itself');
    assert(Number.isFinite(timeoutMs) && timeoutMs > 0, 'timeoutMs must be positive');
    if (this.#state !== 'running') return Promise.reject(new PeerNetworkStoppedError());
    const link = this.#links.get(toNodeId);
    if (link === undefined) return Promise.reject(new PeerUnavailableError(toNodeId, 'unknown node'));
    if (!this.#detector.isAlive(toNodeId)) return Promise.reject(new PeerUnavailableError(toNodeId, 'down'));
    if (this.#pending.size >= this.#settings.pendingRequestsMax) {
      return Promise.reject(new QueueFullError('the pending request table'));
    }
    const requestId = this.#nextRequestId++;
    let body: Uint8Array;
    try {
      body = encodeDataFrame({ kind: 'request', requestId, payload });
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (body.byteLength > this.#settings.messageBytesMax) {
      this.#stats.droppedOversize += 1;
      return Promise.reject(new MessageTooLargeError(body.byteLength, this.#settings.messageBytesMax));
    }
    if (!this.#enqueue(link, protocol, encodeFrame(body))) {
      return Promise.reject(new QueueFullError(`the queue to ${toNodeId}`));
    }
    this.#stats.requestsSent += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(requestId)) return;
        this.#stats.requestsTimedOut += 1;
        reject(new RequestTimeoutError(toNodeId, protocol, timeoutMs));
      }, timeoutMs);
      this.#pending.set(requestId, { toNodeId, resolve, reject, timer });
    });
  }

  handle(protocol: string, handler: RequestHandler): void {
    assert(this.#protocols.has(protocol), `handle on unknown protocol ${protocol}`);
    assert(!this.#handlers.has(protocol), `a handler for ${protocol} is already registered`);
    this.#handlers.set(protocol, handler);
  }

  liveness(nodeId: NodeId): number {
    if (nodeId === this.nodeId) return 1;
    return this.#detector.isAlive(nodeId) ? (this.#sessions.get(nodeId) ?? 1) : 0;
  }

  members(): MemberInfo[] {
    const now = this.#clock();
    const self: MemberInfo = { nodeId: this.nodeId, address: this.#address, alive: true, lastSeenMs: now, self: true };
    const others = this.#table.entries().map((entry) => ({
      nodeId: entry.nodeId,
      address: entry.address,
      alive: this.#detector.isAlive(entry.nodeId),
      lastSeenMs: this.#detector.lastHeardMs(entry.nodeId),
      self: false,
    }));
    return [self, ...others].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  on<K extends keyof PeerNetworkEvents>(event: K, listener: (payload: PeerNetworkEvents[K]) => void): () => void {
    return this.#emitter.on(event, listener);
  }

  stats(): Readonly<PeerNetworkStats> {
    return { ...this.#stats };
  }

  // ---------------------------------------------------------------- timer

  #tick(): void {
    if (this.#state !== 'running') return;
    const now = this.#clock();
    for (const transition of this.#detector.tick(now)) this.#onDown(transition.nodeId);
    if (now >= this.#nextHeartbeatAtMs) {
      this.#nextHeartbeatAtMs = now + this.#settings.heartbeatIntervalMs;
      this.#sendHeartbeats();
    }
    for (const seed of this.#seeds) {
      if (!seed.done && !seed.connecting && now >= seed.nextDialAtMs) void this.#connectSeed(seed);
    }
    for (const link of this.#links.values()) {
      if (link.control === null) {
        if (!link.connecting && now >= link.nextDialAtMs) void this.#connectLink(link);
      } else if (link.queuedBytes > 0) {
        for (const channel of link.channels.values()) this.#pump(link, channel);
      }
    }
  }

  #sendHeartbeats(): void {
    const members: GossipEntry[] = [this.#selfEntry()];
    for (const entry of this.#table.entries()) {
      if (this.#detector.isAlive(entry.nodeId)) members.push(entry);
    }
    const frame = encodeFrame(encodeControlFrame({ kind: 'heartbeat', members }));
    for (const link of this.#links.values()) {
      const stream = link.control;
      // A control stream that needs draining belongs to a peer that stopped reading; skipping
      // a heartbeat is right, as the failure detector on its side treats it like silence.
      if (stream === null || stream.writableNeedsDrain) continue;
      this.#trySend(stream, frame);
    }
  }

  // ---------------------------------------------------------------- connecting

  async #connectSeed(seed: Seed): Promise<void> {
    seed.connecting = true;
    try {
      const connection = await this.#node().dial(toMultiaddr(seed.hostPort), {
        signal: AbortSignal.timeout(this.#settings.connectTimeoutMs),
      });
      await this.#openControl(connection, null);
      seed.done = true;
      this.#log.debug({ address: seed.address }, 'bootstrap peer reached');
    } catch (err) {
      if (this.#state !== 'running') return;
      if (err instanceof Error && err.name === 'InvalidPeerIdError') {
        seed.done = true; // the seed is this node under another name
        return;
      }
      this.#warnLimited(
        `seed:${seed.address}`,
        { error: errorSummary(err), address: seed.address },
        'cannot reach bootstrap peer',
      );
      seed.nextDialAtMs = this.#clock() + this.#backoff(seed.attempt++);
    } finally {
      seed.connecting = false;
    }
  }

  async #connectLink(link: Link, via?: Connection): Promise<void> {
    const entry = this.#table.get(link.nodeId);
    assert(entry !== undefined, 'every link has a member entry');
    link.connecting = true;
    try {
      const connection =
        via ??
        this.#openConnectionTo(link.peerId) ??
        (await this.#node().dial(toMultiaddr(parseAddress(entry.address)), {
          signal: AbortSignal.timeout(this.#settings.connectTimeoutMs),
        }));
      const reached = await this.#openControl(connection, link.nodeId);
      if (reached !== link.nodeId) throw new Error(`${entry.address} is now ${reached}`);
    } catch (err) {
      if (this.#state !== 'running') return;
      const level = this.#detector.isAlive(link.nodeId) ? 'warn' : 'debug';
      const fields = { error: errorSummary(err), peer: link.nodeId, address: entry.address };
      if (level === 'warn') this.#warnLimited(`link:${link.nodeId}`, fields, 'cannot connect to peer');
      else this.#log.debug(fields, 'cannot connect to peer');
      link.nextDialAtMs = this.#clock() + this.#backoff(link.attempt++);
    } finally {
      link.connecting = false;
    }
  }

  /**
   * Opens our control stream on `connection`, says hello and waits for the welcome. Returns
   * the node id that answered. On success that node's link uses this stream.
   */
  async #openControl(connection: Connection, expectedNodeId: NodeId | null): Promise<NodeId> {
    const timeoutMs = this.#settings.connectTimeoutMs;
    const stream = await connection.newStream(PEER_PROTOCOL, { signal: AbortSignal.timeout(timeoutMs) });
    const hello = encodeControlFrame({ kind: 'hello', version: PEER_PROTOCOL_VERSION, self: this.#selfEntry() });
    stream.send(encodeFrame(hello));
    let reply: ControlFrame;
    try {
      reply = await readFirstControlFrame(stream, timeoutMs);
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
    if (reply.kind === 'refuse') {
      this.#stats.hellosRefused += 1;
      this.#warnLimited(
        `refused:${connection.remoteAddr.toString()}`,
        { reason: reply.reason, text: reply.text },
        'peer refused our hello',
      );
      await stream.close().catch(() => undefined);
      throw new HelloRefusedError(`hello refused: ${reply.reason}`);
    }
    if (reply.kind !== 'welcome') {
      stream.abort(new Error('expected a welcome'));
      throw new Error(`expected a welcome, got ${reply.kind}`);
    }
    const { self: peer } = reply;
    const refusal = this.#bind(connection.remotePeer, peer);
    if (refusal !== null) {
      stream.abort(new Error(refusal));
      throw new HelloRefusedError(`welcome from ${peer.nodeId} not accepted: ${refusal}`);
    }
    const link = this.#links.get(peer.nodeId);
    assert(link !== undefined, 'binding creates the link');
    if (expectedNodeId !== null && peer.nodeId !== expectedNodeId) {
      // The address now hosts another node; that node's own link takes it from here.
      void stream.close().catch(() => undefined);
      return peer.nodeId;
    }
    if (link.control !== null && link.control.status === 'open') {
      void stream.close().catch(() => undefined); // both sides connected at once; keep the first
      return peer.nodeId;
    }
    this.#attachControl(link, connection, stream);
    return peer.nodeId;
  }

  #attachControl(link: Link, connection: Connection, stream: Stream): void {
    link.control = stream;
    link.connection = connection;
    link.attempt = 0;
    stream.addEventListener('close', () => this.#onControlClosed(link, stream));
    this.#heard(link.nodeId);
    this.#log.debug({ peer: link.nodeId, remote: connection.remoteAddr.toString() }, 'peer link ready');
    // An immediate heartbeat spreads the member list without waiting a whole interval.
    const members = [this.#selfEntry(), ...this.#table.entries().filter((e) => this.#detector.isAlive(e.nodeId))];
    this.#trySend(stream, encodeFrame(encodeControlFrame({ kind: 'heartbeat', members })));
    for (const channel of link.channels.values()) this.#pump(link, channel);
  }

  #onControlClosed(link: Link, stream: Stream): void {
    if (link.control !== stream) return;
    link.control = null;
    link.connection = null;
    for (const channel of link.channels.values()) {
      channel.stream?.abort(new Error('control stream closed'));
      channel.stream = null;
    }
    if (this.#state !== 'running') return;
    this.#log.debug({ peer: link.nodeId }, 'peer link lost; reconnecting');
    link.nextDialAtMs = this.#clock() + this.#backoff(link.attempt++);
  }

  #openConnectionTo(peerId: PeerId | null): Connection | undefined {
    if (peerId === null) return undefined;
    return this.#node().getConnections(peerId).find((c) => c.status === 'open');
  }

  // ---------------------------------------------------------------- identity

  /**
   * Binds an authenticated PeerId to the node id it claims. Returns null when accepted, or the
   * refusal reason. A node id already bound to another PeerId is refused while that PeerId is
   * connected and alive; otherwise the old PeerId (an earlier run) is dropped for good.
   */
  #bind(peerId: PeerId, claim: GossipEntry): RefuseReason | null {
    if (claim.nodeId === this.nodeId) return 'same-node-id';
    const key = peerId.toString();
    const boundTo = this.#peerNodes.get(key);
    if (boundTo !== undefined && boundTo !== claim.nodeId) return 'bad-hello';
    const existing = this.#links.get(claim.nodeId);
    if (existing?.peerId != null && !existing.peerId.equals(peerId)) {
      const connected = this.#openConnectionTo(existing.peerId) !== undefined;
      if (connected && this.#detector.isAlive(claim.nodeId)) return 'node-id-in-use';
      this.#unbindPeer(existing);
    }
    if (this.#table.recordDirect(claim) === 'unchanged' && this.#table.get(claim.nodeId) === undefined) {
      return 'members-full';
    }
    const link = this.#ensureLink(claim.nodeId);
    link.peerId = peerId;
    this.#peerNodes.set(key, claim.nodeId);
    return null;
  }

  /** Forgets a previous run of a node: its PeerId, streams and connections. */
  #unbindPeer(link: Link): void {
    const old = link.peerId;
    assert(old !== null, 'unbind a bound link');
    this.#log.info({ peer: link.nodeId, oldPeerId: old.toString() }, 'node restarted with a new identity');
    this.#nextSession(link.nodeId);
    this.#peerNodes.delete(old.toString());
    link.peerId = null;
    const control = link.control;
    link.control = null;
    link.connection = null;
    control?.abort(new Error('peer identity replaced'));
    for (const channel of link.channels.values()) {
      channel.stream?.abort(new Error('peer identity replaced'));
      channel.stream = null;
    }
    void this.#node().hangUp(old).catch(() => undefined);
  }

  #ensureLink(nodeId: NodeId): Link {
    let link = this.#links.get(nodeId);
    if (link === undefined) {
      link = {
        nodeId,
        peerId: null,
        control: null,
        connection: null,
        connecting: false,
        attempt: 0,
        nextDialAtMs: 0,
        channels: new Map(),
        queuedBytes: 0,
        queueFullLogged: false,
      };
      this.#links.set(nodeId, link);
      this.#detector.track(nodeId);
    }
    return link;
  }

  #selfEntry(): GossipEntry {
    return { nodeId: this.nodeId, address: this.#address, incarnation: this.#incarnation };
  }

  // ---------------------------------------------------------------- inbound

  /** Watches a raw inbound connection; one that closes before Noise completed is a stranger. */
  #watchInbound(maConn: MultiaddrConnection): boolean {
    maConn.addEventListener('close', (event) => {
      if (this.#authenticated.has(maConn) || this.#state !== 'running') return;
      this.#stats.connectionsRefused += 1;
      const remote = maConn.remoteAddr.toString();
      const host = remote.split('/tcp/')[0] ?? remote;
      // A security event in the shape of observability/security-log.ts (security, reason,
      // remoteAddress; msg "security event"), under this layer's own rate limit: peer/ imports
      // nothing above it, so it writes the line itself.
      this.#warnLimited(
        `stranger:${host}`,
        {
          security: 'peer_refused',
          reason: 'CLUSTER_KEY_WRONG',
          remoteAddress: host.replace(/^\/(ip4|ip6|dns4|dns6|dns)\//, ''),
          remote,
          error: event.error === undefined ? undefined : errorSummary(event.error),
          hint: 'refused connection: handshake failed (wrong or missing cluster key?)',
        },
        'security event',
      );
    });
    return false;
  }

  #onControlStream(stream: Stream, connection: Connection): void {
    const decoder = new FrameDecoder(CONTROL_FRAME_BYTES_MAX);
    let nodeId: NodeId | null = null;
    const helloTimer = setTimeout(() => {
      if (nodeId === null) stream.abort(new Error('no hello in time'));
    }, this.#settings.connectTimeoutMs);
    stream.addEventListener('close', () => clearTimeout(helloTimer));
    const fail = (err: unknown, why: string) => {
      this.#stats.badStreams += 1;
      this.#warnLimited(
        `bad-control:${connection.remotePeer.toString()}`,
        { peer: nodeId, error: errorSummary(err) },
        why,
      );
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    };
    stream.addEventListener('message', (event) => {
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunkOf(event));
      } catch (err) {
        fail(err, 'bad control stream from peer; closed');
        return;
      }
      for (const body of bodies) {
        if (stream.status !== 'open') return;
        let frame: ControlFrame;
        try {
          frame = decodeControlFrame(body);
        } catch (err) {
          fail(err, 'bad control frame from peer; stream closed');
          return;
        }
        if (nodeId === null) {
          nodeId = this.#onHello(frame, stream, connection);
          if (nodeId === null) return;
          continue;
        }
        if (frame.kind !== 'heartbeat') {
          fail(new Error(`unexpected ${frame.kind}`), 'unexpected control frame; stream closed');
          return;
        }
        if (this.#peerNodes.get(connection.remotePeer.toString()) !== nodeId) {
          stream.abort(new Error('peer identity replaced'));
          return;
        }
        this.#heard(nodeId);
        for (const entry of frame.members) this.#onGossip(entry);
      }
    });
  }

  /** Answers a hello; returns the node id when welcomed, null when refused. */
  #onHello(frame: ControlFrame, stream: Stream, connection: Connection): NodeId | null {
    const refuse = (reason: RefuseReason, text: string, fields: object) => {
      this.#stats.hellosRefused += 1;
      this.#warnLimited(
        `hello:${connection.remotePeer.toString()}`,
        { ...fields, reason, remote: connection.remoteAddr.toString() },
        'refused peer hello',
      );
      this.#trySend(stream, encodeFrame(encodeControlFrame({ kind: 'refuse', reason, text })));
      void stream.close().catch(() => undefined);
      return null;
    };
    if (frame.kind !== 'hello') return refuse('bad-hello', `expected hello, got ${frame.kind}`, {});
    if (frame.version !== PEER_PROTOCOL_VERSION) {
      return refuse('version', `this node speaks version ${PEER_PROTOCOL_VERSION}`, { version: frame.version });
    }
    const claim = frame.self;
    const refusal = this.#bind(connection.remotePeer, claim);
    if (refusal !== null) return refuse(refusal, `node id ${claim.nodeId} refused: ${refusal}`, { claimed: claim.nodeId });
    this.#trySend(stream, encodeFrame(encodeControlFrame({ kind: 'welcome', self: this.#selfEntry() })));
    const link = this.#links.get(claim.nodeId);
    assert(link !== undefined, 'binding creates the link');
    this.#heard(claim.nodeId);
    // Answer on the connection the peer just proved works rather than dialing a second one.
    if (link.control === null && !link.connecting) void this.#connectLink(link, connection);
    return claim.nodeId;
  }

  #onGossip(entry: GossipEntry): void {
    const result = this.#table.recordGossip(entry);
    if (result === 'unchanged') return;
    const link = this.#ensureLink(entry.nodeId);
    this.#log.debug({ peer: entry.nodeId, address: entry.address, result }, 'learned member from gossip');
    // A new address means a new run of that node: dial it now rather than after the backoff.
    link.attempt = 0;
    link.nextDialAtMs = 0;
  }

  #onDataStream(protocol: string, stream: Stream, connection: Connection): void {
    const peerKey = connection.remotePeer.toString();
    const nodeId = this.#peerNodes.get(peerKey);
    if (nodeId === undefined) {
      this.#stats.badStreams += 1;
      this.#warnLimited(
        `unbound:${peerKey}`,
        { protocol, remote: connection.remoteAddr.toString() },
        'data stream from a peer without hello; closed',
      );
      stream.abort(new Error('no hello'));
      return;
    }
    const decoder = new FrameDecoder(this.#settings.messageBytesMax);
    stream.addEventListener('message', (event) => {
      let bodies: Uint8Array[];
      try {
        bodies = decoder.push(chunkOf(event));
      } catch (err) {
        if (err instanceof FrameTooLargeError) this.#stats.droppedOversize += 1;
        this.#stats.badStreams += 1;
        this.#warnLimited(
          `bad-data:${nodeId}`,
          { peer: nodeId, protocol, error: errorSummary(err) },
          'bad data stream from peer; closed',
        );
        stream.abort(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      for (const body of bodies) {
        if (stream.status !== 'open') return;
        if (this.#peerNodes.get(peerKey) !== nodeId) {
          stream.abort(new Error('peer identity replaced'));
          return;
        }
        let frame: DataFrame;
        try {
          frame = decodeDataFrame(body);
        } catch (err) {
          this.#stats.badStreams += 1;
          this.#warnLimited(
            `bad-data:${nodeId}`,
            { peer: nodeId, protocol, error: errorSummary(err) },
            'bad data frame from peer; stream closed',
          );
          stream.abort(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        this.#heard(nodeId);
        this.#dispatch(nodeId, protocol, frame);
      }
    });
  }

  #dispatch(from: NodeId, protocol: string, frame: DataFrame): void {
    switch (frame.kind) {
      case 'message':
        this.#stats.messagesReceived += 1;
        this.#emitter.emit('message', { from, protocol, message: frame.message });
        return;
      case 'request':
        this.#serve(from, protocol, frame.requestId, frame.payload);
        return;
      case 'response':
      case 'failure': {
        const pending = this.#pending.get(frame.requestId);
        // Only the node asked may answer; anything else is a late or stray response.
        if (pending === undefined || pending.toNodeId !== from) return;
        this.#pending.delete(frame.requestId);
        clearTimeout(pending.timer);
        if (frame.kind === 'response') pending.resolve(frame.payload);
        else pending.reject(remoteFailure(from, protocol, frame.reason, frame.text));
        return;
      }
    }
  }

  #serve(from: NodeId, protocol: string, requestId: number, payload: unknown): void {
    const handler = this.#handlers.get(protocol);
    if (handler === undefined) {
      this.#reply(from, protocol, { kind: 'failure', requestId, reason: 'no-handler', text: `no handler for ${protocol}` });
      return;
    }
    this.#stats.requestsServed += 1;
    // The handler runs off this stack so a slow or throwing handler cannot stall the stream.
    void Promise.resolve()
      .then(() => handler(payload, from))
      .then(
        (response) => this.#reply(from, protocol, { kind: 'response', requestId, payload: response }),
        (err: unknown) => {
          const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'HANDLER_ERROR';
          const text = err instanceof Error ? err.message : String(err);
          this.#reply(from, protocol, { kind: 'failure', requestId, reason: code, text: text.slice(0, 512) });
        },
      );
  }

  #reply(to: NodeId, protocol: string, frame: DataFrame): void {
    const link = this.#links.get(to);
    if (link === undefined || this.#state !== 'running') return;
    let body: Uint8Array;
    try {
      body = encodeDataFrame(frame);
    } catch (err) {
      assert(frame.kind === 'response', 'failure frames always encode');
      const text = String(err).slice(0, 512);
      body = encodeDataFrame({ kind: 'failure', requestId: frame.requestId, reason: 'unencodable', text });
    }
    if (body.byteLength > this.#settings.messageBytesMax) {
      this.#stats.droppedOversize += 1;
      assert(frame.kind === 'response', 'failure frames are small');
      const text = `response of ${body.byteLength} bytes exceeds ${this.#settings.messageBytesMax}`;
      body = encodeDataFrame({ kind: 'failure', requestId: frame.requestId, reason: 'too-large', text });
    }
    this.#enqueue(link, protocol, encodeFrame(body));
  }

  #heard(nodeId: NodeId): void {
    const transition = this.#detector.heard(nodeId, this.#clock());
    if (transition === null) return;
    this.#nextSession(nodeId);
    const link = this.#links.get(nodeId);
    assert(link !== undefined, 'heard from a linked node');
    const address = this.#table.get(nodeId)?.address ?? '';
    this.#log.info({ peer: nodeId, address }, 'member up');
    // A peer that is back deserves a prompt redial if we lost our side of the link.
    if (link.control === null) link.nextDialAtMs = 0;
    this.#emitter.emit('member-up', { nodeId, address });
  }

  #nextSession(nodeId: NodeId): void {
    this.#sessions.set(nodeId, (this.#sessions.get(nodeId) ?? 1) + 1);
  }

  #onDown(nodeId: NodeId): void {
    const address = this.#table.get(nodeId)?.address ?? '';
    this.#log.warn({ peer: nodeId, address, failureTimeoutMs: this.#settings.failureTimeoutMs }, 'member down');
    const link = this.#links.get(nodeId);
    if (link !== undefined) this.#dropQueued(link);
    for (const [id, pending] of this.#pending) {
      if (pending.toNodeId !== nodeId) continue;
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(new PeerUnavailableError(nodeId, 'down'));
    }
    this.#emitter.emit('member-down', { nodeId, address });
  }

  // ---------------------------------------------------------------- outbound queues

  /** Queues a frame for the peer; false (counted, logged) when the queue is full. */
  #enqueue(link: Link, protocol: string, frame: Uint8Array): boolean {
    if (link.queuedBytes + frame.byteLength > this.#settings.queuedBytesPerPeerMax) {
      this.#stats.droppedQueueFull += 1;
      if (!link.queueFullLogged) {
        link.queueFullLogged = true;
        this.#log.warn(
          { peer: link.nodeId, queuedBytes: link.queuedBytes, bytesMax: this.#settings.queuedBytesPerPeerMax },
          'peer queue full; dropping messages until it drains',
        );
      }
      return false;
    }
    let channel = link.channels.get(protocol);
    if (channel === undefined) {
      channel = { protocol, stream: null, opening: false, queue: [] };
      link.channels.set(protocol, channel);
    }
    channel.queue.push(frame);
    link.queuedBytes += frame.byteLength;
    this.#pump(link, channel);
    return true;
  }

  /** Moves queued frames into the channel's stream while it accepts them, opening it if needed. */
  #pump(link: Link, channel: Channel): void {
    const stream = channel.stream;
    if (stream === null) {
      if (!channel.opening && link.connection !== null) void this.#openChannel(link, channel, link.connection);
      return;
    }
    while (channel.queue.length > 0 && !stream.writableNeedsDrain) {
      if (stream.status !== 'open' || stream.writeStatus !== 'writable') return;
      const frame = channel.queue.shift()!;
      link.queuedBytes -= frame.byteLength;
      this.#trySend(stream, frame);
    }
    if (link.queuedBytes === 0) link.queueFullLogged = false;
  }

  async #openChannel(link: Link, channel: Channel, connection: Connection): Promise<void> {
    channel.opening = true;
    try {
      const stream = await connection.newStream(channel.protocol, {
        signal: AbortSignal.timeout(this.#settings.connectTimeoutMs),
      });
      if (link.connection !== connection || this.#state !== 'running') {
        stream.abort(new Error('link changed while opening'));
        return;
      }
      channel.stream = stream;
      stream.addEventListener('drain', () => this.#pump(link, channel));
      stream.addEventListener('close', () => {
        if (channel.stream === stream) channel.stream = null;
      });
      this.#pump(link, channel);
    } catch (err) {
      // The next tick retries while frames wait; a dead connection shows up on the control stream.
      this.#log.debug({ peer: link.nodeId, protocol: channel.protocol, error: errorSummary(err) }, 'cannot open data stream');
    } finally {
      channel.opening = false;
    }
  }

  #dropQueued(link: Link): void {
    for (const channel of link.channels.values()) {
      this.#stats.droppedUnreachable += channel.queue.length;
      channel.queue.length = 0;
    }
    link.queuedBytes = 0;
    link.queueFullLogged = false;
  }

  /** Writes to a stream that may have died since it was checked; a dead stream is reported by its close event. */
  #trySend(stream: Stream, frame: Uint8Array): void {
    try {
      stream.send(frame);
    } catch (err) {
      this.#log.debug({ error: errorSummary(err) }, 'write to a closing stream');
    }
  }

  // ---------------------------------------------------------------- helpers

  #node(): Libp2p {
    assert(this.#libp2p !== null, 'libp2p is created by start()');
    return this.#libp2p;
  }

  #backoff(attempt: number): number {
    return backoffDelayMs(attempt, { minMs: this.#settings.reconnectMinMs, maxMs: this.#settings.reconnectMaxMs }, this.#random);
  }

  /** Logs a warning at most once per interval per key, and a bounded number in all (WarnLimiter). */
  #warnLimited(key: string, fields: object, message: string): void {
    this.#warnings.record(key, fields, message);
  }
}

function chunkOf(event: StreamMessageEvent): Uint8Array {
  return event.data instanceof Uint8Array ? event.data : event.data.subarray();
}

/** Resolves with the first control frame on `stream`, or rejects on close, bad data or timeout. */
function readFirstControlFrame(stream: Stream, timeoutMs: number): Promise<ControlFrame> {
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder(CONTROL_FRAME_BYTES_MAX);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('close', onClose);
      settle();
    };
    const onMessage = (event: StreamMessageEvent) => {
      try {
        const first = decoder.push(chunkOf(event))[0];
        if (first !== undefined) finish(() => resolve(decodeControlFrame(first)));
      } catch (err) {
        finish(() => reject(err));
      }
    };
    const onClose = () => finish(() => reject(new Error('stream closed before the welcome')));
    const timer = setTimeout(() => finish(() => reject(new Error(`no welcome within ${timeoutMs} ms`))), timeoutMs);
    stream.addEventListener('message', onMessage);
    stream.addEventListener('close', onClose);
  });
}

function remoteFailure(from: NodeId, protocol: string, reason: string, text: string): Error {
  if (reason === 'no-handler') return new NoHandlerError(from, protocol);
  if (reason === 'too-large') return new RemoteHandlerError(from, 'FRAME_TOO_LARGE', text);
  return new RemoteHandlerError(from, reason, text);
}

/** A short, log-friendly description of an error (libp2p errors carry long stacks). */
function errorSummary(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'NonError', message: String(err) };
}
