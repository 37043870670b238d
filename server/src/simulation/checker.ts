/**
 * Safety properties, checked incrementally while a simulation runs and once at its end.
 *
 * S1 every acknowledged append is in the final list of its key (and no append reported as
 *    failed is); every acknowledged read returned a prefix of the final list that includes
 *    every append acknowledged before the read began (linearizable reads).
 * S2 at most one owner per partition and epoch, and every committed command was proposed
 *    by the owner of the entry's epoch (a deposed owner commits nothing).
 * S3 committed logs never diverge: whenever any replica applies position i of a partition
 *    it is the same command entry; each aggregate's seqs in that log are gapless and
 *    increasing; at the end every replica's lists, read through its AggregateRuntime, equal
 *    the replay of that one committed log up to its applied position (so snapshot transfer
 *    and aggregate snapshots carried the right state).
 * S4 each command id takes effect at most once: no value appears twice in any list.

 * Entries arrive as the runtime hears of them (`PartitionLog.onCommitted`): command entries
 * only, so no-ops and membership entries leave gaps in the positions the checker sees.
 */
import type { NodeId, OwnershipChange } from '../replication/index.ts';
import type { AppliedAppend } from './list-append.ts';

export type OpOutcome = 'ok' | 'fail' | 'info';

export interface OpRecord {
  readonly client: string;
  readonly kind: 'append' | 'read';
  readonly key: string;
  readonly value: number;
  readonly commandId: string;
  readonly invokedMs: number;
  readonly completedMs: number;
  readonly outcome: OpOutcome;
  /** For acknowledged reads: the list returned. */
  readonly result: readonly number[] | null;
}

export interface Violation {
  readonly property: 'S1' | 'S2' | 'S3' | 'S4' | 'liveness' | 'crash';
  readonly message: string;
  readonly atMs: number;
}

/** Stops recording after this many, so a broken run cannot exhaust memory. */
const VIOLATIONS_MAX = 20;

/** One replica's state of one partition, as read through its runtime. */
export interface ReplicaLists {
  readonly node: NodeId;
  readonly partition: number;
  readonly appliedPosition: number;
  readonly lists: ReadonlyMap<string, readonly number[]>;
}

export class Checker {
  readonly violations: Violation[] = [];
  readonly history: OpRecord[] = [];
  private readonly owners = new Map<number, Map<number, NodeId>>();
  private readonly committed = new Map<number, Map<number, AppliedAppend>>();
  private readonly nowMs: () => number;

  constructor(nowMs: () => number) {
    this.nowMs = nowMs;
  }

  fail(property: Violation['property'], message: string): void {
    if (this.violations.length < VIOLATIONS_MAX) this.violations.push({ property, message, atMs: this.nowMs() });
  }

  onOwnership(node: NodeId, change: OwnershipChange): void {
    if (change.role !== 'owner') return;
    let byEpoch = this.owners.get(change.partition);
    if (byEpoch === undefined) {
      byEpoch = new Map();
      this.owners.set(change.partition, byEpoch);
    }
    const owner = byEpoch.get(change.epoch);
    if (owner !== undefined && owner !== node) {
      this.fail('S2', `partition ${change.partition} epoch ${change.epoch}: owners ${owner} and ${node}`);
    }
    byEpoch.set(change.epoch, node);
  }

  onApply(node: NodeId, partition: number, entry: AppliedAppend): void {
    let log = this.committed.get(partition);
    if (log === undefined) {
      log = new Map();
      this.committed.set(partition, log);
    }
    const known = log.get(entry.position);
    if (known === undefined) {
      log.set(entry.position, entry);
      const owner = this.owners.get(partition)?.get(entry.epoch);
      if (owner !== entry.proposer) {
        this.fail('S2', `partition ${partition} position ${entry.position}: committed entry of epoch ${entry.epoch} proposed by ${entry.proposer}, owner ${owner ?? 'unknown'}`);
      }
    } else if (signature(known) !== signature(entry)) {
      this.fail('S3', `partition ${partition} position ${entry.position}: ${node} applied ${signature(entry)}, others ${signature(known)}`);
    }
  }

  record(op: OpRecord): void {
    this.history.push(op);
  }

  /** Each key's list after replaying the one committed log of a partition up to `position`. */
  referenceLists(partition: number, position: number): Map<string, number[]> {
    const entries = [...(this.committed.get(partition)?.values() ?? [])].filter((entry) => entry.position <= position).sort((a, b) => a.position - b.position);
    const lists = new Map<string, number[]>();
    for (const entry of entries) {
      let list = lists.get(entry.key);
      if (list === undefined) {
        list = [];
        lists.set(entry.key, list);
      }
      if (entry.seq !== list.length + 1) {
        this.fail('S3', `partition ${partition} position ${entry.position}: ${entry.key} seq ${entry.seq} follows seq ${list.length}`);
      }
      list.push(entry.value);
    }
    return lists;
  }

  /**
   * End-of-run checks. `replicas` are the lists live replicas read through their runtime after
   * the cluster converged, each at its applied position.
   */
  finish(partitionCount: number, replicas: readonly ReplicaLists[], partitionOfKey: (key: string) => number): void {
    const finals = new Map<number, Map<string, number[]>>();
    for (let partition = 0; partition < partitionCount; partition += 1) finals.set(partition, this.referenceLists(partition, Number.POSITIVE_INFINITY));
    for (const replica of replicas) {
      const reference = this.referenceLists(replica.partition, replica.appliedPosition);
      for (const key of new Set([...reference.keys(), ...replica.lists.keys()])) {
        const expected = (reference.get(key) ?? []).join(',');
        const found = (replica.lists.get(key) ?? []).join(',');
        if (expected !== found) {
          this.fail('S3', `partition ${replica.partition}: ${replica.node} reads ${key} = [${found}] at ${replica.appliedPosition}, the committed log says [${expected}]`);
        }
      }
    }
    const finalList = (key: string): readonly number[] => finals.get(partitionOfKey(key))?.get(key) ?? [];
    const seen = new Set<number>();
    for (const lists of finals.values()) {
      for (const [key, values] of lists) {
        for (const value of values) {
          if (seen.has(value)) this.fail('S4', `value ${value} appears twice (key ${key})`);
          seen.add(value);
        }
      }
    }
    this.checkHistory(finalList);
  }
  private checkHistory(finalList: (key: string) => readonly number[]): void {
    const appends = this.history.filter((op) => op.kind === 'append');
    for (const op of appends) {
      const present = finalList(op.key).includes(op.value);
      if (op.outcome === 'ok' && !present) this.fail('S1', `acknowledged append ${op.commandId} (${op.key} += ${op.value}) is lost`);
      if (op.outcome === 'fail' && present) this.fail('S1', `append ${op.commandId} reported failed but took effect`);
    }
    const acknowledged = appends.filter((op) => op.outcome === 'ok');
    for (const read of this.history) {
      if (read.kind !== 'read' || read.outcome !== 'ok' || read.result === null) continue;
      const final = finalList(read.key);
      const isPrefix = read.result.length <= final.length && read.result.every((value, index) => final[index] === value);
      if (!isPrefix) {
        this.fail('S1', `read of ${read.key} at ${read.invokedMs} ms returned [${read.result.join(',')}], not a prefix of [${final.join(',')}]`);
        continue;
      }
      for (const op of acknowledged) {
        if (op.key === read.key && op.completedMs < read.invokedMs && !read.result.includes(op.value)) {
          this.fail('S1', `read of ${read.key} at ${read.invokedMs} ms misses ${op.value}, acknowledged at ${op.completedMs} ms (stale read)`);
        }
      }
    }
  }
}

function signature(entry: AppliedAppend): string {
  return `${entry.epoch}:${entry.commandId}:${entry.key}#${entry.seq}:${entry.value}`;
}
