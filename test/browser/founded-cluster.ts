/**
 * A 3-node real-process cluster whose every partition has a ready owner, for the client failover
 * tests (browser and end-to-end): they measure recovery from a kill, so the cluster must be fully
 * formed before the clock starts. A cluster that does not form within `ownersWaitMs` fails the
 * test (founding used to race; see cluster-services.ts hasFoundingStateOnly).
 */
import { fetchClusterView } from '../../loadtest/src/cluster/admin-client.ts';
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';


export function clientHosts(cluster: ProcessCluster): string[] {
  return cluster.members.map((member) => `${member.host}:${member.port}`);
}

/** Every partition has a ready owner that every node agrees on. */
export async function waitForOwners(hosts: readonly string[], partitionCount: number, timeoutMs: number): Promise<void> {
  const startedMs = Date.now();
  for (;;) {
    const views = (await Promise.all(hosts.map((host) => fetchClusterView(host)))).map((view) => view ?? { partitions: [] });
    const owners = views.map((view) => view.partitions.map((row) => row.owner ?? '?').join(','));
    const readyOwners = views.flatMap((view) => view.partitions.filter((row) => row.role === 'owner' && row.ready)).length;
    if (readyOwners === partitionCount && owners.every((row) => row === owners[0] && !row.split(',').includes('?'))) return;
    if (Date.now() - startedMs > timeoutMs) throw new Error(`partitions without a ready owner after ${timeoutMs} ms: ${owners.join(' | ')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startFoundedCluster(partitionCount: number, ownersWaitMs = 20_000): Promise<ProcessCluster> {
  const cluster = await startProcessCluster(3, { partitionCount });
  try {
    await waitForOwners(clientHosts(cluster), partitionCount, ownersWaitMs);
    return cluster;
  } catch (error) {
    await cluster.stopAll();
    cluster.remove();
    throw error;
  }
}
