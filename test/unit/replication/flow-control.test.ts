import { describe, expect, it } from 'vitest';
import { OverloadedError, resolveReplicationSettings } from '../../../server/src/replication/index.ts';
import { Harness, inFlightOfType } from './harness.ts';

describe('flow control', () => {
  it('flow control - proposals beyond uncommittedBytesMax are refused with OVERLOADED until commits catch up', () => {
    const h = new Harness(['a', 'b', 'c'], { settings: { uncommittedBytesMax: 100, entryBytesMax: 50 } });
    const owner = h.waitForOwner();
    for (const id of ['a', 'b', 'c']) if (id !== owner) h.isolate(id);
    const payload = 'p'.repeat(40);
    expect(h.core(owner).propose(0, payload).ok).toBe(true);
    expect(h.core(owner).propose(0, payload).ok).toBe(true);
    const refused = h.core(owner).propose(0, payload);
    expect(refused.ok).toBe(false);
    if (!refused.ok) {
      expect(refused.error).toBeInstanceOf(OverloadedError);
      expect(refused.error.code).toBe('OVERLOADED');
      expect(refused.error.retryable).toBe(true);
    }
    h.heal();
    h.processAll();
    h.deliverAll();
    expect(h.core(owner).propose(0, payload).ok).toBe(true);
  });

  it('flow control - at most inflightAppendsMax appends carrying entries are unanswered per replica', () => {
    const h = new Harness(['a', 'b', 'c'], { settings: { inflightAppendsMax: 2, appendEntriesMax: 1 } });
    h.waitForOwner();
    h.advance(2000);
    const owner = h.readyOwner() as string;
    const follower = ['a', 'b', 'c'].find((id) => id !== owner) as string;
    for (let index = 0; index < 10; index += 1) expect(h.core(owner).propose(0, `x${index}`).ok).toBe(true);
    h.process(owner);
    const appends = inFlightOfType(h, 'append', { from: owner, to: follower }).filter(
      (item) => item.message.type === 'append' && item.message.entries.length > 0,
    );
    expect(appends).toHaveLength(2);
    h.deliverAll();
    h.advance(100);
    expect(h.committedPayloads(follower)).toHaveLength(10);
  });

  it('flow control - settings are validated and frozen', () => {
    expect(() => resolveReplicationSettings({ electionTimeoutMinMs: 500, electionTimeoutMaxMs: 400 })).toThrow(RangeError);
    expect(() => resolveReplicationSettings({ heartbeatIntervalMs: 300 })).toThrow(/heartbeatIntervalMs/);
    expect(() => resolveReplicationSettings({ appendEntriesMax: 0 })).toThrow(/appendEntriesMax must be an integer of at least 1/);
    expect(() => resolveReplicationSettings({ replicaApplyDelayMs: -1 })).toThrow(/replicaApplyDelayMs must be an integer of at least 0/);
    expect(resolveReplicationSettings({ replicaApplyDelayMs: 0 }).replicaApplyDelayMs).toBe(0);
    const settings = resolveReplicationSettings();
    expect(Object.isFrozen(settings)).toBe(true);
    expect(settings).toMatchObject({ heartbeatIntervalMs: 100, electionTimeoutMinMs: 500, electionTimeoutMaxMs: 1000 });
  });
});
