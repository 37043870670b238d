import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Message, parseMessage } from '../../../server/src/replication/index.ts';

const bytes = (payload: unknown): Uint8Array | undefined => (payload instanceof Uint8Array ? payload : undefined);

const valid: Message<Uint8Array>[] = [
  { type: 'pre-vote', partition: 1, epoch: 3, lastPosition: 9, lastEpoch: 2 },
  { type: 'vote', partition: 1, epoch: 3, lastPosition: 9, lastEpoch: 2, transfer: false },
  { type: 'vote-response', partition: 1, epoch: 3, granted: true },
  {
    type: 'append',
    partition: 0,
    epoch: 4,
    prevPosition: 7,
    prevEpoch: 3,
    entries: [
      { position: 8, epoch: 4, kind: 'noop' },
      { position: 9, epoch: 4, kind: 'command', payload: new Uint8Array([1, 2]) },
      { position: 10, epoch: 4, kind: 'membership', membership: { voters: ['a', 'b'], learners: ['c'] } },
    ],
    commit: 6,
    readmit: 0,
  },
  { type: 'append-response', partition: 0, epoch: 4, success: false, position: 7, hintPosition: 5, hintEpoch: 2, amnesia: 0 },
  { type: 'heartbeat', partition: 0, epoch: 4, commit: 6, seq: 12, readmit: 99, quiesce: false },
  { type: 'heartbeat-response', partition: 0, epoch: 4, seq: 12, commit: 6, amnesia: 0 },
  {
    type: 'snapshot',
    partition: 2,
    epoch: 4,
    snapshot: { position: 50, epoch: 3, membership: { voters: ['a'], learners: [] }, data: new Uint8Array([7]) },
  },
  { type: 'timeout-now', partition: 0, epoch: 4 },
];

describe('wire', () => {
  it('wire - every well-formed message parses to an equal message', () => {
    for (const message of valid) expect(parseMessage(message, bytes)).toEqual(message);
  });

  it('wire - malformed messages are rejected, never thrown on', () => {
    const append = valid[3] as Message<Uint8Array> & { type: 'append' };
    const broken: unknown[] = [
      null,
      42,
      [],
      { type: 'nope', partition: 0, epoch: 0 },
      { type: 'timeout-now', partition: -1, epoch: 0 },
      { type: 'timeout-now', partition: 0, epoch: 1.5 },
      { ...append, entries: [{ position: 9, epoch: 4, kind: 'noop' }] },
      { ...append, entries: [{ position: 8, epoch: 4, kind: 'command', payload: 'not bytes' }] },
      { ...append, entries: [{ position: 8, epoch: 4, kind: 'membership', membership: { voters: ['a', 'a'], learners: [] } }] },
      { ...append, entries: 'x' },
      { type: 'vote', partition: 0, epoch: 1, lastPosition: 0, lastEpoch: 0 },
    ];
    for (const value of broken) expect(parseMessage(value, bytes)).toBeUndefined();
  });

  it('wire - arbitrary values never make the parser throw', () => {
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true }), fc.constantFrom(...valid), (noise, base) => {
        parseMessage(noise, bytes);
        const mixed = { ...base, ...(typeof noise === 'object' && noise !== null && !Array.isArray(noise) ? noise : {}) };
        parseMessage(mixed, bytes);
      }),
      { seed: 20240601, numRuns: 2000 },
    );
  });
});
