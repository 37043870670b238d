import { describe, expect, it } from 'vitest';
import { OwnershipHistory, ownershipTransitions, type OwnershipEvent } from '../../../server/src/observability/index.ts';

type Change = Omit<OwnershipEvent, 'ready'> & { ready?: boolean };
const change = (atMs: number, partition: number, epoch: number, role: string, owner: string | null, reason: string, ready = false): OwnershipEvent => ({
  atMs, partition, epoch, role, owner, ready, reason,
});
const all = (changes: Change[]): OwnershipEvent[] => changes.map((c) => ({ ready: false, ...c }));

describe('ownership history', () => {
  it('ownership history - keeps the newest changes, newest first, and counts every one', () => {
    const history = new OwnershipHistory(3);
    for (let i = 0; i < 5; i += 1) history.record(change(i, i, 1, 'follower', 'a', 'owner-discovered'));
    expect(history.recordedCount).toBe(5);
    expect(history.recent().map((event) => event.partition)).toEqual([4, 3, 2]);
  });

  it('ownership transitions - one election here is one row, not one row per step', () => {
    // What node-1 recorded for partition 5 when node-3 died (taken from a real 3-node run).
    const rows = ownershipTransitions([
      change(230, 5, 3, 'pre-candidate', null, 'campaign'),
      change(244, 5, 4, 'candidate', null, 'campaign'),
      change(283, 5, 4, 'owner', 'node-1', 'elected'),
      change(291, 5, 4, 'owner', 'node-1', 'ready', true),
    ]);
    expect(rows).toEqual([
      { partitions: [5], firstAtMs: 230, lastAtMs: 291, epochMin: 4, epochMax: 4, role: 'owner', owner: 'node-1', ready: true, steady: true, steps: ['pre-vote', 'campaign', 'elected', 'ready'], changeCount: 4 },
    ]);
  });

  it('ownership transitions - partitions that went the same way at once share a row', () => {
    const events: OwnershipEvent[] = [];
    for (const partition of [0, 1, 3, 6, 7]) {
      events.push(change(860, partition, 3, 'follower', null, 'higher-epoch'), change(1_028, partition, 3, 'follower', 'node-3', 'owner-discovered'));
    }
    events.push(change(847, 2, 3, 'candidate', null, 'campaign'), change(915, 2, 3, 'owner', 'node-1', 'elected'), change(1_028, 2, 3, 'owner', 'node-1', 'ready', true));
    const rows = ownershipTransitions(events.reverse());
    expect(rows.map((row) => [row.partitions, row.owner, row.steps.join(' → '), row.changeCount])).toEqual([
      [[0, 1, 3, 6, 7], 'node-3', 'higher-epoch → owner-discovered', 10],
      [[2], 'node-1', 'campaign → elected → ready', 3],
    ]);
  });

  it('ownership transitions - partitions at different epochs that went the same way at once share a row', () => {
    const rows = ownershipTransitions([change(10, 4, 3, 'follower', 'b', 'owner-discovered'), change(12, 9, 6, 'follower', 'b', 'owner-discovered')]);
    expect(rows).toMatchObject([{ partitions: [4, 9], epochMin: 3, epochMax: 6, changeCount: 2 }]);
  });

  it('ownership transitions - the same way far apart in time, or twice for one partition, stays apart', () => {
    const rows = ownershipTransitions([
      change(0, 1, 2, 'follower', 'b', 'owner-discovered'),
      change(5_000, 2, 2, 'follower', 'b', 'owner-discovered'),
      change(5_001, 2, 3, 'follower', 'b', 'owner-discovered'),
    ]);
    expect(rows.map((row) => [row.partitions, row.epochMax, row.lastAtMs])).toEqual([[[2], 3, 5_001], [[2], 2, 5_000], [[1], 2, 0]]);
  });

  it('ownership transitions - a pre-vote loop is one row with counted steps, and one not yet steady says so', () => {
    const loop: OwnershipEvent[] = [];
    for (let round = 0; round < 3; round += 1) loop.push(change(round * 10, 7, 2, 'pre-candidate', null, 'campaign'), change(round * 10 + 5, 7, 2, 'follower', null, 'election-lost'));
    const [row] = ownershipTransitions(loop);
    expect(row).toMatchObject({ partitions: [7], steady: false, role: 'follower', owner: null, changeCount: 6 });
    expect(row?.steps).toEqual(['pre-vote', 'election-lost', 'pre-vote', 'election-lost', 'pre-vote', 'election-lost']);
    const longer = ownershipTransitions(all(Array.from({ length: 20 }, (_, i) => ({ atMs: i, partition: 7, epoch: 2, role: i % 2 === 0 ? 'pre-candidate' : 'follower', owner: null, reason: i % 2 === 0 ? 'campaign' : 'election-lost' }))));
    expect(longer[0]?.steps).toHaveLength(8);
    expect(longer[0]?.steps[0]).toBe('…');
    const repeated = ownershipTransitions([change(0, 4, 2, 'follower', null, 'higher-epoch'), change(1, 4, 2, 'follower', null, 'higher-epoch'), change(2, 4, 2, 'follower', 'c', 'owner-discovered')]);
    expect(repeated[0]?.steps).toEqual(['higher-epoch ×2', 'owner-discovered']);
  });

  it('ownership transitions - every change is in exactly one row and no two rows show the same', () => {
    const events: OwnershipEvent[] = [];
    const owners = ['a', 'b', 'c'];
    for (let i = 0; i < 300; i += 1) {
      const partition = (i * 7) % 16;
      const owner = owners[i % 3] ?? null;
      events.push(i % 4 === 0 ? change(i * 13, partition, i >> 3, 'owner', 'a', i % 8 === 0 ? 'elected' : 'ready', i % 8 !== 0) : change(i * 13, partition, i >> 3, 'follower', i % 5 === 0 ? null : owner, 'owner-discovered'));
    }
    const rows = ownershipTransitions(events);
    expect(rows.reduce((sum, row) => sum + row.changeCount, 0)).toBe(events.length);
    const shown = rows.map((row) => JSON.stringify([row.lastAtMs, row.partitions, row.epochMin, row.epochMax, row.role, row.owner, row.ready, row.steps]));
    expect(new Set(shown).size).toBe(shown.length);
    for (const row of rows) expect(new Set(row.partitions).size).toBe(row.partitions.length);
  });
});
