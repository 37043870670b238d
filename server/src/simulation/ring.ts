/**
 * The simulator's stand-in for the hash ring: rendezvous (highest random weight) hashing of
 * partitions over the ring members. Like the real ring it gives each partition an ordered
 * replica set (preferred owner first) that changes little when a member joins or leaves.
 */
import type { NodeId } from '../replication/index.ts';

export class SimRing {
  private members: NodeId[];
  readonly replicationFactor: number;

  constructor(members: readonly NodeId[], replicationFactor: number) {
    this.members = [...members];
    this.replicationFactor = replicationFactor;
  }

  get size(): number {
    return this.members.length;
  }

  list(): readonly NodeId[] {
    return this.members;
  }

  has(node: NodeId): boolean {
    return this.members.includes(node);
  }

  join(node: NodeId): void {
    if (!this.members.includes(node)) this.members.push(node);
  }

  leave(node: NodeId): void {
    this.members = this.members.filter((member) => member !== node);
  }

  replicaSet(partition: number): NodeId[] {
    return [...this.members]
      .map((node) => ({ node, weight: weight(node, partition) }))
      .sort((a, b) => b.weight - a.weight || (a.node < b.node ? -1 : 1))
      .slice(0, this.replicationFactor)
      .map(({ node }) => node);
  }
}

function weight(node: NodeId, partition: number): number {
  let hash = 0x811c9dc5 ^ Math.imul(partition + 1, 0x9e3779b1);
  for (let index = 0; index < node.length; index += 1) {
    hash ^= node.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  hash ^= hash >>> 12;
  return hash >>> 0;
}
