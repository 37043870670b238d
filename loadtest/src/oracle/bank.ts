/**
 * The bank check (after Jepsen's bank test): gold moves between wallets by `give`, and after
 * the run every account is read on every replica that holds it. Shared by the load tester's
 * `--scenario bank` (replicas read over the admin API) and the kill -9 e2e test.
 *
 * What a transfer leaves in the logs (server/example-game/wallet.ts, server/src/outbox):
 *   source  seq S   `given {to, amount}`, by the wallet's player; it adds outbox item `S.0`
 *   target          `received {from, amount}` under command id `wallet/<source>:S.0`
 *                   (or an entry without events: the target refused it for good)
 *   source          `settle:S.0` under player `#aggregate`: the item leaves the outbox; after
 *                   a refusal the same entry holds `refunded {amount}`
 * So each transfer is applied once when its item is settled and exactly one of "received on
 * the target" and "refunded on the source" happened. Otherwise it is lost (settled, neither),
 * duplicated (received or refunded twice, or both), or stuck (not settled: still in flight;
 * or still pending in a replica's outbox index although the log settled it).
 *
 * Everything is computed on one reference copy per account (the longest; the copies must be
 * equal anyway, and any that differs counts as divergent), and the total over every node that
 * holds all accounts.
 */
import type { WalletEvent } from '../../../server/example-game/index.ts';

export interface BankEntry {
  readonly seq: number;
  readonly commandId: string;
  readonly playerId: string;
  readonly events: readonly unknown[];
  /** When the owner decided the entry; absent when the admin API does not report it. */
  readonly timestampMs?: number;
}

export interface AccountCopy {
  readonly node: string;
  readonly entries: readonly BankEntry[];
  /** Ids of the outbox items this replica's index still holds pending (absent when not reported). */
  readonly pending?: readonly string[];
}

/** A give the cluster acknowledged: the source's entry at `seq`. */
export interface AckedGive {
  readonly from: string;
  readonly seq: number;
  readonly to: string;
  readonly amount: number;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface BankVerdict {
  readonly accounts: number;
  readonly totalBefore: number;
  /** Over the reference copies; must equal totalBefore once nothing is in flight. */
  totalAfter: number;
  /** The total on each node that holds every account. */
  readonly totalsByNode: Record<string, number>;
  transfersAcknowledged: number;
  /** Gives found in the logs, acknowledged or not (a give whose answer was lost still moves gold). */
  transfersInLog: number;
  appliedOnce: number;
  delivered: number;
  refunded: number;
  lost: number;
  duplicated: number;
  stuck: number;
  negativeBalances: number;
  divergentReplicas: number;
  /** Target's `received` entry timestamp minus the source's `given` one; null without timestamps. */
  deliveryMs: Percentiles | null;
  readonly details: string[];
  readonly copiesByNode: Record<string, number>;
}

const DETAILS_MAX = 20;
const DELIVERY_PLAYER = '#aggregate';

/** True when the verdict found anything the bank must never show. */
export function bankBroken(verdict: BankVerdict): boolean {
  const nodeTotalsWrong = Object.values(verdict.totalsByNode).some((total) => total !== verdict.totalBefore);
  return verdict.lost > 0 || verdict.duplicated > 0 || verdict.stuck > 0 || verdict.negativeBalances > 0 || verdict.divergentReplicas > 0 || verdict.totalAfter !== verdict.totalBefore || nodeTotalsWrong;
}

export function percentiles(values: readonly number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

function eventsOf(entry: BankEntry): WalletEvent[] {
  return entry.events as WalletEvent[];
}

function signature(entry: BankEntry): string {
  return `${entry.seq}\u0000${entry.commandId}\u0000${entry.playerId}\u0000${JSON.stringify(entry.events)}`;
}

/** Gold of one copy after every entry, and the lowest it went. */
export function balanceOf(entries: readonly BankEntry[], startGold: number): { gold: number; lowest: number } {
  let gold = startGold;
  let lowest = startGold;
  for (const entry of entries) {
    for (const event of eventsOf(entry)) {
      if (event.type === 'given') gold -= event.amount;
      else if (event.type === 'received' || event.type === 'refunded') gold += event.amount;
    }
    lowest = Math.min(lowest, gold);
  }
  return { gold, lowest };
}

export function checkBank(copies: ReadonlyMap<string, readonly AccountCopy[]>, acked: readonly AckedGive[], startGold: number): BankVerdict {
  const verdict: BankVerdict = {
    accounts: copies.size,
    totalBefore: copies.size * startGold,
    totalAfter: 0,
    totalsByNode: {},
    transfersAcknowledged: 0,
    transfersInLog: 0,
    appliedOnce: 0,
    delivered: 0,
    refunded: 0,
    lost: 0,
    duplicated: 0,
    stuck: 0,
    negativeBalances: 0,
    divergentReplicas: 0,
    deliveryMs: null,
    details: [],
    copiesByNode: {},
  };
  const note = (text: string): void => {
    if (verdict.details.length < DETAILS_MAX) verdict.details.push(text);
  };

  // Reference copies, divergence, balances.
  const reference = new Map<string, readonly BankEntry[]>();
  const nodeTotals = new Map<string, { accounts: number; gold: number }>();
  for (const [account, replicas] of copies) {
    const longest = replicas.reduce<readonly BankEntry[]>((best, copy) => (copy.entries.length > best.length ? copy.entries : best), []);
    reference.set(account, longest);
    const expected = longest.map(signature).join('\n');
    for (const copy of replicas) {
      verdict.copiesByNode[copy.node] = (verdict.copiesByNode[copy.node] ?? 0) + 1;
      if (copy.entries.map(signature).join('\n') !== expected) {
        verdict.divergentReplicas += 1;
        note(`wallet/${account}: replica ${copy.node} holds ${copy.entries.length} entries that differ from the longest copy (${longest.length})`);
      }
      const node = nodeTotals.get(copy.node) ?? { accounts: 0, gold: 0 };
      node.accounts += 1;
      node.gold += balanceOf(copy.entries, startGold).gold;
      nodeTotals.set(copy.node, node);
    }
    const balance = balanceOf(longest, startGold);
    verdict.totalAfter += balance.gold;
    if (balance.lowest < 0) {
      verdict.negativeBalances += 1;
      note(`wallet/${account}: balance went down to ${balance.lowest}`);
    }
  }
  for (const [node, total] of nodeTotals) if (total.accounts === copies.size) verdict.totalsByNode[node] = total.gold;
  for (const [node, total] of Object.entries(verdict.totalsByNode)) if (total !== verdict.totalBefore) note(`node ${node} holds ${total} gold in all, ${verdict.totalBefore} were given out`);

  // Where each item ended up: receipts (and recorded refusals) on targets, settlements on sources.
  const receipts = new Map<string, Array<{ account: string; entry: BankEntry }>>();
  const refusals = new Map<string, number>();
  const settlements = new Map<string, BankEntry[]>();
  for (const [account, entries] of reference) {
    for (const entry of entries) {
      if (entry.playerId !== DELIVERY_PLAYER) continue;
      if (entry.commandId.startsWith('settle:')) {
        const key = `${account}:${entry.commandId.slice('settle:'.length)}`;
        settlements.set(key, [...(settlements.get(key) ?? []), entry]);
      } else if (entry.commandId.startsWith('wallet/')) {
        const key = entry.commandId.slice('wallet/'.length);
        const received = eventsOf(entry).filter((event) => event.type === 'received');
        if (received.length === 0) refusals.set(key, (refusals.get(key) ?? 0) + 1);
        else receipts.set(key, [...(receipts.get(key) ?? []), { account, entry }]);
      }
    }
  }

  // Every give in the logs, acknowledged or not.
  const gives = new Map<string, { account: string; entry: BankEntry; to: string; amount: number }>();
  for (const [account, entries] of reference) {
    for (const entry of entries) {
      const given = eventsOf(entry).find((event) => event.type === 'given');
      if (given !== undefined) gives.set(`${account}:${entry.seq}.0`, { account, entry, to: given.to, amount: given.amount });
    }
  }
  verdict.transfersInLog = gives.size;
  const delays: number[] = [];
  // Items a replica's outbox index still holds: after the run settled, none may be left.
  const pendingOnReplicas = new Map<string, string[]>();
  for (const [account, replicas] of copies) {
    for (const copy of replicas) for (const item of copy.pending ?? []) pendingOnReplicas.set(`${account}:${item}`, [...(pendingOnReplicas.get(`${account}:${item}`) ?? []), copy.node]);
  }
  for (const [key, nodes] of pendingOnReplicas) {
    if (gives.has(key) && (settlements.get(key) ?? []).length > 0) {
      verdict.stuck += 1;
      note(`${key}: settled in the log but still pending in the outbox of ${nodes.join(', ')}`);
    } else if (!gives.has(key)) {
      verdict.stuck += 1;
      note(`${key}: pending in the outbox of ${nodes.join(', ')} without a give in the log`);
    }
  }
  for (const [key, give] of gives) {
    const got = receipts.get(key) ?? [];
    const settled = settlements.get(key) ?? [];
    const refunds = settled.flatMap((entry) => eventsOf(entry).filter((event) => event.type === 'refunded'));
    if (settled.length === 0) {
      verdict.stuck += 1;
      note(`${key}: give of ${give.amount} to ${give.to} is not settled (still in flight${pendingOnReplicas.has(key) ? `, pending on ${(pendingOnReplicas.get(key) ?? []).join(', ')}` : ''})`);
      continue;
    }
    if (settled.length > 1 || got.length + refunds.length > 1) {
      verdict.duplicated += 1;
      note(`${key}: settled ${settled.length} times, received ${got.length} times, refunded ${refunds.length} times`);
      continue;
    }
    if (got.length + refunds.length === 0) {
      verdict.lost += 1;
      note(`${key}: give of ${give.amount} to ${give.to} was settled but neither received nor refunded${refusals.has(key) ? ' (the target refused it)' : ''}`);
      continue;
    }
    const receipt = got[0];
    if (receipt !== undefined) {
      const event = eventsOf(receipt.entry).find((candidate) => candidate.type === 'received');
      if (receipt.account !== give.to || event?.type !== 'received' || event.amount !== give.amount || event.from !== give.account) {
        verdict.lost += 1;
        note(`${key}: give of ${give.amount} to ${give.to} arrived at ${receipt.account} as ${JSON.stringify(event)}`);
        continue;
      }
      verdict.delivered += 1;
      if (receipt.entry.timestampMs !== undefined && give.entry.timestampMs !== undefined) delays.push(receipt.entry.timestampMs - give.entry.timestampMs);
    } else {
      verdict.refunded += 1;
    }
    verdict.appliedOnce += 1;
  }
  // Receipts without a give: gold made from nothing.
  for (const [key, entries] of receipts) {
    if (gives.has(key)) continue;
    verdict.duplicated += entries.length;
    note(`${key}: received ${entries.length} times but the source's log holds no such give`);
  }

  // Acknowledged gives must be in the source's log, at the acknowledged seq, as sent.
  const seen = new Set<string>();
  for (const ack of acked) {
    const key = `${ack.from}:${ack.seq}.0`;
    if (seen.has(key)) continue;
    seen.add(key);
    verdict.transfersAcknowledged += 1;
    const give = gives.get(key);
    if (give === undefined || give.to !== ack.to || give.amount !== ack.amount) {
      verdict.lost += 1;
      note(`${key}: the acknowledged give of ${ack.amount} to ${ack.to} is not in the source's log at seq ${ack.seq}`);
    }
  }
  verdict.deliveryMs = percentiles(delays);
  return verdict;
}
