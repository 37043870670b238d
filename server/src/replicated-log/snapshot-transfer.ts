/**
 * Snapshot transfer: how a replica that is far behind (a new node, a wiped disk, a long
 * outage) catches up once the owner's replication log no longer reaches back far enough.
 *
 * Every replica compacts its replication log every `cluster.compactEveryEntries` applied entries:
 * the core's log then starts after that position (replica-storage.ts). The entries stay on
 * disk, because they are the aggregates' event history, so a snapshot needs no separate state
 * image: the state at position X *is* the committed log up to X. When the owner finds that a
 * replica needs entries its replication log no longer has, it sends a snapshot message
 * {position X, epoch, membership} with empty data. The replica's driver then:
 *
 *   1. holds the message back and fetches the committed entries it lacks, from its commit
 *      position + 1 (or its stored log's end + 1, if earlier) up to X, in chunks from the sender (protocol /ringstate/snapshot/1.0.0,
 *      request {p, from, to} -> {entries: StoredEntry[]}; any replica that has committed X
 *      can answer, committed entries being identical everywhere);
 *   2. keeps them in memory (the entries a replica lacks, so a replica far behind on a large
 *      partition needs memory for that range), checks they end at X with the snapshot's epoch,
 *      and steps the message into the core, which installs the snapshot;
 *   3. writes the install in one transaction (replicated-partition-log.ts): the fetched
 *      entries replace whatever this replica held after its commit position, every entry up
 *      to X not yet applied is applied (aggregate index, dedupe, aggregate snapshots), and the
 *      snapshot's metadata records where the replication log now starts.
 *
 * A crash during the fetch loses only memory. The owner retries the snapshot message every
 * `snapshotRetryMs`; retries that arrive while a fetch runs are dropped, and a finished fetch
 * is reused while it matches the (position, epoch) the owner sends.
 */
import type { Logger } from 'pino';
import { isCommandEntry, type LogStorage, type StoredEntry } from '../log/index.ts';
import type { SnapshotRequest } from '../replication/index.ts';
import { encodedSize } from './payload-size.ts';
import type { PeerNetwork } from '../peer/index.ts';

export const SNAPSHOT_PROTOCOL = '/ringstate/snapshot/1.0.0';
/** Bytes of entries per answer at most (well under the peer layer's message limit). */
const CHUNK_BYTES_MAX = 1024 * 1024;
const CHUNK_ENTRIES_MAX = 2_000;
/**
 * One chunk (at most 1 MiB) answers in milliseconds on a LAN. A request lost with a peer that
 * stopped or restarted is only noticed by this timeout, and the replica does not fetch again
 * meanwhile, so it bounds how long a lost request stalls catch-up (10 s stalled a partition
 * whose other voter was amnesiac past the simulator's liveness bound).
 */
const REQUEST_TIMEOUT_MS = 3_000;
const STAGES_PER_PARTITION_MAX = 2;

export interface StagedSnapshot {
  readonly position: number;
  readonly epoch: number;
  /** The first fetched position: the replica's commit position (or stored log end, if earlier) + 1 when the fetch started. */
  readonly from: number;
  readonly entries: readonly StoredEntry[];
}

/** Serves committed entry ranges to replicas that install a snapshot. */
export function serveSnapshotRanges(peers: PeerNetwork, store: LogStorage, partitionCount: number, committed: (partition: number) => number): void {
  peers.handle(SNAPSHOT_PROTOCOL, (payload) => {
    const { p, from, to } = (payload ?? {}) as { p?: unknown; from?: unknown; to?: unknown };
    if (!isIndex(p, partitionCount) || !isPosition(from) || !isPosition(to) || from > to) return { error: 'malformed range request' };
    // Only committed entries: those are the same on every replica.
    const last = Math.min(to, committed(p), store.lastPosition(p));
    if (from > last) return { error: `entries ${from}..${to} of partition ${p} are not committed here` };
    const entries: StoredEntry[] = [];
    let bytes = 0;
    for (const entry of store.storedEntries(p, from, Math.min(last, from + CHUNK_ENTRIES_MAX - 1) + 1)) {
      bytes += approximateBytes(entry);
      if (entries.length > 0 && bytes > CHUNK_BYTES_MAX) break;
      entries.push(entry);
    }
    return { entries };
  });
}

/** The replica side: fetches what a snapshot message needs before the core may install it. */
export class SnapshotFetcher {
  /**
   * Finished fetches per partition, newest last. A newer fetch never drops an older stage: the
   * core may already be installing the older snapshot (its Ready not yet collected).
   */
  private readonly staged = new Map<number, StagedSnapshot[]>();
  private readonly fetching = new Set<number>();
  private stopped = false;

  constructor(
    private readonly peers: PeerNetwork,
    private readonly logger: Logger,
    /** Steps a held-back snapshot message into the core once its entries are staged. */
    private readonly release: (from: string, message: SnapshotRequest) => void,
    /** The node's clock (only for the fetch's duration in the log). */
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * True when the core may take `message` now: it needs nothing fetched (the core only
   * acknowledges or commits), or its entries are staged. Otherwise starts a fetch (unless one
   * runs for the partition) and returns false: the message is held back.
   */
  admit(from: string, message: SnapshotRequest, status: { commit: number }, storedPosition: number): boolean {
    const { partition, snapshot } = message;
    // At or below the commit the core only acknowledges. Anything else may become an install,
    // so it waits for its entries even when this log might already hold them: the core decides
    // that from its own log, which can differ from the store while writes are in flight.
    if (snapshot.position <= status.commit) return true;
    if (this.find(partition, snapshot.position, snapshot.epoch) !== undefined) return true;
    // From what the store holds, not only what the core knows committed: committed entries the
    // core held only in memory (not yet written) are dropped by the install, and the store
    // would be left with a gap (simulator seed 75429: the install wrote 48.. over a store that
    // ended at 46, the write failed and the replica stopped).
    if (!this.fetching.has(partition)) void this.fetch(from, message, Math.min(status.commit, storedPosition) + 1);
    return false;
  }

  /** The staged entries for an install of (position, epoch); removes them and any older stage. */
  take(partition: number, position: number, epoch: number): StagedSnapshot | undefined {
    const found = this.find(partition, position, epoch);
    if (found === undefined) return undefined;
    const rest = (this.staged.get(partition) ?? []).filter((stage) => stage.position > position);
    if (rest.length === 0) this.staged.delete(partition);
    else this.staged.set(partition, rest);
    return found;
  }

  private find(partition: number, position: number, epoch: number): StagedSnapshot | undefined {
    return this.staged.get(partition)?.find((stage) => stage.position === position && stage.epoch === epoch);
  }

  stop(): void {
    this.stopped = true;
    this.staged.clear();
  }

  private async fetch(from: string, message: SnapshotRequest, start: number): Promise<void> {
    const { partition, snapshot } = message;
    this.fetching.add(partition);
    const startedMs = this.nowMs();
    try {
      const entries: StoredEntry[] = [];
      let next = start;
      while (next <= snapshot.position) {
        if (this.stopped) return;
        const answer = (await this.peers.request(from, SNAPSHOT_PROTOCOL, { p: partition, from: next, to: snapshot.position }, REQUEST_TIMEOUT_MS)) as { entries?: unknown; error?: unknown };
        if (!Array.isArray(answer.entries) || answer.entries.length === 0) {
          throw new Error(typeof answer.error === 'string' ? answer.error : 'empty answer');
        }
        for (const entry of answer.entries as StoredEntry[]) {
          if (entry?.partition !== partition || entry.position !== next || typeof entry.epoch !== 'number') throw new Error(`unexpected entry in answer (expected position ${next})`);
          entries.push(entry);
          next += 1;
          if (next > snapshot.position) break;
        }
      }
      if (entries.length > 0 && entries.at(-1)?.epoch !== snapshot.epoch) throw new Error(`entry ${snapshot.position} has another epoch than the snapshot`);
      if (this.stopped) return;
      // Two stages at most per partition: the one an install may be using and the newest.
      const stages = [...(this.staged.get(partition) ?? []), { position: snapshot.position, epoch: snapshot.epoch, from: start, entries }];
      this.staged.set(partition, stages.slice(-STAGES_PER_PARTITION_MAX));
      this.logger.info({ partition, from: start, to: snapshot.position, entries: entries.length, source: from, ms: this.nowMs() - startedMs }, 'fetched the entries of a snapshot');
    } catch (error) {
      this.logger.warn({ partition, source: from, err: error }, 'snapshot fetch failed; the owner will send the snapshot again');
      return;
    } finally {
      this.fetching.delete(partition);
    }
    this.release(from, message);
  }
}

function isIndex(value: unknown, count: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < count;
}

function isPosition(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= Number.MAX_SAFE_INTEGER;
}

/** Control entries (noop, membership) are a few dozen bytes; commands are sized like proposals. */
function approximateBytes(entry: StoredEntry): number {
  return isCommandEntry(entry) ? encodedSize(entry) : 64;
}
