/**
 * Command forwarding between simulated nodes: the router's `Forwarder` over `SimPeers`, so a
 * command (a client's, or an outbox delivery with its sender) reaches the hinted owner over the
 * simulated links, with their loss, delay, duplication and partitions, and times out on the
 * virtual clock.
 *
 * It speaks what production speaks: requests are parsed and failures answered by the router's
 * forward wire (router/forward-wire.ts, as cluster/cluster-services.ts does); the request it
 * sends repeats the layout of cluster-services.ts `forward`:
 *   request  {player, commandId, a, i, c, hop, snd?}   snd: [type, id, item, player] of a delivery
 *   response {ok: true, seq, dup} | {ok: false, code, msg, reason?, ra?}
 * A forward that gets no answer is UNAVAILABLE (retryable), as production says when the owner
 * goes silent; production answers NO_QUORUM (outcome unknown) instead when the partition lost
 * its quorum here, which changes nothing for a client or the courier (both retry).
 */
import { RingstateError, isErrorCode, type ErrorCode } from '@ringstate/protocol';
import type { CommandRequest, CommandResult } from '../aggregate/index.ts';
import { FORWARD_PROTOCOL } from '../peer/index.ts';
import { forwardFailure, parseForward, type CommandRouter, type Forwarder } from '../router/index.ts';
import type { SimPeers } from './sim-peers.ts';

/** The production default (cluster.forwardTimeoutMs). */
export const FORWARD_TIMEOUT_MS = 5000;

export class SimForwarder implements Forwarder {
  constructor(private readonly peers: SimPeers) {}

  async forward(owner: string, request: CommandRequest, hop = 0): Promise<CommandResult> {
    let response: unknown;
    try {
      response = await this.peers.request(
        owner,
        FORWARD_PROTOCOL,
        {
          player: request.playerId,
          commandId: request.commandId,
          a: request.aggregateType,
          i: request.aggregateId,
          // A copy, as the wire gives the receiver its own.
          c: structuredClone(request.command),
          hop,
          ...(request.sender === undefined ? {} : { snd: [request.sender.type, request.sender.id, request.sender.item, request.sender.playerId] }),
        },
        FORWARD_TIMEOUT_MS,
      );
    } catch (error) {
      throw new RingstateError('UNAVAILABLE', `owner ${owner} did not answer`, { cause: error });
    }
    const answer = response as { ok?: unknown; seq?: unknown; dup?: unknown; code?: unknown; msg?: unknown; reason?: unknown; ra?: unknown };
    if (answer.ok === true && typeof answer.seq === 'number') return { seq: answer.seq, duplicate: answer.dup === true };
    const code: ErrorCode = isErrorCode(answer.code) ? answer.code : 'INTERNAL';
    const options = {
      ...(typeof answer.reason === 'string' ? { reason: answer.reason } : {}),
      ...(typeof answer.ra === 'number' && Number.isFinite(answer.ra) && answer.ra > 0 ? { retryAfterMs: answer.ra } : {}),
    };
    throw new RingstateError(code, typeof answer.msg === 'string' ? answer.msg : 'forwarded command failed', options);
  }
}

/** Serves forwarded commands through the node's router (admission, execution, one more hop). */
export function serveForwarding(peers: SimPeers, router: Pick<CommandRouter, 'route'>): void {
  peers.handle(FORWARD_PROTOCOL, (payload, from) => {
    const parsed = parseForward(payload);
    if (parsed === undefined) return { ok: false, code: 'INVALID_MESSAGE', msg: `malformed forward from ${from}` };
    return router.route(parsed.request, { forwards: parsed.hop + 1, from }).then(
      (result) => ({ ok: true, seq: result.seq, dup: result.duplicate }),
      (failure: unknown) => forwardFailure(failure),
    );
  });
}
