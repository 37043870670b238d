/**
 * Peer layer: carries plain-data messages and requests between cluster nodes identified by
 * node id, over a libp2p private network, and keeps the membership view (who is up, who is
 * down) with heartbeats, gossip and a timeout failure detector. docs/cluster-network.md
 * describes the protocols, the cluster key and the settings.
 */
export { createPeerNetwork, Libp2pPeerNetwork } from './peer-network.ts';
export {
  FORWARD_PROTOCOL,
  PEER_PROTOCOL,
  REPLICATION_PROTOCOL,
  type MemberInfo,
  type NodeId,
  type PeerMessage,
  type PeerNetwork,
  type PeerNetworkComponents,
  type PeerNetworkEvents,
  type PeerNetworkInit,
  type PeerNetworkStats,
  type RequestHandler,
  zeroPeerNetworkStats,
} from './types.ts';
export {
  BadFrameError,
  FrameTooLargeError,
  MessageTooLargeError,
  NoHandlerError,
  PeerConfigError,
  PeerError,
  PeerNetworkStoppedError,
  PeerUnavailableError,
  QueueFullError,
  RemoteHandlerError,
  RequestTimeoutError,
  type PeerCondition,
} from './errors.ts';
export { CLUSTER_SECRET_CHARS_MIN, generateClusterKey, swarmKeyFromClusterKey } from './cluster-key.ts';
export { FailureDetector, type MemberTransition } from './failure-detector.ts';
export { parseAddress, formatAddress, type HostPort } from './address.ts';
export { StallDiscountingClock } from './stall-discounting-clock.ts';
