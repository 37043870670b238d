/**
 * In-memory `ReplicationStorage` with a disk's failure semantics: `write` makes data visible
 * at once (the page cache), `sync` makes it durable (fsync), and `crash` throws away what
 * was written but not synced. Used by the simulator and the unit tests.
 */
import { assert } from '../replication/assert.ts';
import type { Entry, HardState, PartitionWrite, ReplicationStorage, Snapshot, SnapshotMeta } from '../replication/index.ts';

interface PartitionStore<P> {
  hardState: HardState | undefined;
  snapshot: Snapshot | undefined;
  /** Entries after the snapshot, contiguous: entries[i].position = snapshotPosition + 1 + i. */
  entries: Entry<P>[];
}

export class MemoryStorage<P> implements ReplicationStorage<P> {
  private current = new Map<number, PartitionStore<P>>();
  private durable = new Map<number, PartitionStore<P>>();
  private unsynced: PartitionWrite<P>[] = [];

  write(write: PartitionWrite<P>): void {
    applyWrite(store(this.current, write.partition), write);
    this.unsynced.push(write);
  }

  sync(): void {
    for (const write of this.unsynced) applyWrite(store(this.durable, write.partition), write);
    this.unsynced = [];
  }

  /** Loses every write not yet synced, as a power cut or kill -9 would. */
  crash(): void {
    this.unsynced = [];
    this.current = new Map();
    for (const [partition, saved] of this.durable) {
      this.current.set(partition, { hardState: saved.hardState, snapshot: saved.snapshot, entries: [...saved.entries] });
    }
  }

  hardState(partition: number): HardState | undefined {
    return this.current.get(partition)?.hardState;
  }

  snapshotMeta(partition: number): SnapshotMeta | undefined {
    return this.current.get(partition)?.snapshot;
  }

  snapshot(partition: number): Snapshot | undefined {
    return this.current.get(partition)?.snapshot;
  }

  firstPosition(partition: number): number {
    return (this.current.get(partition)?.snapshot?.position ?? 0) + 1;
  }

  lastPosition(partition: number): number {
    const saved = this.current.get(partition);
    return (saved?.snapshot?.position ?? 0) + (saved?.entries.length ?? 0);
  }

  entries(partition: number, from: number, to: number): readonly Entry<P>[] {
    const saved = this.current.get(partition);
    if (saved === undefined) return [];
    const base = (saved.snapshot?.position ?? 0) + 1;
    assert(from >= base && to <= base + saved.entries.length, `storage read [${from}, ${to}) outside the stored log`);
    return saved.entries.slice(from - base, to - base);
  }

  epochAt(partition: number, position: number): number {
    const saved = this.current.get(partition);
    const snapshotPosition = saved?.snapshot?.position ?? 0;
    if (position === snapshotPosition) return saved?.snapshot?.epoch ?? 0;
    const entry = saved?.entries[position - snapshotPosition - 1];
    assert(entry !== undefined, `storage has no entry at ${position}`);
    return entry.epoch;
  }

  /** The simulator rebuilds application state from the snapshot after a restart. */
  appliedPosition(partition: number): number {
    return this.current.get(partition)?.snapshot?.position ?? 0;
  }
}

function store<P>(stores: Map<number, PartitionStore<P>>, partition: number): PartitionStore<P> {
  let saved = stores.get(partition);
  if (saved === undefined) {
    saved = { hardState: undefined, snapshot: undefined, entries: [] };
    stores.set(partition, saved);
  }
  return saved;
}

function applyWrite<P>(saved: PartitionStore<P>, write: PartitionWrite<P>): void {
  if (write.snapshot !== undefined) {
    const snapshot = write.snapshot.snapshot;
    const oldBase = saved.snapshot?.position ?? 0;
    if (write.snapshot.kind === 'install') {
      saved.entries = [];
    } else {
      assert(snapshot.position > oldBase, 'compaction to an older snapshot');
      assert(snapshot.position <= oldBase + saved.entries.length, 'compaction beyond the stored log');
      saved.entries = saved.entries.slice(snapshot.position - oldBase);
    }
    saved.snapshot = snapshot;
  }
  const first = write.entries[0];
  if (first !== undefined) {
    const base = (saved.snapshot?.position ?? 0) + 1;
    assert(first.position >= base, `write at ${first.position} before the snapshot`);
    assert(first.position <= base + saved.entries.length, `write at ${first.position} leaves a gap`);
    saved.entries.length = first.position - base;
    for (const entry of write.entries) saved.entries.push(entry);
  }
  if (write.hardState !== undefined) saved.hardState = write.hardState;
}
