/**
 * Tunables of the replication core, each with its unit in its name and a bound on every
 * queue or batch (a peer that stops answering must not make the owner buffer without end).
 *
 * Timing defaults aim at failover within about 2 s on loopback: the owner sends a heartbeat
 * every 100 ms; a replica that hears nothing for a random 500-1000 ms campaigns. The random
 * spread keeps replicas from splitting the vote; the 5x ratio to the heartbeat tolerates a few
 * lost or late heartbeats (GC pauses, a busy event loop) without needless elections. Worst
 * case to a ready new owner: 1000 ms timeout + pre-vote and vote round trips + the new
 * owner's first commit, well under 2 s. Lower timeouts fail over faster but elect spuriously
 * under load; docs/replication.md has the trade-off.
 */

export interface ReplicationSettings {
  /** How often the owner sends heartbeats (and retries probes) to each replica. */
  readonly heartbeatIntervalMs: number;
  /** Lower bound of the randomized election timeout; also the owner's check-quorum window. */
  readonly electionTimeoutMinMs: number;
  /** Upper bound (exclusive) of the randomized election timeout. */
  readonly electionTimeoutMaxMs: number;
  /** Entries per append message. */
  readonly appendEntriesMax: number;
  /** Payload bytes per append message (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /** Append messages in flight to one replica before the owner waits for answers. */
  readonly inflightAppendsMax: number;
  /** Proposed but uncommitted payload bytes per partition before proposals are refused. */
  readonly uncommittedBytesMax: number;
  /** Largest payload one entry may carry; the application must enforce this on input. */
  readonly entryBytesMax: number;
  /** Committed entries handed to the application per partition per Ready. */
  readonly applyEntriesMax: number;
  /** How long the owner waits for a replica to confirm a snapshot before sending it again. */
  readonly snapshotRetryMs: number;
  /** Minimum time between two attempts to hand ownership to the preferred owner. */
  readonly preferredTransferBackoffMs: number;
  /** A ownership transfer that has not completed within this time is abandoned. */
  readonly transferTimeoutMs: number;
  /**
   * How long a replica that is not the owner may hold committed entries before applying them
   * in a store write of their own (0: at once). Until then they are applied along with the
   * next store write of any partition, which costs nothing extra; owners always apply at once.
   */
  readonly replicaApplyDelayMs: number;
}

export const defaultReplicationSettings: ReplicationSettings = Object.freeze({
  heartbeatIntervalMs: 100,
  electionTimeoutMinMs: 500,
  electionTimeoutMaxMs: 1000,
  appendEntriesMax: 64,
  appendBytesMax: 1024 * 1024,
  inflightAppendsMax: 8,
  uncommittedBytesMax: 8 * 1024 * 1024,
  entryBytesMax: 1024 * 1024,
  applyEntriesMax: 256,
  snapshotRetryMs: 2000,
  preferredTransferBackoffMs: 3000,
  transferTimeoutMs: 1000,
  replicaApplyDelayMs: 0,
});

/** Merges overrides onto the defaults, checks the relations the protocol relies on, freezes. */
export function resolveReplicationSettings(
  overrides: Partial<ReplicationSettings> = {},
): ReplicationSettings {
  const settings: ReplicationSettings = { ...defaultReplicationSettings, ...overrides };
  for (const [name, value] of Object.entries(settings)) {
    const lowest = name === 'replicaApplyDelayMs' ? 0 : 1;
    if (!Number.isInteger(value) || value < lowest) {
      throw new RangeError(`replication setting ${name} must be an integer of at least ${lowest}, got ${String(value)}`);
    }
  }
  if (settings.electionTimeoutMaxMs <= settings.electionTimeoutMinMs) {
    throw new RangeError('electionTimeoutMaxMs must be greater than electionTimeoutMinMs');
  }
  // A replica must hear several heartbeats per election timeout, or a single lost
  // heartbeat would start an election.
  if (settings.heartbeatIntervalMs * 3 > settings.electionTimeoutMinMs) {
    throw new RangeError('heartbeatIntervalMs must be at most a third of electionTimeoutMinMs');
  }
  if (settings.entryBytesMax > settings.uncommittedBytesMax) {
    throw new RangeError('entryBytesMax must not exceed uncommittedBytesMax');
  }
  return Object.freeze(settings);
}
