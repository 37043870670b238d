/**
 * The operator dashboard (GET /dashboard) and the small JSON endpoint it polls besides
 * /v1/admin/cluster (GET /v1/admin/stats). Both follow the admin access rule (admin-access.ts):
 * the stats need `Authorization: Bearer <admin.token>` outside dev mode. The page holds no data,
 * so loopback clients get it without a token; its script reads the token from the URL fragment
 * (`/dashboard#token=...`, never sent to the server) or asks for it, and sends it as that header.
 * Remote browsers reach the page through a tunnel to loopback (`kubectl port-forward`, `ssh -L`)
 * or a proxy that adds the header (docs/operations.md).
 *
 * GET /v1/admin/stats layout:
 *   {nodeId, pid, atMs, uptimeSeconds, connections, subscriptions, activeAggregates,
 *    commands: {commandsPerSecond, p99Ms, p99AboveMax, windowMs, commandsTotal},
 *    limitTrips: {<limit>: count},
 *    ownershipChanges: {recordedCount, recent: [{atMs, partition, epoch, role, owner, ready, reason}],
 *                       transitions: [{partitions, firstAtMs, lastAtMs, epochMin, epochMax, role, owner,
 *                                      ready, steady, steps, changeCount}]}}
 * `ownershipChanges.recent` is newest first and bounded (OwnershipHistory); `transitions` are the
 * same changes grouped into one row per way a partition went from one steady state to the next
 * (ownershipTransitions), newest first, which is what the dashboard lists.
 */
import { json, type HttpRouter } from '../http/index.ts';
import { refuseAdmin, type AdminAccess } from './admin-access.ts';
import type { CommandStats } from './command-stats.ts';
import { renderDashboardPage } from './dashboard-page.ts';
import type { NodeMetrics } from './metrics.ts';
import { ownershipTransitions, type OwnershipHistory } from './ownership-history.ts';

export interface DashboardOptions {
  readonly access: AdminAccess;
  readonly nodeId: string;
  readonly metrics: NodeMetrics;
  readonly commandStats: CommandStats;
  readonly ownership: OwnershipHistory;
  readonly activeAggregates: () => number;
  readonly nowMs: () => number;
  readonly startedAtMs: number;
}

export function dashboardRoutes(router: HttpRouter, options: DashboardOptions): void {
  const page = renderDashboardPage({ nodeId: options.nodeId });
  router.add('GET', '/dashboard', (request) => {
    const refused = refuseAdmin(request, options.access, 'page');
    if (refused !== undefined) return refused;
    return { status: 200, contentType: 'text/html; charset=utf-8', body: page };
  });
  router.add('GET', '/v1/admin/stats', async (request) => {
    const refused = refuseAdmin(request, options.access);
    if (refused !== undefined) return refused;
    return json(200, await readStats(options));
  });
}

async function readStats(options: DashboardOptions): Promise<Record<string, unknown>> {
  const { metrics } = options;
  const nowMs = options.nowMs();
  const limitTrips: Record<string, number> = {};
  for (const value of (await metrics.limitTrips.get()).values) limitTrips[String(value.labels['limit'])] = value.value;
  const recent = options.ownership.recent();
  return {
    nodeId: options.nodeId,
    // Lets local tooling (infra/rolling-restart) find the process behind an address.
    pid: process.pid,
    atMs: nowMs,
    uptimeSeconds: Math.round((nowMs - options.startedAtMs) / 1000),
    connections: await gaugeValue(metrics.connections),
    subscriptions: await gaugeValue(metrics.subscriptions),
    activeAggregates: options.activeAggregates(),
    commands: await options.commandStats.read(),
    limitTrips,
    ownershipChanges: { recordedCount: options.ownership.recordedCount, recent, transitions: ownershipTransitions(recent) },
  };
}

async function gaugeValue(gauge: { get: () => Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await gauge.get()).values[0]?.value ?? 0;
}
