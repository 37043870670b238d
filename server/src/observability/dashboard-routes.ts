/**
 * The operator dashboard (GET /dashboard) and the small JSON endpoint it polls besides
 * /v1/admin/cluster (GET /v1/admin/stats). Both follow the admin access rule of
 * admin-routes.ts: loopback clients, or `Authorization: Bearer <admin.token>`; remote browsers
 * reach them through a tunnel to loopback (`kubectl port-forward`, `ssh -L`) or a proxy that adds
 * the header (docs/operations.md).
 *
 * GET /v1/admin/stats layout:
 *   {nodeId, pid, atMs, uptimeSeconds, connections, subscriptions, activeAggregates,
 *    commands: {commandsPerSecond, p99Ms, p99AboveMax, windowMs, commandsTotal},
 *    limitTrips: {<limit>: count},
 *    ownershipChanges: {recordedCount, recent: [{atMs, partition, epoch, role, leader, ready, reason}]}}
 * `ownershipChanges.recent` is newest first and bounded (OwnershipHistory).
 */
import { errorResult, json, type HttpRouter } from '../gateway/index.ts';
import { allowed } from './admin-routes.ts';
import type { CommandStats } from './command-stats.ts';
import { renderDashboardPage } from './dashboard-page.ts';
import type { NodeMetrics } from './metrics.ts';
import type { OwnershipHistory } from './ownership-history.ts';

export interface DashboardOptions {
  readonly token: string | undefined;
  readonly nodeId: string;
  readonly metrics: NodeMetrics;
  readonly commandStats: CommandStats;
  readonly ownership: OwnershipHistory;
  readonly activeAggregates: () => number;
  readonly nowMs: () => number;
  readonly startedAtMs: number;
}

const FORBIDDEN_MESSAGE = 'admin endpoints answer loopback clients or a valid admin token';

export function dashboardRoutes(router: HttpRouter, options: DashboardOptions): void {
  const page = renderDashboardPage({ nodeId: options.nodeId });
  router.add('GET', '/dashboard', (request) => {
    if (!allowed(request, options.token)) return errorResult('FORBIDDEN', FORBIDDEN_MESSAGE);
    return { status: 200, contentType: 'text/html; charset=utf-8', body: page };
  });
  router.add('GET', '/v1/admin/stats', async (request) => {
    if (!allowed(request, options.token)) return errorResult('FORBIDDEN', FORBIDDEN_MESSAGE);
    return json(200, await readStats(options));
  });
}

async function readStats(options: DashboardOptions): Promise<Record<string, unknown>> {
  const { metrics } = options;
  const nowMs = options.nowMs();
  const limitTrips: Record<string, number> = {};
  for (const value of (await metrics.limitTrips.get()).values) limitTrips[String(value.labels['limit'])] = value.value;
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
    ownershipChanges: { recordedCount: options.ownership.recordedCount, recent: options.ownership.recent() },
  };
}

async function gaugeValue(gauge: { get: () => Promise<{ values: Array<{ value: number }> }> }): Promise<number> {
  return (await gauge.get()).values[0]?.value ?? 0;
}
