/**
 * A list-append workload over SDK clients, and its checker: the history oracle of the
 * real-process fault tests.
 *
 * Each player appends unique values `<player>:<k>` to its own player aggregate, one command at
 * a time. Clients rotate over every node of the cluster when their connection fails (a test
 * host provider; the SDK's own failover comes with host suggestion). After the run the checker
 * reads every replica's LMDB log and verifies, per player: every acknowledged value is present
 * exactly once, at the seq it was acknowledged with; no value appears twice; and every replica
 * holds the same sequence (S1, S3, S4).
 */
import { RingstateError } from '@ringstate/client-sdk';
import { aggregateKey, partitionOf } from '@ringstate/protocol';
import { failoverClient } from '../../loadtest/src/driver/failover-client.ts';
import { compareHistory, emptyVerdict, type HistoryVerdict } from '../../loadtest/src/oracle/compare.ts';
import { LogStore } from '../../server/src/log/index.ts';

export interface Ack {
  readonly value: string;
  readonly seq: number;
  readonly ackedAtMs: number;
}

export interface PlayerHistory {
  readonly player: string;
  readonly acked: Ack[];
  failed: number;
  indeterminate: number;
}

export interface WorkloadOptions {
  /** Every node's client address, host:port. */
  readonly hosts: readonly string[];
  readonly players: readonly string[];
  readonly durationMs: number;
  readonly commandTimeoutMs?: number;
  /** Ends the load early (checked before every command), e.g. once a fault sequence finished. */
  readonly stopWhen?: () => boolean;
}

export async function runListAppend(options: WorkloadOptions, during?: (elapsedMs: () => number) => Promise<void>): Promise<PlayerHistory[]> {
  const startedMs = Date.now();
  const histories = options.players.map((player) => ({ player, acked: [] as Ack[], failed: 0, indeterminate: 0 }));
  const clients = options.players.map((player, index) => failoverClient(player, options.hosts, index));
  await Promise.all(clients.map((client) => client.connect()));
  const loops = histories.map(async (history, index) => {
    const client = clients[index];
    if (client === undefined) return;
    for (let k = 0; Date.now() - startedMs < options.durationMs && options.stopWhen?.() !== true; k += 1) {
      const value = `${history.player}:${k}`;
      try {
        const result = await client.send('player', history.player, { type: 'append', value }, { timeoutMs: options.commandTimeoutMs ?? 15_000 });
        history.acked.push({ value, seq: result.seq, ackedAtMs: Date.now() });
      } catch (error) {
        if (error instanceof RingstateError && (error.code === 'TIMEOUT' || error.code === 'DISCONNECTED')) history.indeterminate += 1;
        else history.failed += 1;
      }
    }
  });
  await Promise.all([...loops, during?.(() => Date.now() - startedMs)]);
  for (const client of clients) client.close();
  return histories;
}

export type CheckResult = HistoryVerdict;

/**
 * Reads every replica's log (nodes must be stopped) and checks the histories. With more nodes
 * than replicationFactor, `replicaDirs(partition)` names the data directories that replicate a
 * partition (the others hold nothing of it and are not compared); by default all of them.
 */
export async function checkHistories(dataDirs: readonly string[], histories: readonly PlayerHistory[], partitionCount: number, replicaDirs?: (partition: number) => readonly string[]): Promise<CheckResult> {
  const stores = dataDirs.map((path) => LogStore.open({ path, durability: 'os' }));
  const verdict = emptyVerdict();
  try {
    for (const store of stores) store.verify();
    for (const history of histories) {
      const key = aggregateKey('player', history.player);
      const partition = partitionOf('player', history.player, partitionCount);
      const holders = replicaDirs?.(partition);
      const replicas = stores
        .map((store, index) => ({ store, index }))
        .filter(({ index }) => holders === undefined || holders.includes(dataDirs[index] ?? ''))
        .map(({ store, index }) => ({ name: `replica ${index}`, values: store.aggregateEntries(partition, key, 0).map((entry) => (entry.events[0] as { value: string }).value) }));
      compareHistory(verdict, key, replicas, history.acked);
    }
  } finally {
    for (const store of stores) await store.close();
  }
  return verdict;
}

/** Per player: time from the fault to its first acknowledgement after it. */
export function recoveryTimesMs(histories: readonly PlayerHistory[], faultAtMs: number): number[] {
  const times: number[] = [];
  for (const history of histories) {
    const next = history.acked.find((ack) => ack.ackedAtMs >= faultAtMs);
    if (next !== undefined) times.push(next.ackedAtMs - faultAtMs);
  }
  return times.sort((a, b) => a - b);
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
}

export { adminHeaders, busiestOwner, waitConverged } from '../../loadtest/src/cluster/admin-client.ts';
