/** The bank scenario's target draw and the bank oracle's verdict on hand-built logs. */
import { describe, expect, it } from 'vitest';
import { bankBroken, checkBank, type AccountCopy, type BankEntry } from '../../../loadtest/src/oracle/bank.ts';
import { nextGive, zipfRank, zipfTable } from '../../../loadtest/src/runner/scenarios.ts';

const START = 1000;

function given(seq: number, to: string, amount: number, timestampMs = seq * 10): BankEntry {
  return { seq, commandId: `c${seq}`, playerId: 'p', events: [{ type: 'given', to, amount }], timestampMs };
}
function received(seq: number, from: string, item: string, amount: number, timestampMs: number): BankEntry {
  return { seq, commandId: `wallet/${from}:${item}`, playerId: '#aggregate', events: [{ type: 'received', from, amount }], timestampMs };
}
function refusal(seq: number, from: string, item: string): BankEntry {
  return { seq, commandId: `wallet/${from}:${item}`, playerId: '#aggregate', events: [] };
}
function settle(seq: number, item: string, refund?: number): BankEntry {
  return { seq, commandId: `settle:${item}`, playerId: '#aggregate', events: refund === undefined ? [] : [{ type: 'refunded', amount: refund }] };
}
/** Each account held by the same entries on nodes n1..n3. */
function everywhere(accounts: Record<string, BankEntry[]>): Map<string, AccountCopy[]> {
  return new Map(Object.entries(accounts).map(([account, entries]) => [account, ['n1', 'n2', 'n3'].map((node) => ({ node, entries }))]));
}

describe('loadtest - bank oracle', () => {
  it('bank - a delivered give and a refunded give are applied once; totals conserved on every node; delivery latency from the timestamps', () => {
    const copies = everywhere({
      a: [given(1, 'b', 30), settle(2, '1.0'), given(3, 'c', 5), settle(4, '3.0', 5)],
      b: [received(1, 'a', '1.0', 30, 25)],
      c: [refusal(1, 'a', '3.0')],
    });
    const verdict = checkBank(copies, [{ from: 'a', seq: 1, to: 'b', amount: 30 }, { from: 'a', seq: 3, to: 'c', amount: 5 }], START);
    expect(verdict).toMatchObject({ totalBefore: 3000, totalAfter: 3000, totalsByNode: { n1: 3000, n2: 3000, n3: 3000 }, transfersAcknowledged: 2, transfersInLog: 2, appliedOnce: 2, delivered: 1, refunded: 1, lost: 0, duplicated: 0, stuck: 0, negativeBalances: 0, divergentReplicas: 0 });
    expect(verdict.deliveryMs).toEqual({ p50: 15, p99: 15, max: 15 });
    expect(bankBroken(verdict)).toBe(false);
  });

  it('bank - an unsettled give is stuck, a give received twice is duplicated, a settled give never received is lost', () => {
    const copies = everywhere({
      a: [given(1, 'b', 10), given(2, 'b', 20), settle(3, '2.0'), given(4, 'b', 40), settle(5, '4.0')],
      b: [received(1, 'a', '2.0', 20, 50), received(2, 'a', '2.0', 20, 60)],
    });
    const verdict = checkBank(copies, [{ from: 'a', seq: 1, to: 'b', amount: 10 }], START);
    expect(verdict).toMatchObject({ stuck: 1, duplicated: 1, lost: 1, appliedOnce: 0 });
    expect(verdict.totalAfter).toBe(2000 - 10 - 20 - 40 + 40);
    expect(bankBroken(verdict)).toBe(true);
  });

  it('bank - an acknowledged give missing from the source, a receipt without a give, a negative balance and a lagging replica are found', () => {
    const copies = new Map<string, AccountCopy[]>([
      ['a', [{ node: 'n1', entries: [given(1, 'b', 1500), settle(2, '1.0')] }, { node: 'n2', entries: [given(1, 'b', 1500)] }]],
      ['b', [{ node: 'n1', entries: [received(1, 'a', '1.0', 1500, 20), received(2, 'a', '9.0', 7, 30)] }]],
    ]);
    const verdict = checkBank(copies, [{ from: 'a', seq: 5, to: 'b', amount: 3 }], START);
    expect(verdict).toMatchObject({ lost: 1, duplicated: 1, negativeBalances: 1, divergentReplicas: 1, appliedOnce: 1 });
    // n2 does not hold b, so only n1 has a total.
    expect(Object.keys(verdict.totalsByNode)).toEqual(['n1']);
    expect(verdict.totalAfter).toBe(2007);
  });

  it('bank - the Zipf draw puts the most weight on rank 0 and never picks the source itself', () => {
    const table = zipfTable(10, 1.5);
    expect(table[9]).toBeCloseTo(1, 12);
    expect(zipfRank(table, 0)).toBe(0);
    expect(zipfRank(table, 0.999_999)).toBe(9);
    const counts = new Array<number>(10).fill(0);
    let state = 7;
    const random = (): number => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 10_000; n += 1) {
      const give = nextGive({ accounts: 10, alpha: 1.5, amountMax: 10 }, table, 3, random);
      expect(give.to).not.toBe('player-3');
      expect(give.amount).toBeGreaterThanOrEqual(1);
      expect(give.amount).toBeLessThanOrEqual(10);
      counts[Number(give.to.slice('player-'.length))]! += 1;
    }
    expect(counts[0]).toBeGreaterThan(counts[1]!);
    expect(counts[1]).toBeGreaterThan(counts[2]!);
    expect(zipfTable(4, 0)).toEqual(new Float64Array([0.25, 0.5, 0.75, 1]));
  });
});

describe('loadtest - bank oracle, outbox index', () => {
  it('bank - an item a replica still holds pending after its settlement counts as stuck', () => {
    const entries = { a: [given(1, 'b', 30), settle(2, '1.0')], b: [received(1, 'a', '1.0', 30, 25)] };
    const copies = everywhere(entries);
    copies.set('a', [{ node: 'n1', entries: entries.a, pending: ['1.0'] }, { node: 'n2', entries: entries.a, pending: [] }, { node: 'n3', entries: entries.a }]);
    const verdict = checkBank(copies, [], START);
    expect(verdict).toMatchObject({ stuck: 1, appliedOnce: 1, delivered: 1 });
    expect(verdict.details).toEqual(['a:1.0: settled in the log but still pending in the outbox of n1']);
  });
});
