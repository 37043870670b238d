/**
 * Validation of decoded client frames (layout in client-sdk/protocol/src/messages.ts).
 * Anything a client sends is untrusted: sizes of every string are bounded here.
 */
import { z } from 'zod';
import { MessageType, type ClientMessage } from '@ringstate/protocol';

const name = z.string().min(1).max(32);
const id = z.string().min(1).max(64);
const bytes = z.instanceof(Uint8Array);

const hello = z.object({ t: z.literal(MessageType.HELLO), v: z.number().int(), token: z.string().min(1).max(4096), resume: z.string().max(512).optional() });
const command = z.object({
  t: z.literal(MessageType.COMMAND),
  id: z.string().min(1).max(128),
  a: name,
  i: id,
  c: z.looseObject({ type: z.string().min(1).max(64) }),
});
const sub = z.object({ t: z.literal(MessageType.SUB), a: name, i: id, sv: bytes.optional() });
const unsub = z.object({ t: z.literal(MessageType.UNSUB), a: name, i: id });
const ping = z.object({ t: z.literal(MessageType.PING), n: z.number() });

const byType = new Map<number, z.ZodType>([
  [MessageType.HELLO, hello],
  [MessageType.COMMAND, command],
  [MessageType.SUB, sub],
  [MessageType.UNSUB, unsub],
  [MessageType.PING, ping],
]);

export type ParsedClientMessage =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: 'UNKNOWN_MESSAGE_TYPE' | 'INVALID_MESSAGE'; message: string; ref?: string };

export function parseClientMessage(value: unknown): ParsedClientMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'INVALID_MESSAGE', message: 'a frame must hold a msgpack map' };
  }
  const type = (value as { t?: unknown }).t;
  const schema = typeof type === 'number' ? byType.get(type) : undefined;
  if (schema === undefined) return { ok: false, code: 'UNKNOWN_MESSAGE_TYPE', message: `unknown message type ${JSON.stringify(type)?.slice(0, 32)}` };
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, message: result.data as ClientMessage };
  const issue = result.error.issues[0];
  const where = issue === undefined ? '' : `${issue.path.join('.')}: ${issue.message}`;
  const ref = (value as { id?: unknown }).id;
  return {
    ok: false,
    code: 'INVALID_MESSAGE',
    message: `invalid message type ${type}: ${where}`,
    ...(typeof ref === 'string' && ref.length <= 128 ? { ref } : {}),
  };
}
