/**
 * Ring membership: which nodes the partition ring is built over, as a gossiped record
 * (generation, members, cluster id) that changes when nodes join or leave.
 */
export { encodeLocality, encodeRingRecord, isNewerRecord, parseLocality, MEMBERSHIP_RETRY_MS, parseRingRecord, RING_PROTOCOL, RingMembership, shrinkRefusal, type MembershipStore, type MembershipTimers, type RingRecord } from './ring-membership.ts';
