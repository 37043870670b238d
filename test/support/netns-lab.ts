export * from '../../loadtest/src/cluster/netns-lab.ts';
