/** Reads nodes' admin views (GET /v1/admin/cluster) for the load tester, benchmarks and tests. */

export interface PartitionRowView {
  readonly partition: number;
  readonly role: string;
  readonly leader: string | null;
  readonly ready: boolean;
  readonly commit: number;
  readonly applied: number;
  readonly replicas: readonly string[];
}

export interface ClusterViewResponse {
  readonly nodeId: string;
  readonly ringVersion: number;
  readonly members: ReadonlyArray<{ nodeId: string; address: string; alive: boolean; self: boolean }>;
  readonly partitions: readonly PartitionRowView[];
}

export function adminHeaders(token: string | undefined): RequestInit {
  return token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } };
}

/** The node's view, or undefined when it does not answer. */
export async function fetchClusterView(host: string, adminToken?: string): Promise<ClusterViewResponse | undefined> {
  try {
    const response = await fetch(`http://${host}/v1/admin/cluster`, { ...adminHeaders(adminToken), signal: AbortSignal.timeout(2_000) });
    return response.ok ? ((await response.json()) as ClusterViewResponse) : undefined;
  } catch {
    return undefined;
  }
}

/** The node that owns the most partitions, by the first node that answers with owners (retried for up to 15 s). */
export async function busiestOwner(hosts: readonly string[], adminToken?: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    for (const host of hosts) {
      const view = await fetchClusterView(host, adminToken);
      const counts = new Map<string, number>();
      for (const row of view?.partitions ?? []) if (row.leader !== null) counts.set(row.leader, (counts.get(row.leader) ?? 0) + 1);
      const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
      if (best !== undefined) return best[0];
    }
    if (Date.now() > deadline) throw new Error('no node reports partition owners');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Polls every node until all replicas applied the same positions of every partition. */
export async function waitConverged(hosts: readonly string[], timeoutMs: number, adminToken?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(hosts.map((host) => fetchClusterView(host, adminToken)));
    const live = views.filter((view): view is ClusterViewResponse => view !== undefined);
    const first = live[0];
    const converged =
      first !== undefined &&
      live.length === hosts.length &&
      first.partitions.every((row) => {
        const applied = live.map((view) => view.partitions[row.partition]?.applied ?? -1);
        return row.leader !== null && applied.every((value) => value === applied[0]);
      });
    if (converged) return;
    if (Date.now() > deadline) throw new Error('replicas did not converge in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
