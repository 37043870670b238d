import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogStore, checkDataDir, formatFinding, repairDataDir, type LogEntry, type StoreDamagedError } from '../../../server/src/log/index.ts';
import { openDatabases, openEnvironment } from '../../../server/src/log/layout.ts';
import { tempDir } from '../../support/temp-dir.ts';

const dirs: Array<ReturnType<typeof tempDir>> = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

function newDir(): string {
  const dir = tempDir('check');
  dirs.push(dir);
  return dir.path;
}

const NOW = Date.now();

function entry(partition: number, position: number, aggregate: string, seq: number, extra: Partial<LogEntry> = {}): LogEntry {
  return {
    partition,
    position,
    epoch: 1,
    aggregate,
    seq,
    commandId: `c-${partition}-${position}`,
    playerId: 'p',
    commandDigest: new Uint8Array([position, 7]),
    events: [{ type: 'e', n: position }],
    eventVersion: 1,
    update: new Uint8Array([1, 2, 3]),
    timestampMs: NOW + position,
    ...extra,
  };
}

const ITEM = { id: '1.0', to: { type: 'player', id: 'b' }, command: { type: 'ping' }, playerId: 'p' };

/** A single node's store: two partitions, a snapshot, a pending and a settled outbox item. */
async function singleNodeStore(path: string, close = true): Promise<LogStore> {
  const store = LogStore.open({ path, durability: 'fsync', indexBatchEntries: close ? 1 : 2048 });
  await store.append([
    entry(0, 1, 'a/1', 1, { outbox: { add: [ITEM] } }),
    entry(0, 2, 'a/2', 1),
    entry(0, 3, 'a/1', 2, { snapshot: { seq: 2, state: { n: 2 }, doc: new Uint8Array([9]), eventVersion: 1 } }),
    entry(1, 1, 'b/1', 1, { outbox: { add: [{ ...ITEM, id: '1.0', to: { type: 'player', id: 'c' } }, { ...ITEM, id: '1.1', key: 'timer' }] } }),
  ]);
  await store.append([entry(1, 2, 'b/1', 2, { outbox: { settle: ['1.0'] } }), entry(0, 4, 'a/2', 2)]);
  if (close) await store.close();
  return store;
}

/** Writes through the store's own LMDB layout, as damage from outside would. */
async function damage(path: string, write: (dbs: ReturnType<typeof openDatabases>) => void): Promise<void> {
  const root = openEnvironment(path);
  write(openDatabases(root));
  await root.close();
}

describe('store check and repair', () => {
  it('check - a consistent single-node store is clean', async () => {
    const path = newDir();
    await singleNodeStore(path);
    const report = checkDataDir(path);
    expect(report.findings.map(formatFinding)).toEqual([]);
    expect(report.summary).toMatchObject({ partitions: 2, entries: 6, appliedCommands: 6, aggregates: 3, indexRecords: 6, dedupeRecords: 6, outboxItems: 2, aggregateSnapshots: 1 });
  });

  it('check - deferred records of a crashed store are legitimate, and repair writes them out', async () => {
    const path = newDir();
    const store = await singleNodeStore(path, false);
    const crashed = newDir();
    for (const file of readdirSync(path)) cpSync(join(path, file), join(crashed, file));
    await store.close();
    const report = checkDataDir(crashed);
    expect(report.findings.map(formatFinding)).toEqual([]);
    expect(report.summary.indexRecords).toBe(0);
    const repaired = await repairDataDir(crashed);
    expect(repaired.before.countsByArea).toEqual({ index: 6, dedupe: 6, indexed: 2 });
    expect(repaired.after.findingCount).toBe(0);
    expect(repaired.after.summary.indexRecords).toBe(6);
    const reopened = LogStore.open({ path: crashed, durability: 'fsync' });
    expect(reopened.deferredIndexEntries).toBe(0);
    expect(reopened.verify()).toMatchObject({ entries: 6, aggregates: 3 });
    await reopened.close();
  });

  it('check - a replicated store with an uncommitted tail and a compacted replication log is clean', async () => {
    const path = newDir();
    const store = LogStore.open({ path, durability: 'fsync', indexBatchEntries: 1 });
    const membership = { voters: ['n1', 'n2', 'n3'], learners: [] };
    await store.writeReplicaBatch({
      partitions: [
        {
          partition: 2,
          entries: [{ kind: 'membership', partition: 2, position: 1, epoch: 1, membership }, entry(2, 2, 'a/1', 1), entry(2, 3, 'a/1', 2, { epoch: 2 }), entry(2, 4, 'a/1', 3, { epoch: 2 })],
          hardState: { epoch: 2, vote: 'n1', commit: 2, amnesia: 0 },
          applied: [],
        },
      ],
    });
    // Applies 1..3 and compacts at 2; entry 4 stays stored and unapplied. Its seq repeats 3 on purpose: unapplied entries may be replaced.
    await store.writeReplicaBatch({ partitions: [{ partition: 2, entries: [], applied: store.storedEntries(2, 1, 4), snapshot: { position: 2, epoch: 1, membership } }] });
    await store.close();
    const report = checkDataDir(path);
    expect(report.findings.map(formatFinding)).toEqual([]);
    expect(report.summary).toMatchObject({ entries: 4, appliedCommands: 2, indexRecords: 2 });
  });

  it('check - an index record pointing at a foreign entry is reported; repair fixes it and the aggregate reads again', async () => {
    const path = newDir();
    await singleNodeStore(path);
    await damage(path, (dbs) => dbs.aggregates.putSync(['a/1', 1], 2));
    const report = checkDataDir(path);
    expect(report.findings.map(formatFinding)).toEqual(['index [partition 0, a/1, position 1]: the index record for a/1 seq 1 points at 0/2, which holds a/2 seq 1; the entry is at 0/1']);

    const damaged: StoreDamagedError[] = [];
    const store = LogStore.open({ path, durability: 'fsync', onDamage: (error) => damaged.push(error) });
    expect(() => store.aggregateEntries(0, 'a/1', 0)).toThrow(/STORE_DAMAGED: aggregate index points at a missing or foreign entry: a\/1 seq 1 -> 0\/2; stop the node and run `ringstate repair --data /);
    expect(damaged.map((error) => [error.code, error.retryable, error.aggregate])).toEqual([['STORE_DAMAGED', false, 'a/1']]);
    await store.close();

    const repaired = await repairDataDir(path);
    expect(repaired.written).toBe(1);
    expect(repaired.after.findingCount).toBe(0);
    const reopened = LogStore.open({ path, durability: 'fsync' });
    expect(reopened.aggregateEntries(0, 'a/1', 0).map((e) => e.position)).toEqual([1, 3]);
    await reopened.close();
  });

  it('check - wrong, missing and orphaned derived records are each reported and rebuilt', async () => {
    const path = newDir();
    await singleNodeStore(path);
    await damage(path, (dbs) => {
      dbs.aggregates.removeSync(['a/2', 2]);
      dbs.aggregates.putSync(['a/2', 9], 4);
      dbs.aggregates.putSync(['ghost/1', 1], 1);
      dbs.dedupe.putSync(['a/1', 'p', 'c-0-1'], { seq: 5, position: 1, timestampMs: 1 });
      dbs.dedupe.removeSync(['a/2', 'p', 'c-0-4']);
      dbs.dedupe.putSync(['a/1', 'p', 'made-up'], { seq: 1, position: 1, timestampMs: 1 });
      dbs.outbox.removeSync([0, 'a/1', '1.0']);
      dbs.outbox.putSync([1, 'b/1', '1.0'], ITEM);
      dbs.snapshots.removeSync('a/1');
      dbs.snapshots.putSync('a/2', { seq: 1, state: {}, doc: new Uint8Array(), eventVersion: 1 });
    });
    const report = checkDataDir(path);
    expect(report.countsByArea).toEqual({ index: 3, dedupe: 3, outbox: 2, snapshot: 2 });
    for (const line of report.findings.map(formatFinding)) expect(line).toMatch(/^(index|dedupe|outbox|snapshot) \[/);
    const repaired = await repairDataDir(path);
    expect(repaired.after.findings.map(formatFinding)).toEqual([]);
    const store = LogStore.open({ path, durability: 'fsync' });
    expect(store.verify()).toMatchObject({ entries: 6 });
    expect(store.outboxOf(0, 'a/1').map((item) => item.id)).toEqual(['1.0']);
    expect(store.outboxOf(1, 'b/1').map((item) => item.id)).toEqual(['1.1']);
    expect(store.findCommand('a/1', 'p', 'c-0-1')?.seq).toBe(1);
    expect(store.findCommand('a/1', 'p', 'made-up')).toBeUndefined();
    expect(store.latestSnapshot('a/1')?.seq).toBe(2);
    expect(store.latestSnapshot('a/2')).toBeUndefined();
    await store.close();
  });

  it('check - dedupe records older than the retention may be pruned; younger ones are required', async () => {
    const path = newDir();
    await singleNodeStore(path);
    await damage(path, (dbs) => dbs.dedupe.removeSync(['a/1', 'p', 'c-0-1']));
    expect(checkDataDir(path).countsByArea).toEqual({ dedupe: 1 });
    expect(checkDataDir(path, { dedupeRequiredAfterMs: NOW + 100 }).findingCount).toBe(0);
  });

  it('repair - log damage is reported and left alone: no entry is removed', async () => {
    const path = newDir();
    await singleNodeStore(path);
    await damage(path, (dbs) => {
      dbs.entries.removeSync([0, 2]);
      dbs.entries.putSync([0, 5], entry(0, 5, 'a/1', 2));
    });
    const report = checkDataDir(path);
    // The gap, a/2 seq 2 without its seq 1, and a/1 seq 2 again at position 5.
    expect(report.countsByArea.log).toBe(3);
    expect(report.findings.map(formatFinding)).toContain('log [partition 0, position 3]: log gap: positions 2..2 are missing');
    const repaired = await repairDataDir(path);
    expect(repaired.after.countsByArea.log).toBe(3);
    expect(repaired.after.summary.entries).toBe(report.summary.entries);
  });

  it('check - refuses a directory without a store', async () => {
    expect(() => checkDataDir(newDir())).toThrow(/holds no ringstate store/);
  });
});
