export { createLogger, type Logger } from './logger.ts';
export { NodeMetrics } from './metrics.ts';
export { adminRoutes, allowed as adminAllowed, type AdminRouteOptions, type AggregateLog, type ClusterView, type MemberRow, type PartitionRow } from './admin-routes.ts';
export { dashboardRoutes, type DashboardOptions } from './dashboard-routes.ts';
export { CommandStats, type CommandRates } from './command-stats.ts';
export { OwnershipHistory, type OwnershipEvent } from './ownership-history.ts';
