/**
 * Operating errors of the replication core. Each has a wire `code` shared with the SDK
 * (`UNAVAILABLE`, `NO_QUORUM`, `OVERLOADED`, all retryable) and a finer `condition` the
 * application branches on, for example to forward a command to `leaderHint`.
 */
import { RingstateError } from '@ringstate/client-sdk/protocol';
import type { NodeId } from './types.ts';

export type ReplicationCondition = 'NOT_OWNER' | 'NO_QUORUM' | 'UNAVAILABLE' | 'OVERLOADED';

export abstract class ReplicationError extends RingstateError {
  abstract readonly condition: ReplicationCondition;
  readonly partition: number;

  constructor(
    code: 'UNAVAILABLE' | 'NO_QUORUM' | 'OVERLOADED',
    partition: number,
    message: string,
  ) {
    super(code, message);
    this.partition = partition;
  }
}

/** This node does not own the partition; `leaderHint` is the owner it last heard from. */
export class NotOwnerError extends ReplicationError {
  override readonly name: string = 'NotOwnerError';
  override readonly condition = 'NOT_OWNER';
  readonly leaderHint: NodeId | null;

  constructor(partition: number, leaderHint: NodeId | null) {
    super(
      'UNAVAILABLE',
      partition,
      leaderHint === null
        ? `partition ${partition}: this node is not the owner`
        : `partition ${partition}: owned by ${leaderHint}`,
    );
    this.leaderHint = leaderHint;
  }
}

/** This node lost contact with a majority of the partition's replica set (minority side). */
export class NoQuorumError extends ReplicationError {
  override readonly name: string = 'NoQuorumError';
  override readonly condition = 'NO_QUORUM';

  constructor(partition: number) {
    super('NO_QUORUM', partition, `partition ${partition}: no quorum of its replica set is reachable`);
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
