/**
 * Replication layer: the pure per-partition replication state machine (Raft scoped to each
 * partition's replica set). No I/O, timers, clocks or randomness of its own: a driver feeds
 * it ticks, messages and proposals, and persists, sends and applies what its Ready says.
 * docs/replication.md explains the protocol, the fault model and the settings.
 *
 * Wire layout. Every node-to-node message is a plain map (msgpack-encoded by the transport)
 * with a string `type`, the `partition` it belongs to and the sender's `epoch`. The sender
 * is the authenticated peer of the connection. Entries and snapshots are nested maps;
 * `payload` is the application's command (bytes in production) and `data` is bytes.
 *
 *   pre-vote           {type, partition, epoch, lastPosition, lastEpoch}
 *   pre-vote-response  {type, partition, epoch, granted}
 *   vote               {type, partition, epoch, lastPosition, lastEpoch, transfer}
 *   vote-response      {type, partition, epoch, granted}
 *   append             {type, partition, epoch, prevPosition, prevEpoch, entries: Entry[],
 *                       commit, readmit}
 *   append-response    {type, partition, epoch, success, position, hintPosition, hintEpoch,
 *                       amnesia}
 *   heartbeat          {type, partition, epoch, commit, seq, readmit, quiesce}
 *   heartbeat-response {type, partition, epoch, seq, commit, amnesia}
 *   snapshot           {type, partition, epoch, snapshot: Snapshot}
 *   timeout-now        {type, partition, epoch}
 *
 *   Entry    {position, epoch, kind: 'command', payload}
 *          | {position, epoch, kind: 'noop'}
 *          | {position, epoch, kind: 'membership', membership: {voters: string[], learners: string[]}}
 *   Snapshot {position, epoch, membership, data: bytes}
 *
 * Field meanings are documented on the types in messages.ts. Numbers are non-negative
 * integers below 2^53. A transport must validate shapes with `parseMessage` before calling
 * `step` (the core asserts on impossible protocol states, not on malformed input), and must not deliver a
 * message sent by a previous run of a peer process after messages of its current run
 * (one connection per process run gives this for free).
 */
export { AssertionError, assert } from './assert.ts';
export {
  NoQuorumError,
  NotOwnerError,
  OverloadedError,
  ReplicationError,
  UnavailableError,
  type ReplicationCondition,
  type UnavailableReason,
} from './errors.ts';
export type { CommandResult, ProposeResult } from './group.ts';
export { emptyMembership, planMembershipStep, quorumSize, type MembershipStep } from './membership.ts';
export type {
  AppendRequest,
  AppendResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  Message,
  MessageType,
  OutboundMessage,
  PreVoteRequest,
  PreVoteResponse,
  SnapshotRequest,
  TimeoutNowRequest,
  VoteRequest,
  VoteResponse,
} from './messages.ts';
export { ReplicationNode, type Ready, type ReplicationNodeInit } from './node.ts';
export {
  DRIVER_MODULE,
  ReadyDriver,
  type DriverApplication,
  type DriverComponents,
  type DriverNetwork,
  type DriverStorage,
  type ProposalOutcome,
} from './driver.ts';
export { defaultReplicationSettings, resolveReplicationSettings, type ReplicationSettings } from './settings.ts';
export type { ReplicationStorage } from './storage.ts';
export { defaultWireLimits, parseMessage, type WireLimits } from './wire.ts';
export type {
  CommandEntry,
  Entry,
  HardState,
  Membership,
  MembershipEntry,
  NodeId,
  NoopEntry,
  OwnershipChange,
  OwnershipReason,
  PartitionApply,
  PartitionStatus,
  PartitionWrite,
  ReadState,
  Role,
  Snapshot,
  SnapshotMeta,
} from './types.ts';
