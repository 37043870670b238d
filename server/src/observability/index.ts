export { createLogger, type Logger } from './logger.ts';
export { NodeMetrics } from './metrics.ts';
export { adminVerdict, refuseAdmin, type AdminAccess, type AdminScope } from './admin-access.ts';
export { adminRoutes, clusterViewOf, type AdminRouteOptions, type AggregateLog, type ClusterView, type MemberRow, type PartitionRow } from './admin-routes.ts';
export { dashboardRoutes, type DashboardOptions } from './dashboard-routes.ts';
export { CommandStats, type CommandRates } from './command-stats.ts';
export { OwnershipHistory, ownershipTransitions, type OwnershipEvent, type OwnershipTransition } from './ownership-history.ts';
export { SecurityLog, SecurityKinds, type SecurityEvent, type SecurityKind, type SecurityLogOptions } from './security-log.ts';
