/**
 * The forward protocol's request parsing and failure answers (layout in
 * cluster/cluster-services.ts): pure, shared by the cluster and the simulator's forwarder, so
 * the simulator runs the production parser.
 */
import { RingstateError, type ErrorCode } from '@ringstate/protocol';
import type { CommandRequest } from '../aggregate/index.ts';
import { FORWARD_HOPS_MAX } from './command-router.ts';

export function parseForward(payload: unknown): { request: CommandRequest; hop: number } | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { player, commandId, a, i, c, hop = 0, snd } = payload as Record<string, unknown>;
  if (typeof player !== 'string' || typeof commandId !== 'string' || typeof a !== 'string' || typeof i !== 'string') return undefined;
  if (player.length > 64 || commandId.length > 128 || a.length > 32 || i.length > 64) return undefined;
  if (typeof hop !== 'number' || !Number.isInteger(hop) || hop < 0 || hop >= FORWARD_HOPS_MAX) return undefined;
  const request = { playerId: player, commandId, aggregateType: a, aggregateId: i, command: c };
  if (snd === undefined) return { request, hop };
  // A delivery from an aggregate's outbox: peers passed the cluster-key handshake, so the
  // sender is trusted as the sending node's courier stated it.
  if (!Array.isArray(snd) || snd.length !== 4 || !snd.every((part) => typeof part === 'string' && part.length > 0 && part.length <= 64)) return undefined;
  const [type, id, item, playerId] = snd as [string, string, string, string];
  return { request: { ...request, sender: { type, id, item, playerId } }, hop };
}

export function forwardFailure(error: unknown): { ok: false; code: ErrorCode; msg: string; reason?: string; ra?: number } {
  const failure = error instanceof RingstateError ? error : new RingstateError('INTERNAL', 'forwarded command failed', { cause: error });
  return {
    ok: false,
    code: failure.code,
    msg: failure.message,
    ...(failure.reason === undefined ? {} : { reason: failure.reason }),
    ...(failure.retryAfterMs === undefined ? {} : { ra: failure.retryAfterMs }),
  };
}
