import { describe, expect, it } from 'vitest';
import { Harness } from './harness.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The harness application's state: the committed payloads, as snapshot bytes. */
function snapshotOf(h: Harness, id: string): { position: number; data: Uint8Array } {
  const position = h.status(id).applied;
  return { position, data: encoder.encode(JSON.stringify(h.committedPayloads(id))) };
}

describe('snapshot', () => {
  it('snapshot - compaction stores the snapshot and drops the entries it covers', () => {
    const h = new Harness(['a', 'b', 'c']);
    const owner = h.waitForOwner();
    for (const payload of ['x1', 'x2']) h.core(owner).propose(0, payload);
    h.processAll();
    h.advance(200);
    const { position, data } = snapshotOf(h, owner);
    h.core(owner).compact(0, position, data);
    h.process(owner);
    const storage = h.node(owner).storage;
    expect(storage.firstPosition(0)).toBe(position + 1);
    expect(storage.snapshot(0)?.position).toBe(position);
    expect(storage.snapshot(0)?.membership.voters).toEqual(['a', 'b', 'c']);
    expect(h.status(owner).snapshotPosition).toBe(position);
  });

  it('snapshot - a replica behind the compacted log is caught up by a snapshot install', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(2000);
    const owner = h.readyOwner() as string;
    const lagging = ['a', 'b', 'c'].find((id) => id !== owner) as string;
    h.isolate(lagging);
    for (let index = 0; index < 20; index += 1) h.core(owner).propose(0, `x${index}`);
    h.processAll();
    h.advance(300);
    const { position, data } = snapshotOf(h, owner);
    h.core(owner).compact(0, position, data);
    h.core(owner).propose(0, 'after');
    h.processAll();
    h.advance(100);
    h.heal();
    h.advance(2000);
    const installed = h.node(lagging).storage.snapshot(0);
    expect(installed?.position).toBe(position);
    expect(JSON.parse(decoder.decode(installed?.data))).toEqual(Array.from({ length: 20 }, (_, index) => `x${index}`));
    // After the snapshot it received the rest of the log as entries.
    expect(h.committedPayloads(lagging)).toEqual(['after']);
    expect(h.status(lagging).commit).toBe(h.status(owner).commit);
    expect(h.status(lagging).membership).toEqual(h.status(owner).membership);
  });

  it('snapshot - a node added to the replica set is seeded from a snapshot', () => {
    const h = new Harness(['a', 'b', 'c']);
    h.waitForOwner();
    h.advance(2000);
    const owner = h.readyOwner() as string;
    for (let index = 0; index < 5; index += 1) h.core(owner).propose(0, `x${index}`);
    h.processAll();
    h.advance(200);
    for (const id of ['a', 'b', 'c']) {
      const { position, data } = snapshotOf(h, id);
      h.core(id).compact(0, position, data);
      h.process(id);
    }
    h.addNode('d');
    for (const id of ['a', 'b', 'c', 'd']) h.core(id).setReplicaSet(0, ['a', 'b', 'c', 'd']);
    h.advanceUntil(() => h.status(h.readyOwner() ?? 'a').membership.voters.includes('d'), 10_000);
    expect(h.node('d').storage.snapshot(0)?.position).toBeGreaterThan(0);
    expect(h.status('d').amnesiac).toBe(false);
  });
});
