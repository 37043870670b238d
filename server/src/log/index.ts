export { LogStore, type DurabilityPolicy, type LogStoreOptions } from './log-store.ts';
export { isCommandEntry, type LogEntry, type AggregateSnapshot, type DedupeRecord, type ControlEntry, type StoredEntry, type HardState, type ReplicaBatch, type ReplicaSnapshotMeta, type OutboxItem, type OutboxChange, type PendingDelivery, type RecordedRefusal } from './types.ts';
export { foldOutbox, touchesOutbox } from './outbox.ts';
export { DIRECTORY_LOCK_FILE, DirectoryInUseError, lockDirectory, type DirectoryLock, type LockHolder } from './directory-lock.ts';
export { RUN_MARKER_FILE, UncleanPowerLossError, currentBoot, type BootIdentity, type RunMarker } from './run-marker.ts';
export type { LogStorage } from './log-storage.ts';
export { StoreDamagedError, repairInstruction } from './store-damage.ts';
export { checkStore, formatFinding, DERIVED_AREAS, type StoreFinding, type StoreCheckReport, type StoreCheckOptions, type FindingArea } from './store-check.ts';
export { checkDataDir, repairDataDir, NoStoreError, type OfflineOptions, type RepairResult } from './store-repair.ts';
