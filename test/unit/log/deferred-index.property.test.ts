/**
 * Property test of the log store's deferred index records (docs/storage.md): random sequences of
 * replicated writes (store, apply, apply again), crashes (a copy of the files opened as a new
 * store, held records lost) and clean restarts, each with a random `indexBatchEntries`. After
 * every step the readers must answer exactly what a plain model of the applied log says, and
 * verify() must pass.
 */
import { cpSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LogStore, type DurabilityPolicy, type LogEntry } from '../../../server/src/log/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

// Property tests print their seed; rerun a failure with FC_SEED=<seed>.
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`deferred index records: fast-check seed ${seed}`);

/** Aggregates and the partition each belongs to. */
const AGGREGATES = [
  ['a/1', 0],
  ['a/2', 0],
  ['b/1', 1],
  ['c/1', 2],
] as const;
const PARTITIONS = [0, 1, 2];
const MAX_BATCH_ENTRIES = 8;

type Step =
  | { kind: 'store'; picks: number[] }
  | { kind: 'apply'; partition: number; count: number }
  | { kind: 'reapply'; partition: number; count: number }
  | { kind: 'crash'; indexBatchEntries: number }
  | { kind: 'restart'; indexBatchEntries: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('store' as const), picks: fc.array(fc.nat(AGGREGATES.length - 1), { minLength: 1, maxLength: 6 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('apply' as const), partition: fc.constantFrom(...PARTITIONS), count: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reapply' as const), partition: fc.constantFrom(...PARTITIONS), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), indexBatchEntries: fc.integer({ min: 1, max: MAX_BATCH_ENTRIES }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), indexBatchEntries: fc.integer({ min: 1, max: MAX_BATCH_ENTRIES }) }) },
);

/** What the store must show: per partition the stored entries, and how many are applied. */
interface Model {
  readonly stored: Map<number, LogEntry[]>;
  readonly applied: Map<number, number>;
}

const dirs: Array<ReturnType<typeof tempDir>> = [];
const open: LogStore[] = [];
afterEach(async () => {
  for (const store of open.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) dir.remove();
});

function openStore(path: string, indexBatchEntries: number, durability: DurabilityPolicy): LogStore {
  const store = LogStore.open({ path, durability, indexBatchEntries });
  open.push(store);
  return store;
}

async function run(steps: readonly Step[], firstBatchEntries: number, durability: DurabilityPolicy): Promise<void> {
  let dir = tempDir('deferred-index');
  dirs.push(dir);
  let store = openStore(dir.path, firstBatchEntries, durability);
  const model: Model = { stored: new Map(PARTITIONS.map((p) => [p, []])), applied: new Map(PARTITIONS.map((p) => [p, 0])) };
  const seqs = new Map<string, number>();
  let commandCounter = 0;

  for (const step of steps) {
    switch (step.kind) {
      case 'store': {
        const byPartition = new Map<number, LogEntry[]>();
        for (const pick of step.picks) {
          const [aggregate, partition] = AGGREGATES[pick] ?? AGGREGATES[0];
          const entries = model.stored.get(partition) ?? [];
          const seq = (seqs.get(aggregate) ?? 0) + 1;
          seqs.set(aggregate, seq);
          commandCounter += 1;
          const entry: LogEntry = {
            partition,
            position: entries.length + 1,
            epoch: 1,
            aggregate,
            seq,
            commandId: `cmd-${commandCounter}`,
            playerId: `player-${pick}`,
            events: [{ n: commandCounter }],
            eventVersion: 1,
            update: new Uint8Array([commandCounter % 256]),
            timestampMs: 1_000 + commandCounter,
          };
          entries.push(entry);
          byPartition.set(partition, [...(byPartition.get(partition) ?? []), entry]);
        }
        await store.writeReplicaBatch({
          partitions: [...byPartition].map(([partition, entries]) => ({ partition, entries, hardState: { epoch: 1, vote: null, commit: 0, amnesia: 0 }, applied: [] })),
        });
        break;
      }
      case 'apply':
      case 'reapply': {
        const stored = model.stored.get(step.partition) ?? [];
        const applied = model.applied.get(step.partition) ?? 0;
        const [from, to] = step.kind === 'apply' ? [applied, Math.min(stored.length, applied + step.count)] : [Math.max(0, applied - step.count), applied];
        if (to <= from) break;
        await store.writeReplicaBatch({ partitions: [{ partition: step.partition, entries: [], applied: store.storedEntries(step.partition, from + 1, to + 1) }] });
        if (step.kind === 'apply') model.applied.set(step.partition, to);
        break;
      }
      case 'crash': {
        // The files as they are now, opened as a new store: held records are lost, as in a kill -9.
        const copy = tempDir('deferred-index-crash');
        dirs.push(copy);
        cpSync(dir.path, copy.path, { recursive: true });
        dir = copy;
        store = openStore(dir.path, step.indexBatchEntries, durability);
        break;
      }
      case 'restart': {
        await store.close();
        store = openStore(dir.path, step.indexBatchEntries, durability);
        break;
      }
    }
    check(store, model);
  }
}

function check(store: LogStore, model: Model): void {
  // Below the largest limit: a crash copy reopened with a smaller limit holds what the larger
  // one held until its next write-out.
  expect(store.deferredIndexEntries).toBeLessThan(MAX_BATCH_ENTRIES);
  let entries = 0;
  const aggregates = new Set<string>();
  for (const [aggregate, partition] of AGGREGATES) {
    const applied = (model.stored.get(partition) ?? []).slice(0, model.applied.get(partition) ?? 0).filter((e) => e.aggregate === aggregate);
    const unapplied = (model.stored.get(partition) ?? []).slice(model.applied.get(partition) ?? 0).filter((e) => e.aggregate === aggregate);
    entries += applied.length;
    if (applied.length > 0) aggregates.add(aggregate);
    expect(store.aggregateSeq(aggregate)).toBe(applied.length);
    expect(store.aggregateEntries(partition, aggregate, 0).map((e) => [e.seq, e.position, e.commandId])).toEqual(applied.map((e) => [e.seq, e.position, e.commandId]));
    const half = Math.floor(applied.length / 2);
    expect(store.aggregateEntries(partition, aggregate, half).map((e) => e.seq)).toEqual(applied.slice(half).map((e) => e.seq));
    for (const e of applied) expect(store.findCommand(aggregate, e.playerId, e.commandId)).toEqual({ seq: e.seq, position: e.position, timestampMs: e.timestampMs });
    for (const e of unapplied) expect(store.findCommand(aggregate, e.playerId, e.commandId)).toBeUndefined();
  }
  const verified = store.verify();
  expect(verified.entries).toBe(entries);
  expect(verified.aggregates).toBe(aggregates.size);
}

describe('deferred index records (property)', () => {
  // os commits synchronously on this thread; fsync goes through lmdb-js's writer thread and
  // syncs every commit, so it runs fewer cases.
  it.each([
    ['os', 300],
    ['fsync', 150],
  ] as const)('deferred index - readers match the applied log after any sequence of writes, crashes and restarts (%s)', async (durability, numRuns) => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: MAX_BATCH_ENTRIES }), async (steps, firstBatchEntries) => {
        try {
          await run(steps, firstBatchEntries, durability);
        } finally {
          for (const store of open.splice(0)) await store.close();
          for (const dir of dirs.splice(0)) dir.remove();
        }
      }),
      { seed, numRuns },
    );
  }, 120_000);
});
