export { createLogger, type Logger } from './logger.ts';
export { NodeMetrics } from './metrics.ts';
export { adminRoutes, type ClusterView, type MemberRow, type PartitionRow } from './admin-routes.ts';
