export * from '../../loadtest/src/cluster/process-cluster.ts';
