import { RingstateError } from '@ringstate/client-sdk/protocol';

/**
 * This node does not serve the partition now. `ownerHint` names the node believed to own it,
 * so the gateway can forward the command there instead of failing it. Without a hint, when no
 * quorum of the partition's replica set is reachable from here (`quorumLost`), the code is
 * NO_QUORUM: the command was refused before anything was proposed.
 */
export class NotServingError extends RingstateError {
  override readonly name: string = 'NotServingError';

  constructor(
    readonly partition: number,
    readonly ownerHint: string | undefined,
    quorumLost = false,
  ) {
    super(
      quorumLost && ownerHint === undefined ? 'NO_QUORUM' : 'UNAVAILABLE',
      ownerHint !== undefined
        ? `partition ${partition} is owned by ${ownerHint}`
        : quorumLost
          ? `partition ${partition}: no quorum of its replica set is reachable from this node`
          : `partition ${partition} has no owner right now`,
    );
  }
}
