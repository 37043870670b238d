/**
 * Safety properties, checked incrementally while a simulation runs and once at its end.
 *
 * S1 every acknowledged append is in the final list of its key (and no append reported as
 *    failed is); every acknowledged read returned a prefix of the final list that includes
 *    every append acknowledged before the read began (linearizable reads).
 * S2 at most one owner per partition and epoch, and every committed command was proposed
 *    by the owner of the entry's epoch (a deposed owner commits nothing).
 * S3 committed logs never diverge: whenever any replica applies position i of a partition
 *    it is the same entry; at the end every replica's state equals the replay of that one
 *    committed log (so snapshots carried the right state), and each key's list is identical
 *    everywhere (its gapless, strictly increasing sequence).
 * S4 each command id takes effect at most once: no value appears twice in any list.
 */
import type { Entry, NodeId, OwnershipChange } from '../replication/index.ts';
import { type AppendCommand, ListAppendMachine } from './list-append.ts';

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

export class Checker {
  readonly violations: Violation[] = [];
  readonly history: OpRecord[] = [];
  private readonly owners = new Map<number, Map<number, NodeId>>();
  private readonly committed = new Map<number, Map<number, Entry<AppendCommand>>>();
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

  onApply(node: NodeId, partition: number, entry: Entry<AppendCommand>): void {
    let log = this.committed.get(partition);
    if (log === undefined) {
      log = new Map();
      this.committed.set(partition, log);
    }
    const known = log.get(entry.position);
    if (known === undefined) {
      log.set(entry.position, entry);
      if (entry.kind === 'command') {
        const owner = this.owners.get(partition)?.get(entry.epoch);
        if (owner !== entry.payload.proposer) {
          this.fail('S2', `partition ${partition} position ${entry.position}: committed entry of epoch ${entry.epoch} proposed by ${entry.payload.proposer}, owner ${owner ?? 'unknown'}`);
        }
      }
    } else if (signature(known) !== signature(entry)) {
      this.fail('S3', `partition ${partition} position ${entry.position}: ${node} applied ${signature(entry)}, others ${signature(known)}`);
    }
  }

  record(op: OpRecord): void {
    this.history.push(op);
  }

  /** Replays the one committed log of a partition up to `position` (the reference state). */
  referenceState(partition: number, position: number): ListAppendMachine | null {
    const log = this.committed.get(partition);
    const machine = new ListAppendMachine();
    for (let next = 1; next <= position; next += 1) {
      const entry = log?.get(next);
      if (entry === undefined) {
        this.fail('S3', `partition ${partition}: committed position ${next} was never applied anywhere`);
        return null;
      }
      machine.apply(entry);
    }
    return machine;
  }

  highestCommitted(partition: number): number {
    let highest = 0;
    for (const position of this.committed.get(partition)?.keys() ?? []) highest = Math.max(highest, position);
    return highest;
  }

  /**
   * End-of-run checks. `replicas` are the states of live replicas of each partition after the
   * cluster converged; `partitionOfKey` maps a key to its partition.
   */
  finish(
    partitionCount: number,
    replicas: readonly { node: NodeId; partition: number; machine: ListAppendMachine }[],
    partitionOfKey: (key: string) => number,
  ): void {
    const finals = new Map<number, ListAppendMachine>();
    for (let partition = 0; partition < partitionCount; partition += 1) {
      const reference = this.referenceState(partition, this.highestCommitted(partition));
      if (reference === null) return;
      finals.set(partition, reference);
    }
    for (const replica of replicas) {
      const reference = this.referenceState(replica.partition, replica.machine.applied);
      if (reference !== null && reference.fingerprint() !== replica.machine.fingerprint()) {
        this.fail('S3', `partition ${replica.partition}: ${replica.node}'s state at ${replica.machine.applied} differs from the committed log`);
      }
    }
    const finalList = (key: string): readonly number[] => finals.get(partitionOfKey(key))?.read(key) ?? [];
    const seen = new Set<number>();
    for (const machine of finals.values()) {
      for (const key of machine.keys()) {
        for (const value of machine.read(key)) {
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

function signature(entry: Entry<AppendCommand>): string {
  switch (entry.kind) {
    case 'command':
      return `${entry.epoch}:command:${entry.payload.commandId}:${entry.payload.key}:${entry.payload.value}`;
    case 'noop':
      return `${entry.epoch}:noop`;
    case 'membership':
      return `${entry.epoch}:membership:${entry.membership.voters.join(',')}/${entry.membership.learners.join(',')}`;
  }
}
