/**
 * The production storage interface (`LogStorage`, log/log-storage.ts) in memory, for the
 * simulator: the same records as the LMDB `LogStore` (entries kept as history, hard state,
 * applied position, replication snapshot, aggregate index, aggregate snapshots, dedupe) and the
 * same checks (a write that would leave a gap throws), with a disk's failure semantics.
 *
 * A batch becomes visible and durable together, when the injected disk says its sync finished
 * (as an LMDB transaction under the `fsync` policy); a crash loses every batch not synced yet,
 * and nothing else. The disk may also never finish a write (the node crashed meanwhile): the
 * returned promise then never settles, which only a crashed node's abandoned code waits on.
 *
 * Index and dedupe records are written with their entries: the LogStore's deferred index
 * (deferred-index.ts) is a cost optimisation whose records a restart rebuilds, so it has no
 * behaviour of its own to simulate.
 */
import type { AggregateSnapshot, DedupeRecord, HardState, LogEntry, LogStorage, OutboxItem, PendingDelivery, ReplicaBatch, ReplicaSnapshotMeta, StoredEntry } from '../log/index.ts';
import { foldOutbox, isCommandEntry, touchesOutbox } from '../log/index.ts';

/** Makes a batch durable: calls `commit` once synced (or never, if the node crashes first), then resolves. */
export type SimDisk = (commit: () => void) => Promise<void>;

interface PartitionData {
  /** entries[i] is position i + 1; the whole history (compaction keeps entries, as on disk). */
  entries: StoredEntry[];
  hardState: HardState | undefined;
  snapshot: ReplicaSnapshotMeta | undefined;
  applied: number;
}

export class MemoryLogStore implements LogStorage {
  private readonly partitions = new Map<number, PartitionData>();
  /** aggregate -> positions by seq (index seq - 1). */
  private readonly aggregates = new Map<string, number[]>();
  private readonly snapshots = new Map<string, AggregateSnapshot>();
  private readonly dedupe = new Map<string, DedupeRecord>();
  /** partition -> aggregate -> pending outbox items by id. */
  private readonly outbox = new Map<number, Map<string, Map<string, OutboxItem>>>();
  /** Node-level records (the ring membership): written synchronously and durably, as LogStore's meta database. */
  private readonly meta = new Map<string, unknown>();
  /** Where the next batch goes; set by the node that runs on this store. */
  disk: SimDisk = (commit) => {
    commit();
    return Promise.resolve();
  };

  readMeta(key: string): unknown {
    const value = this.meta.get(key);
    return value === undefined ? undefined : structuredClone(value);
  }

  writeMeta(key: string, value: unknown): void {
    this.meta.set(key, structuredClone(value));
  }

  latestSnapshot(aggregate: string): AggregateSnapshot | undefined {
    return this.snapshots.get(aggregate);
  }

  aggregateEntries(partition: number, aggregate: string, afterSeq: number): LogEntry[] {
    const positions = this.aggregates.get(aggregate) ?? [];
    const out: LogEntry[] = [];
    for (let seq = afterSeq + 1; seq <= positions.length; seq += 1) {
      const position = positions[seq - 1] ?? 0;
      const entry = this.partition(partition).entries[position - 1];
      if (entry === undefined || !isCommandEntry(entry) || entry.aggregate !== aggregate || entry.seq !== seq) {
        throw new Error(`aggregate index points at a missing or foreign entry: ${aggregate} seq ${seq} -> ${partition}/${position}`);
      }
      out.push(entry);
    }
    return out;
  }

  aggregateSeq(aggregate: string): number {
    return this.aggregates.get(aggregate)?.length ?? 0;
  }

  findCommand(aggregate: string, playerId: string, commandId: string): DedupeRecord | undefined {
    return this.dedupe.get(dedupeKey(aggregate, playerId, commandId));
  }

  outboxOf(partition: number, aggregate: string): OutboxItem[] {
    return [...(this.outbox.get(partition)?.get(aggregate)?.values() ?? [])];
  }

  pendingDeliveries(partition: number): PendingDelivery[] {
    const out: PendingDelivery[] = [];
    for (const [aggregate, items] of this.outbox.get(partition) ?? []) {
      for (const item of items.values()) out.push({ aggregate, item });
    }
    return out;
  }

  hardState(partition: number): HardState | undefined {
    return this.partitions.get(partition)?.hardState;
  }

  replicaSnapshot(partition: number): ReplicaSnapshotMeta | undefined {
    return this.partitions.get(partition)?.snapshot;
  }

  appliedPosition(partition: number): number {
    return this.partitions.get(partition)?.applied ?? 0;
  }

  lastPosition(partition: number): number {
    return this.partitions.get(partition)?.entries.length ?? 0;
  }

  storedEntry(partition: number, position: number): StoredEntry | undefined {
    return this.partitions.get(partition)?.entries[position - 1];
  }

  storedEntries(partition: number, from: number, to: number): StoredEntry[] {
    const entries = this.partitions.get(partition)?.entries ?? [];
    return entries.slice(Math.max(from, 1) - 1, Math.max(to - 1, 0));
  }

  /** Partitions with anything stored (the simulator's final checks read these). */
  storedPartitions(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  writeReplicaBatch(batch: ReplicaBatch): Promise<void> {
    // Checked before anything is written, as LogStore does: a gap is a broken invariant.
    for (const part of batch.partitions) {
      const stored = this.lastPosition(part.partition);
      const first = part.truncateFrom ?? part.entries[0]?.position;
      let next = (first !== undefined && first <= stored ? first - 1 : stored) + 1;
      for (const entry of part.entries) {
        if (entry.partition !== part.partition || entry.position !== next) {
          return Promise.reject(new Error(`log gap: partition ${part.partition} expected position ${next}, got ${entry.partition}/${entry.position}`));
        }
        next += 1;
      }
    }
    return this.disk(() => this.commit(batch));
  }

  private commit(batch: ReplicaBatch): void {
    for (const part of batch.partitions) {
      const data = this.partition(part.partition);
      const first = part.truncateFrom ?? part.entries[0]?.position;
      if (first !== undefined && first <= data.entries.length) data.entries.length = first - 1;
      for (const entry of part.entries) data.entries.push(entry);
      if (part.hardState !== undefined) data.hardState = part.hardState;
      if (part.snapshot !== undefined) data.snapshot = part.snapshot;
      for (const entry of part.applied) {
        if (!isCommandEntry(entry)) continue;
        let positions = this.aggregates.get(entry.aggregate);
        if (positions === undefined) {
          positions = [];
          this.aggregates.set(entry.aggregate, positions);
        }
        if (entry.seq !== positions.length + 1) throw new Error(`aggregate ${entry.aggregate}: applying seq ${entry.seq} after ${positions.length} (position ${entry.position}, indexed at ${positions[entry.seq - 1] ?? '-'}, applied ${data.applied}, batch applies ${part.applied.map((e) => `${e.position}:${e.epoch}:${isCommandEntry(e) ? `${e.aggregate}#${e.seq}/${e.commandId}` : e.kind}`).join(',')}, truncateFrom ${part.truncateFrom ?? '-'}, snapshot ${part.snapshot?.position ?? '-'})`);
        positions.push(entry.position);
        const record = { seq: entry.seq, position: entry.position, timestampMs: entry.timestampMs };
        this.dedupe.set(dedupeKey(entry.aggregate, entry.playerId, entry.commandId), entry.commandDigest === undefined ? record : { ...record, commandDigest: entry.commandDigest });
        if (entry.snapshot !== undefined) this.snapshots.set(entry.aggregate, entry.snapshot);
        if (touchesOutbox(entry.outbox)) this.foldOutbox(entry);
      }
      const appliedTo = part.applied.at(-1)?.position;
      if (appliedTo !== undefined) data.applied = appliedTo;
    }
  }

  private foldOutbox(entry: LogEntry): void {
    let aggregates = this.outbox.get(entry.partition);
    if (aggregates === undefined) {
      aggregates = new Map();
      this.outbox.set(entry.partition, aggregates);
    }
    const items = aggregates.get(entry.aggregate) ?? new Map<string, OutboxItem>();
    foldOutbox(items, entry.outbox);
    if (items.size === 0) aggregates.delete(entry.aggregate);
    else aggregates.set(entry.aggregate, items);
  }

  private partition(partition: number): PartitionData {
    let data = this.partitions.get(partition);
    if (data === undefined) {
      data = { entries: [], hardState: undefined, snapshot: undefined, applied: 0 };
      this.partitions.set(partition, data);
    }
    return data;
  }
}

function dedupeKey(aggregate: string, playerId: string, commandId: string): string {
  return `${aggregate.length}:${aggregate}${playerId.length}:${playerId}${commandId}`;
}
