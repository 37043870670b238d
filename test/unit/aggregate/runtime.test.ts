import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as Y from 'yjs';
import { AggregateRegistry, AggregateRuntime, defineAggregate, readView, type AggregateDefinition } from '../../../server/src/aggregate/index.ts';
import { LogStore } from '../../../server/src/log/index.ts';
import { LocalPartitionLog } from '../../../server/src/partition/index.ts';
import { RingstateError } from '@ringstate/protocol';
import { tempDir } from '../../support/temp-dir.ts';

type CounterCommand = { type: 'add'; n: number } | { type: 'explode' } | { type: 'noop' };
type CounterEvent = { type: 'added'; n: number };

function counter(options: { eventVersion?: number; upcast?: (event: unknown, version: number) => CounterEvent } = {}): AggregateDefinition<{ total: number; adds: number }, CounterCommand, CounterEvent> {
  return defineAggregate<{ total: number; adds: number }, CounterCommand, CounterEvent>({
    type: 'counter',
    initialState: () => ({ total: 0, adds: 0 }),
    commandSchema: z.discriminatedUnion('type', [
      z.object({ type: z.literal('add'), n: z.number().int() }),
      z.object({ type: z.literal('explode') }),
      z.object({ type: z.literal('noop') }),
    ]),
    authorize: () => true,
    decide(_state, command) {
      if (command.type === 'explode') throw new Error('boom');
      if (command.type === 'noop') return [];
      return { type: 'added', n: command.n };
    },
    evolve: (state, event) => ({ total: state.total + event.n, adds: state.adds + 1 }),
    ...(options.eventVersion === undefined ? {} : { eventVersion: options.eventVersion }),
    ...(options.upcast === undefined ? {} : { upcast: options.upcast }),
  });
}

let dir: ReturnType<typeof tempDir>;
let store: LogStore;
let nowMs = 1_000;

function runtimeWith(definition: AggregateDefinition<any, any, any>, settings: Partial<{ snapshotEveryEvents: number; aggregateIdleMs: number; activeAggregatesMax: number; commandQueueMax: number; docResidentMs: number }> = {}) {
  const log = new LocalPartitionLog(store);
  const runtime = new AggregateRuntime({
    registry: new AggregateRegistry([definition]),
    store,
    log,
    nowMs: () => nowMs,
    settings: { partitionCount: 8, snapshotEveryEvents: 10, aggregateIdleMs: 1_000, activeAggregatesMax: 1000, commandQueueMax: 100, docResidentMs: 1_000, ...settings },
  });
  return { runtime, log };
}

let counterId = 0;
const send = (runtime: AggregateRuntime, id: string, command: unknown, commandId = `cmd-${(counterId += 1)}`) =>
  runtime.execute({ aggregateType: 'counter', aggregateId: id, playerId: 'p1', commandId, command });

beforeEach(() => {
  dir = tempDir('runtime');
  store = LogStore.open({ path: dir.path, durability: 'os' });
});
afterEach(async () => {
  await store.close();
  dir.remove();
});

describe('aggregate runtime', () => {
  it('runtime - commands to one aggregate get gapless seqs in order, even pipelined', async () => {
    const { runtime } = runtimeWith(counter());
    const results = await Promise.all(Array.from({ length: 50 }, () => send(runtime, 'a', { type: 'add', n: 1 })));
    expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, n) => n + 1));
    expect(store.verify()).toMatchObject({ entries: 50, aggregates: 1 });
  });

  it('runtime - a handler that throws rejects that command only', async () => {
    const { runtime } = runtimeWith(counter());
    const first = send(runtime, 'a', { type: 'add', n: 2 });
    const exploded = send(runtime, 'a', { type: 'explode' });
    const third = send(runtime, 'a', { type: 'add', n: 3 });
    await expect(exploded).rejects.toMatchObject({ code: 'HANDLER_ERROR' });
    expect((await first).seq).toBe(1);
    expect((await third).seq).toBe(2);
  });

  it('runtime - a command id is applied once; the retry returns the first seq', async () => {
    const { runtime } = runtimeWith(counter());
    const a = send(runtime, 'a', { type: 'add', n: 5 }, 'dup-1');
    const b = send(runtime, 'a', { type: 'add', n: 5 }, 'dup-1');
    expect(await a).toEqual({ seq: 1, duplicate: false });
    expect(await b).toEqual({ seq: 1, duplicate: true });
    expect(await send(runtime, 'a', { type: 'add', n: 5 }, 'dup-1')).toEqual({ seq: 1, duplicate: true });
    expect(store.verify().entries).toBe(1);
  });

  it('runtime - the dedupe record survives a restart (it is durable state)', async () => {
    const first = runtimeWith(counter());
    await send(first.runtime, 'a', { type: 'add', n: 5 }, 'persisted');
    await first.log.stop();
    const second = runtimeWith(counter());
    expect(await send(second.runtime, 'a', { type: 'add', n: 5 }, 'persisted')).toEqual({ seq: 1, duplicate: true });
  });

  it('runtime - a command that decides nothing is logged as an entry without events', async () => {
    const { runtime } = runtimeWith(counter());
    await send(runtime, 'a', { type: 'add', n: 1 });
    expect(await send(runtime, 'a', { type: 'noop' }, 'quiet')).toEqual({ seq: 2, duplicate: false });
    expect(store.verify().entries).toBe(2);
    const [, quiet] = store.aggregateEntries(runtime.partitionOf('counter', 'a'), 'counter/a', 0);
    expect(quiet).toMatchObject({ seq: 2, commandId: 'quiet', events: [] });
    expect(quiet?.update.byteLength).toBe(0);
  });

  it('runtime - subscribers hear of an entry without events, so their seq reaches the acknowledged one', async () => {
    const { runtime } = runtimeWith(counter());
    const heard: number[] = [];
    const doc = new Y.Doc();
    runtime.subscribe('counter', 'a', 'p1', undefined, {
      onUpdate: (seq, update) => {
        heard.push(seq);
        Y.applyUpdate(doc, update);
      },
    });
    await send(runtime, 'a', { type: 'add', n: 1 });
    const quiet = await send(runtime, 'a', { type: 'noop' }, 'quiet');
    await send(runtime, 'a', { type: 'add', n: 2 });
    expect(heard).toEqual([1, quiet.seq, 3]);
    expect(readView(doc)).toEqual({ total: 3, adds: 2 });
  });

  it('runtime - a retried command that decided nothing is a duplicate, not decided again', async () => {
    const { runtime } = runtimeWith(counter());
    expect(await send(runtime, 'a', { type: 'noop' }, 'quiet')).toEqual({ seq: 1, duplicate: false });
    await send(runtime, 'a', { type: 'add', n: 1 });
    expect(await send(runtime, 'a', { type: 'noop' }, 'quiet')).toEqual({ seq: 1, duplicate: true });
    // Its id is taken: another body under it is a reuse, not a new command.
    await expect(send(runtime, 'a', { type: 'add', n: 7 }, 'quiet')).rejects.toMatchObject({ code: 'COMMAND_ID_REUSED', retryable: false });
    expect(store.verify().entries).toBe(2);
    expect(store.aggregateSeq('counter/a')).toBe(2);
  });

  it('runtime - a command id reused with another body is refused and changes nothing', async () => {
    const { runtime } = runtimeWith(counter());
    expect(await send(runtime, 'a', { type: 'add', n: 5 }, 'once')).toEqual({ seq: 1, duplicate: false });
    await expect(send(runtime, 'a', { type: 'add', n: 6 }, 'once')).rejects.toMatchObject({ code: 'COMMAND_ID_REUSED', retryable: false });
    // The same body, keys in another order, is the same command: a duplicate with its seq.
    expect(await send(runtime, 'a', { n: 5, type: 'add' }, 'once')).toEqual({ seq: 1, duplicate: true });
    expect(store.verify().entries).toBe(1);
    const start = runtime.subscribe('counter', 'a', 'p1', undefined, { onUpdate: () => undefined });
    const doc = new Y.Doc();
    Y.applyUpdate(doc, start.update);
    expect(readView(doc)).toEqual({ total: 5, adds: 1 });
    start.close();
  });

  it('runtime - a reused id is refused while the first command is still in flight, not joined', async () => {
    const { runtime } = runtimeWith(counter());
    const first = send(runtime, 'a', { type: 'add', n: 5 }, 'racing');
    const reused = send(runtime, 'a', { type: 'add', n: 6 }, 'racing');
    const retried = send(runtime, 'a', { type: 'add', n: 5 }, 'racing');
    await expect(reused).rejects.toMatchObject({ code: 'COMMAND_ID_REUSED' });
    expect(await first).toEqual({ seq: 1, duplicate: false });
    expect(await retried).toEqual({ seq: 1, duplicate: true });
    expect(store.verify().entries).toBe(1);
  });

  it('runtime - the command digest survives a restart, and records without one answer duplicate', async () => {
    const first = runtimeWith(counter());
    await send(first.runtime, 'a', { type: 'add', n: 5 }, 'persisted');
    await first.log.stop();
    await store.close();
    store = LogStore.open({ path: dir.path, durability: 'os' });
    const second = runtimeWith(counter());
    await expect(send(second.runtime, 'a', { type: 'add', n: 9 }, 'persisted')).rejects.toMatchObject({ code: 'COMMAND_ID_REUSED' });
    // An entry written before digests existed: its id cannot be checked, so any body is a duplicate.
    await store.append([{ partition: second.runtime.partitionOf('counter', 'b'), position: store.lastPosition(second.runtime.partitionOf('counter', 'b')) + 1, epoch: 1, aggregate: 'counter/b', seq: 1, commandId: 'old', playerId: 'p1', events: [{ type: 'added', n: 1 }], eventVersion: 1, update: new Uint8Array(0), timestampMs: nowMs }]);
    expect(await send(second.runtime, 'b', { type: 'add', n: 2 }, 'old')).toEqual({ seq: 1, duplicate: true });
  });

  it('runtime - unknown aggregate types and bad payloads are refused with stable codes', async () => {
    const { runtime } = runtimeWith(counter());
    expect(() => runtime.execute({ aggregateType: 'nope', aggregateId: 'a', playerId: 'p', commandId: 'c', command: {} })).toThrow(RingstateError);
    await expect(send(runtime, 'a', { type: 'add', n: 'many' })).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
  });

  it('runtime - activation after passivation rebuilds state from snapshot plus tail', async () => {
    const { runtime } = runtimeWith(counter(), { snapshotEveryEvents: 10 });
    for (let n = 1; n <= 25; n += 1) await send(runtime, 'a', { type: 'add', n });
    nowMs += 10_000;
    expect(runtime.passivateIdle()).toBe(1);
    expect(runtime.activeCount).toBe(0);
    expect(store.latestSnapshot('counter/a')?.seq).toBe(20);
    const next = await send(runtime, 'a', { type: 'add', n: 1 });
    expect(next.seq).toBe(26);
    const start = runtime.subscribe('counter', 'a', 'p1', undefined, { onUpdate: () => undefined });
    const doc = new Y.Doc();
    Y.applyUpdate(doc, start.update);
    expect(readView(doc)).toEqual({ total: (25 * 26) / 2 + 1, adds: 26 });
    start.close();
  });

  it('runtime - old events are upcast on replay when the event version moved on', async () => {
    const v1 = runtimeWith(counter());
    await send(v1.runtime, 'a', { type: 'add', n: 4 });
    await v1.log.stop();
    const v2 = runtimeWith(
      counter({
        eventVersion: 2,
        upcast: (event, version) => {
          expect(version).toBe(1);
          return { type: 'added', n: (event as { n: number }).n * 10 };
        },
      }),
    );
    await send(v2.runtime, 'a', { type: 'add', n: 1 });
    const start = v2.runtime.subscribe('counter', 'a', 'p1', undefined, { onUpdate: () => undefined });
    // The view written at v2 reflects the upcast history: 4*10 + 1.
    const doc = new Y.Doc();
    Y.applyUpdate(doc, start.update);
    expect(readView(doc)['total']).toBe(41);
  });

  it('runtime - the least recently used idle aggregates are dropped beyond the limit', async () => {
    const { runtime } = runtimeWith(counter(), { activeAggregatesMax: 5 });
    for (let n = 0; n < 20; n += 1) await send(runtime, `agg-${n}`, { type: 'add', n: 1 });
    expect(runtime.activeCount).toBeLessThanOrEqual(5);
  });

  it('runtime - an aggregate activated while every other one has commands in flight is not evicted (two commands took one seq; found by the simulator)', async () => {
    const { runtime } = runtimeWith(counter(), { activeAggregatesMax: 2 });
    // Two aggregates with commands in flight fill the limit; a third activates beyond it.
    const inFlight = [send(runtime, 'busy-1', { type: 'add', n: 1 }), send(runtime, 'busy-2', { type: 'add', n: 1 })];
    const first = send(runtime, 'late', { type: 'add', n: 1 });
    const second = send(runtime, 'late', { type: 'add', n: 1 });
    await Promise.all(inFlight);
    expect([(await first).seq, (await second).seq]).toEqual([1, 2]);
    expect(store.verify().entries).toBe(4);
  });

  it('runtime - a subscriber of a never-commanded aggregate sees the initial view', () => {
    const { runtime } = runtimeWith(counter());
    const start = runtime.subscribe('counter', 'fresh', 'p1', undefined, { onUpdate: () => undefined });
    const doc = new Y.Doc();
    Y.applyUpdate(doc, start.update);
    expect(start.seq).toBe(0);
    expect(readView(doc)).toEqual({ total: 0, adds: 0 });
  });

  it('runtime - subscribers that started at seq 0 converge with the owner after updates', async () => {
    const { runtime } = runtimeWith(counter());
    const doc = new Y.Doc();
    const start = runtime.subscribe('counter', 'conv', 'p1', undefined, { onUpdate: (_seq, update) => Y.applyUpdate(doc, update) });
    Y.applyUpdate(doc, start.update);
    for (let n = 1; n <= 3; n += 1) await send(runtime, 'conv', { type: 'add', n });
    expect(readView(doc)).toEqual({ total: 6, adds: 3 });
  });

  it('runtime - compacting an idle document keeps writes consistent for subscribers', async () => {
    const { runtime } = runtimeWith(counter(), { docResidentMs: 100, aggregateIdleMs: 60_000 });
    const doc = new Y.Doc();
    const start = runtime.subscribe('counter', 'cold', 'p1', undefined, { onUpdate: (_seq, update) => Y.applyUpdate(doc, update) });
    Y.applyUpdate(doc, start.update);
    await send(runtime, 'cold', { type: 'add', n: 1 });
    nowMs += 1_000;
    expect(runtime.compactIdleDocs()).toBe(1);
    await send(runtime, 'cold', { type: 'add', n: 2 });
    await send(runtime, 'cold', { type: 'add', n: 3 });
    expect(readView(doc)).toEqual({ total: 6, adds: 3 });
    const fresh = runtime.subscribe('counter', 'cold', 'p1', undefined, { onUpdate: () => undefined });
    const copy = new Y.Doc();
    Y.applyUpdate(copy, fresh.update);
    expect(readView(copy)).toEqual({ total: 6, adds: 3 });
  });
});
