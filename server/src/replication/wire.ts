/**
 * Shape validation for replication messages decoded from the wire (see index.ts for the
 * layout). The core asserts on protocol invariants but trusts field types, so a transport
 * passes every decoded value through `parseMessage` and drops what it rejects: a malformed
 * or oversized frame from a peer must never crash a node.
 */
import type { Message } from './messages.ts';
import type { Entry, Membership, Snapshot } from './types.ts';

export interface WireLimits {
  /** Entries one append may carry (at least the sender's appendEntriesMax). */
  readonly entriesMax: number;
  /** Members one membership may list. */
  readonly membersMax: number;
  /** Characters of a node id. */
  readonly nodeIdLengthMax: number;
}

export const defaultWireLimits: WireLimits = Object.freeze({ entriesMax: 4096, membersMax: 64, nodeIdLengthMax: 256 });

type Fields = Record<string, unknown>;

/**
 * Returns the message when `value` has the shape of one, else undefined. `parsePayload`
 * validates a command payload (for Uint8Array payloads: `(p) => p instanceof Uint8Array ? p : undefined`).
 */
export function parseMessage<P>(
  value: unknown,
  parsePayload: (payload: unknown) => P | undefined,
  limits: WireLimits = defaultWireLimits,
): Message<P> | undefined {
  if (!isFields(value) || !isCount(value.partition) || !isCount(value.epoch)) return undefined;
  const { partition, epoch } = value;
  switch (value.type) {
    case 'pre-vote':
    case 'vote': {
      if (!isCount(value.lastPosition) || !isCount(value.lastEpoch)) return undefined;
      const base = { partition, epoch, lastPosition: value.lastPosition, lastEpoch: value.lastEpoch };
      if (value.type === 'pre-vote') return { type: 'pre-vote', ...base };
      return typeof value.transfer === 'boolean' ? { type: 'vote', ...base, transfer: value.transfer } : undefined;
    }
    case 'pre-vote-response':
    case 'vote-response':
      return typeof value.granted === 'boolean' ? { type: value.type, partition, epoch, granted: value.granted } : undefined;
    case 'append': {
      const { prevPosition, prevEpoch, commit, readmit } = value;
      if (!isCount(prevPosition) || !isCount(prevEpoch) || !isCount(commit) || !isCount(readmit)) return undefined;
      if (!Array.isArray(value.entries) || value.entries.length > limits.entriesMax) return undefined;
      const entries: Entry<P>[] = [];
      for (const [index, raw] of value.entries.entries()) {
        const entry = parseEntry(raw, parsePayload, limits);
        if (entry === undefined || entry.position !== prevPosition + 1 + index) return undefined;
        entries.push(entry);
      }
      return { type: 'append', partition, epoch, prevPosition, prevEpoch, entries, commit, readmit };
    }
    case 'append-response': {
      const { success, position, hintPosition, hintEpoch, amnesia } = value;
      if (typeof success !== 'boolean' || !isCount(position) || !isCount(hintPosition) || !isCount(hintEpoch) || !isCount(amnesia)) {
        return undefined;
      }
      return { type: 'append-response', partition, epoch, success, position, hintPosition, hintEpoch, amnesia };
    }
    case 'heartbeat': {
      if (!isCount(value.commit) || !isCount(value.seq) || !isCount(value.readmit)) return undefined;
      if (value.quiesce !== undefined && typeof value.quiesce !== 'boolean') return undefined;
      return { type: 'heartbeat', partition, epoch, commit: value.commit, seq: value.seq, readmit: value.readmit, quiesce: value.quiesce === true };
    }
    case 'heartbeat-response':
      if (!isCount(value.seq) || !isCount(value.commit) || !isCount(value.amnesia)) return undefined;
      return { type: 'heartbeat-response', partition, epoch, seq: value.seq, commit: value.commit, amnesia: value.amnesia };
    case 'snapshot': {
      const snapshot = parseSnapshot(value.snapshot, limits);
      return snapshot === undefined ? undefined : { type: 'snapshot', partition, epoch, snapshot };
    }
    case 'timeout-now':
      return { type: 'timeout-now', partition, epoch };
    default:
      return undefined;
  }
}

function parseEntry<P>(value: unknown, parsePayload: (payload: unknown) => P | undefined, limits: WireLimits): Entry<P> | undefined {
  if (!isFields(value) || !isCount(value.position) || value.position === 0 || !isCount(value.epoch)) return undefined;
  const { position, epoch } = value;
  switch (value.kind) {
    case 'command': {
      const payload = parsePayload(value.payload);
      return payload === undefined ? undefined : { position, epoch, kind: 'command', payload };
    }
    case 'noop':
      return { position, epoch, kind: 'noop' };
    case 'membership': {
      const membership = parseMembership(value.membership, limits);
      return membership === undefined ? undefined : { position, epoch, kind: 'membership', membership };
    }
    default:
      return undefined;
  }
}

function parseSnapshot(value: unknown, limits: WireLimits): Snapshot | undefined {
  if (!isFields(value) || !isCount(value.position) || !isCount(value.epoch) || !(value.data instanceof Uint8Array)) return undefined;
  const membership = parseMembership(value.membership, limits);
  if (membership === undefined) return undefined;
  return { position: value.position, epoch: value.epoch, membership, data: value.data };
}

function parseMembership(value: unknown, limits: WireLimits): Membership | undefined {
  if (!isFields(value)) return undefined;
  const voters = parseNodeIds(value.voters, limits);
  const learners = parseNodeIds(value.learners, limits);
  if (voters === undefined || learners === undefined) return undefined;
  const all = new Set([...voters, ...learners]);
  return all.size === voters.length + learners.length ? { voters, learners } : undefined;
}

function parseNodeIds(value: unknown, limits: WireLimits): string[] | undefined {
  if (!Array.isArray(value) || value.length > limits.membersMax) return undefined;
  const ids: string[] = [];
  for (const id of value) {
    if (typeof id !== 'string' || id.length === 0 || id.length > limits.nodeIdLengthMax) return undefined;
    ids.push(id);
  }
  return ids;
}

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
