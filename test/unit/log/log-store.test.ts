import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
afterEach(async () => {
  await store.close();
  dir.remove();
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
    const state = { epoch: 2, vote: 'node-1', commit: 1, amnesiac: false };
    await store.writeReplicaBatch({
      partitions: [{ partition: 0, entries: [{ kind: 'noop', partition: 0, position: 1, epoch: 2 }, entry(0, 2, 'a/1', 1, { epoch: 2 })], replicaState: state, applied: [] }],
    });
    expect(store.lastPosition(0)).toBe(2);
    expect(store.aggregateSeq('a/1')).toBe(0);
    expect(store.findCommand('a/1', 'p', 'c-0-2')).toBeUndefined();
    expect(store.replicaState(0)).toEqual(state);
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
      partitions: [{ partition: 0, entries: [entry(0, 1, 'a/1', 1), entry(0, 2, 'a/1', 2), entry(0, 3, 'a/1', 3)], replicaState: { epoch: 1, vote: null, commit: 1, amnesiac: false }, applied: [] }],
    });
    await store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [entry(0, 2, 'a/2', 1, { epoch: 2 })], applied: store.storedEntries(0, 1, 2) }] });
    expect(store.lastPosition(0)).toBe(2);
    expect(store.storedEntry(0, 2)).toMatchObject({ aggregate: 'a/2', epoch: 2 });
    expect(store.storedEntry(0, 3)).toBeUndefined();
    await expect(store.writeReplicaBatch({ partitions: [{ partition: 0, entries: [entry(0, 5, 'a/2', 2)], applied: [] }] })).rejects.toThrow(/gap/);
  });

  it('log - index and dedupe records wait in memory, readers see them, and a reopen rebuilds them from the entries', async () => {
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync', indexBatchEntries: 100 });
    await store.append([entry(0, 1, 'a/1', 1), entry(0, 2, 'a/2', 1)]);
    await store.append([entry(0, 3, 'a/1', 2), entry(1, 1, 'b/1', 1)]);
    const read = (): unknown => ({
      deferred: store.deferredIndexEntries,
      a1: store.aggregateEntries(0, 'a/1', 0).map((e) => [e.seq, e.position]),
      a1After1: store.aggregateEntries(0, 'a/1', 1).map((e) => e.seq),
      seqs: [store.aggregateSeq('a/1'), store.aggregateSeq('a/2'), store.aggregateSeq('b/1'), store.aggregateSeq('none')],
      dedupe: store.findCommand('a/1', 'p', 'c-0-3'),
    });
    const expected = { deferred: 4, a1: [[1, 1], [2, 3]], a1After1: [2], seqs: [2, 1, 1, 0], dedupe: { seq: 2, position: 3, timestampMs: 1003 } };
    expect(read()).toEqual(expected);
    // No clean flush on close: the reopened store must find the records from the entries.
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync', indexBatchEntries: 100 });
    expect(read()).toEqual(expected);
    expect(store.verify()).toEqual({ partitions: 2, entries: 4, aggregates: 3 });
  });

  it('log - deferred records are written together once the batch is full, and the store forgets its indexed marks', async () => {
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync', indexBatchEntries: 4 });
    await store.append([entry(0, 1, 'a/1', 1), entry(0, 2, 'a/1', 2), entry(2, 1, 'c/1', 1)]);
    expect(store.deferredIndexEntries).toBe(3);
    await store.append([entry(0, 3, 'a/1', 3), entry(0, 4, 'a/2', 1)]);
    expect(store.deferredIndexEntries).toBe(0);
    expect(store.aggregateEntries(0, 'a/1', 0).map((e) => e.seq)).toEqual([1, 2, 3]);
    await store.append([entry(0, 5, 'a/1', 4)]);
    expect(store.deferredIndexEntries).toBe(1);
    expect(store.aggregateEntries(0, 'a/1', 1).map((e) => e.seq)).toEqual([2, 3, 4]);
    // Reopened with records written at once: nothing to rebuild but the one deferred entry.
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync', indexBatchEntries: 1 });
    expect(store.deferredIndexEntries).toBe(1);
    await store.append([entry(2, 2, 'c/1', 2)]);
    expect(store.deferredIndexEntries).toBe(0);
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync' });
    expect(store.deferredIndexEntries).toBe(0);
    expect(store.aggregateSeq('a/1')).toBe(4);
    expect(store.findCommand('c/1', 'p', 'c-2-2')).toEqual({ seq: 2, position: 2, timestampMs: 1002 });
    expect(store.verify()).toEqual({ partitions: 2, entries: 7, aggregates: 3 });
  });

  it('log - a replica defers the records of applied entries only, and rebuilds them up to its applied position', async () => {
    const state = { epoch: 1, vote: 'node-1', commit: 2, amnesiac: false };
    await store.writeReplicaBatch({
      partitions: [{ partition: 5, entries: [entry(5, 1, 'r/1', 1), entry(5, 2, 'r/1', 2), entry(5, 3, 'r/1', 3)], replicaState: state, applied: [] }],
    });
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [], applied: store.storedEntries(5, 1, 3) }] });
    expect(store.deferredIndexEntries).toBe(2);
    expect(store.aggregateSeq('r/1')).toBe(2);
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync' });
    expect(store.deferredIndexEntries).toBe(2);
    expect(store.aggregateEntries(5, 'r/1', 0).map((e) => e.seq)).toEqual([1, 2]);
    expect(store.findCommand('r/1', 'p', 'c-5-3')).toBeUndefined();
    // Applying again what is already applied (a replica restarting behind its applied position) changes nothing.
    await store.writeReplicaBatch({ partitions: [{ partition: 5, entries: [], applied: store.storedEntries(5, 1, 4) }] });
    expect(store.deferredIndexEntries).toBe(3);
    expect(store.aggregateEntries(5, 'r/1', 0).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(store.verify()).toEqual({ partitions: 1, entries: 3, aggregates: 1 });
  });

  it('log - a store of format 1 opens as fully indexed and is upgraded; a newer format is refused', async () => {
    await store.append([entry(0, 1, 'a/1', 1)]);
    await store.close();
    const raw = open({ path: dir.path, maxDbs: 12 });
    const meta = raw.openDB<unknown, string>({ name: 'meta' });
    meta.putSync('formatVersion', 1);
    await raw.close();
    store = LogStore.open({ path: dir.path, durability: 'fsync' });
    expect(store.aggregateSeq('a/1')).toBe(1);
    await store.close();
    const again = open({ path: dir.path, maxDbs: 12 });
    expect(again.openDB<unknown, string>({ name: 'meta' }).get('formatVersion')).toBe(2);
    again.openDB<unknown, string>({ name: 'meta' }).putSync('formatVersion', 3);
    await again.close();
    expect(() => LogStore.open({ path: dir.path, durability: 'fsync' })).toThrow(/format 3/);
  });
});
