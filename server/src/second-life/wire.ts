/**
 * Response bodies of the Second Life API, built to fit what LSL can read. Pure functions.
 *
 * llHTTPRequest reads at most 2048 body bytes unless the script raises HTTP_BODY_MAXLENGTH
 * (up to 16384), and an HTTP-in URL cuts incoming bodies at 2048 bytes, so every body is
 * measured in UTF-8 bytes against a budget and the budget is asserted: a body over budget is
 * a bug here, never something the script has to cope with.
 *
 * Event batch (long-poll answer and push body), compact JSON:
 *
 *   {"a":"arena","i":"main","seq":7,"ev":[{"s":6,"p":"alice","e":[{...event...}]},
 *                                          {"s":7,"p":"bob","big":1}],"more":0}
 *
 *   seq   the cursor to resume from: the last seq included (or the request's `after`)
 *   ev    committed entries in seq order: `s` seq, `p` the player whose command made it,
 *         `e` its domain events, or `big: 1` when that entry alone does not fit the budget
 *         (read the state instead)
 *   more  1 when further committed entries exist beyond `seq`
 *   reset 1 (only when set) when the reader is too far behind: read the state, go on from `seq`
 *
 * Errors: {"error":{"code":"...","message":"...", ...extra}} with extra fields such as
 * `reason` (a stable sub-code) or `t` (the server's unix time).
 */
import type { ErrorCode } from '@ringstate/protocol';

/** What llHTTPRequest reads without HTTP_BODY_MAXLENGTH, and the HTTP-in cut. */
export const LSL_BODY_BYTES_DEFAULT = 2048;
/** The most HTTP_BODY_MAXLENGTH allows. */
export const LSL_BODY_BYTES_MAX = 16_384;
const MESSAGE_CHARS_MAX = 200;

export interface CommittedEntry {
  readonly seq: number;
  readonly playerId: string;
  readonly events: readonly unknown[];
}

export interface EventBatch {
  readonly seq: number;
  readonly ev: readonly string[];
  readonly more: boolean;
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Renders a batch inside its envelope. `fields` are extra leading members (`a`, `i`). */
export function renderBatch(fields: Readonly<Record<string, string | number>>, batch: EventBatch, reset = false): string {
  const head = JSON.stringify(fields).slice(0, -1);
  const separator = head.length > 1 ? ',' : '';
  return `${head}${separator}"seq":${batch.seq},"ev":[${batch.ev.join(',')}],"more":${batch.more ? 1 : 0}${reset ? ',"reset":1' : ''}}`;
}

/**
 * Packs as many entries (seq order, all after `afterSeq`) as fit `budgetBytes` once rendered
 * with `fields`. At least one entry is always packed when there is one, as a `big` marker if
 * it is too large alone, so a reader always makes progress. `moreBeyond` says whether entries
 * exist past the given ones.
 */
export function packBatch(fields: Readonly<Record<string, string | number>>, entries: readonly CommittedEntry[], afterSeq: number, moreBeyond: boolean, budgetBytes: number): EventBatch {
  const lastSeq = entries.at(-1)?.seq ?? afterSeq;
  // Size the shell with the widest seq it can carry and more=1: the real one is never larger.
  const shellBytes = byteLength(renderBatch(fields, { seq: lastSeq, ev: [], more: true }, true));
  if (shellBytes + 64 > budgetBytes) throw new Error(`batch envelope of ${shellBytes} bytes leaves no room in ${budgetBytes}`);
  const ev: string[] = [];
  let used = shellBytes;
  let seq = afterSeq;
  for (const entry of entries) {
    let item = JSON.stringify({ s: entry.seq, p: entry.playerId, e: entry.events });
    let itemBytes = byteLength(item) + (ev.length > 0 ? 1 : 0);
    if (ev.length === 0 && used + itemBytes > budgetBytes) {
      item = JSON.stringify({ s: entry.seq, p: entry.playerId, big: 1 });
      itemBytes = byteLength(item);
    }
    if (used + itemBytes > budgetBytes) break;
    ev.push(item);
    used += itemBytes;
    seq = entry.seq;
  }
  return { seq, ev, more: moreBeyond || seq < lastSeq };
}

export function errorBody(code: ErrorCode, message: string, extra: Readonly<Record<string, string | number>> = {}, outer: Readonly<Record<string, string>> = {}): string {
  const short = message.length > MESSAGE_CHARS_MAX ? `${message.slice(0, MESSAGE_CHARS_MAX - 3)}...` : message;
  return JSON.stringify({ error: { code, message: short, ...extra }, ...outer });
}

/** Asserts the budget: a body that LSL would cut is a bug in this module, not the script's problem. */
export function assertFits(body: string, budgetBytes: number): string {
  const bytes = byteLength(body);
  if (bytes > budgetBytes) throw new Error(`second-life response of ${bytes} bytes exceeds its ${budgetBytes}-byte budget`);
  return body;
}
