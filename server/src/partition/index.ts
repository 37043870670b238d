export type { PartitionLog, PartitionOwnership, EntryDraft } from './partition-log.ts';
export { LocalPartitionLog } from './local-partition-log.ts';
// "Not served here" is one concept in every layer: the replication core's NotOwnerError (with
// the owner it knows of) or NoQuorumError (no owner can commit from here).
export { NoQuorumError, NotOwnerError } from '../replication/index.ts';
