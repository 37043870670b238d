/**
 * The replication core's read side (ReplicationStorage) over the node's LMDB log store, and
 * the conversions between the core's entries and the stored form.
 *
 * Stored form: a command entry is the flat LogEntry (partition, position, epoch and the
 * command's fields), so single-node and replicated logs share one format; control entries
 * (noop, membership) carry `kind`. The core's command payload is the LogEntry without its
 * log coordinates.
 *
 * Replication snapshots (snapshot-transfer.ts): compaction only moves where the *replication*
 * log starts (`firstPosition` = snapshot position + 1); the entries before it stay on disk,
 * because they are the aggregates' event history. A snapshot's `data` is empty: a replica that
 * installs one has fetched and applied the entries up to its position beforehand.
 */
import type { LogEntry, LogStorage, StoredEntry } from '../log/index.ts';
import { isCommandEntry } from '../log/index.ts';
import type { Entry, HardState, ReplicationStorage, Snapshot, SnapshotMeta } from '../replication/index.ts';

const EMPTY = new Uint8Array(0);

/** A command as the replication core carries it: a log entry without its coordinates. */
export type CommandPayload = Omit<LogEntry, 'partition' | 'position' | 'epoch' | 'kind'>;

export function toCoreEntry(stored: StoredEntry): Entry<CommandPayload> {
  if (isCommandEntry(stored)) {
    const { partition: _partition, position, epoch, kind: _kind, ...payload } = stored;
    return { position, epoch, kind: 'command', payload };
  }
  if (stored.kind === 'membership') {
    if (stored.membership === undefined) throw new Error(`membership entry ${stored.partition}/${stored.position} without membership`);
    return { position: stored.position, epoch: stored.epoch, kind: 'membership', membership: stored.membership };
  }
  return { position: stored.position, epoch: stored.epoch, kind: 'noop' };
}

export function toStoredEntry(partition: number, entry: Entry<CommandPayload>): StoredEntry {
  switch (entry.kind) {
    case 'command':
      return { ...entry.payload, partition, position: entry.position, epoch: entry.epoch };
    case 'membership':
      return { kind: 'membership', partition, position: entry.position, epoch: entry.epoch, membership: entry.membership };
    case 'noop':
      return { kind: 'noop', partition, position: entry.position, epoch: entry.epoch };
  }
}

export class LmdbReplicationStorage implements ReplicationStorage<CommandPayload> {
  constructor(private readonly store: LogStorage) {}

  hardState(partition: number): HardState | undefined {
    return this.store.hardState(partition);
  }

  snapshotMeta(partition: number): SnapshotMeta | undefined {
    return this.store.replicaSnapshot(partition);
  }

  snapshot(partition: number): Snapshot | undefined {
    const meta = this.store.replicaSnapshot(partition);
    return meta === undefined ? undefined : { ...meta, data: EMPTY };
  }

  firstPosition(partition: number): number {
    return (this.store.replicaSnapshot(partition)?.position ?? 0) + 1;
  }

  lastPosition(partition: number): number {
    return this.store.lastPosition(partition);
  }

  entries(partition: number, from: number, to: number): readonly Entry<CommandPayload>[] {
    return this.store.storedEntries(partition, from, to).map(toCoreEntry);
  }

  epochAt(partition: number, position: number): number {
    if (position === 0) return 0;
    const stored = this.store.storedEntry(partition, position);
    if (stored === undefined) throw new Error(`epochAt: partition ${partition} has no entry at ${position}`);
    return stored.epoch;
  }

  appliedPosition(partition: number): number {
    return this.store.appliedPosition(partition);
  }
}
