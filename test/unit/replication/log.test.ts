import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../server/src/replication/index.ts';
import { ReplicatedLog, STABLE_CACHE_MAX } from '../../../server/src/replication/log.ts';
import { MemoryStorage } from '../../../server/src/simulation/memory-storage.ts';
import { Harness, loneNode, type Payload } from './harness.ts';

/** A MemoryStorage that counts the reads of stored entries. */
function countingStorage(): { storage: MemoryStorage<Payload>; reads: { entries: number; epochAt: number } } {
  const storage = new MemoryStorage<Payload>();
  const reads = { entries: 0, epochAt: 0 };
  const entries = storage.entries.bind(storage);
  const epochAt = storage.epochAt.bind(storage);
  storage.entries = (partition, from, to) => {
    reads.entries += 1;
    return entries(partition, from, to);
  };
  storage.epochAt = (partition, position) => {
    reads.epochAt += 1;
    return epochAt(partition, position);
  };
  return { storage, reads };
}

const command = (position: number, payload: string): Entry<Payload> => ({ position, epoch: 1, kind: 'command', payload });

describe('log', () => {
  it('log - persisted entries are read from memory until applied, and truncation drops them', () => {
    const { storage, reads } = countingStorage();
    const log = new ReplicatedLog<Payload>(storage, 0, (entry) => (entry.kind === 'command' ? entry.payload.length : 0));
    log.append([command(1, 'a'), command(2, 'b'), command(3, 'c')]);
    storage.write({ partition: 0, entries: log.unstableEntriesToPersist() });
    storage.sync();
    log.stableTo(3, 1);
    log.commitTo(3);
    expect(log.entries(1, 4, 100, 1000)?.map((entry) => entry.kind === 'command' && entry.payload)).toEqual(['a', 'b', 'c']);
    expect(log.lastEpoch()).toBe(1);
    expect(reads).toEqual({ entries: 0, epochAt: 0 });
    // Applied entries leave memory (the last one stays for the epoch lookups).
    log.applied = 3;
    log.trimCache();
    expect(log.entries(1, 4, 100, 1000)).toHaveLength(3);
    expect(reads.entries).toBe(1);
    expect(log.epochAt(3)).toBe(1);
    expect(reads.epochAt).toBe(0);
    // A conflicting suffix replaces cached entries: once the replacement is persisted too,
    // reads must not see the stale ones.
    log.append([command(4, 'd'), command(5, 'e')]);
    storage.write({ partition: 0, entries: log.unstableEntriesToPersist() });
    storage.sync();
    log.stableTo(5, 1);
    log.append([{ position: 5, epoch: 2, kind: 'command', payload: 'E' }]);
    storage.write({ partition: 0, entries: log.unstableEntriesToPersist() });
    storage.sync();
    log.stableTo(5, 2);
    expect(log.entries(4, 6, 100, 1000)?.map((entry) => entry.kind === 'command' && entry.payload)).toEqual(['d', 'E']);
    expect(log.epochAt(5)).toBe(2);
  });

  it('log - a full stable cache starts over at the newest entries instead of staying off', () => {
    const { storage, reads } = countingStorage();
    const log = new ReplicatedLog<Payload>(storage, 0, () => 1);
    const persist = (from: number, count: number): void => {
      log.append(Array.from({ length: count }, (_, index) => command(from + index, `p${from + index}`)));
      storage.write({ partition: 0, entries: log.unstableEntriesToPersist() });
      storage.sync();
      log.stableTo(from + count - 1, 1);
    };
    // A replica far behind: more persisted, unapplied entries than the cache holds.
    persist(1, STABLE_CACHE_MAX);
    persist(STABLE_CACHE_MAX + 1, 10);
    persist(STABLE_CACHE_MAX + 11, 10);
    const last = STABLE_CACHE_MAX + 20;
    log.commitTo(last);
    // The newest entries are still served from memory; the older ones from storage.
    expect(log.entries(STABLE_CACHE_MAX + 1, last + 1, 100, 1000)).toHaveLength(20);
    expect(reads.entries).toBe(0);
    expect(log.entries(1, 11, 100, 1000)).toHaveLength(10);
    expect(reads.entries).toBe(1);
  });


  it("log - a follower's conflicting uncommitted suffix is truncated and replaced by the owner's", () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(3000);
    const old = h.readyOwner() as string;
    const [b, c] = ['a', 'b', 'c'].filter((id) => id !== old) as [string, string];
    h.isolate(old);
    // Two proposals that only the isolated owner stores.
    h.core(old).propose(0, 'lost-1');
    h.core(old).propose(0, 'lost-2');
    h.process(old);
    const divergentLast = h.status(old).lastPosition;
    h.advance(3000);
    const fresh = h.readyOwner() as string;
    expect([b, c]).toContain(fresh);
    h.core(fresh).propose(0, 'kept');
    h.process(fresh);
    h.heal();
    h.advance(1000);
    for (const id of ['a', 'b', 'c']) expect(h.committedPayloads(id)).toEqual(['kept']);
    // The old owner's stored log now holds the new owner's entries at those positions.
    const storage = h.node(old).storage;
    expect(storage.lastPosition(0)).toBeGreaterThanOrEqual(divergentLast);
    const stored = storage.entries(0, storage.firstPosition(0), storage.lastPosition(0) + 1);
    expect(stored.filter((entry) => entry.kind === 'command').map((entry) => entry.kind === 'command' && entry.payload)).toEqual(['kept']);
  });

  it('log - truncating an uncommitted membership entry reverts the membership', () => {
    const { core, drain } = loneNode('f', { voters: ['l', 'f', 'g'] });
    const fromL: Entry<Payload>[] = [
      { position: 2, epoch: 2, kind: 'noop' },
      { position: 3, epoch: 2, kind: 'membership', membership: { voters: ['l', 'f', 'g'], learners: ['h'] } },
    ];
    core.step('l', { type: 'append', partition: 0, epoch: 2, prevPosition: 1, prevEpoch: 1, entries: fromL, commit: 1, readmit: 0 });
    drain();
    expect(core.status(0).membership.learners).toEqual(['h']);
    expect(core.status(0).membershipPending).toBe(true);
    // A newer owner, g, never had entry 3: its append replaces it.
    core.step('g', {
      type: 'append',
      partition: 0,
      epoch: 3,
      prevPosition: 2,
      prevEpoch: 2,
      entries: [{ position: 3, epoch: 3, kind: 'noop' }],
      commit: 3,
      readmit: 0,
    });
    const sent = drain();
    expect(core.status(0).membership).toEqual({ voters: ['l', 'f', 'g'], learners: [] });
    expect(core.status(0).commit).toBe(3);
    expect(sent.at(-1)?.message).toMatchObject({ type: 'append-response', success: true, position: 3 });
  });

  it('log - an append that does not match refuses with a hint that skips a whole epoch', () => {
    const { core, drain } = loneNode('f', { voters: ['l', 'f', 'g'] });
    const entries: Entry<Payload>[] = [2, 3, 4, 5].map((position) => ({ position, epoch: 2, kind: 'command', payload: `e2-${position}` }));
    core.step('l', { type: 'append', partition: 0, epoch: 2, prevPosition: 1, prevEpoch: 1, entries, commit: 1, readmit: 0 });
    drain();
    // The epoch-4 owner's entry 9 is far beyond this log, and its epoch-3 entries differ.
    core.step('m', { type: 'append', partition: 0, epoch: 4, prevPosition: 9, prevEpoch: 3, entries: [], commit: 1, readmit: 0 });
    const answer = drain().at(-1)?.message;
    expect(answer).toMatchObject({ type: 'append-response', success: false, position: 9, hintPosition: 5, hintEpoch: 2 });
  });
});
