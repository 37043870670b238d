import { describe, expect, it } from 'vitest';
import { DeferredIndex } from '../../../server/src/log/deferred-index.ts';
import type { LogEntry } from '../../../server/src/log/index.ts';

function entry(partition: number, position: number, aggregate: string, seq: number, timestampMs = 1000 + position, ids: { playerId?: string; commandId?: string } = {}): LogEntry {
  return { partition, position, epoch: 1, aggregate, seq, commandId: ids.commandId ?? `c-${position}`, playerId: ids.playerId ?? 'p', events: [], eventVersion: 1, update: new Uint8Array(), timestampMs };
}

describe('deferred index', () => {
  it('deferred index - holds each aggregate\'s references in seq order and answers dedupe lookups', () => {
    const index = new DeferredIndex();
    index.track(0, 4);
    index.track(0, 1); // a tracked partition keeps its position
    index.add(entry(0, 5, 'a/1', 3));
    index.add(entry(0, 6, 'a/2', 1));
    index.add(entry(0, 7, 'a/1', 4));
    expect(index.size).toBe(3);
    expect(index.refsOf('a/1')).toEqual([{ seq: 3, position: 5 }, { seq: 4, position: 7 }]);
    expect(index.refsOf('none')).toEqual([]);
    expect(index.findCommand('a/1', 'p', 'c-7')).toEqual({ seq: 4, position: 7, timestampMs: 1007 });
    expect(index.findCommand('a/1', 'q', 'c-7')).toBeUndefined();
    expect([...index.indexedPositions()]).toEqual([[0, 4]]);
    expect([...index.indexRecords()].map(({ aggregate, ref }) => `${aggregate}@${ref.seq}`)).toEqual(['a/1@3', 'a/1@4', 'a/2@1']);
  });

  it('deferred index - ignores entries already indexed on disk or already held, refuses a seq gap and an untracked partition', () => {
    const index = new DeferredIndex();
    expect(() => index.add(entry(1, 3, 'b/1', 1))).toThrow(/not tracked/);
    index.track(1, 3);
    index.add(entry(1, 3, 'b/1', 1));
    expect(index.size).toBe(0);
    expect(index.tracks(1)).toBe(true);
    index.add(entry(1, 4, 'b/1', 2));
    index.add(entry(1, 4, 'b/1', 2));
    expect(index.size).toBe(1);
    expect(() => index.add(entry(1, 6, 'b/1', 4))).toThrow(/seq 4 follows 2/);
    index.clear();
    expect(index.size).toBe(0);
    expect(index.tracks(1)).toBe(false);
    expect(index.findCommand('b/1', 'p', 'c-4')).toBeUndefined();
  });

  it('deferred index - dedupe keys do not collide whatever characters the ids hold', () => {
    const index = new DeferredIndex();
    index.track(0, 0);
    index.add(entry(0, 1, 't/x\u0000p', 1, 1001, { playerId: 'q', commandId: 'r' }));
    expect(index.findCommand('t/x', 'p', 'q\u0000r')).toBeUndefined();
    expect(index.findCommand('t/x\u0000p', 'q', 'r')).toMatchObject({ seq: 1 });
  });

  it('deferred index - prunes old dedupe records oldest first, at most the limit, and keeps the index records', () => {
    const index = new DeferredIndex();
    index.track(0, 0);
    for (let position = 1; position <= 4; position += 1) index.add(entry(0, position, 'a/1', position, position * 10));
    expect(index.pruneDedupe(35, 2)).toBe(2);
    expect(index.findCommand('a/1', 'p', 'c-1')).toBeUndefined();
    expect(index.findCommand('a/1', 'p', 'c-3')).toBeDefined();
    expect(index.pruneDedupe(35, 10)).toBe(1);
    expect([...index.dedupeRecords()].map((d) => d.commandId)).toEqual(['c-4']);
    expect(index.refsOf('a/1')).toHaveLength(4);
  });
});
