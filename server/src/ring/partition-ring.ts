/**
 * The partition ring: which nodes replicate each partition, owner first.
 *
 * Consistent hashing (ketama-compatible `hashring`) over the cluster's *members*. Members are
 * the nodes that joined and have not left; a node that crashed stays a member, so its
 * partitions fail over inside their replica sets instead of moving (moving would need the data
 * the dead node holds). Joining or leaving changes replica sets, and only for a fraction of
 * partitions, which is what consistent hashing buys.
 *
 * With localities (locality.ts) a replica set is not simply the next members on the ring: it
 * walks the ring from the partition's position and spreads over distinct zones, then hosts
 * (replica-spread.ts). Without them the sets are the plain successors, as they always were.
 *
 * Every node that knows the same member set and localities computes the same ring and the same
 * `version` (a hash of the sorted member ids and the localities), so "do we agree on the ring?"
 * is one number.
 */
import HashRing from 'hashring';
import { isEmptyLocality, normalizeLocalities, ringVersion, type Localities, type Locality } from './locality.ts';
import { countDomains, isSpread, pickSpread, spreadShortfalls, type DomainCount, type SpreadShortfall } from './replica-spread.ts';

export class PartitionRing {
  readonly version: number;
  readonly members: readonly string[];
  /** Declared localities of members (normalized: members only, no empty entries). */
  readonly localities: Localities;
  /** Distinct zones and hosts among the members. */
  readonly domains: DomainCount;
  /** Levels with fewer domains than a replica set has copies (empty when every set can spread fully). */
  readonly shortfalls: readonly SpreadShortfall[];
  private readonly replicaSets: ReadonlyArray<readonly string[]>;

  constructor(members: readonly string[], readonly partitionCount: number, readonly replicationFactor: number, localities: Localities = {}) {
    if (members.length === 0) throw new Error('a ring needs at least one member');
    if (new Set(members).size !== members.length) throw new Error(`duplicate ring members: ${members.join(', ')}`);
    this.members = [...members].sort();
    this.localities = normalizeLocalities(localities, this.members);
    this.version = ringVersion(this.members, this.localities);
    this.domains = countDomains(this.members, this.localities);
    this.shortfalls = spreadShortfalls(this.members, this.localities, replicationFactor);
    const ring = new HashRing([...this.members]);
    const size = Math.min(replicationFactor, this.members.length);
    const plain = Object.keys(this.localities).length === 0;
    this.replicaSets = Array.from({ length: partitionCount }, (_, partition) =>
      plain ? ring.range(partitionKey(partition), size) : spreadSet(ring, partitionKey(partition), size, this.members.length, this.localities, this.domains),
    );
  }

  /** The partition's replica set, preferred owner first. */
  replicaSet(partition: number): readonly string[] {
    const set = this.replicaSets[partition];
    if (set === undefined) throw new RangeError(`partition ${partition} outside 0..${this.partitionCount - 1}`);
    return set;
  }

  preferredOwner(partition: number): string {
    const owner = this.replicaSet(partition)[0];
    if (owner === undefined) throw new Error('empty replica set');
    return owner;
  }

  /** Partitions that `nodeId` replicates (as preferred owner or successor). */
  partitionsOf(nodeId: string): number[] {
    const out: number[] = [];
    this.replicaSets.forEach((set, partition) => {
      if (set.includes(nodeId)) out.push(partition);
    });
    return out;
  }

  /** The member's declared locality, or undefined when it declared none. */
  localityOf(nodeId: string): Locality | undefined {
    const locality = this.localities[nodeId];
    return isEmptyLocality(locality) ? undefined : locality;
  }

  /** True when `set` (this ring's replica set, or a partition's current voters) spans as many zones and hosts as the members allow. */
  isSpread(set: readonly string[]): boolean {
    return isSpread(set, this.localities, this.domains);
  }
}

/**
 * The walk from `key`'s position, one member at a time: `HashRing.range(key, n)` in the order
 * it returns, without its quadratic duplicate check. Read lazily: most sets are settled within
 * the first few members (pickSpread).
 */
function* walk(ring: HashRing, key: string): Generator<string> {
  const points = ring.ring;
  const start = ring.find(ring.hashValue(key));
  const seen = new Set<string>();
  for (let step = 0; step < points.length; step += 1) {
    const point = points[(start + step) % points.length];
    if (point === undefined || seen.has(point.server)) continue;
    seen.add(point.server);
    yield point.server;
  }
}

function spreadSet(ring: HashRing, key: string, size: number, memberCount: number, localities: Localities, domains: DomainCount): string[] {
  const prefix: string[] = [];
  let nextCheck = Math.min(memberCount, size * 2);
  for (const member of walk(ring, key)) {
    prefix.push(member);
    if (prefix.length < nextCheck) continue;
    const complete = prefix.length === memberCount;
    const set = pickSpread(prefix, size, localities, domains, complete);
    if (set !== undefined) return set;
    nextCheck = Math.min(memberCount, nextCheck * 2);
  }
  // The walk visits every member, so the last check above was complete.
  throw new Error(`the ring walk for ${key} ended before visiting ${memberCount} members`);
}

/** The walk order of every member from `partition`'s position (tests compare it with hashring's range). */
export function ringWalk(members: readonly string[], partition: number): string[] {
  return [...walk(new HashRing([...members].sort()), partitionKey(partition))];
}

function partitionKey(partition: number): string {
  return `partition-${partition}`;
}
