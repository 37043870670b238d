/**
 * What this node knows about the other nodes' addresses. Pure: no I/O, no clock.
 *
 * Two sources write it. A hello or welcome comes from the node itself over an authenticated
 * connection, so it is taken as is. Gossip is second hand, so it only adds unknown nodes or
 * replaces an entry with a newer incarnation (a later process run of that node), never with an
 * older or equal one: stale gossip cannot point the cluster at an address a node has left.
 */
import { assert } from '../replication/index.ts';
import type { GossipEntry } from './wire.ts';

export type MergeResult = 'added' | 'updated' | 'unchanged';

export class MemberTable {
  readonly #selfId: string;
  readonly #membersMax: number;
  readonly #entries = new Map<string, GossipEntry>();

  constructor(selfId: string, membersMax: number) {
    assert(membersMax > 0, 'membersMax must be positive');
    this.#selfId = selfId;
    this.#membersMax = membersMax;
  }

  /** First-hand information from the node itself. */
  recordDirect(entry: GossipEntry): MergeResult {
    assert(entry.nodeId !== this.#selfId, 'a node does not record itself');
    const known = this.#entries.get(entry.nodeId);
    if (known === undefined) return this.#add(entry);
    if (known.address === entry.address && known.incarnation === entry.incarnation) return 'unchanged';
    this.#entries.set(entry.nodeId, entry);
    return 'updated';
  }

  /** Second-hand information; entries about this node itself are ignored. */
  recordGossip(entry: GossipEntry): MergeResult {
    if (entry.nodeId === this.#selfId) return 'unchanged';
    const known = this.#entries.get(entry.nodeId);
    if (known === undefined) return this.#add(entry);
    if (entry.incarnation <= known.incarnation) return 'unchanged';
    this.#entries.set(entry.nodeId, entry);
    return 'updated';
  }

  get(nodeId: string): GossipEntry | undefined {
    return this.#entries.get(nodeId);
  }

  entries(): GossipEntry[] {
    return [...this.#entries.values()];
  }

  get size(): number {
    return this.#entries.size;
  }

  #add(entry: GossipEntry): MergeResult {
    // Bounded like every table here: past the limit new names are ignored (and logged by
    // the caller), which only happens with a misconfigured or hostile peer.
    if (this.#entries.size >= this.#membersMax) return 'unchanged';
    this.#entries.set(entry.nodeId, entry);
    return 'added';
  }
}
