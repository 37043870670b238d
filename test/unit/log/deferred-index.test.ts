import { describe, expect, it } from 'vitest';
import { DeferredIndex } from '../../../server/src/log/deferred-index.ts';
import type { LogEntry } from '../../../server/src/log/index.ts';

function entry(partition: number, position: number, aggregate: string, seq: number, timestampMs = 1000 + position): LogEntry {
  return { partition, position, epoch: 1, aggregate, seq, commandId: `c-${position}`, playerId: 'p', events: [], eventVersion: 1, update: new Uint8Array(), timestampMs };
}

describe('deferred index', () => {
  it('deferred index - keeps each aggregate\'s entries in seq order and answers dedupe lookups', () => {
    const index = new DeferredIndex();
    index.add(entry(0, 5, 'a/1', 3), 4);
    index.add(entry(0, 6, 'a/2', 1), 0);
    index.add(entry(0, 7, 'a/1', 4), 0);
    expect(index.size).toBe(3);
    expect(index.entriesOf('a/1').map((e) => e.seq)).toEqual([3, 4]);
    expect(index.entriesOf('none')).toEqual([]);
    expect(index.findCommand('a/1', 'p', 'c-7')).toEqual({ seq: 4, position: 7, timestampMs: 1007 });
    expect(index.findCommand('a/1', 'q', 'c-7')).toBeUndefined();
    // The partition's indexed position is the one given with its first entry.
    expect([...index.indexedPositions()]).toEqual([[0, 4]]);
    expect([...index.entries()].map((e) => e.position).sort()).toEqual([5, 6, 7]);
  });

  it('deferred index - ignores entries already indexed on disk or already held, and refuses a seq gap', () => {
    const index = new DeferredIndex();
    index.add(entry(1, 3, 'b/1', 1), 3);
    expect(index.size).toBe(0);
    expect(index.defers(1)).toBe(false);
    index.add(entry(1, 4, 'b/1', 2), 3);
    index.add(entry(1, 4, 'b/1', 2), 3);
    expect(index.size).toBe(1);
    expect(() => index.add(entry(1, 6, 'b/1', 4), 3)).toThrow(/seq 4 follows 2/);
    index.clear();
    expect(index.size).toBe(0);
    expect(index.defers(1)).toBe(false);
    expect(index.findCommand('b/1', 'p', 'c-4')).toBeUndefined();
  });

  it('deferred index - prunes old dedupe records oldest first, at most the limit, and keeps the index records', () => {
    const index = new DeferredIndex();
    for (let position = 1; position <= 4; position += 1) index.add(entry(0, position, 'a/1', position, position * 10), 0);
    expect(index.pruneDedupe(35, 2)).toBe(2);
    expect(index.findCommand('a/1', 'p', 'c-1')).toBeUndefined();
    expect(index.findCommand('a/1', 'p', 'c-3')).toBeDefined();
    expect(index.pruneDedupe(35, 10)).toBe(1);
    expect([...index.dedupeRecords()].map((d) => d.commandId)).toEqual(['c-4']);
    expect(index.entriesOf('a/1')).toHaveLength(4);
  });
});
