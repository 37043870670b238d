export { ClusterServices, CLUSTER_INFO_PROTOCOL, type ClusterHooks } from './cluster-services.ts';
export { ReplicatedPartitionLog, type ReplicatedLogInit, type ReplicatedLogComponents } from './replicated-partition-log.ts';
export { LmdbReplicationStorage, toCoreEntry, toStoredEntry, type CommandPayload } from './replica-storage.ts';
export { HostDirectory, chooseHost, isOverloaded, parseClientSideInfo, parsePlayerQuery, type ClientSideInfo, type HostSuggestion, type NodeLoad } from './host-directory.ts';
