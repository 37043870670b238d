/**
 * Transfers between wallets on a 3-node cluster of real processes while the owner of a source
 * wallet's partition, and then the owner of a target wallet's partition, are killed with
 * SIGKILL and restarted on their disks (issue 15, property S5). Afterwards, once every outbox
 * is empty, the bank oracle reads every wallet on every replica: every acknowledged give was
 * received exactly once or refunded, the total is conserved on every node, nothing is stuck.
 * One wallet is closed, so the gives to it come back as refunds through the same kills.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RingstateError, partitionOf } from '@ringstate/protocol';
import type { RingstateClient } from '@ringstate/client-sdk';
import type { GameSchema } from '../../server/example-game/index.ts';
import { fetchClusterView, fetchMetrics, waitConverged } from '../../loadtest/src/cluster/admin-client.ts';
import { failoverClient } from '../../loadtest/src/driver/failover-client.ts';
import { checkBankOverAdminApi, waitOutboxesEmpty } from '../../loadtest/src/oracle/admin-oracle.ts';
import type { AckedGive } from '../../loadtest/src/oracle/bank.ts';
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';

const PARTITIONS = 16;
const WALLETS = Array.from({ length: 8 }, (_, n) => `ok${n}`);
/** This wallet is closed before the load: it refuses every give, which comes back as a refund. */
const CLOSED = 7;
/** Gives each wallet keeps in flight. */
const WINDOW = 2;

let cluster: ProcessCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster?.remove();
  cluster = undefined;
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The node that owns `wallet`'s partition as the first answering node sees it (retried for up to 15 s). */
async function ownerOf(hosts: readonly string[], wallet: string): Promise<string> {
  const partition = partitionOf('wallet', wallet, PARTITIONS);
  const deadline = Date.now() + 15_000;
  for (;;) {
    for (const host of hosts) {
      const owner = (await fetchClusterView(host))?.partitions[partition]?.owner;
      if (owner !== undefined && owner !== null) return owner;
    }
    if (Date.now() > deadline) throw new Error(`no owner of wallet/${wallet} (partition ${partition})`);
    await sleep(100);
  }
}

/** Every wallet gives 1-5 gold to random others, WINDOW at a time, until `running()` is false. */
async function giveUntil(clients: ReadonlyArray<RingstateClient<GameSchema>>, running: () => boolean, acked: AckedGive[], refusals: Record<string, number>): Promise<void> {
  const lane = async (index: number): Promise<void> => {
    const from = WALLETS[index] ?? '';
    const client = clients[index];
    while (running() && client !== undefined) {
      const to = WALLETS[(index + 1 + Math.floor(Math.random() * (WALLETS.length - 1))) % WALLETS.length] ?? '';
      const amount = 1 + Math.floor(Math.random() * 5);
      try {
        const result = await client.send('wallet', from, { type: 'give', to, amount }, { timeoutMs: 20_000 });
        acked.push({ from, seq: result.seq, to, amount });
      } catch (error) {
        const code = error instanceof RingstateError ? error.code : 'INTERNAL';
        refusals[code] = (refusals[code] ?? 0) + 1;
      }
      await sleep(20);
    }
  };
  await Promise.all(clients.flatMap((_, index) => Array.from({ length: WINDOW }, () => lane(index))));
}

describe('outbox - kill -9 of the sender and receiver owners', () => {
  it('outbox kill - every acknowledged give arrives once or is refunded, totals conserved on every replica, nothing stuck', async () => {
    cluster = await startProcessCluster(3, { partitionCount: PARTITIONS });
    const current = cluster;
    const hosts = current.members.map((member) => `${member.host}:${member.port}`);
    await waitConverged(hosts, 30_000);
    const clients = WALLETS.map((wallet, index) => failoverClient(wallet, hosts, index));
    await Promise.all(clients.map((client) => client.connect()));
    await clients[CLOSED]?.send('wallet', WALLETS[CLOSED] ?? '', { type: 'close' }, { timeoutMs: 20_000 });
    // The source is ok0; the target a wallet whose partition another node owns.
    const sourceOwner = await ownerOf(hosts, 'ok0');
    let target = WALLETS[1] ?? '';
    for (const wallet of WALLETS.slice(1, CLOSED)) {
      if ((await ownerOf(hosts, wallet)) !== sourceOwner) {
        target = wallet;
        break;
      }
    }

    const acked: AckedGive[] = [];
    const refusals: Record<string, number> = {};
    let running = true;
    const load = giveUntil(clients, () => running, acked, refusals);
    await sleep(2_000);
    const beforeFirst = acked.length;
    await current.kill(sourceOwner, 'SIGKILL');
    await sleep(2_000);
    await current.start(sourceOwner);
    await sleep(1_500);
    const targetOwner = await ownerOf(hosts.filter((_, index) => current.members[index]?.child !== undefined), target);
    const beforeSecond = acked.length;
    await current.kill(targetOwner, 'SIGKILL');
    await sleep(2_000);
    await current.start(targetOwner);
    await sleep(1_500);
    running = false;
    await load;
    for (const client of clients) client.close();

    await current.waitReady();
    await waitConverged(hosts, 30_000);
    const pending = await waitOutboxesEmpty(hosts, 30_000);
    await waitConverged(hosts, 30_000);
    const verdict = await checkBankOverAdminApi(hosts, WALLETS, acked);
    let retries = 0;
    for (const host of hosts) for (const [sample, value] of await fetchMetrics(host)) if (sample.startsWith('ringstate_delivery_retries_total')) retries += value;
    console.log(
      `outbox kill: killed ${sourceOwner} (owner of ok0), then ${targetOwner} (owner of ${target}); acked ${acked.length} gives (${beforeFirst} before the first kill, ${beforeSecond} before the second), not acked ${JSON.stringify(refusals)}; ` +
        `delivered ${verdict.delivered}, refunded ${verdict.refunded}, delivery ms ${JSON.stringify(verdict.deliveryMs)}, delivery retries ${retries}`,
    );

    expect(pending).toBe(0);
    expect(verdict.details).toEqual([]);
    expect(verdict).toMatchObject({ lost: 0, duplicated: 0, stuck: 0, negativeBalances: 0, divergentReplicas: 0, totalAfter: WALLETS.length * 1000 });
    expect(verdict.appliedOnce).toBe(verdict.transfersInLog);
    expect(verdict.refunded, 'gives to the closed wallet came back').toBeGreaterThan(0);
    expect(verdict.delivered).toBeGreaterThan(0);
    expect(verdict.transfersAcknowledged).toBe(new Set(acked.map((give) => `${give.from}:${give.seq}`)).size);
    // Every node holds every wallet (RF=3), and each holds the same total.
    expect(verdict.totalsByNode).toEqual(Object.fromEntries(current.members.map((member) => [member.nodeId, WALLETS.length * 1000])));
    // Gives were acknowledged before, between and after the kills.
    expect(beforeFirst).toBeGreaterThan(0);
    expect(beforeSecond).toBeGreaterThan(beforeFirst);
    expect(acked.length).toBeGreaterThan(beforeSecond);
  }, 120_000);
});
