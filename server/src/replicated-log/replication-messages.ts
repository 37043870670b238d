/**
 * Validation of replication messages received from peers: the core's own wire validator
 * (replication/wire.ts) for the message shapes, plus this module's check of a command payload,
 * since payloads end up in the log and in clients' documents. Peers passed the cluster-key
 * handshake, but a bug or a version skew must still not reach the core's assertions.
 */
import { z } from 'zod';
import { parseMessage, type Message } from '../replication/index.ts';
import type { CommandPayload } from './replica-storage.ts';

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const commandPayload = z.object({
  aggregate: z.string().min(1).max(128),
  seq: count,
  commandId: z.string().min(1).max(128),
  playerId: z.string().min(1).max(64),
  // Optional: entries written before command digests have none. Without this line zod would
  // strip it, and replicas would derive dedupe records that cannot recognise a reused id.
  commandDigest: z.instanceof(Uint8Array).refine((digest) => digest.byteLength <= 64).optional(),
  events: z.array(z.unknown()),
  eventVersion: count,
  update: z.instanceof(Uint8Array),
  snapshot: z.object({ seq: count, state: z.unknown(), doc: z.instanceof(Uint8Array), eventVersion: count }).optional(),
  timestampMs: z.number(),
  // Optional like the digest, and for the same reason listed: an entry's outbox change must
  // reach every replica, or a new owner would not deliver what the old one had to (S5).
  outbox: z
    .object({
      add: z
        .array(
          z.object({
            id: z.string().min(1).max(40),
            to: z.object({ type: z.string().min(1).max(32), id: z.string().min(1).max(64) }),
            command: z.unknown(),
            dueMs: z.number().optional(),
            key: z.string().min(1).max(64).optional(),
            onRejected: z.unknown().optional(),
            playerId: z.string().min(1).max(64),
          }),
        )
        .optional(),
      cancel: z.array(z.string().min(1).max(64)).optional(),
      settle: z.array(z.string().min(1).max(40)).optional(),
    })
    .optional(),
  refusal: z.object({ code: z.string().min(1).max(64), message: z.string().max(500), reason: z.string().max(256).optional() }).optional(),
});

function parsePayload(value: unknown): CommandPayload | undefined {
  const parsed = commandPayload.safeParse(value);
  return parsed.success ? (parsed.data as CommandPayload) : undefined;
}

export function parseReplicationMessage(value: unknown, partitionCount: number): Message<CommandPayload> | undefined {
  const message = parseMessage(value, parsePayload);
  return message !== undefined && message.partition < partitionCount ? message : undefined;
}
