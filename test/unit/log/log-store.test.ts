import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cpSync } from 'node:fs';
import { open } from 'lmdb';
import { LogStore, type LogEntry } from '../../../server/src/log/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

let dir: ReturnType<typeof tempDir>;
let store: LogStore;

function entry(partition: number, position: number, aggregate: string, seq: number, extra: Partial<LogEntry> = {}): LogEntry {
  return {
    partition,
    position,
    epoch: 1,
    aggregate,
    seq,
    commandId: `c-${partition}-${position}`,
    playerId: 'p',
    events: [{ type: 'e', n: position }],
    eventVersion: 1,
    update: new Uint8Array([1, 2, 3]),
    timestampMs: 1000 + position,
    ...extra,
  };
}

beforeEach(() => {
  dir = tempDir('log');
  store = LogStore.open({ path: dir.path, durability: 'fsync' });
});
const crashCopies: Array<ReturnType<typeof tempDir>> = [];
afterEach(async () => {
  await store.close();
  dir.remove();
  for (const copy of crashCopies.splice(0)) copy.remove();
});

describe('log store', () => {
  it('log - appends entries per partition and reads them back by partition and by aggregate', async () => {
    await store.append([entry(0, 1, 'a/1', 1), entry(0, 2, 'a/2', 1), entry(3, 1, 'a/1', 2)]);
    await store.append([entry(0, 3, 'a/1', 3)]);
    expect(store.lastPosition(0)).toBe(3);
    expect(store.lastPosition(3)).toBe(1);
    expect(store.lastPosition(1)).toBe(0);
    expect(store.storedEntries(0, 2, 12).map((e) => e.position)).toEqual([2, 3]);
    expect(store.aggregateSeq('a/1')).toBe(3);
    expect(store.partitions()).toEqual([0, 3]);
    expect([...(store.entry(0, 1)?.update ?? [])]).toEqual([1, 2, 3]);
  });

  it('log - refuses a batch that would leave a gap, and writes none of it', async () => {
    await store.append([entry(0, 1, 'a/1', 1)]);
    await expect(store.append([entry(0, 2, 'a/1', 2), entry(0, 4, 'a/1', 3)])).rejects.toThrow(/gap/);
    expect(store.lastPosition(0)).toBe(1);
  });

  it('log - keeps the latest snapshot and the dedupe record of every entry', async () => {
    const snapshot = { seq: 1, state: { total: 1 }, doc: new Uint8Array([9]), eventVersion: 1 };
    await store.append([entry(0, 1, 'a/1', 1, { snapshot })]);
    expect(store.latestSnapshot('a/1')).toMatchObject({ seq: 1, state: { total: 1 }, eventVersion: 1 });
    expect([...(store.latestSnapshot('a/1')?.doc ?? [])]).toEqual([9]);
    expect(store.findCommand('a/1', 'p', 'c-0-1')).toEqual({ seq: 1, position: 1, timestampMs: 1001 });
    expect(store.findCommand('a/1', 'someone-else', 'c-0-1')).toBeUndefined();
  });

  it.each([1, 2048])('log - prunes dedupe records older than the retention, in bounded batches (indexBatchEntries %i)', async (indexBatchEntries) => {
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync', indexBatchEntries });
    await store.append([entry(0, 1, 'a/1', 1), entry(0, 2, 'a/1', 2), entry(0, 3, 'a/1', 3)]);
    expect(await store.pruneDedupe(1003, 1)).toBe(1);
    expect(await store.pruneDedupe(1003, 10)).toBe(1);
    expect(store.findCommand('a/1', 'p', 'c-0-3')).toBeDefined();
    expect(store.findCommand('a/1', 'p', 'c-0-1')).toBeUndefined();
  });

  it('log - verify reports a consistent log after reopening', async () => {
    await store.append([entry(1, 1, 'x/1', 1), entry(1, 2, 'x/1', 2), entry(2, 1, 'x/2', 1)]);
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync' });
    expect(store.verify()).toEqual({ partitions: 2, entries: 3, aggregates: 2 });
  });

  it('log - replicated batches store entries first and apply only committed ones', async () => {
    const state = { epoch: 2, vote: 'node-1', commit: 1, amnesia: 0 };
    await store.writeReplicaBatch({
      partitions: [{ partition: 0, entries: [{ kind: 'noop', partition: 0, position: 1, epoch: 2 }, entry(0, 2, 'a/1', 1, { epoch: 2 })], hardState: state, applied: [] }],
    });
    expect(store.lastPosition(0)).toBe(2);
    expect(store.aggregateSeq('a/1')).toBe(0);
    expect(store.findCommand('a/1', 'p', 'c-0-2')).toBeUndefined();
    expect(store.hardState(0)).toEqual(state);
    const second = store.storedEntries(0, 1, 3);
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [], applied: second }] });
    expect(store.appliedPosition(0)).toBe(2);
    expect(store.aggregateSeq('a/1')).toBe(1);
    expect(store.verify()).toEqual({ partitions: 1, entries: 1, aggregates: 1 });
  });

  it('log - the replication snapshot record is read once, follows later writes, and survives a reopen', async () => {
    expect(store.replicaSnapshot(0)).toBeUndefined();
    const membership = { voters: ['node-1'], learners: [] };
    await store.writeReplicaBatch({
      partitions: [{ partition: 0, entries: [entry(0, 1, 'a/1', 1), entry(0, 2, 'a/1', 2)], applied: [], snapshot: { position: 0, epoch: 0, membership } }],
    });
    expect(store.replicaSnapshot(0)).toEqual({ position: 0, epoch: 0, membership });
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [], applied: store.storedEntries(0, 1, 3), snapshot: { position: 2, epoch: 1, membership } }] });
    expect(store.replicaSnapshot(0)).toEqual({ position: 2, epoch: 1, membership });
    expect(store.replicaSnapshot(1)).toBeUndefined();
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync' });
    expect(store.replicaSnapshot(0)).toEqual({ position: 2, epoch: 1, membership });
  });

  it('log - an uncommitted suffix is replaced by a new owner\'s entries', async () => {
    await store.writeReplicaBatch({
      partitions: [{ partition: 0, entries: [entry(0, 1, 'a/1', 1), entry(0, 2, 'a/1', 2), entry(0, 3, 'a/1', 3)], hardState: { epoch: 1, vote: null, commit: 1, amnesia: 0 }, applied: [] }],
    });
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [entry(0, 2, 'a/2', 1, { epoch: 2 })], applied: store.storedEntries(0, 1, 2) }] });
    expect(store.lastPosition(0)).toBe(2);
    expect(store.storedEntry(0, 2)).toMatchObject({ aggregate: 'a/2', epoch: 2 });
    expect(store.storedEntry(0, 3)).toBeUndefined();
    await expect(store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [entry(0, 5, 'a/2', 2)], applied: [] }] })).rejects.toThrow(/gap/);
  });

  it('log - index and dedupe records wait in memory, readers see them, and a crashed store rebuilds them from the entries', async () => {
    await reopen({ indexBatchEntries: 100 });
    await store.append([entry(0, 1, 'a/1', 1), entry(0, 2, 'a/2', 1)]);
    await store.append([entry(0, 3, 'a/1', 2), entry(1, 1, 'b/1', 1)]);
    const read = (from: LogStore): unknown => ({
      held: from.deferredIndexEntries,
      a1: from.aggregateEntries(0, 'a/1', 0).map((e) => [e.seq, e.position]),
      a1After1: from.aggregateEntries(0, 'a/1', 1).map((e) => e.seq),
      seqs: [from.aggregateSeq('a/1'), from.aggregateSeq('a/2'), from.aggregateSeq('b/1'), from.aggregateSeq('none')],
      dedupe: from.findCommand('a/1', 'p', 'c-0-3'),
    });
    const expected = { held: 4, a1: [[1, 1], [2, 3]], a1After1: [2], seqs: [2, 1, 1, 0], dedupe: { seq: 2, position: 3, timestampMs: 1003 } };
    expect(read(store)).toEqual(expected);
    // Every reader gets its own copy, as from disk: changing one read does not change the next.
    (store.aggregateEntries(0, 'a/1', 1)[0]?.events as unknown[]).push('changed');
    expect(store.aggregateEntries(0, 'a/1', 1)[0]?.events).toEqual([{ type: 'e', n: 3 }]);
    const crashed = await openCrashCopy();
    expect(read(crashed)).toEqual(expected);
    expect(crashed.verify()).toEqual({ partitions: 2, entries: 4, aggregates: 3 });
    await crashed.close();
    // A clean close writes the held records out and leaves format 1.
    await reopen({ indexBatchEntries: 100 });
    expect(read(store)).toEqual({ ...expected, held: 0 });
    expect(formatOnDisk()).toBe(1);
    expect(store.verify()).toEqual({ partitions: 2, entries: 4, aggregates: 3 });
  });

  it('log - held records are written together once the batch is full, with the indexed records removed and format 1 again', async () => {
    await reopen({ indexBatchEntries: 4 });
    await store.append([entry(0, 1, 'a/1', 1), entry(0, 2, 'a/1', 2), entry(2, 1, 'c/1', 1)]);
    expect(store.deferredIndexEntries).toBe(3);
    expect(formatOnDisk()).toBe(2);
    await store.append([entry(0, 3, 'a/1', 3), entry(0, 4, 'a/2', 1)]);
    expect(store.deferredIndexEntries).toBe(0);
    expect(formatOnDisk()).toBe(1);
    expect(store.aggregateEntries(0, 'a/1', 0).map((e) => e.seq)).toEqual([1, 2, 3]);
    await store.append([entry(0, 5, 'a/1', 4)]);
    expect(store.deferredIndexEntries).toBe(1);
    expect(store.aggregateEntries(0, 'a/1', 1).map((e) => e.seq)).toEqual([2, 3, 4]);
    // Crashed, then run with records written at once: only the one held entry is read back,
    // and the next write takes it out.
    const crashed = await openCrashCopy({ indexBatchEntries: 1 });
    expect(crashed.deferredIndexEntries).toBe(1);
    await crashed.append([entry(2, 2, 'c/1', 2)]);
    expect(crashed.deferredIndexEntries).toBe(0);
    expect(crashed.aggregateSeq('a/1')).toBe(4);
    expect(crashed.findCommand('c/1', 'p', 'c-2-2')).toEqual({ seq: 2, position: 2, timestampMs: 1002 });
    expect(crashed.verify()).toEqual({ partitions: 2, entries: 7, aggregates: 3 });
    await crashed.close();
  });

  it('log - a replica holds the records of applied entries only, rebuilds them up to its applied position, and re-applying changes nothing', async () => {
    await reopen({ indexBatchEntries: 3 });
    const state = { epoch: 1, vote: 'node-1', commit: 2, amnesia: 0 };
    const stored = Array.from({ length: 28 }, (_, n) => entry(5, n + 1, 'r/1', n + 1));
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: stored, hardState: state, applied: [] }] });
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [], applied: store.storedEntries(5, 1, 3) }] });
    expect(store.deferredIndexEntries).toBe(2);
    expect(store.aggregateSeq('r/1')).toBe(2);
    const crashed = await openCrashCopy();
    expect(crashed.deferredIndexEntries).toBe(2);
    expect(crashed.aggregateEntries(5, 'r/1', 0).map((e) => e.seq)).toEqual([1, 2]);
    expect(crashed.findCommand('r/1', 'p', 'c-5-3')).toBeUndefined();
    await crashed.close();
    // Written out at once (2 + 2 reach the limit), then the same entries applied again: the
    // partition is tracked even though nothing is held, so the next write-out removes its
    // indexed record and a restart has nothing to read back.
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [], applied: store.storedEntries(5, 3, 5) }] });
    expect(store.deferredIndexEntries).toBe(0);
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [], applied: store.storedEntries(5, 3, 5) }] });
    expect(store.deferredIndexEntries).toBe(0);
    for (let from = 5; from <= 28; from += 3) await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [], applied: store.storedEntries(5, from, from + 3) }] });
    // Eight batches of three, each written out at once.
    expect(store.aggregateSeq('r/1')).toBe(28);
    expect(store.deferredIndexEntries).toBe(0);
    const again = await openCrashCopy();
    expect(again.deferredIndexEntries).toBe(0);
    expect(again.aggregateEntries(5, 'r/1', 0).map((e) => e.seq)).toEqual(Array.from({ length: 28 }, (_, n) => n + 1));
    expect(again.verify()).toEqual({ partitions: 1, entries: 28, aggregates: 1 });
    await again.close();
  });

  it('log - the command digest is kept with the dedupe record: held, rebuilt after a crash, on a replica, written out; older entries have none', async () => {
    await reopen({ indexBatchEntries: 100 });
    const digest = new Uint8Array(16).map((_, n) => n + 1);
    const digestOf = (from: LogStore, aggregate: string, commandId: string): number[] | undefined => {
      const record = from.findCommand(aggregate, 'p', commandId);
      return record?.commandDigest === undefined ? undefined : [...record.commandDigest];
    };
    await store.append([entry(0, 1, 'a/1', 1, { commandDigest: digest }), entry(0, 2, 'a/1', 2)]);
    const state = { epoch: 1, vote: 'node-1', commit: 1, amnesia: 0 };
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [entry(5, 1, 'r/1', 1, { commandDigest: digest })], hardState: state, applied: [] }] });
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [], applied: store.storedEntries(5, 1, 2) }] });
    expect(store.deferredIndexEntries).toBe(3);
    const expected = [...digest];
    const check = (from: LogStore): void => {
      expect(digestOf(from, 'a/1', 'c-0-1')).toEqual(expected);
      expect(digestOf(from, 'r/1', 'c-5-1')).toEqual(expected);
      // An entry from before digests: its record has none (unknown), as records on old stores.
      expect(from.findCommand('a/1', 'p', 'c-0-2')).toEqual({ seq: 2, position: 2, timestampMs: 1002 });
    };
    check(store);
    const crashed = await openCrashCopy();
    expect(crashed.deferredIndexEntries).toBe(3);
    check(crashed);
    await crashed.close();
    // Written out by a clean close, and read from the dedupe database after it.
    await reopen({ indexBatchEntries: 1 });
    expect(store.deferredIndexEntries).toBe(0);
    check(store);
    // Written with the entry (indexBatchEntries 1).
    await store.append([entry(0, 3, 'a/1', 3, { commandDigest: digest })]);
    await reopen({});
    expect(digestOf(store, 'a/1', 'c-0-3')).toEqual(expected);
  });

  it('log - format 1 and 2 open, a newer format is refused', async () => {
    await store.append([entry(0, 1, 'a/1', 1)]);
    expect(formatOnDisk()).toBe(2);
    await store.close();
    expect(formatOnDisk()).toBe(1);
    setFormatOnDisk(3);
    expect(() => LogStore.open({ path: dir.path, durability: 'fsync' })).toThrow(/format 3, this build reads 1 and 2/);
    setFormatOnDisk(1);
    await reopen({});
    expect(store.aggregateSeq('a/1')).toBe(1);
  });

  it('log - close waits for the last write, and every caller of close waits for the same one', async () => {
    await reopen({ indexBatchEntries: 100 });
    await store.append([entry(0, 1, 'a/1', 1)]);
    const writing = store.append([entry(0, 2, 'a/1', 2)]);
    const first = store.close();
    const second = store.close();
    await second;
    // Resolved only once the held records (both appends') are written out.
    expect(store.deferredIndexEntries).toBe(0);
    await Promise.all([writing, first]);
    expect(formatOnDisk()).toBe(1);
    store = LogStore.open({ path: dir.path, durability: 'fsync', indexBatchEntries: 100 });
    expect(store.deferredIndexEntries).toBe(0);
    expect(store.findCommand('a/1', 'p', 'c-0-1')).toMatchObject({ seq: 1 });
    expect(store.findCommand('a/1', 'p', 'c-0-2')).toMatchObject({ seq: 2 });
  });

  it('log - a store left at format 2 with nothing held is set back to format 1 by a clean close', async () => {
    await store.close();
    setFormatOnDisk(2);
    await reopen({});
    await store.close();
    expect(formatOnDisk()).toBe(1);
  });

  it('log - after a failed write the held records are read again from the disk, so later ones are still found after a crash', async () => {
    await reopen({ indexBatchEntries: 3 });
    const state = { epoch: 1, vote: 'node-1', commit: 4, amnesia: 0 };
    // LMDB refuses keys over 1,978 bytes: this entry's dedupe record cannot be written.
    const unwritable = entry(0, 3, 'a/1', 3, { commandId: 'x'.repeat(3000) });
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [entry(0, 1, 'a/1', 1), entry(0, 2, 'a/1', 2), unwritable, entry(0, 4, 'a/1', 4)], hardState: state, applied: [] }] });
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [], applied: store.storedEntries(0, 1, 2) }] });
    expect(store.deferredIndexEntries).toBe(1);
    // The write-out queues its records, then fails on the long key; lmdb commits what was queued.
    await expect(store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [], applied: store.storedEntries(0, 2, 4) }] })).rejects.toThrow();
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [], applied: store.storedEntries(0, 4, 5) }] });
    const crashed = await openCrashCopy({ indexBatchEntries: 3 });
    expect(crashed.findCommand('a/1', 'p', 'c-0-4')).toMatchObject({ seq: 4, position: 4 });
    expect(crashed.findCommand('a/1', 'p', 'c-0-2')).toMatchObject({ seq: 2, position: 2 });
    await crashed.close();
  });
});

/** Closes the test's store (writing held records out) and opens it again. */
async function reopen(options: { indexBatchEntries?: number }): Promise<void> {
  await store.close();
  store = LogStore.open({ path: dir.path, durability: 'fsync', ...options });
}

/**
 * A copy of the store's files as they are now, opened as a second store: what a node finds
 * after a crash at this instant (every commit so far is complete, the held records are not).
 */
async function openCrashCopy(options: { indexBatchEntries?: number } = {}): Promise<LogStore> {
  const copy = tempDir('log-crash');
  crashCopies.push(copy);
  cpSync(dir.path, copy.path, { recursive: true });
  return LogStore.open({ path: copy.path, durability: 'fsync', ...options });
}

/** Reads or writes the format number with the store closed (lmdb directly). */
function formatOnDisk(): unknown {
  const raw = open({ path: dir.path, maxDbs: 12, readOnly: true });
  try {
    return raw.openDB<unknown, string>({ name: 'meta' }).get('formatVersion');
  } finally {
    void raw.close();
  }
}

function setFormatOnDisk(format: number): void {
  const raw = open({ path: dir.path, maxDbs: 12 });
  raw.openDB<unknown, string>({ name: 'meta' }).putSync('formatVersion', format);
  void raw.close();
}
