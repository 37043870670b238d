export { LogStore, type DurabilityPolicy, type LogStoreOptions } from './log-store.ts';
export type { LogEntry, AggregateSnapshot, DedupeRecord } from './types.ts';
