/**
 * Pure helpers for replica sets: quorum arithmetic and the one-server-at-a-time plan that
 * moves a partition's membership towards the replica set the ring wants.
 *
 * Changing one voter at a time keeps every majority of the old voters overlapping every
 * majority of the new ones, so no joint consensus is needed (Raft dissertation, 4.1). The
 * owner starts a change only after the previous one committed and after it committed an
 * entry of its own epoch (the fix for the single-server change bug found in 2015).
 */
import type { Membership, NodeId } from './types.ts';

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

export function isVoter(membership: Membership, node: NodeId): boolean {
  return membership.voters.includes(node);
}

export function isMember(membership: Membership, node: NodeId): boolean {
  return membership.voters.includes(node) || membership.learners.includes(node);
}

export function sameMembers(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((node) => b.includes(node));
}

export const emptyMembership: Membership = Object.freeze({ voters: Object.freeze([]), learners: Object.freeze([]) });

export type MembershipStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'change'; readonly membership: Membership }
  | { readonly kind: 'transfer'; readonly target: NodeId };

/**
 * The next single step from `current` towards `desired`, in an order that never lowers the
 * replication level while a replacement is catching up: add a missing node as learner;
 * promote a caught-up learner; drop a learner nobody wants; once every wanted node votes,
 * drop an unwanted voter (handing ownership away first if that voter is the owner itself).
 */
export function planMembershipStep(
  current: Membership,
  desired: readonly NodeId[],
  self: NodeId,
  isCaughtUp: (node: NodeId) => boolean,
): MembershipStep {
  const { voters, learners } = current;
  const missing = desired.find((node) => !isMember(current, node));
  if (missing !== undefined) {
    return { kind: 'change', membership: { voters, learners: [...learners, missing] } };
  }
  const promotable = learners.find((node) => desired.includes(node) && isCaughtUp(node));
  if (promotable !== undefined) {
    return {
      kind: 'change',
      membership: { voters: [...voters, promotable], learners: learners.filter((node) => node !== promotable) },
    };
  }
  const unwantedLearner = learners.find((node) => !desired.includes(node));
  if (unwantedLearner !== undefined) {
    return { kind: 'change', membership: { voters, learners: learners.filter((node) => node !== unwantedLearner) } };
  }
  const unwantedVoters = voters.filter((node) => !desired.includes(node));
  // Only once every wanted node votes: removing first would lower the replication level
  // while the replacement catches up.
  if (unwantedVoters.length === 0 || !desired.every((node) => voters.includes(node))) return { kind: 'none' };
  const other = unwantedVoters.find((node) => node !== self);
  if (other !== undefined) {
    return { kind: 'change', membership: { voters: voters.filter((node) => node !== other), learners } };
  }
  const successor = desired.find((node) => voters.includes(node) && isCaughtUp(node));
  return successor === undefined ? { kind: 'none' } : { kind: 'transfer', target: successor };
}
