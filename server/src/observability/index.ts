export { createLogger, type Logger } from './logger.ts';
export { NodeMetrics } from './metrics.ts';
