/**
 * Replica sets spread over failure domains (ring/replica-spread.ts): the NetworkTopologyStrategy
 * walk, its agreement with plain consistent hashing where no localities are declared, and what a
 * join or leave costs in moved partitions compared with plain successors.
 */
import fc from 'fast-check';
import HashRing from 'hashring';
import { describe, expect, it } from 'vitest';
import { hostOf, PartitionRing, ringWalk, zoneOf, type Localities, type Locality } from '../../../server/src/ring/index.ts';

const RF = 3;
/** Bounds measured over many seeds (docs/cluster.md, "Failure domains"), with room to spare. */
const SINGLE_CHANGE_FACTOR = 3;
const SINGLE_CHANGE_SLACK = 12;
const TOTAL_FACTOR = 1.3;
const nodes = (count: number): string[] => Array.from({ length: count }, (_, n) => `node-${n + 1}`);

/** Six nodes as three hosts, two per host, in three zones: the e2e test's cluster. */
const twoPerHost = (members: readonly string[]): Localities =>
  Object.fromEntries(members.map((member, n) => [member, { zone: `zone-${Math.floor(n / 2) % 3}`, host: `host-${Math.floor(n / 2)}` }]));

/** Partitions whose replica set (as a set) differs between the two rings. */
function movedPartitions(before: PartitionRing, after: PartitionRing): number {
  let moved = 0;
  for (let partition = 0; partition < before.partitionCount; partition += 1) {
    const old = new Set(before.replicaSet(partition));
    const now = after.replicaSet(partition);
    if (now.length !== old.size || now.some((member) => !old.has(member))) moved += 1;
  }
  return moved;
}

/** Fewest and most partitions per member (as preferred owner, or in any replica set), against the mean. */
function perMember(ring: PartitionRing, count: (member: string) => number): { min: number; max: number; mean: number } {
  const counts = ring.members.map(count);
  return { min: Math.min(...counts), max: Math.max(...counts), mean: counts.reduce((a, b) => a + b, 0) / counts.length };
}

function ownersOf(ring: PartitionRing): (member: string) => number {
  return (member) => Array.from({ length: ring.partitionCount }, (_, partition) => ring.preferredOwner(partition)).filter((owner) => owner === member).length;
}

describe('replica spread', () => {
  it('ring - the walk is hashring range over every member, in its order', () => {
    for (const count of [1, 2, 5, 17, 60]) {
      const members = nodes(count);
      const ring = new HashRing([...members].sort());
      for (let partition = 0; partition < 64; partition += 1) expect(ringWalk(members, partition)).toEqual(ring.range(`partition-${partition}`, count));
    }
  });

  it('ring - without localities (none, or all empty) the sets are exactly the plain successors', () => {
    for (const count of [1, 3, 6, 25]) {
      const members = nodes(count);
      const plain = new HashRing([...members].sort());
      const empty = Object.fromEntries(members.map((member) => [member, {}]));
      for (const ring of [new PartitionRing(members, 256, RF), new PartitionRing(members, 256, RF, empty)]) {
        expect(ring.shortfalls).toEqual([]);
        for (let partition = 0; partition < 256; partition += 1) expect(ring.replicaSet(partition)).toEqual(plain.range(`partition-${partition}`, Math.min(RF, count)));
      }
    }
  });

  it('ring - with at least replicationFactor hosts no replica set has two members on one host', () => {
    fc.assert(
      fc.property(fc.integer({ min: RF, max: 10 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 1_000_000 }), (hosts, extra, salt) => {
        // Every host has at least one node; `extra` more land on hosts chosen by the salt.
        const members = nodes(hosts + extra).map((member) => `${member}-${salt}`);
        const localities = Object.fromEntries(members.map((member, n) => [member, { host: `host-${n < hosts ? n : (n * 7919 + salt) % hosts}` }]));
        const ring = new PartitionRing(members, 128, RF, localities);
        for (let partition = 0; partition < 128; partition += 1) {
          const set = ring.replicaSet(partition);
          expect(new Set(set.map((member) => hostOf(localities, member))).size).toBe(set.length);
        }
      }),
      { seed: 27, numRuns: 60 },
    );
    // The e2e cluster: six nodes as three hosts, two per host.
    const six = nodes(6);
    const ring = new PartitionRing(six, 64, RF, twoPerHost(six));
    for (let partition = 0; partition < 64; partition += 1) expect(new Set(ring.replicaSet(partition).map((member) => hostOf(twoPerHost(six), member))).size).toBe(RF);
  });

  it('ring - with fewer hosts than copies the sets still use every host and zone, and the ring says so', () => {
    const members = nodes(4);
    const localities: Localities = { 'node-1': { zone: 'a', host: 'h1' }, 'node-2': { zone: 'a', host: 'h1' }, 'node-3': { zone: 'b', host: 'h2' }, 'node-4': { zone: 'b', host: 'h2' } };
    const ring = new PartitionRing(members, 64, RF, localities);
    expect(ring.shortfalls).toEqual([
      { level: 'zone', domains: 2, wanted: 3 },
      { level: 'host', domains: 2, wanted: 3 },
    ]);
    for (let partition = 0; partition < 64; partition += 1) {
      expect(ring.isSpread(ring.replicaSet(partition))).toBe(true);
      expect(new Set(ring.replicaSet(partition).map((member) => zoneOf(localities, member))).size).toBe(2);
    }
    // Zones declared by nobody are one unknown zone: no zone warning, hosts alone count.
    expect(new PartitionRing(members, 8, RF, { 'node-1': { host: 'h1' }, 'node-2': { host: 'h1' } }).shortfalls).toEqual([]);
    expect(new PartitionRing(nodes(2), 8, RF).shortfalls).toEqual([]);
  });

  it('ring - the preferred owner is plain consistent hashing\'s, so owners spread as before (64 partitions, six nodes)', () => {
    const six = nodes(6);
    const plain = new PartitionRing(six, 64, RF);
    const spread = new PartitionRing(six, 64, RF, twoPerHost(six));
    for (let partition = 0; partition < 64; partition += 1) expect(spread.preferredOwner(partition)).toBe(plain.preferredOwner(partition));
    const owners = { plain: perMember(plain, ownersOf(plain)), spread: perMember(spread, ownersOf(spread)) };
    const replicas = { plain: perMember(plain, (member) => plain.partitionsOf(member).length), spread: perMember(spread, (member) => spread.partitionsOf(member).length) };
    console.log(`ring spread report (64 partitions, 6 nodes, RF ${RF}, 3 hosts x 2 nodes in 3 zones): preferred owners per node plain ${JSON.stringify(owners.plain)} spread ${JSON.stringify(owners.spread)}; replica sets per node plain ${JSON.stringify(replicas.plain)} spread ${JSON.stringify(replicas.spread)}`);
    expect(owners.spread).toEqual(owners.plain);
  });

  it('ring - over random clusters, joins and leaves, every set is as spread as the domains allow and moves stay near plain hashing', () => {
    const seed = Number(process.env['RINGSTATE_SPREAD_SEED'] ?? Date.now() % 1_000_000);
    console.log(`replica spread property: seed ${seed} (rerun with RINGSTATE_SPREAD_SEED=${seed})`);
    const partitions = 64;
    // A change that alters how many zones or hosts a set can span (min(RF, domains)) must move
    // every set that now can, or must, span another domain; the others are compared with plain hashing.
    const kept = { changes: 0, plain: 0, spread: 0, worstRatio: 0, worstExcess: 0 };
    const reshaped = { changes: 0, plain: 0, spread: 0 };
    const cluster = fc.record({
      zones: fc.integer({ min: 1, max: 5 }),
      hosts: fc.integer({ min: 1, max: 10 }),
      size: fc.integer({ min: 3, max: 60 }),
      placement: fc.array(fc.nat(), { minLength: 61, maxLength: 61 }),
      changes: fc.array(fc.record({ join: fc.boolean(), pick: fc.nat() }), { minLength: 1, maxLength: 6 }),
    });
    fc.assert(
      fc.property(cluster, ({ zones, hosts, size, placement, changes }) => {
        // Host h lies in zone h % zones; a node lands on a host chosen by `placement`.
        const localityAt = (n: number): Locality => {
          const host = (placement[n % placement.length] ?? 0) % hosts;
          return { zone: `z${host % zones}`, host: `h${host}` };
        };
        let next = size;
        let members = nodes(size);
        const localities: Record<string, Locality> = Object.fromEntries(members.map((member, n) => [member, localityAt(n)]));
        let spread = new PartitionRing(members, partitions, RF, localities);
        let plain = new PartitionRing(members, partitions, RF);
        for (const change of changes) {
          if (change.join || members.length <= RF) {
            next += 1;
            const joiner = `node-${next}`;
            localities[joiner] = localityAt(next + change.pick);
            members = [...members, joiner];
          } else {
            const leaver = members[change.pick % members.length] as string;
            members = members.filter((member) => member !== leaver);
          }
          const spreadAfter = new PartitionRing(members, partitions, RF, localities);
          const plainAfter = new PartitionRing(members, partitions, RF);
          for (let partition = 0; partition < partitions; partition += 1) expect(spreadAfter.isSpread(spreadAfter.replicaSet(partition))).toBe(true);
          const moved = { plain: movedPartitions(plain, plainAfter), spread: movedPartitions(spread, spreadAfter) };
          const span = (ring: PartitionRing): string => `${Math.min(RF, ring.domains.zones)}/${Math.min(RF, ring.domains.hosts)}`;
          if (span(spread) === span(spreadAfter)) {
            kept.changes += 1;
            kept.plain += moved.plain;
            kept.spread += moved.spread;
            if (moved.plain > 0) kept.worstRatio = Math.max(kept.worstRatio, moved.spread / moved.plain);
            kept.worstExcess = Math.max(kept.worstExcess, moved.spread - moved.plain);
            expect(moved.spread).toBeLessThanOrEqual(SINGLE_CHANGE_FACTOR * moved.plain + SINGLE_CHANGE_SLACK);
          } else {
            reshaped.changes += 1;
            reshaped.plain += moved.plain;
            reshaped.spread += moved.spread;
          }
          spread = spreadAfter;
          plain = plainAfter;
        }
      }),
      { seed, numRuns: 120 },
    );
    console.log(
      `replica spread property: partitions moved per join or leave (of ${partitions}): ` +
        `${kept.changes} changes that keep the domain counts: plain ${(kept.plain / kept.changes).toFixed(1)}, spread ${(kept.spread / kept.changes).toFixed(1)} (ratio ${(kept.spread / kept.plain).toFixed(2)}, worst single change ${kept.worstRatio.toFixed(2)}x, at most ${kept.worstExcess} more than plain); ` +
        `${reshaped.changes} changes that add or remove a zone or host a set can use: plain ${(reshaped.plain / Math.max(1, reshaped.changes)).toFixed(1)}, spread ${(reshaped.spread / Math.max(1, reshaped.changes)).toFixed(1)}`,
    );
    expect(kept.spread).toBeLessThanOrEqual(TOTAL_FACTOR * kept.plain);
  });
});
