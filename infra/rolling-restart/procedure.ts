/**
 * Rolling restart: restarts the nodes of a cluster one at a time so that every partition keeps
 * its write quorum throughout (with replicationFactor 3, one node down leaves 2 of 3).
 *
 * For each node, in the order given:
 *   1. precondition: every member answers, sees every other member alive, and every partition
 *      has a ready owner (otherwise a second node down could cost a quorum: stop, do not guess);
 *   2. stop it gracefully (SIGTERM: it hands its partitions over, then exits) and wait until it
 *      is gone;
 *   3. start it and wait for GET /readyz;
 *   4. wait until it has caught up: every other member sees it alive again, every partition has
 *      a ready owner, and on every partition it replicates it has applied at least what the
 *      owners had committed when it came back (under load the positions keep moving, so
 *      "all equal" would never hold; "caught up with the past" is what makes the next stop safe).
 *
 * How a node is stopped and started is injected (NodeController): local processes, systemd over
 * ssh, or Kubernetes pods. The procedure only talks HTTP to the nodes' admin API.
 */
import { clusterViewOf, type ClusterView } from '../../server/src/observability/index.ts';

export interface NodeTarget {
  /** Client address host:port (HTTP API and /readyz). */
  readonly host: string;
  readonly nodeId: string;
}

export interface NodeController {
  /** Asks the node to stop gracefully and resolves once it has exited. */
  stop(target: NodeTarget): Promise<void>;
  /** Starts the node again (resolves once the process is launched; readiness is polled here). */
  start(target: NodeTarget): Promise<void>;
}

export interface RollingRestartOptions {
  readonly hosts: readonly string[];
  readonly controller: NodeController;
  readonly adminToken?: string;
  /** Per phase (stop, ready, caught up) deadline. */
  readonly phaseTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface NodeRestartReport {
  readonly nodeId: string;
  readonly host: string;
  readonly stopMs: number;
  readonly readyMs: number;
  readonly caughtUpMs: number;
}

/** The admin API's view of the cluster (GET /v1/admin/cluster). */
export type AdminClusterView = ClusterView;

const POLL_MS = 100;
const PHASE_TIMEOUT_MS_DEFAULT = 60_000;

export class RollingRestartError extends Error {
  override readonly name = 'RollingRestartError';
}

export async function fetchView(host: string, adminToken: string | undefined): Promise<AdminClusterView | undefined> {
  try {
    const response = await fetch(`http://${host}/v1/admin/cluster`, {
      ...(adminToken === undefined ? {} : { headers: { authorization: `Bearer ${adminToken}` } }),
      signal: AbortSignal.timeout(2_000),
    });
    if (response.status === 401 || response.status === 403) {
      const how = adminToken === undefined ? 'pass --admin-token or set RINGSTATE_ADMIN_TOKEN (outside dev mode every admin request needs it)' : 'the admin token given does not match the node\'s admin.token';
      throw new RollingRestartError(`${host} refused the admin API: ${how}`);
    }
    return response.ok ? clusterViewOf(await response.json()) : undefined;
  } catch (error) {
    if (error instanceof RollingRestartError) throw error;
    return undefined;
  }
}

async function isReady(host: string): Promise<boolean> {
  try {
    return (await fetch(`http://${host}/readyz`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true; `check` may return a string saying why not yet (kept for the timeout message). */
async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean | string>): Promise<number> {
  const startedMs = Date.now();
  let why = '';
  for (;;) {
    const answer = await check();
    if (answer === true) return Date.now() - startedMs;
    if (typeof answer === 'string') why = answer;
    if (Date.now() - startedMs > timeoutMs) throw new RollingRestartError(`timed out after ${timeoutMs} ms waiting for ${what}${why === '' ? '' : ` (${why})`}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Why the cluster is not healthy (every member answers, all see each other alive, every partition has a ready owner), or undefined when it is. */
export function unhealthyReason(views: ReadonlyArray<AdminClusterView | undefined>, memberCount: number): string | undefined {
  const silent = views.filter((view) => view === undefined).length;
  if (silent > 0) return `${silent} member(s) do not answer the admin API`;
  const live = views as AdminClusterView[];
  for (const view of live) {
    const down = view.members.filter((member) => !member.alive).map((member) => member.nodeId);
    if (view.members.length !== memberCount || down.length > 0) return `${view.nodeId} sees ${view.members.length} members, down: ${down.join(', ') || 'none'}`;
  }
  const partitionCount = live[0]?.partitions.length ?? 0;
  const unowned: number[] = [];
  for (let partition = 0; partition < partitionCount; partition += 1) {
    const owned = live.some((view) => {
      const row = view.partitions[partition];
      return row !== undefined && row.role === 'owner' && row.ready && row.owner === view.nodeId;
    });
    if (!owned) unowned.push(partition);
  }
  return unowned.length > 0 ? `partitions without a ready owner: ${unowned.join(', ')}` : undefined;
}

/** Resolves each host to the node id it reports (the admin view names itself). */
export async function resolveTargets(hosts: readonly string[], adminToken: string | undefined): Promise<NodeTarget[]> {
  const targets: NodeTarget[] = [];
  for (const host of hosts) {
    const view = await fetchView(host, adminToken);
    if (view === undefined) throw new RollingRestartError(`${host} does not answer GET /v1/admin/cluster: is the whole cluster up?`);
    targets.push({ host, nodeId: view.nodeId });
  }
  return targets;
}

export async function rollingRestart(options: RollingRestartOptions): Promise<NodeRestartReport[]> {
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.phaseTimeoutMs ?? PHASE_TIMEOUT_MS_DEFAULT;
  const views = (): Promise<Array<AdminClusterView | undefined>> => Promise.all(options.hosts.map((host) => fetchView(host, options.adminToken)));
  const targets = await resolveTargets(options.hosts, options.adminToken);
  const reports: NodeRestartReport[] = [];
  for (const target of targets) {
    await waitUntil('a healthy cluster before restarting the next node', timeoutMs, async () => unhealthyReason(await views(), targets.length) ?? true);
    log(`${target.nodeId} (${target.host}): stopping (SIGTERM, hand-over)`);
    const stopStartedMs = Date.now();
    await options.controller.stop(target);
    const stopMs = Date.now() - stopStartedMs;
    log(`${target.nodeId}: stopped after ${stopMs} ms; starting`);
    await options.controller.start(target);
    const readyMs = await waitUntil(`${target.nodeId} to answer /readyz`, timeoutMs, () => isReady(target.host));
    const commitsAtReturn = new Map<number, number>();
    for (const view of await views()) {
      for (const row of view?.partitions ?? []) commitsAtReturn.set(row.partition, Math.max(commitsAtReturn.get(row.partition) ?? 0, row.commit));
    }
    log(`${target.nodeId}: ready after ${readyMs} ms; waiting for it to catch up`);
    const caughtUpMs = await waitUntil(`${target.nodeId} to catch up with its partitions`, timeoutMs, async () => {
      const all = await views();
      const reason = unhealthyReason(all, targets.length);
      if (reason !== undefined) return reason;
      const own = all[options.hosts.indexOf(target.host)];
      if (own === undefined) return 'no admin view from the restarted node';
      const behind = own.partitions.filter((row) => row.voters.includes(target.nodeId) && row.applied < (commitsAtReturn.get(row.partition) ?? 0));
      return behind.length === 0 ? true : `behind on partitions ${behind.map((row) => row.partition).join(', ')}`;
    });
    log(`${target.nodeId}: caught up after ${caughtUpMs} ms`);
    reports.push({ nodeId: target.nodeId, host: target.host, stopMs, readyMs, caughtUpMs });
  }
  await waitUntil('a healthy cluster after the last node', timeoutMs, async () => unhealthyReason(await views(), targets.length) ?? true);
  return reports;
}
