import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionRing } from '../../../server/src/ring/index.ts';

const nodes = (count: number): string[] => Array.from({ length: count }, (_, n) => `node-${n + 1}`);

describe('partition ring', () => {
  it('ring - every partition gets replicationFactor distinct members, owner first', () => {
    const ring = new PartitionRing(nodes(5), 64, 3);
    for (let partition = 0; partition < 64; partition += 1) {
      const set = ring.replicaSet(partition);
      expect(set).toHaveLength(3);
      expect(new Set(set).size).toBe(3);
      expect(ring.preferredOwner(partition)).toBe(set[0]);
    }
  });

  it('ring - the same members in any order give the same ring and version', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(nodes(6), { minLength: 1 }), (members) => {
        const a = new PartitionRing(members, 32, 3);
        const b = new PartitionRing([...members].reverse(), 32, 3);
        expect(a.version).toBe(b.version);
        for (let partition = 0; partition < 32; partition += 1) expect(a.replicaSet(partition)).toEqual(b.replicaSet(partition));
      }),
      { seed: 42 },
    );
  });

  it('ring - with fewer members than the replication factor every member replicates everything', () => {
    const ring = new PartitionRing(nodes(2), 16, 3);
    expect(ring.replicaSet(5)).toHaveLength(2);
    expect(ring.partitionsOf('node-1')).toHaveLength(16);
  });

  it('ring - adding a fourth node moves only part of the ownership, and spreads it', () => {
    const three = new PartitionRing(nodes(3), 64, 3);
    const four = new PartitionRing(nodes(4), 64, 3);
    expect(four.version).not.toBe(three.version);
    let ownersMoved = 0;
    for (let partition = 0; partition < 64; partition += 1) if (three.preferredOwner(partition) !== four.preferredOwner(partition)) ownersMoved += 1;
    expect(ownersMoved).toBeGreaterThan(0);
    expect(ownersMoved).toBeLessThan(40);
    const owned = new Map<string, number>();
    for (let partition = 0; partition < 64; partition += 1) owned.set(four.preferredOwner(partition), (owned.get(four.preferredOwner(partition)) ?? 0) + 1);
    for (const node of nodes(4)) expect(owned.get(node) ?? 0).toBeGreaterThan(4);
  });
});
