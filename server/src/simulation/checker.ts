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
 * S5 what aggregates send each other and their timers take effect at most once and, unless
 *    refused, at least once; refusals are compensated once; timers fire once, never early, and
 *    never after they were cancelled; money is conserved (workflow-checker.ts, at the end).

 * Entries arrive as the runtime hears of them (`PartitionLog.onCommitted`): command entries
 * only, so no-ops and membership entries leave gaps in the positions the checker sees.
 */
import type { LogEntry } from '../log/index.ts';
import type { NodeId, OwnershipChange } from '../replication/index.ts';
import { balanceChange, INITIAL_BALANCE, type AccountEvent } from './accounts.ts';
import { LIST_TYPE } from './list-append.ts';
import { type AppliedEntry, checkWorkflows, type WorkflowStats } from './workflow-checker.ts';

export type OpOutcome = 'ok' | 'fail' | 'info';

export interface OpRecord {
  readonly client: string;
  readonly kind: 'append' | 'read' | 'account';
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
  readonly property: 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'liveness' | 'crash';
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
  /** Each account's balance, as its public view reads (accounts of this partition only). */
  readonly balances: ReadonlyMap<string, number>;
  /** Outbox items the replica's store still holds for the partition. */
  readonly pendingDeliveries: number;
}

const LIST_PREFIX = `${LIST_TYPE}/`;
const ACCOUNT_PREFIX = 'account/';

export class Checker {
  readonly violations: Violation[] = [];
  readonly history: OpRecord[] = [];
  private readonly owners = new Map<number, Map<number, NodeId>>();
  private readonly committed = new Map<number, Map<number, AppliedEntry>>();
  /** What the S5 check found at the end (how much the workflows did). */
  workflows: WorkflowStats | null = null;
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

  onApply(node: NodeId, partition: number, logEntry: LogEntry): void {
    const entry = appliedEntry(logEntry);
    let log = this.committed.get(partition);
    if (log === undefined) {
      log = new Map();
      this.committed.set(partition, log);
    }
    const known = log.get(entry.position);
    if (known === undefined) {
      log.set(entry.position, entry);
      const owner = this.owners.get(partition)?.get(entry.epoch);
      if (entry.proposer !== null && owner !== entry.proposer) {
        this.fail('S2', `partition ${partition} position ${entry.position}: committed entry of epoch ${entry.epoch} proposed by ${entry.proposer}, owner ${owner ?? 'unknown'}`);
      }
    } else if (known.signature !== entry.signature) {
      this.fail('S3', `partition ${partition} position ${entry.position}: ${node} applied ${entry.signature}, others ${known.signature}`);
    }
  }

  record(op: OpRecord): void {
    this.history.push(op);
  }

  /** Each key's list after replaying the one committed log of a partition up to `position`. */
  referenceLists(partition: number, position: number): Map<string, number[]> {
    const lists = new Map<string, number[]>();
    for (const entry of this.entries(partition, position)) {
      if (!entry.aggregate.startsWith(LIST_PREFIX)) continue;
      const key = entry.aggregate.slice(LIST_PREFIX.length);
      let list = lists.get(key);
      if (list === undefined) {
        list = [];
        lists.set(key, list);
      }
      if (entry.seq !== list.length + 1) {
        this.fail('S3', `partition ${partition} position ${entry.position}: ${key} seq ${entry.seq} follows seq ${list.length}`);
      }
      list.push((entry.events[0] as { value: number }).value);
    }
    return lists;
  }

  /** Each account's balance (of those with entries) after replaying the committed log up to `position`; checks their seqs. */
  referenceBalances(partition: number, position: number): Map<string, number> {
    const balances = new Map<string, number>();
    const seqs = new Map<string, number>();
    for (const entry of this.entries(partition, position)) {
      if (!entry.aggregate.startsWith(ACCOUNT_PREFIX)) continue;
      const id = entry.aggregate.slice(ACCOUNT_PREFIX.length);
      const seq = seqs.get(id) ?? 0;
      if (entry.seq !== seq + 1) this.fail('S3', `partition ${partition} position ${entry.position}: account ${id} seq ${entry.seq} follows seq ${seq}`);
      seqs.set(id, entry.seq);
      let balance = balances.get(id) ?? INITIAL_BALANCE;
      for (const event of entry.events) balance += balanceChange(event as AccountEvent);
      balances.set(id, balance);
    }
    return balances;
  }

  /** The committed command entries of a partition up to `position`, in log order. */
  private entries(partition: number, position: number): AppliedEntry[] {
    return [...(this.committed.get(partition)?.values() ?? [])].filter((entry) => entry.position <= position).sort((a, b) => a.position - b.position);
  }

  /**
   * End-of-run checks. `replicas` are the lists live replicas read through their runtime after
   * the cluster converged, each at its applied position.
   */
  finish(partitionCount: number, replicas: readonly ReplicaLists[], partitionOfKey: (key: string) => number, accounts: readonly string[]): void {
    const finals = new Map<number, Map<string, number[]>>();
    for (let partition = 0; partition < partitionCount; partition += 1) finals.set(partition, this.referenceLists(partition, Number.POSITIVE_INFINITY));
    for (const replica of replicas) {
      const balances = this.referenceBalances(replica.partition, replica.appliedPosition);
      for (const id of new Set([...balances.keys(), ...replica.balances.keys()])) {
        const expected = balances.get(id) ?? INITIAL_BALANCE;
        const found = replica.balances.get(id) ?? INITIAL_BALANCE;
        if (expected !== found) this.fail('S3', `partition ${replica.partition}: ${replica.node} reads account ${id} balance ${found} at ${replica.appliedPosition}, the committed log says ${expected}`);
      }
      if (replica.pendingDeliveries > 0) this.fail('S5', `partition ${replica.partition}: ${replica.node} still holds ${replica.pendingDeliveries} pending outbox items after the run quiesced`);
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
    const logs = new Map<number, AppliedEntry[]>();
    for (let partition = 0; partition < partitionCount; partition += 1) logs.set(partition, this.entries(partition, Number.POSITIVE_INFINITY));
    this.workflows = checkWorkflows(logs, (message) => this.fail('S5', message));
    let total = 0;
    const finalBalances = new Map<string, number>();
    for (let partition = 0; partition < partitionCount; partition += 1) {
      for (const [id, balance] of this.referenceBalances(partition, Number.POSITIVE_INFINITY)) finalBalances.set(id, balance);
    }
    for (const id of accounts) total += finalBalances.get(id) ?? INITIAL_BALANCE;
    if (total !== accounts.length * INITIAL_BALANCE) {
      this.fail('S5', `money not conserved: accounts hold ${total}, started with ${accounts.length * INITIAL_BALANCE} (${[...finalBalances].map(([id, balance]) => `${id} ${balance}`).join(', ')})`);
    }
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

/** What the checker keeps of a committed command entry; `signature` tells two apart. */
function appliedEntry(entry: LogEntry): AppliedEntry {
  const by = (entry.events[0] as { by?: unknown } | undefined)?.by;
  const fields = {
    position: entry.position,
    epoch: entry.epoch,
    aggregate: entry.aggregate,
    seq: entry.seq,
    commandId: entry.commandId,
    playerId: entry.playerId,
    timestampMs: entry.timestampMs,
    events: entry.events,
    ...(entry.outbox === undefined ? {} : { outbox: entry.outbox }),
    ...(entry.refusal === undefined ? {} : { refusal: entry.refusal }),
  };
  if (entry.aggregate.startsWith(LIST_PREFIX) && entry.events.length !== 1) throw new Error(`list-append entry ${entry.partition}/${entry.position} has ${entry.events.length} events`);
  const signature = `${entry.epoch}:${entry.playerId}:${entry.commandId}:${entry.aggregate}#${entry.seq}@${entry.timestampMs}:${canonical(entry.events)}${canonical(entry.outbox)}${canonical(entry.refusal)}`;
  return { ...fields, proposer: typeof by === 'string' ? by : null, signature };
}

/** JSON with every object's keys sorted: the owner's objects and a replica's decoded copies may list keys in another order. */
function canonical(value: unknown): string {
  if (value === undefined) return '';
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner,
  );
}
