import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LSL_BODY_BYTES_DEFAULT, LSL_BODY_BYTES_MAX, packBatch, renderBatch, type CommittedEntry } from '../../../server/src/second-life/index.ts';

// Property tests print their seed; rerun a failure with FC_SEED=<seed>.
const seed = Number(process.env['FC_SEED'] ?? Date.now() % 2 ** 31);
console.log(`second-life wire: fast-check seed ${seed}`);

const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string({ unit: 'grapheme' }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 4 })),
})).value;

const entries = fc
  .array(fc.record({ playerId: fc.stringMatching(/^[A-Za-z0-9._:@-]{1,64}$/), events: fc.array(fc.record({ type: fc.string({ maxLength: 16 }), data: json }), { minLength: 1, maxLength: 4 }) }), { maxLength: 60 })
  .map((list) => list.map((entry, index): CommittedEntry => ({ seq: 1_000_000 + index + 1, ...entry })));

describe('second-life wire', () => {
  it('wire - any event batch stays within its budget, keeps seq order and always makes progress', () => {
    fc.assert(
      fc.property(entries, fc.constantFrom(LSL_BODY_BYTES_DEFAULT, 4096, LSL_BODY_BYTES_MAX), fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/), fc.string({ minLength: 1, maxLength: 128, unit: 'grapheme' }), (list, budget, type, id) => {
        const fields = { a: type, i: id };
        const batch = packBatch(fields, list, 1_000_000, false, budget);
        const body = renderBatch(fields, batch);
        expect(Buffer.byteLength(body)).toBeLessThanOrEqual(budget);
        const parsed = JSON.parse(body) as { seq: number; ev: Array<{ s: number; big?: number }>; more: number };
        expect(parsed.ev.map((event) => event.s)).toEqual(list.slice(0, parsed.ev.length).map((entry) => entry.seq));
        if (list.length > 0) expect(parsed.ev.length).toBeGreaterThan(0);
        expect(parsed.seq).toBe(list[parsed.ev.length - 1]?.seq ?? 1_000_000);
        expect(parsed.more).toBe(parsed.ev.length < list.length ? 1 : 0);
      }),
      { seed, numRuns: 300, verbose: 1 },
    );
  });

  it('wire - an entry too large alone becomes a big marker so the reader still advances', () => {
    const huge: CommittedEntry = { seq: 7, playerId: 'alice', events: [{ type: 'x', blob: 'y'.repeat(5_000) }] };
    const batch = packBatch({ a: 'player', i: 'alice' }, [huge, { seq: 8, playerId: 'bob', events: [] }], 6, false, LSL_BODY_BYTES_DEFAULT);
    expect(batch.ev).toEqual(['{"s":7,"p":"alice","big":1}', '{"s":8,"p":"bob","e":[]}']);
    expect(batch.seq).toBe(8);
  });
});
