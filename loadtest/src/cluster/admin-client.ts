/** Reads nodes' admin views (GET /v1/admin/cluster) for the load tester, benchmarks and tests. */
import { clusterViewOf } from '../../../server/src/observability/index.ts';

export interface PartitionRowView {
  readonly partition: number;
  readonly role: string;
  readonly owner: string | null;
  readonly ready: boolean;
  readonly commit: number;
  readonly applied: number;
  readonly replicas: readonly string[];
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  /** Idle without heartbeats (docs/replication.md, "Quiescence"); absent from older builds. */
  readonly quiesced?: boolean;
}

export interface ClusterViewResponse {
  readonly nodeId: string;
  readonly ringVersion: number;
  readonly ring: { readonly generation: number; readonly members: readonly string[] };
  readonly leaving: boolean;
  readonly members: ReadonlyArray<{ nodeId: string; address: string; alive: boolean; self: boolean }>;
  readonly partitions: readonly PartitionRowView[];
}

export function adminHeaders(token: string | undefined): RequestInit {
  return token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } };
}

/**
 * The admin token a command-line tool uses: its --admin-token flag, else the environment
 * variable RINGSTATE_ADMIN_TOKEN (the one nodes read admin.token from; it stays out of `ps`).
 * Outside dev mode nodes refuse every admin request without it, from loopback too.
 */
export function adminTokenOption(flag: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const token = flag ?? env['RINGSTATE_ADMIN_TOKEN'];
  return token === undefined || token === '' ? undefined : token;
}

/** A node refused the admin API: waiting longer will not help, so callers stop at once. */
export class AdminRefusedError extends Error {
  override readonly name = 'AdminRefusedError';
}

/** The node's view, or undefined when it does not answer; throws AdminRefusedError when it refuses the token. */
export async function fetchClusterView(host: string, adminToken?: string): Promise<ClusterViewResponse | undefined> {
  let response: Response;
  try {
    response = await fetch(`http://${host}/v1/admin/cluster`, { ...adminHeaders(adminToken), signal: AbortSignal.timeout(2_000) });
  } catch {
    return undefined;
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new AdminRefusedError(`${host} refused GET /v1/admin/cluster (HTTP ${response.status}): ${adminToken === undefined ? 'pass --admin-token or set RINGSTATE_ADMIN_TOKEN' : 'the admin token does not match the node\'s admin.token'}`);
  }
  try {
    return response.ok ? (clusterViewOf(await response.json()) as ClusterViewResponse) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A node's GET /metrics (Prometheus text) as sample -> value, the sample being the metric name
 * with its labels as printed (`ringstate_elections_total`,
 * `ringstate_ownership_changes_total{reason="campaign"}`); empty when the node does not answer.
 */
export async function fetchMetrics(host: string): Promise<Map<string, number>> {
  const text = await fetch(`http://${host}/metrics`, { signal: AbortSignal.timeout(2_000) }).then(
    (response) => (response.ok ? response.text() : ''),
    () => '',
  );
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

/** The node that owns the most partitions, by the first node that answers with owners (retried for up to 15 s). */
export async function busiestOwner(hosts: readonly string[], adminToken?: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    for (const host of hosts) {
      const view = await fetchClusterView(host, adminToken);
      const counts = new Map<string, number>();
      for (const row of view?.partitions ?? []) if (row.owner !== null) counts.set(row.owner, (counts.get(row.owner) ?? 0) + 1);
      const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
      if (best !== undefined) return best[0];
    }
    if (Date.now() > deadline) throw new Error('no node reports partition owners');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Polls until every node agrees on a ring of exactly `members` and every partition's owner
 * reports the ring's replica set as its voters, with no learner left: the partitions have
 * moved. Returns how long that took.
 */
export async function waitPlacement(hosts: readonly string[], members: readonly string[], timeoutMs: number, adminToken?: string): Promise<number> {
  const startedMs = Date.now();
  const wanted = [...members].sort().join(',');
  for (;;) {
    const views = await Promise.all(hosts.map((host) => fetchClusterView(host, adminToken)));
    const live = views.filter((view): view is ClusterViewResponse => view !== undefined);
    const agreed = live.length === hosts.length && live.every((view) => [...view.ring.members].sort().join(',') === wanted);
    const partitionCount = live[0]?.partitions.length ?? 0;
    let placed = agreed;
    for (let partition = 0; placed && partition < partitionCount; partition += 1) {
      const owner = live.map((view) => view.partitions[partition]).find((row) => row !== undefined && row.role === 'owner' && row.ready);
      placed = owner !== undefined && owner.learners.length === 0 && [...owner.voters].sort().join(',') === [...owner.replicas].sort().join(',');
    }
    if (placed) return Date.now() - startedMs;
    if (Date.now() - startedMs > timeoutMs) throw new Error(`partitions did not move to ring ${wanted} in time: ${describePlacement(live)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function describePlacement(views: readonly ClusterViewResponse[]): string {
  const rings = views.map((view) => `${view.nodeId}: ring g${view.ring.generation} ${view.ring.members.join(',')}`);
  const rows = (views[0]?.partitions ?? []).map((row) => {
    const owner = views.map((view) => view.partitions[row.partition]).find((candidate) => candidate?.role === 'owner');
    return owner === undefined ? `p${row.partition} no owner` : `p${row.partition} ${owner.owner} voters ${owner.voters.join(',')} learners ${owner.learners.join(',')} wants ${owner.replicas.join(',')}`;
  });
  return [...rings, ...rows].join('; ');
}

/**
 * Polls every node until, for every partition, there is a ready owner and every voter of its
 * replica set (as the owner reports it) applied the same position. With more members than
 * the replication factor, nodes outside a partition's replica set are not compared for it.
 */
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
        const owner = live.map((view) => view.partitions[row.partition]).find((candidate) => candidate?.role === 'owner' && candidate.ready);
        if (owner === undefined) return false;
        const replicas = live.filter((view) => owner.voters.includes(view.nodeId));
        if (replicas.length < owner.voters.length) return false;
        const applied = replicas.map((view) => view.partitions[row.partition]?.applied ?? -1);
        return applied.every((value) => value === applied[0]);
      });
    if (converged) return;
    if (Date.now() > deadline) throw new Error(`replicas did not converge in time: ${describeDivergence(hosts, views)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Which nodes did not answer and which partitions differ, for the timeout message. */
function describeDivergence(hosts: readonly string[], views: ReadonlyArray<ClusterViewResponse | undefined>): string {
  const silent = hosts.filter((_, index) => views[index] === undefined);
  const live = views.filter((view): view is ClusterViewResponse => view !== undefined);
  const rows = (live[0]?.partitions ?? [])
    .map((row) => ({
      partition: row.partition,
      states: live.map((view) => {
        const own = view.partitions[row.partition];
        return `${view.nodeId}:${own?.role ?? '?'}/owner=${own?.owner ?? 'none'}/commit=${own?.commit ?? -1}/applied=${own?.applied ?? -1}`;
      }),
      applied: live.map((view) => view.partitions[row.partition]?.applied ?? -1),
      owner: row.owner,
    }))
    .filter((row) => row.owner === null || row.applied.some((value) => value !== row.applied[0]))
    .map((row) => `p${row.partition} [${row.states.join(' ')}]`);
  return [silent.length > 0 ? `no answer from ${silent.join(', ')}` : '', ...rows].filter(Boolean).join('; ');
}

/**
 * Asks the node at `host` to leave the ring (POST /v1/admin/leave; 202 once it starts). A 409
 * MEMBERSHIP_REFUSED can be transient, the node's ring not yet showing a member that just
 * joined (then leaving would drop below replicationFactor), so it is asked again every
 * `retryMs` until `timeoutMs` has passed; then, or on any other answer, it throws with the
 * node's last answer.
 */
export async function requestLeave(host: string, options: { timeoutMs: number; retryMs: number; adminToken?: string }): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(`http://${host}/v1/admin/leave`, { method: 'POST', ...adminHeaders(options.adminToken), signal: AbortSignal.timeout(5_000) });
    if (response.status === 202) return;
    const answer = `${response.status} ${await response.text()}`;
    const refused = response.status === 409 && answer.includes('MEMBERSHIP_REFUSED');
    if (!refused) throw new Error(`${host} did not accept the leave: ${answer}`);
    if (Date.now() + options.retryMs > deadline) throw new Error(`${host} refused the leave ${attempt} times over ${options.timeoutMs} ms; last answer: ${answer}`);
    await new Promise((resolve) => setTimeout(resolve, options.retryMs));
  }
}
