/**
 * Operating errors of the replication core. Each has a wire `code` shared with the SDK
 * (`UNAVAILABLE`, `NO_QUORUM`, `OVERLOADED`, all retryable) and a finer `condition` the
 * application branches on, for example to forward a command to `ownerHint`.
 */
import { RingstateError } from '@ringstate/protocol';
import type { NodeId } from './types.ts';

export type ReplicationCondition = 'NOT_OWNER' | 'NO_QUORUM' | 'UNAVAILABLE' | 'OVERLOADED';

export abstract class ReplicationError extends RingstateError {
  abstract readonly condition: ReplicationCondition;
  readonly partition: number;

  constructor(
    code: 'UNAVAILABLE' | 'NO_QUORUM' | 'OVERLOADED',
    partition: number,
    message: string,
    options: { reason?: string } = {},
  ) {
    super(code, message, options);
    this.partition = partition;
  }
}

/** This node does not own the partition; `ownerHint` is the owner it last heard from. */
export class NotOwnerError extends ReplicationError {
  override readonly name: string = 'NotOwnerError';
  override readonly condition = 'NOT_OWNER';
  readonly ownerHint: NodeId | null;

  constructor(partition: number, ownerHint: NodeId | null) {
    super(
      'UNAVAILABLE',
      partition,
      ownerHint === null
        ? `partition ${partition}: this node is not the owner`
        : `partition ${partition}: owned by ${ownerHint}`,
    );
    this.ownerHint = ownerHint;
  }
}

/** `reason` of a NO_QUORUM for a command whose entry was proposed: it may still commit (docs/errors.md). */
export const OUTCOME_UNKNOWN_REASON = 'OUTCOME_UNKNOWN';

/**
 * This node lost contact with a majority of the partition's replica set (minority side).
 * NO_QUORUM promises the client that the command was not applied; a proposal that was already
 * in the log when the quorum was lost may still commit under a later owner, so its error is
 * `proposed` and carries reason OUTCOME_UNKNOWN.
 */
export class NoQuorumError extends ReplicationError {
  override readonly name: string = 'NoQuorumError';
  override readonly condition = 'NO_QUORUM';
  readonly proposed: boolean;

  constructor(partition: number, proposed = false) {
    super(
      'NO_QUORUM',
      partition,
      proposed
        ? `partition ${partition}: lost its quorum before the command committed; it may still take effect (retry with the same id)`
        : `partition ${partition}: no quorum of its replica set is reachable`,
      proposed ? { reason: OUTCOME_UNKNOWN_REASON } : {},
    );
    this.proposed = proposed;
  }
}

export type UnavailableReason = 'electing' | 'not-ready' | 'transferring' | 'not-member';

/** The partition cannot serve right now (electing, new owner not ready, transfer). */
export class UnavailableError extends ReplicationError {
  override readonly name: string = 'UnavailableError';
  override readonly condition = 'UNAVAILABLE';
  readonly why: UnavailableReason;

  constructor(partition: number, why: UnavailableReason) {
    super('UNAVAILABLE', partition, `partition ${partition}: unavailable (${why})`);
    this.why = why;
  }
}

/** Too many proposed bytes are not committed yet; the owner applies back-pressure. */
export class OverloadedError extends ReplicationError {
  override readonly name: string = 'OverloadedError';
  override readonly condition = 'OVERLOADED';

  constructor(partition: number) {
    super('OVERLOADED', partition, `partition ${partition}: too many uncommitted bytes`);
  }
}
