/**
 * What the running store does when it finds a record that disagrees with its log: a coded,
 * non-retryable refusal naming the command that fixes it, instead of a plain error that clients
 * see as `INTERNAL (retry: true)` for ever.
 *
 * Detection stays where the store reads anyway (an aggregate-index record whose entry is not the
 * aggregate's, a deferred record that cannot be rebuilt at open): a full check at every start
 * would cost time linear in the store's size (docs/operations.md measures `ringstate check`).
 */
import { RingstateError } from '@ringstate/protocol';

/** The one-line instruction every refusal ends with. */
export function repairInstruction(directory: string): string {
  return `stop the node and run \`ringstate repair --data ${directory}\` (docs/operations.md, "A damaged store")`;
}

export class StoreDamagedError extends RingstateError {
  override readonly name = 'StoreDamagedError';

  constructor(
    readonly directory: string,
    readonly detail: string,
    options: { aggregate?: string; cause?: unknown } = {},
  ) {
    super('STORE_DAMAGED', `STORE_DAMAGED: ${detail}; ${repairInstruction(directory)}`, options.cause === undefined ? {} : { cause: options.cause });
    this.aggregate = options.aggregate;
  }

  /** The aggregate whose records are affected, when the damage is one aggregate's. */
  readonly aggregate: string | undefined;
}
