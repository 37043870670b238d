/**
 * A 3-node real-process cluster whose every partition has a ready owner, for the client failover
 * tests (browser and end-to-end): they measure recovery from a kill, so the cluster must be fully
 * formed before the clock starts. A cluster that does not form within `ownersWaitMs` fails the
 * test (founding used to race; see cluster-services.ts hasFoundingStateOnly).
 */
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';

type ClusterView = { partitions: { partition: number; leader: string | null; ready: boolean; role: string }[] };

export function clientHosts(cluster: ProcessCluster): string[] {
  return cluster.members.map((member) => `${member.host}:${member.port}`);
}

/** Every partition has a ready owner that every node agrees on. */
export async function waitForOwners(hosts: readonly string[], partitionCount: number, timeoutMs: number): Promise<void> {
  const startedMs = Date.now();
  for (;;) {
    const views = await Promise.all(hosts.map(async (host) => (await (await fetch(`http://${host}/v1/admin/cluster`, { signal: AbortSignal.timeout(5_000) })).json()) as ClusterView));
    const leaders = views.map((view) => view.partitions.map((row) => row.leader ?? '?').join(','));
    const readyLeaders = views.flatMap((view) => view.partitions.filter((row) => row.role === 'leader' && row.ready)).length;
    if (readyLeaders === partitionCount && leaders.every((row) => row === leaders[0] && !row.split(',').includes('?'))) return;
    if (Date.now() - startedMs > timeoutMs) throw new Error(`partitions without a ready owner after ${timeoutMs} ms: ${leaders.join(' | ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startFoundedCluster(partitionCount: number, attemptsMax = 1, ownersWaitMs = 20_000): Promise<ProcessCluster> {
  for (let attempt = 1; ; attempt += 1) {
    const cluster = await startProcessCluster(3, { partitionCount });
    try {
      await waitForOwners(clientHosts(cluster), partitionCount, ownersWaitMs);
      return cluster;
    } catch (error) {
      await cluster.stopAll();
      cluster.remove();
      if (attempt >= attemptsMax) throw error;
      console.log(`client failover: cluster founding stalled (attempt ${attempt}); starting a fresh cluster`);
    }
  }
}
