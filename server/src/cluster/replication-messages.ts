/**
 * Shape validation of replication messages received from peers (layout: replication/index.ts).
 *
 * Peers passed the cluster-key handshake, but a bug or a version skew must not reach the
 * core's assertions: anything that does not match the layout is dropped here. Command payloads
 * inside appends are checked too, since they end up in the log and in clients' documents.
 */
import { z } from 'zod';

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const nodeId = z.string().min(1).max(64);
const membership = z.object({ voters: z.array(nodeId).max(16), learners: z.array(nodeId).max(16) });
const snapshotOfAggregate = z.object({ seq: count, state: z.unknown(), doc: z.instanceof(Uint8Array), eventVersion: count });
const commandPayload = z.object({
  aggregate: z.string().min(1).max(128),
  seq: count,
  commandId: z.string().min(1).max(128),
  playerId: z.string().min(1).max(64),
  events: z.array(z.unknown()),
  eventVersion: count,
  update: z.instanceof(Uint8Array),
  snapshot: snapshotOfAggregate.optional(),
  timestampMs: z.number(),
});
const entry = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('command'), position: count, epoch: count, payload: commandPayload }),
  z.object({ kind: z.literal('noop'), position: count, epoch: count }),
  z.object({ kind: z.literal('membership'), position: count, epoch: count, membership }),
]);
const base = { partition: count, epoch: count };

const message = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pre-vote'), ...base, lastPosition: count, lastEpoch: count }),
  z.object({ type: z.literal('pre-vote-response'), ...base, granted: z.boolean() }),
  z.object({ type: z.literal('vote'), ...base, lastPosition: count, lastEpoch: count, transfer: z.boolean() }),
  z.object({ type: z.literal('vote-response'), ...base, granted: z.boolean() }),
  z.object({ type: z.literal('append'), ...base, prevPosition: count, prevEpoch: count, entries: z.array(entry), commit: count, readmit: count }),
  z.object({ type: z.literal('append-response'), ...base, success: z.boolean(), position: count, hintPosition: count, hintEpoch: count, amnesia: count }),
  z.object({ type: z.literal('heartbeat'), ...base, commit: count, seq: count, readmit: count }),
  z.object({ type: z.literal('heartbeat-response'), ...base, seq: count, amnesia: count }),
  z.object({ type: z.literal('snapshot'), ...base, snapshot: z.object({ position: count, epoch: count, membership, data: z.instanceof(Uint8Array) }) }),
  z.object({ type: z.literal('timeout-now'), ...base }),
]);

export function parseReplicationMessage(value: unknown, partitionCount: number): unknown {
  const parsed = message.safeParse(value);
  if (!parsed.success || parsed.data.partition >= partitionCount) return undefined;
  return parsed.data;
}
