/**
 * The load tester's oracles: after a run they read every aggregate the run touched from every
 * node that replicates it (GET /v1/admin/aggregate) and compare with what was acknowledged:
 * the appended lists (compare.ts) and the bank's wallets (bank.ts).
 */
import { WALLET_START } from '../../../server/example-game/index.ts';
import type { AggregateLog } from '../../../server/src/observability/index.ts';
import { adminHeaders, fetchMetrics } from '../cluster/admin-client.ts';
import { checkBank, type AccountCopy, type AckedGive, type BankEntry, type BankVerdict } from './bank.ts';
import { compareHistory, emptyVerdict, type AckedAppend, type HistoryVerdict } from './compare.ts';

export async function checkOverAdminApi(hosts: readonly string[], acked: ReadonlyMap<string, readonly AckedAppend[]>, adminToken?: string): Promise<HistoryVerdict> {
  const verdict = emptyVerdict();
  for (const [player, appends] of acked) {
    const replicas: Array<{ name: string; values: string[] }> = [];
    for (const host of hosts) {
      const log = await readAggregate(host, 'player', player, adminToken);
      if (!log.replicated) continue;
      replicas.push({ name: log.nodeId, values: log.entries.map((entry) => String((entry.events[0] as { value?: unknown } | undefined)?.value ?? '')) });
    }
    compareHistory(verdict, `player/${player}`, replicas, appends);
  }
  return verdict;
}

/**
 * Reads every account's wallet on every node that replicates it, with the outbox items each
 * replica still holds pending, and checks the bank (bank.ts).
 */
export async function checkBankOverAdminApi(hosts: readonly string[], accounts: readonly string[], acked: readonly AckedGive[], adminToken?: string): Promise<BankVerdict> {
  const copies = new Map<string, AccountCopy[]>();
  for (const account of accounts) {
    const replicas: AccountCopy[] = [];
    for (const host of hosts) {
      const log = await readAggregate(host, 'wallet', account, adminToken);
      if (log.replicated) replicas.push({ node: log.nodeId, entries: log.entries as readonly BankEntry[], pending: (log.pending ?? []).map((item) => item.id) });
    }
    copies.set(account, replicas);
  }
  return checkBank(copies, acked, WALLET_START);
}

/** Outbox items pending on all nodes together (each counts the partitions it owns), or undefined when a node does not answer. */
export async function outboxPending(hosts: readonly string[]): Promise<number | undefined> {
  let total = 0;
  for (const host of hosts) {
    const pending = (await fetchMetrics(host)).get('ringstate_outbox_pending');
    if (pending === undefined) return undefined;
    total += pending;
  }
  return total;
}

/**
 * Waits until no node has an outbox item pending (every delivery settled), for at most
 * `timeoutMs`; returns the last count seen (0 when settled, undefined when a node never answered).
 */
export async function waitOutboxesEmpty(hosts: readonly string[], timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await outboxPending(hosts);
    if (pending === 0 || Date.now() > deadline) return pending;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** One replica's log of an aggregate, retried: a kept-alive HTTP connection may be reset between requests. */
export async function readAggregate(host: string, type: string, id: string, adminToken: string | undefined): Promise<AggregateLog> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(`http://${host}/v1/admin/aggregate?type=${type}&id=${encodeURIComponent(id)}`, { ...adminHeaders(adminToken), signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`oracle: ${host} answered ${response.status} for ${type}/${id}`);
      return (await response.json()) as AggregateLog;
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}
