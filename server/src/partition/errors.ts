import { RingstateError } from '@ringstate/client-sdk/protocol';

/**
 * This node does not serve the partition now. `ownerHint` names the node believed to own it,
 * so the gateway can forward the command there instead of failing it.
 */
export class NotServingError extends RingstateError {
  override readonly name: string = 'NotServingError';

  constructor(
    readonly partition: number,
    readonly ownerHint: string | undefined,
  ) {
    super('UNAVAILABLE', ownerHint === undefined ? `partition ${partition} has no owner right now` : `partition ${partition} is owned by ${ownerHint}`);
  }
}
