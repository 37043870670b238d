export { LogStore, type DurabilityPolicy, type LogStoreOptions } from './log-store.ts';
export { isCommandEntry, type LogEntry, type AggregateSnapshot, type DedupeRecord, type ControlEntry, type StoredEntry, type HardState, type ReplicaBatch, type ReplicaSnapshotMeta } from './types.ts';
export type { LogStorage } from './log-storage.ts';
