/**
 * The partition ring: which nodes replicate each partition, owner first.
 *
 * Consistent hashing (ketama-compatible `hashring`) over the cluster's *members*. Members are
 * the nodes that joined and have not left; a node that crashed stays a member, so its
 * partitions fail over inside their replica sets instead of moving (moving would need the data
 * the dead node holds). Joining or leaving changes replica sets, and only for a fraction of
 * partitions, which is what consistent hashing buys.
 *
 * Every node that knows the same member set computes the same ring and the same `version`
 * (a hash of the sorted member ids), so "do we agree on the ring?" is one number.
 */
import HashRing from 'hashring';
import { fnv1a32 } from '@ringstate/protocol';

export class PartitionRing {
  readonly version: number;
  readonly members: readonly string[];
  private readonly replicaSets: ReadonlyArray<readonly string[]>;

  constructor(members: readonly string[], readonly partitionCount: number, readonly replicationFactor: number) {
    if (members.length === 0) throw new Error('a ring needs at least one member');
    if (new Set(members).size !== members.length) throw new Error(`duplicate ring members: ${members.join(', ')}`);
    this.members = [...members].sort();
    this.version = ringVersion(this.members);
    const ring = new HashRing([...this.members]);
    const size = Math.min(replicationFactor, this.members.length);
    this.replicaSets = Array.from({ length: partitionCount }, (_, partition) => ring.range(partitionKey(partition), size));
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
}

export function ringVersion(members: readonly string[]): number {
  return fnv1a32([...members].sort().join('\n'));
}

function partitionKey(partition: number): string {
  return `partition-${partition}`;
}
