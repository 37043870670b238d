/**
 * The offline store check (`ringstate check`): reads a stopped node's store and reports every
 * way it breaks the store's invariants, one finding each.
 *
 * The log (the `entries` database) is the source of truth; everything else is either the
 * replication core's state (hard state, applied position, where compaction moved the
 * replication log's start) or a record derived from applied entries: the aggregate index,
 * dedupe records, outbox items, aggregate snapshots and `indexed` positions. A finding says
 * which kind it is: a derived record `repair` rebuilds from the log (store-repair.ts); the
 * log and the core's state it cannot fix (the operator drops the replica's data and lets it
 * catch up from its peers, docs/operations.md).
 *
 * What is legitimate and not reported:
 * - entries after the applied position (replicated mode): stored, maybe not committed yet, and
 *   derived records do not cover them; only their positions and epochs are checked;
 * - deferred index and dedupe records (deferred-index.ts): after a partition's `indexed`
 *   position an applied entry may have no index or dedupe record on disk (the next open rebuilds
 *   them); a record that is there must still be right;
 * - compaction: a replica snapshot moves where the replication log starts, the entries before it
 *   stay; so the log still starts at position 1 and the snapshot's position must hold an entry;
 * - dedupe records pruned after `dedupeRetentionMs`: a record is required only for entries younger
 *   than that; an older one may be there until the next sweep, and must then be right;
 * - a hard-state commit lower than the applied position (the commit is a lower bound, written
 *   only with other hard-state changes);
 * - a reused command id after its first record was pruned: the record belongs to the latest entry.
 *
 * One pass over the entries, in position order per partition, with memory for one small record
 * per aggregate and the pending outbox items; then one pass over each derived database. The
 * work is linear in the store's size (measured in docs/operations.md).
 */
import { isDeepStrictEqual } from 'node:util';
import { dedupeRecord } from './deferred-index.ts';
import { FORMAT_DEFERRED, FORMAT_KEY, FORMAT_PLAIN, type DatabaseName, type ReadableDatabases } from './layout.ts';
import { foldOutbox, touchesOutbox } from './outbox.ts';
import { isCommandEntry, type DedupeRecord, type HardState, type LogEntry, type OutboxItem } from './types.ts';

/** What a finding is about; `log` and `state` findings are not derived records, so repair cannot fix them. */
export type FindingArea = 'log' | 'state' | 'format' | 'index' | 'dedupe' | 'outbox' | 'snapshot' | 'indexed';

export interface StoreFinding {
  readonly area: FindingArea;
  readonly partition?: number;
  readonly aggregate?: string;
  readonly position?: number;
  readonly message: string;
}

/** A write that makes a derived record agree with the log (value undefined: remove the key). */
export interface DerivedFix {
  readonly database: Extract<DatabaseName, 'aggregates' | 'dedupe' | 'outbox' | 'snapshots' | 'indexed' | 'meta'>;
  readonly key: unknown;
  readonly value: unknown;
}

export interface StoreCheckOptions {
  /**
   * Entries older than this (ms since epoch, by their timestamp) need no dedupe record: the node
   * prunes them. Default: now minus the default `dedupeRetentionMs` (24 h).
   */
  readonly dedupeRequiredAfterMs?: number;
  /**
   * Repair's view: every applied entry needs its records on disk, and no `indexed` record may
   * remain (repair writes the deferred records out). Default false: deferred records are legitimate.
   */
  readonly complete?: boolean;
  /** Findings kept in the report at most (all are counted). Default 1,000. */
  readonly findingsMax?: number;
}

export interface StoreCheckReport {
  /** The first `findingsMax` findings, in the order found. */
  readonly findings: readonly StoreFinding[];
  readonly findingCount: number;
  readonly countsByArea: Readonly<Partial<Record<FindingArea, number>>>;
  /** What repair writes; complete only for findings in derived areas. */
  readonly fixes: readonly DerivedFix[];
  readonly summary: {
    readonly partitions: number;
    readonly entries: number;
    readonly appliedCommands: number;
    readonly aggregates: number;
    readonly indexRecords: number;
    readonly dedupeRecords: number;
    readonly outboxItems: number;
    readonly aggregateSnapshots: number;
  };
}

const DEDUPE_RETENTION_DEFAULT_MS = 24 * 60 * 60 * 1000;
const FINDINGS_MAX_DEFAULT = 1_000;
/** Areas whose records repair rebuilds from the log. */
export const DERIVED_AREAS: ReadonlySet<FindingArea> = new Set(['format', 'index', 'dedupe', 'outbox', 'snapshot', 'indexed']);

/** Per aggregate: where it lives and what its applied entries say. */
interface AggregateState {
  readonly partition: number;
  /** Highest applied seq. */
  seq: number;
  /** Position of the last applied entry that carries a snapshot. */
  snapshotPosition: number | undefined;
  snapshotSeen: boolean;
}

/** Per partition: where its derived records must be complete. */
interface PartitionBounds {
  readonly appliedTo: number;
  /** Applied entries up to here must have their index and dedupe records on disk. */
  readonly recordsTo: number;
}

class Collector {
  readonly findings: StoreFinding[] = [];
  count = 0;
  readonly countsByArea: Partial<Record<FindingArea, number>> = {};
  /** Keyed by database and key: a later write of a key replaces an earlier one. */
  readonly fixes = new Map<string, DerivedFix>();

  constructor(private readonly findingsMax: number) {}

  report(finding: StoreFinding, fix?: DerivedFix): void {
    this.count += 1;
    this.countsByArea[finding.area] = (this.countsByArea[finding.area] ?? 0) + 1;
    if (this.findings.length < this.findingsMax) this.findings.push(finding);
    if (fix !== undefined) this.fix(fix);
  }

  fix(fix: DerivedFix): void {
    this.fixes.set(`${fix.database}\u0000${JSON.stringify(fix.key)}`, fix);
  }
}

/** Checks the store whose databases are `dbs`; reads only. */
export function checkStore(dbs: ReadableDatabases, options: StoreCheckOptions = {}): StoreCheckReport {
  const complete = options.complete === true;
  const dedupeRequiredAfterMs = options.dedupeRequiredAfterMs ?? Date.now() - DEDUPE_RETENTION_DEFAULT_MS;
  const out = new Collector(options.findingsMax ?? FINDINGS_MAX_DEFAULT);
  const aggregates = new Map<string, AggregateState>();
  const expectedOutbox = new Map<string, { partition: number; aggregate: string; items: Map<string, OutboxItem> }>();
  const bounds = new Map<number, PartitionBounds>();
  /** Dedupe keys whose record the entry pass found wrong (the dedupe pass reports them no more). */
  const reportedDedupe = new Set<string>();
  let entryCount = 0;
  let appliedCommands = 0;

  const format = dbs.meta.get(FORMAT_KEY);
  const indexedRecords = new Map<number, number>();
  for (const { key, value } of dbs.indexed.getRange({})) indexedRecords.set(key, value);
  if (format !== undefined && format !== FORMAT_PLAIN && format !== FORMAT_DEFERRED) {
    out.report({ area: 'state', message: `format ${String(format)} is not one this build reads (${FORMAT_PLAIN}, ${FORMAT_DEFERRED})` });
  }
  if (indexedRecords.size > 0 && format !== FORMAT_DEFERRED) {
    out.report({ area: 'format', message: `indexed records exist in a store marked format ${String(format)}; an older build would miss its deferred records` }, { database: 'meta', key: FORMAT_KEY, value: FORMAT_DEFERRED });
  }

  const partitions = partitionsWithEntries(dbs);
  const hardStates = new Map<number, unknown>();
  for (const { key, value } of dbs.replicas.getRange({})) hardStates.set(key, value);
  const replicatedStore = hardStates.size > 0;

  for (const partition of partitions) {
    const hardState = dbs.replicas.get(partition);
    const appliedRecord = dbs.applied.get(partition);
    const lastPosition = lastPositionOf(dbs, partition);
    if (replicatedStore && hardState === undefined) {
      out.report({ area: 'state', partition, message: `partition ${partition} has entries but no hard state, in a store whose other partitions have one` });
    }
    if (hardState === undefined && appliedRecord !== undefined) {
      out.report({ area: 'state', partition, message: `partition ${partition} has an applied position (${appliedRecord}) but no hard state` });
    }
    // A single node's partition (no hard state): every stored entry is applied.
    const appliedTo = hardState === undefined ? lastPosition : Math.min(appliedRecord ?? 0, lastPosition);
    const indexedTo = indexedRecords.get(partition);
    const recordsTo = complete || indexedTo === undefined ? appliedTo : Math.min(indexedTo, appliedTo);
    bounds.set(partition, { appliedTo, recordsTo });

    let expected = 1;
    let lastEpoch = 0;
    for (const { key, value: entry } of dbs.entries.getRange({ start: [partition, 0], end: [partition, Number.MAX_SAFE_INTEGER] })) {
      entryCount += 1;
      const position = key[1];
      if (position !== expected) {
        out.report({ area: 'log', partition, position, message: position > expected ? `log gap: positions ${expected}..${position - 1} are missing` : `position ${position} out of order (expected ${expected})` });
      }
      expected = position + 1;
      if (entry.partition !== partition || entry.position !== position) {
        out.report({ area: 'log', partition, position, message: `the entry stored at ${partition}/${position} says it is ${String(entry.partition)}/${String(entry.position)}` });
        continue;
      }
      if (!Number.isInteger(entry.epoch) || entry.epoch < lastEpoch) {
        out.report({ area: 'log', partition, position, message: `epoch ${String(entry.epoch)} follows epoch ${lastEpoch}` });
      } else {
        lastEpoch = entry.epoch;
      }
      if (position > appliedTo || !isCommandEntry(entry)) continue;
      appliedCommands += 1;
      checkAppliedEntry(dbs, entry, { out, aggregates, expectedOutbox, reportedDedupe, recordsTo, dedupeRequiredAfterMs });
    }
    checkPartitionState(dbs, partition, { out, hardState, appliedRecord, lastPosition, lastEpoch, indexedTo, appliedTo, complete });
  }

  // Records of partitions that hold no entry.
  for (const [partition, indexedTo] of indexedRecords) {
    if (!bounds.has(partition)) checkPartitionState(dbs, partition, { out, hardState: dbs.replicas.get(partition), appliedRecord: dbs.applied.get(partition), lastPosition: 0, lastEpoch: 0, indexedTo, appliedTo: 0, complete });
  }
  for (const { key: partition, value } of dbs.applied.getRange({})) {
    if (!bounds.has(partition) && value !== 0) out.report({ area: 'state', partition, message: `partition ${partition} has applied position ${value} but no entries` });
  }
  for (const { key: partition, value } of dbs.replicaSnapshots.getRange({})) {
    if (!bounds.has(partition)) out.report({ area: 'state', partition, message: `partition ${partition}: the replication log starts after position ${value.position}, but the partition has no entries` });
  }

  const indexRecords = checkIndexRecords(dbs, out, aggregates);
  const dedupeRecords = checkDedupeRecords(dbs, out, aggregates, bounds, reportedDedupe);
  const outboxItems = checkOutbox(dbs, out, expectedOutbox);
  const aggregateSnapshots = checkSnapshots(dbs, out, aggregates);

  return {
    findings: out.findings,
    findingCount: out.count,
    countsByArea: out.countsByArea,
    fixes: [...out.fixes.values()],
    summary: { partitions: partitions.length, entries: entryCount, appliedCommands, aggregates: aggregates.size, indexRecords, dedupeRecords, outboxItems, aggregateSnapshots },
  };
}

interface EntryContext {
  readonly out: Collector;
  readonly aggregates: Map<string, AggregateState>;
  readonly expectedOutbox: Map<string, { partition: number; aggregate: string; items: Map<string, OutboxItem> }>;
  readonly reportedDedupe: Set<string>;
  readonly recordsTo: number;
  readonly dedupeRequiredAfterMs: number;
}

/** One applied command entry: its seq, its index and dedupe records, its outbox change, its snapshot. */
function checkAppliedEntry(dbs: ReadableDatabases, entry: LogEntry, context: EntryContext): void {
  const { out, aggregates } = context;
  const { partition, position, aggregate } = entry;
  const where = { partition, aggregate, position };
  let state = aggregates.get(aggregate);
  if (state === undefined) {
    state = { partition, seq: 0, snapshotPosition: undefined, snapshotSeen: false };
    aggregates.set(aggregate, state);
  } else if (state.partition !== partition) {
    out.report({ area: 'log', ...where, message: `${aggregate} has entries in partitions ${state.partition} and ${partition}` });
    return;
  }
  if (entry.seq !== state.seq + 1) out.report({ area: 'log', ...where, message: `${aggregate} seq ${entry.seq} follows seq ${state.seq}` });
  state.seq = Math.max(state.seq, entry.seq);
  if (entry.snapshot !== undefined) state.snapshotPosition = position;

  // The aggregate index: required up to recordsTo; after it (deferred) absent or right.
  const indexed = dbs.aggregates.get([aggregate, entry.seq]);
  if (indexed !== position && (indexed !== undefined || position <= context.recordsTo)) {
    const message =
      indexed === undefined
        ? `no index record for ${aggregate} seq ${entry.seq} (the entry is at ${partition}/${position})`
        : `the index record for ${aggregate} seq ${entry.seq} points at ${partition}/${indexed}, ${describeEntry(dbs, partition, indexed)}; the entry is at ${partition}/${position}`;
    out.report({ area: 'index', ...where, message }, { database: 'aggregates', key: [aggregate, entry.seq], value: position });
  }

  checkDedupeOfEntry(dbs, entry, context);

  if (touchesOutbox(entry.outbox)) {
    const at = `${partition}\u0000${aggregate}`;
    let pending = context.expectedOutbox.get(at);
    if (pending === undefined) {
      pending = { partition, aggregate, items: new Map() };
      context.expectedOutbox.set(at, pending);
    }
    foldOutbox(pending.items, entry.outbox);
  }
}

/**
 * The dedupe record of an entry's command id: right when it is this entry's, or the record of a
 * later applied entry that reused the id after this one's was pruned. Required (when missing)
 * up to recordsTo and only for entries younger than the retention.
 */
function checkDedupeOfEntry(dbs: ReadableDatabases, entry: LogEntry, context: EntryContext): void {
  const { out } = context;
  const { partition, position, aggregate } = entry;
  const key: [string, string, string] = [aggregate, entry.playerId, entry.commandId];
  const record = dbs.dedupe.get(key);
  const expected = dedupeRecord(entry);
  const fix: DerivedFix = { database: 'dedupe', key, value: expected };
  const where = { area: 'dedupe' as const, partition, aggregate, position };
  const deferred = position > context.recordsTo;
  if (record === undefined) {
    if (!deferred && entry.timestampMs >= context.dedupeRequiredAfterMs) {
      out.report({ ...where, message: `no dedupe record for command ${JSON.stringify(entry.commandId)} of ${entry.playerId} (entry ${partition}/${position}, seq ${entry.seq})` }, fix);
      context.reportedDedupe.add(JSON.stringify(key));
    }
    return;
  }
  if (record.position === position) {
    if (!sameDedupeRecord(record, expected)) {
      out.report({ ...where, message: `the dedupe record of command ${JSON.stringify(entry.commandId)} disagrees with its entry ${partition}/${position} (record seq ${record.seq}, entry seq ${entry.seq})` }, fix);
      context.reportedDedupe.add(JSON.stringify(key));
    }
    return;
  }
  // Another entry's record: a later one that reused the id is right; an earlier one only while deferred.
  if (record.position > position ? isRecordOf(dbs, partition, key, record) : deferred && isRecordOf(dbs, partition, key, record)) return;
  const textKey = JSON.stringify(key);
  if (!context.reportedDedupe.has(textKey)) {
    out.report({ ...where, message: `the dedupe record of command ${JSON.stringify(entry.commandId)} of ${entry.playerId} points at ${partition}/${record.position}, ${describeEntry(dbs, partition, record.position)}; the entry is at ${partition}/${position}` });
    context.reportedDedupe.add(textKey);
  }
  out.fix(fix);
}

/** Whether `record` is exactly the dedupe record of the applied entry it points at, under `key`. */
function isRecordOf(dbs: ReadableDatabases, partition: number, key: readonly [string, string, string], record: DedupeRecord): boolean {
  const target = dbs.entries.get([partition, record.position]);
  return (
    target !== undefined &&
    isCommandEntry(target) &&
    target.aggregate === key[0] &&
    target.playerId === key[1] &&
    target.commandId === key[2] &&
    sameDedupeRecord(record, dedupeRecord(target))
  );
}

function sameDedupeRecord(a: DedupeRecord, b: DedupeRecord): boolean {
  if (a.seq !== b.seq || a.position !== b.position || a.timestampMs !== b.timestampMs) return false;
  if (a.commandDigest === undefined || b.commandDigest === undefined) return a.commandDigest === b.commandDigest;
  return Buffer.compare(Buffer.from(a.commandDigest), Buffer.from(b.commandDigest)) === 0;
}

function describeEntry(dbs: ReadableDatabases, partition: number, position: number): string {
  const entry = dbs.entries.get([partition, position]);
  if (entry === undefined) return 'where there is no entry';
  if (!isCommandEntry(entry)) return `which holds a ${entry.kind} entry`;
  return `which holds ${entry.aggregate} seq ${entry.seq}`;
}

interface PartitionStateContext {
  readonly out: Collector;
  readonly hardState: HardState | undefined;
  readonly appliedRecord: number | undefined;
  readonly lastPosition: number;
  readonly lastEpoch: number;
  readonly indexedTo: number | undefined;
  readonly appliedTo: number;
  readonly complete: boolean;
}

/** Hard state, applied position, replication-log start and `indexed` record against the partition's log. */
function checkPartitionState(dbs: ReadableDatabases, partition: number, context: PartitionStateContext): void {
  const { out, hardState, appliedRecord, lastPosition, lastEpoch, indexedTo } = context;
  if (hardState !== undefined) {
    const { epoch, vote, commit, amnesia } = hardState;
    if (!isCount(epoch) || !isCount(commit) || !isCount(amnesia) || !(vote === null || typeof vote === 'string')) {
      out.report({ area: 'state', partition, message: `partition ${partition}: malformed hard state ${JSON.stringify(hardState)}` });
    } else {
      if (epoch < lastEpoch) out.report({ area: 'state', partition, message: `partition ${partition}: hard state epoch ${epoch} is older than the last entry's epoch ${lastEpoch}` });
      if (commit > lastPosition) out.report({ area: 'state', partition, message: `partition ${partition}: hard state commit ${commit} is past the last entry (${lastPosition})` });
    }
  }
  if (appliedRecord !== undefined && (!isCount(appliedRecord) || appliedRecord > lastPosition)) {
    out.report({ area: 'state', partition, message: `partition ${partition}: applied position ${String(appliedRecord)} is past the last entry (${lastPosition})` });
  }
  const start = dbs.replicaSnapshots.get(partition);
  if (start !== undefined && lastPosition > 0) {
    const at = dbs.entries.get([partition, start.position]);
    if (start.position > context.appliedTo) {
      out.report({ area: 'state', partition, position: start.position, message: `partition ${partition}: the replication log starts after position ${start.position}, which is not applied (applied to ${context.appliedTo})` });
    } else if (at === undefined || at.epoch !== start.epoch) {
      out.report({ area: 'state', partition, position: start.position, message: `partition ${partition}: the replication log starts after position ${start.position} (epoch ${start.epoch}), but ${at === undefined ? 'no entry is there' : `the entry there has epoch ${at.epoch}`}` });
    }
  }
  if (indexedTo !== undefined) {
    if (context.complete) {
      out.report({ area: 'indexed', partition, message: `partition ${partition}: deferred index records after position ${indexedTo} (written out by repair)` }, { database: 'indexed', key: partition, value: undefined });
    } else if (!isCount(indexedTo) || indexedTo > context.appliedTo) {
      out.report({ area: 'indexed', partition, message: `partition ${partition}: indexed position ${String(indexedTo)} is past the applied position ${context.appliedTo}` }, { database: 'indexed', key: partition, value: undefined });
    }
  }
}

/** Index records of no applied entry: of an aggregate without entries, or past its last seq. */
function checkIndexRecords(dbs: ReadableDatabases, out: Collector, aggregates: ReadonlyMap<string, AggregateState>): number {
  let count = 0;
  for (const { key, value } of dbs.aggregates.getRange({})) {
    count += 1;
    const [aggregate, seq] = key;
    const state = aggregates.get(aggregate);
    if (state !== undefined && isCount(seq) && seq >= 1 && seq <= state.seq) continue; // checked with its entry
    const message =
      state === undefined
        ? `index record ${aggregate} seq ${String(seq)} -> ${String(value)}, but ${aggregate} has no applied entries`
        : `index record ${aggregate} seq ${String(seq)} -> ${state.partition}/${String(value)} is past the aggregate's last applied seq ${state.seq}`;
    out.report({ area: 'index', aggregate, ...(state === undefined ? {} : { partition: state.partition }), message }, { database: 'aggregates', key, value: undefined });
  }
  return count;
}

/** Dedupe records that no applied entry accounts for (those of entries were checked with them). */
function checkDedupeRecords(dbs: ReadableDatabases, out: Collector, aggregates: ReadonlyMap<string, AggregateState>, bounds: ReadonlyMap<number, PartitionBounds>, reported: ReadonlySet<string>): number {
  let count = 0;
  for (const { key, value } of dbs.dedupe.getRange({})) {
    count += 1;
    if (reported.has(JSON.stringify(key))) continue;
    const [aggregate, playerId, commandId] = key;
    const state = aggregates.get(aggregate);
    const appliedTo = state === undefined ? 0 : (bounds.get(state.partition)?.appliedTo ?? 0);
    if (state !== undefined && value.position <= appliedTo && isRecordOf(dbs, state.partition, key, value)) continue;
    const where = state === undefined ? `${aggregate} has no applied entries` : `it points at ${state.partition}/${value.position}, ${describeEntry(dbs, state.partition, value.position)}${value.position > appliedTo ? ' (not applied)' : ''}`;
    out.report(
      { area: 'dedupe', aggregate, ...(state === undefined ? {} : { partition: state.partition, position: value.position }), message: `dedupe record of command ${JSON.stringify(commandId)} of ${playerId} on ${aggregate}: ${where}` },
      { database: 'dedupe', key, value: undefined },
    );
  }
  return count;
}

/** The outbox records against the fold of the applied entries' outbox changes. */
function checkOutbox(dbs: ReadableDatabases, out: Collector, expected: ReadonlyMap<string, { partition: number; aggregate: string; items: Map<string, OutboxItem> }>): number {
  let count = 0;
  const seen = new Set<string>();
  for (const { key, value } of dbs.outbox.getRange({})) {
    count += 1;
    const [partition, aggregate, id] = key;
    const item = expected.get(`${partition}\u0000${aggregate}`)?.items.get(id);
    seen.add(JSON.stringify(key));
    if (item === undefined) {
      out.report({ area: 'outbox', partition, aggregate, message: `outbox item ${id} of ${aggregate} is not pending after the applied entries (delivered, cancelled, or never added)` }, { database: 'outbox', key, value: undefined });
    } else if (!isDeepStrictEqual(toPlain(value), toPlain(item))) {
      out.report({ area: 'outbox', partition, aggregate, message: `outbox item ${id} of ${aggregate} differs from the item its entry added` }, { database: 'outbox', key, value: item });
    }
  }
  for (const { partition, aggregate, items } of expected.values()) {
    for (const [id, item] of items) {
      const key = [partition, aggregate, id];
      if (seen.has(JSON.stringify(key))) continue;
      out.report({ area: 'outbox', partition, aggregate, message: `outbox item ${id} of ${aggregate} is pending after the applied entries but has no record` }, { database: 'outbox', key, value: item });
    }
  }
  return count;
}

/** Each aggregate's snapshot record against the last applied entry that carries one. */
function checkSnapshots(dbs: ReadableDatabases, out: Collector, aggregates: ReadonlyMap<string, AggregateState>): number {
  let count = 0;
  for (const { key: aggregate, value } of dbs.snapshots.getRange({})) {
    count += 1;
    const state = aggregates.get(aggregate);
    if (state === undefined || state.snapshotPosition === undefined) {
      const why = state === undefined ? 'the aggregate has no applied entries' : 'no applied entry of the aggregate carries a snapshot';
      out.report({ area: 'snapshot', aggregate, ...(state === undefined ? {} : { partition: state.partition }), message: `snapshot of ${aggregate} at seq ${String(value.seq)}, but ${why}` }, { database: 'snapshots', key: aggregate, value: undefined });
      continue;
    }
    state.snapshotSeen = true;
    const entry = dbs.entries.get([state.partition, state.snapshotPosition]) as LogEntry;
    if (!isDeepStrictEqual(toPlain(value), toPlain(entry.snapshot))) {
      out.report(
        { area: 'snapshot', aggregate, partition: state.partition, position: state.snapshotPosition, message: `snapshot of ${aggregate} at seq ${String(value.seq)} is not the one its last snapshot entry (seq ${entry.seq}) carries` },
        { database: 'snapshots', key: aggregate, value: entry.snapshot },
      );
    }
  }
  for (const [aggregate, state] of aggregates) {
    if (state.snapshotPosition === undefined || state.snapshotSeen) continue;
    const entry = dbs.entries.get([state.partition, state.snapshotPosition]) as LogEntry;
    out.report({ area: 'snapshot', aggregate, partition: state.partition, position: state.snapshotPosition, message: `no snapshot record for ${aggregate}; its entry seq ${entry.seq} carries one` }, { database: 'snapshots', key: aggregate, value: entry.snapshot });
  }
  return count;
}

/** Decoded binary may come back as Buffer or Uint8Array; compare bytes, not classes. */
function toPlain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, toPlain(v)]));
  return value;
}

function partitionsWithEntries(dbs: ReadableDatabases): number[] {
  const found: number[] = [];
  let cursor = 0;
  for (;;) {
    let next: number | undefined;
    for (const key of dbs.entries.getKeys({ start: [cursor, 0], limit: 1 })) next = key[0];
    if (next === undefined) return found;
    found.push(next);
    cursor = next + 1;
  }
}

function lastPositionOf(dbs: ReadableDatabases, partition: number): number {
  for (const key of dbs.entries.getKeys({ start: [partition, Number.MAX_SAFE_INTEGER], end: [partition, 0], reverse: true, limit: 1 })) return key[1];
  return 0;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** One line per finding: area, where, what. */
export function formatFinding(finding: StoreFinding): string {
  const where = [finding.partition === undefined ? undefined : `partition ${finding.partition}`, finding.aggregate, finding.position === undefined ? undefined : `position ${finding.position}`].filter((part) => part !== undefined);
  return `${finding.area}${where.length > 0 ? ` [${where.join(', ')}]` : ''}: ${finding.message}`;
}
