/**
 * The replication core's read side (ReplicationStorage) over the node's LMDB log store, and
 * the conversions between the core's entries and the stored form.
 *
 * Stored form: a command entry is the flat LogEntry (partition, position, epoch and the
 * command's fields), so single-node and replicated logs share one format; control entries
 * (noop, membership) carry `kind`. The core's command payload is the LogEntry without its
 * log coordinates.
 *
 * Log compaction is not enabled yet: the log starts at position 1 on every replica and the
 * core never asks for snapshots (firstPosition is always 1).
 */
import type { LogEntry, LogStore, StoredEntry } from '../log/index.ts';
import { isCommandEntry } from '../log/index.ts';
import type { Entry, HardState, ReplicationStorage, Snapshot, SnapshotMeta } from '../replication/index.ts';

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
  constructor(private readonly store: LogStore) {}

  hardState(partition: number): HardState | undefined {
    return this.store.replicaState(partition) as HardState | undefined;
  }

  snapshotMeta(): SnapshotMeta | undefined {
    return undefined;
  }

  snapshot(): Snapshot | undefined {
    return undefined;
  }

  firstPosition(): number {
    return 1;
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
