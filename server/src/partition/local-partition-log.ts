/**
 * The single-node partition log: this node owns every partition at epoch 1 and an entry is
 * committed once it is durable in the local LogStore. Appends made in the same event-loop turn
 * are written in one LMDB transaction (group commit), which is what makes fsync affordable.
 */
import { RingstateError } from '@ringstate/protocol';
import type { LogEntry, LogStore } from '../log/index.ts';
import type { EntryDraft, PartitionLog, PartitionOwnership } from './partition-log.ts';

const EPOCH = 1;
/** Entries written per LMDB transaction at most; bounds the latency one flush adds. */
const BATCH_ENTRIES_MAX = 2048;

interface Pending {
  readonly entry: LogEntry;
  readonly resolve: (entry: LogEntry) => void;
  readonly reject: (error: Error) => void;
}

export class LocalPartitionLog implements PartitionLog {
  private readonly nextPosition = new Map<number, number>();
  private queue: Pending[] = [];
  private flushScheduled = false;
  private writing = false;
  private flushing: Promise<void> = Promise.resolve();
  private readonly committedListeners: Array<(entry: LogEntry) => void> = [];
  private stopped = false;

  constructor(private readonly store: LogStore) {}

  ownership(): PartitionOwnership {
    return { serving: !this.stopped, epoch: EPOCH };
  }

  replicates(): boolean {
    return true;
  }

  append(draft: EntryDraft): Promise<LogEntry> {
    if (this.stopped) return Promise.reject(new RingstateError('SHUTTING_DOWN', 'node is stopping'));
    const position = this.allocatePosition(draft.partition);
    const entry: LogEntry = { ...draft, position, epoch: EPOCH };
    return new Promise<LogEntry>((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      this.scheduleFlush();
    });
  }

  onCommitted(listener: (entry: LogEntry) => void): void {
    this.committedListeners.push(listener);
  }

  onOwnershipLost(): void {
    // A single node never loses ownership.
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    while (this.queue.length > 0 || this.writing || this.flushScheduled) {
      await this.flushing;
      await this.flushNow();
    }
  }

  private allocatePosition(partition: number): number {
    const next = this.nextPosition.get(partition) ?? this.store.lastPosition(partition) + 1;
    this.nextPosition.set(partition, next + 1);
    return next;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.writing) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flushNow());
  }

  /**
   * Group commit: one batch is written at a time, and everything that queued up while it was
   * being written (and synced) becomes the next batch. Under load batches grow, so the fixed
   * cost of a commit and its fsync is shared by more commands.
   */
  private flushNow(): Promise<void> {
    this.flushScheduled = false;
    if (this.writing) return this.flushing;
    const batch = this.queue.splice(0, BATCH_ENTRIES_MAX);
    if (batch.length === 0) return this.flushing;
    this.writing = true;
    this.flushing = this.write(batch).finally(() => {
      this.writing = false;
      if (this.queue.length > 0) this.scheduleFlush();
    });
    return this.flushing;
  }

  private async write(batch: Pending[]): Promise<void> {
    try {
      await this.store.append(batch.map((pending) => pending.entry));
    } catch (cause) {
      // Positions handed out after this batch would leave a gap: forget them and fail them all.
      this.nextPosition.clear();
      const failed = [...batch, ...this.queue.splice(0)];
      for (const pending of failed) pending.reject(new RingstateError('INTERNAL', 'log write failed', { cause }));
      return;
    }
    for (const pending of batch) {
      for (const listener of this.committedListeners) listener(pending.entry);
      pending.resolve(pending.entry);
    }
  }
}
