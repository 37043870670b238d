/**
 * The load tester's loss oracle: after a run it reads every aggregate it appended to from
 * every node that replicates it (GET /v1/admin/aggregate) and compares with what was
 * acknowledged (see compare.ts).
 */
import type { AggregateLog } from '../../../server/src/observability/index.ts';
import { adminHeaders } from '../cluster/admin-client.ts';
import { compareHistory, emptyVerdict, type AckedAppend, type HistoryVerdict } from './compare.ts';

export async function checkOverAdminApi(hosts: readonly string[], acked: ReadonlyMap<string, readonly AckedAppend[]>, adminToken?: string): Promise<HistoryVerdict> {
  const verdict = emptyVerdict();
  for (const [player, appends] of acked) {
    const replicas: Array<{ name: string; values: string[] }> = [];
    for (const host of hosts) {
      const log = await readAggregate(host, player, adminToken);
      if (!log.replicated) continue;
      replicas.push({ name: log.nodeId, values: log.entries.map((entry) => String((entry.events[0] as { value?: unknown } | undefined)?.value ?? '')) });
    }
    compareHistory(verdict, `player/${player}`, replicas, appends);
  }
  return verdict;
}

/** One replica's log of a player, retried: a kept-alive HTTP connection may be reset between requests. */
async function readAggregate(host: string, player: string, adminToken: string | undefined): Promise<AggregateLog> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(`http://${host}/v1/admin/aggregate?type=player&id=${encodeURIComponent(player)}`, { ...adminHeaders(adminToken), signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`oracle: ${host} answered ${response.status} for ${player}`);
      return (await response.json()) as AggregateLog;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
