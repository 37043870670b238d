/**
 * Memory per active aggregate and activation time, measured in-process on the real runtime and
 * LMDB log. Run with --expose-gc (bench-node.ts does); prints one JSON object.
 *
 *   memory: write one entry for each of N players, passivate them all, then activate all N
 *           again (each runs one command) and divide the heap growth (after GC) by N: "hot",
 *           with each Yjs document resident. Then let docResidentMs pass so documents compact
 *           and measure again: "idle" (still active: state in memory, no storage read needed).
 *   activation: one aggregate with 10,000 events; passivate and re-activate it repeatedly,
 *           timing the synchronous activation (snapshot + tail replay + Yjs document load).
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exampleGame } from '../../../server/example-game/index.ts';
import { AggregateRegistry, AggregateRuntime } from '../../../server/src/aggregate/index.ts';
import { LogStore } from '../../../server/src/log/index.ts';
import { LocalPartitionLog } from '../../../server/src/partition/index.ts';

const { values } = parseArgs({ options: { aggregates: { type: 'string', default: '100000' }, events: { type: 'string', default: '10000' }, snapshotEvery: { type: 'string', default: '100' } } });
const aggregateCount = Number(values.aggregates);
const eventCount = Number(values.events);
const snapshotEveryEvents = Number(values.snapshotEvery);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

let nowMs = Date.now();
const dir = mkdtempSync(join(tmpdir(), 'ringstate-footprint-'));
const store = LogStore.open({ path: dir, durability: 'os' });
const runtime = new AggregateRuntime({
  registry: new AggregateRegistry(exampleGame),
  store,
  log: new LocalPartitionLog(store),
  nowMs: () => nowMs,
  settings: { partitionCount: 64, snapshotEveryEvents, aggregateIdleMs: 1_000, activeAggregatesMax: aggregateCount * 2, commandQueueMax: 1000, docResidentMs: 5_000 },
});

let commandCounter = 0;
function move(player: string): Promise<unknown> {
  commandCounter += 1;
  return runtime.execute({ aggregateType: 'player', aggregateId: player, playerId: player, commandId: `c${commandCounter}`, command: { type: 'move', x: commandCounter, y: 1 } });
}

function passivateAll(): void {
  nowMs += 10_000;
  runtime.passivateIdle();
}

function heapBytes(): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

async function inBatches(count: number, batch: number, run: (index: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += batch) {
    const pending: Array<Promise<unknown>> = [];
    for (let index = start; index < Math.min(count, start + batch); index += 1) pending.push(run(index));
    await Promise.all(pending);
  }
}

// Memory per active aggregate.
await inBatches(aggregateCount, 5_000, (index) => move(`p${index}`));
passivateAll();
const before = heapBytes();
await inBatches(aggregateCount, 5_000, (index) => move(`p${index}`));
const after = heapBytes();
const activeMeasured = runtime.activeCount;
const bytesPerHotAggregate = (after - before) / activeMeasured;
// The same aggregates once their documents were compacted (idle past docResidentMs).
nowMs += 6_000;
runtime.compactIdleDocs();
const bytesPerIdleAggregate = (heapBytes() - before) / activeMeasured;
passivateAll();

// Activation time of one aggregate with many events.
await inBatches(eventCount, 500, () => move('heavy'));
const samples: number[] = [];
for (let round = 0; round < 50; round += 1) {
  passivateAll();
  const started = performance.now();
  const pending = move('heavy');
  samples.push(performance.now() - started);
  await pending;
}
samples.sort((a, b) => a - b);

await store.close();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    activeAggregates: activeMeasured,
    bytesPerActiveAggregateHot: Math.round(bytesPerHotAggregate),
    bytesPerActiveAggregateIdle: Math.round(bytesPerIdleAggregate),
    activationEvents: eventCount,
    snapshotEveryEvents,
    activationMs: { p50: samples[Math.floor(samples.length / 2)], p99: samples[Math.floor(samples.length * 0.99)], max: samples.at(-1) },
  }),
);
