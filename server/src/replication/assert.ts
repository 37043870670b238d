/**
 * Invariant checks for the replication core.
 *
 * A failed assertion is a programmer error or a broken safety invariant (two owners in one
 * epoch, a committed entry being overwritten). Continuing would risk corrupting replicated
 * state, so the core crashes loudly instead. The core must not import Node modules, which is
 * why this does not use `node:assert`.
 */
export class AssertionError extends Error {
  override readonly name: string = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, message: string): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
