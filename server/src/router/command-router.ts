/**
 * The one command router: every command a node receives, from a WebSocket client, a Second
 * Life object or another node, goes through `route`, which decides in this order:
 *
 *   1. admission: at most `limits.commandsInFlightMax` commands at once on this node (see
 *      admission.ts); beyond that OVERLOADED, at once;
 *   2. placement: the runtime says where the aggregate's partition is served. Served here:
 *      executed by the runtime, which answers once the entry is committed;
 *   3. not here, with an owner hint: forwarded to that node (over the peer network, through the
 *      injected `Forwarder`), unless the command has already been forwarded
 *      `FORWARD_HOPS_MAX` times or the hint points back at the node it came from;
 *   4. not here, no hint (or no forwarding allowed): the placement's refusal (UNAVAILABLE
 *      with the owner named, or NO_QUORUM), retryable.
 *
 * "Not here" is a value (`Placement`), not an exception: nothing routes by catching errors.
 * An admitted command holds its slot until its answer, including a forward's answer, so a
 * node's admission limit also bounds what it relays.
 */
import type { AggregateRuntime, CommandRequest, CommandResult } from '../aggregate/index.ts';
import type { RingstateError } from '@ringstate/protocol';
import type { Admission } from './admission.ts';

/**
 * How many times a command may be forwarded. A node that does not replicate the partition
 * guesses the owner from the ring (its first live replica); that replica, if it is not the
 * owner, knows the owner and passes the command on once more. So a command crosses at most two
 * hops.
 */
export const FORWARD_HOPS_MAX = 2;

/** Where a command came from: a local client (`forwards: 0`) or a peer that forwarded it. */
export interface Origin {
  /** How many times the command was forwarded to reach this node. */
  readonly forwards: number;
  /** The peer that forwarded it, if any. */
  readonly from?: string;
}

/** Sends a command to another node and resolves with that node's answer. */
export interface Forwarder {
  forward(owner: string, request: CommandRequest, forwards: number): Promise<CommandResult>;
}

export interface RouterDeps {
  readonly runtime: Pick<AggregateRuntime, 'placement' | 'execute'>;
  readonly admission: Admission;
  /** Absent on a single node: nothing is ever forwarded. */
  readonly forwarder?: Forwarder;
  /** Counts each command this node forwards. */
  readonly onForward?: (owner: string) => void;
  /** Counts each command refused by admission. */
  readonly onAdmissionRefused?: () => void;
}

export class CommandRouter {
  constructor(private readonly deps: RouterDeps) {}

  /**
   * The admission refusal a command would get now, counted as one, or undefined when it would
   * be admitted (nothing is taken then: `route` admits it). Lets the gateway refuse a command
   * before it validates the frame or builds a request and a promise for it: an overloaded node
   * refuses most of what it is offered, and each refusal's cost comes out of what it serves.
   */
  refusal(): RingstateError | undefined {
    if (!this.deps.admission.full()) return undefined;
    const refusal = this.deps.admission.admit();
    if (refusal !== undefined) this.deps.onAdmissionRefused?.();
    return refusal;
  }

  /** Admits, then executes here or forwards; resolves once committed, rejects with a RingstateError. */
  async route(request: CommandRequest, origin: Origin = { forwards: 0 }): Promise<CommandResult> {
    const refusal = this.deps.admission.admit();
    if (refusal !== undefined) {
      this.deps.onAdmissionRefused?.();
      throw refusal;
    }
    const startedMs = performance.now();
    try {
      return await this.dispatch(request, origin);
    } finally {
      this.deps.admission.release(performance.now() - startedMs);
    }
  }

  private dispatch(request: CommandRequest, origin: Origin): Promise<CommandResult> {
    const placement = this.deps.runtime.placement(request.aggregateType, request.aggregateId);
    if (placement.here) return this.deps.runtime.execute(request);
    const { ownerHint } = placement;
    const forwarder = this.deps.forwarder;
    if (forwarder !== undefined && ownerHint !== undefined && ownerHint !== origin.from && origin.forwards < FORWARD_HOPS_MAX) {
      this.deps.onForward?.(ownerHint);
      return forwarder.forward(ownerHint, request, origin.forwards);
    }
    return Promise.reject(placement.refusal);
  }
}
