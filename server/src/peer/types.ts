/**
 * Contracts of the peer layer: what the cluster layer may rely on. The libp2p implementation
 * (peer-network.ts) is one implementation; a simulator or a test can provide another.
 */
import type { Logger } from 'pino';
import type { PrivateKey } from '@libp2p/interface';

/** A cluster node's stable identifier (the ring member name), e.g. "node-1". */
export type NodeId = string;

export const PEER_PROTOCOL = '/ringstate/peer/1.0.0';
export const REPLICATION_PROTOCOL = '/ringstate/replication/1.0.0';
export const FORWARD_PROTOCOL = '/ringstate/forward/1.0.0';

export interface MemberInfo {
  readonly nodeId: NodeId;
  /** `host:port` the node advertises (what peers dial). */
  readonly address: string;
  /** Heard from within `failureTimeoutMs`. This node itself is always alive. */
  readonly alive: boolean;
  /** Clock time when the node was last heard from; null if never (known only by gossip). */
  readonly lastSeenMs: number | null;
  /** True for the entry describing this node. */
  readonly self: boolean;
}

export interface PeerMessage {
  readonly from: NodeId;
  readonly protocol: string;
  readonly message: unknown;
}

export interface PeerNetworkEvents {
  [name: string]: unknown;
  'member-up': { readonly nodeId: NodeId; readonly address: string };
  'member-down': { readonly nodeId: NodeId; readonly address: string };
  message: PeerMessage;
}

/** Answers a request; what it returns (or resolves to) is sent back as the response. */
export type RequestHandler = (payload: unknown, from: NodeId) => unknown;

/** Counters since start; every dropped message is counted in exactly one `dropped*` field. */
export interface PeerNetworkStats {
  messagesSent: number;
  messagesReceived: number;
  /** To an unknown node, a node that is down, or while stopped. */
  droppedUnreachable: number;
  /** Encoded larger than `messageBytesMax` (outgoing and refused incoming). */
  droppedOversize: number;
  /** The peer's outgoing queue was full. */
  droppedQueueFull: number;
  /** Could not be encoded as msgpack. */
  droppedUnencodable: number;
  requestsSent: number;
  requestsTimedOut: number;
  requestsServed: number;
  /** Inbound connections that failed the private-network or Noise handshake. */
  connectionsRefused: number;
  /** Hellos refused (node id in use, own node id, wrong version). */
  hellosRefused: number;
  /** Streams closed because a frame was malformed or came from an unbound peer. */
  badStreams: number;
  listenerErrors: number;
}

/** Every counter at zero: where a network starts. */
export function zeroPeerNetworkStats(): PeerNetworkStats {
  return {
    messagesSent: 0,
    messagesReceived: 0,
    droppedUnreachable: 0,
    droppedOversize: 0,
    droppedQueueFull: 0,
    droppedUnencodable: 0,
    requestsSent: 0,
    requestsTimedOut: 0,
    requestsServed: 0,
    connectionsRefused: 0,
    hellosRefused: 0,
    badStreams: 0,
    listenerErrors: 0,
  };
}

export interface PeerNetwork {
  readonly nodeId: NodeId;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `host:port` peers dial to reach this node; known after `start`. */
  address(): string;
  /**
   * Sends one message, best effort (loss, duplication across reconnects and reordering across
   * protocols are possible; one protocol to one peer stays in order). Never throws for a peer
   * problem: returns false and counts the drop when the peer is unknown or down, the message
   * is too large, or the peer's queue is full.
   */
  send(toNodeId: NodeId, message: unknown, protocol?: string): boolean;
  /** Sends a request and waits for the response; rejects with a PeerError. */
  request(toNodeId: NodeId, protocol: string, payload: unknown, timeoutMs: number): Promise<unknown>;
  /** Registers the handler answering requests on `protocol` (one per protocol). */
  handle(protocol: string, handler: RequestHandler): void;
  /** Every known node, this one included. */
  members(): MemberInfo[];
  /**
   * 0 while `nodeId` is down (or unknown); else its session: a number that changes whenever the
   * node was down or restarted since. O(1): the replication core asks per idle partition per tick.
   */
  liveness(nodeId: NodeId): number;
  on<K extends keyof PeerNetworkEvents>(event: K, listener: (payload: PeerNetworkEvents[K]) => void): () => void;
  stats(): Readonly<PeerNetworkStats>;
}

export interface PeerNetworkInit {
  readonly nodeId: NodeId;
  /** Where to listen. Port 0 picks a free port (see `address()`). */
  readonly listen: { readonly host: string; readonly port: number };
  /** `host:port` to advertise; defaults to the listen host and bound port (required for a wildcard host). */
  readonly advertise?: string;
  /** Peers to contact first, as `host:port`; hostnames are resolved at every dial. */
  readonly bootstrap?: readonly string[];
  /** A secret string (>= 16 characters) or the standard swarm key text; see cluster-key.ts. */
  readonly clusterKey: string;
  /** How often a heartbeat (with gossip) goes to each connected peer. Default 200. */
  readonly heartbeatIntervalMs?: number;
  /** Silence after which a peer is down. Default 800; at least 2 heartbeat intervals. */
  readonly failureTimeoutMs?: number;
  /** Dial plus hello deadline. Default 2000. */
  readonly connectTimeoutMs?: number;
  /** Reconnect backoff bounds. Defaults 100 and 2000. */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
  /** Largest encoded message (frame body). Default 4 MiB. */
  readonly messageBytesMax?: number;
  /** Largest backlog of unsent bytes per peer before new messages are dropped. Default 16 MiB. */
  readonly queuedBytesPerPeerMax?: number;
  /** Requests awaiting a response, all peers together. Default 10,000. */
  readonly pendingRequestsMax?: number;
  /** Known nodes at most (a bound on gossip). Default 1,024. */
  readonly membersMax?: number;
  /** Inbound connections per second from one IP before libp2p refuses more. Default 32. */
  readonly inboundConnectionsPerHostPerSecondMax?: number;
  /** Data protocols to serve. Default replication and forward. */
  readonly protocols?: readonly string[];
}

export interface PeerNetworkComponents {
  readonly logger: Logger;
  /** Milliseconds, monotonic; defaults to `performance.timeOrigin + performance.now()`. */
  readonly clock?: () => number;
  /** [0, 1); defaults to Math.random. Used for backoff jitter. */
  readonly random?: () => number;
  /** libp2p identity; a fresh Ed25519 key per start when absent. */
  readonly privateKey?: PrivateKey;
}
