export type { PartitionLog, PartitionOwnership, EntryDraft } from './partition-log.ts';
export { LocalPartitionLog } from './local-partition-log.ts';
export { NotServingError } from './errors.ts';
