export { LogStore, type DurabilityPolicy, type LogStoreOptions } from './log-store.ts';
export { isCommandEntry, type LogEntry, type AggregateSnapshot, type DedupeRecord, type ControlEntry, type StoredEntry, type ReplicaState, type ReplicaBatch, type ReplicaSnapshotMeta } from './types.ts';
