export { PartitionRing, ringVersion } from './partition-ring.ts';
