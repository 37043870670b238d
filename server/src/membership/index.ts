/**
 * Ring membership: which nodes the partition ring is built over, as a gossiped record
 * (generation, members, cluster id) that changes when nodes join or leave.
 */
export { encodeRingRecord, parseRingRecord, RING_PROTOCOL, RingMembership, type RingRecord } from './ring-membership.ts';
