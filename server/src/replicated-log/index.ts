/**
 * The replicated partition log: the replication core (replication/) run by its Ready driver
 * over this node's LMDB store and the peer network, so an entry commits once a write quorum of
 * the partition's replica set holds it durably. Also the catch-up of far-behind replicas by
 * snapshot transfer.
 */
export { ReplicatedPartitionLog, type LogTimers, type ReplicatedLogInit, type ReplicatedLogComponents, type ReplicationWork } from './replicated-partition-log.ts';
export { LmdbReplicationStorage, toCoreEntry, toStoredEntry, type CommandPayload } from './replica-storage.ts';
export { SNAPSHOT_PROTOCOL } from './snapshot-transfer.ts';
