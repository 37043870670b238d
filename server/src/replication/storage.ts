/**
 * The synchronous read side of a node's durable replication state, implemented by the
 * driver (lmdb in production, memory in the simulator and tests). The core only reads it;
 * every write reaches storage through `Ready.writes`, which the driver persists before
 * calling `advance()`. Entries the core produced but the driver has not yet persisted live in
 * the core's in-memory unstable suffix, so storage never needs to see half-written state.
 *
 * Contract per partition:
 * - Stored entries are contiguous: every position in [firstPosition, lastPosition] is present.
 * - `firstPosition - 1` is the snapshot's position (0 when there is no snapshot), and
 *   `epochAt(firstPosition - 1)` returns the snapshot's epoch (0 when none).
 * - A partition that never persisted anything has no hard state, no snapshot, and
 *   firstPosition 1, lastPosition 0.
 */
import type { Entry, HardState, Snapshot, SnapshotMeta } from './types.ts';

export interface ReplicationStorage<P> {
  /** The last persisted hard state, or undefined when none was ever persisted. */
  hardState(partition: number): HardState | undefined;
  /** Metadata of the stored snapshot, or undefined when there is none. */
  snapshotMeta(partition: number): SnapshotMeta | undefined;
  /** The stored snapshot with its data (read only when a replica needs it). */
  snapshot(partition: number): Snapshot | undefined;
  firstPosition(partition: number): number;
  lastPosition(partition: number): number;
  /** Stored entries in [from, to); the caller keeps within [firstPosition, lastPosition + 1]. */
  entries(partition: number, from: number, to: number): readonly Entry<P>[];
  /** Epoch of the stored entry at `position`, for positions in [firstPosition - 1, lastPosition]. */
  epochAt(partition: number, position: number): number;
  /**
   * The last position whose effects the application holds after a restart (its durable
   * applied position, or the snapshot position when it rebuilds from the snapshot). The core
   * hands out committed entries after it.
   */
  appliedPosition(partition: number): number;
}
