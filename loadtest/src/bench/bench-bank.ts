/**
 * `npm run bench:bank`: cross-aggregate transfers (issue 15) on a 3-node RF=3 cluster, against
 * a baseline of single-aggregate commands at the same load, in the same run.
 *
 * Both phases use the load tester's runner (real SDK clients, open loop at `--rate` per player,
 * latency from send to acknowledgement) on one cluster, alternated `--repeats` times:
 *   baseline  every player `move`s its own player aggregate: one entry per command
 *   bank      every player `give`s 1-10 gold from its own wallet to an account drawn from a Zipf
 *             law (`--alpha`, default 1.5): the source's entry, then its owner delivers
 *             `receive` to the target (another partition, usually another node) and settles the
 *             item with a third entry; the acknowledgement comes after the first entry.
 * So the baseline is the same offered load without the delivery work; the difference in
 * acknowledged/s and give p99 is what the outbox costs the commands that trigger it, and the
 * delivery latency (target's `received` entry timestamp minus the source's `given` one) is
 * what it adds end to end. After the last phase the bank oracle (oracle/bank.ts) checks every
 * account on every replica once the outboxes are empty; the exit status is 1 if it fails.
 *
 * A warm-up of WARMUP_SECONDS of moves comes first and is not counted. Open loop: below the
 * cluster's capacity acknowledged/s follows the offered rate and the phases differ in latency;
 * raise `--rate` or `--players` to find where acknowledged/s stops following.
 *
 * Printed: per phase kind the median over repeats of offered/s, acknowledged/s (commands sent
 * in the phase and acknowledged, per second of the phase), p50 and p99; delivery p50/p99 over
 * all bank phases; server CPU (all nodes) per acknowledged command; elections during the phase (a busy machine moves owners, and deliveries
 * then wait); the delivery retries the nodes counted, by code; the bank verdict.
 */
import '../../../server/src/polyfills.ts';
import { parseArgs } from 'node:util';
import { fetchMetrics, waitConverged } from '../cluster/admin-client.ts';
import { startProcessCluster } from '../cluster/process-cluster.ts';
import { checkBankOverAdminApi, waitOutboxesEmpty } from '../oracle/admin-oracle.ts';
import { bankBroken, type AckedGive } from '../oracle/bank.ts';
import { runLoad, type RunResult } from '../runner/load-run.ts';
import { BANK_DEFAULTS, accountOf, type BankPlan } from '../runner/scenarios.ts';
import { processCpuMicros } from './process-cpu.ts';
import { formatTable } from './table.ts';

const { values } = parseArgs({
  options: {
    players: { type: 'string', default: '100' },
    rate: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '1' },
    alpha: { type: 'string', default: String(BANK_DEFAULTS.alpha) },
    partitions: { type: 'string', default: '64' },
    durability: { type: 'string', default: 'fsync' },
  },
});
const players = Number(values.players);
const ratePerPlayer = Number(values.rate);
const durationSeconds = Number(values.seconds);
const repeats = Number(values.repeats);
const plan: BankPlan = { accounts: players, alpha: Number(values.alpha), amountMax: BANK_DEFAULTS.amountMax };
const WARMUP_SECONDS = 3;
/** Bounds of the wait after the last phase (the outboxes empty, the replicas converge). */
const SETTLE_TIMEOUT_MS = 60_000;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
}

/** A counter summed over the nodes. */
async function counterSum(hosts: readonly string[], name: string): Promise<number> {
  let total = 0;
  for (const host of hosts) total += (await fetchMetrics(host)).get(name) ?? 0;
  return total;
}

/** `ringstate_delivery_retries_total` summed over the nodes, by code (`code=count, ...`). */
async function deliveryRetries(hosts: readonly string[]): Promise<string> {
  const byCode = new Map<string, number>();
  for (const host of hosts) {
    for (const [sample, value] of await fetchMetrics(host)) {
      if (!sample.startsWith('ringstate_delivery_retries_total')) continue;
      const code = /code="([^"]*)"/.exec(sample)?.[1] ?? '?';
      byCode.set(code, (byCode.get(code) ?? 0) + value);
    }
  }
  const total = [...byCode.values()].reduce((sum, value) => sum + value, 0);
  return `${total}${byCode.size === 0 ? '' : ` (${[...byCode].map(([code, value]) => `${code} ${value}`).join(', ')})`}`;
}

const cluster = await startProcessCluster(3, { partitionCount: Number(values.partitions), durability: values.durability, logLevel: 'warn', limits: { messagesPerSecondMax: 10_000 } });
let exitCode = 0;
try {
  const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
  await waitConverged(hosts, 60_000);
  process.stderr.write(`bench:bank: ${players} players x ${ratePerPlayer}/s, ${durationSeconds} s per phase, ${repeats} repeat(s), ${plan.accounts} accounts, alpha ${plan.alpha}\n`);
  // Warm-up, not counted: the first connections and commands of a fresh cluster are slower.
  await runLoad({ hosts, players, rampSeconds: 1, ratePerPlayer, durationSeconds: WARMUP_SECONDS, scenario: 'movers', chaos: {} });
  const runs: { baseline: RunResult[]; bank: RunResult[] } = { baseline: [], bank: [] };
  // Elections during each phase: on a busy machine missed heartbeats move owners, and a
  // delivery to a partition without an owner waits (UNAVAILABLE, NO_QUORUM retries).
  const elections: { baseline: number[]; bank: number[] } = { baseline: [], bank: [] };
  // Server CPU (all nodes) per acknowledged command, over the phase and the runner's settling
  // second after it (most deliveries of the phase are done by then).
  const cpuMsPerCommand: { baseline: number[]; bank: number[] } = { baseline: [], bank: [] };
  const serverCpuMicros = (): number => cluster.members.reduce((sum, member) => sum + (member.child?.pid === undefined ? 0 : processCpuMicros(member.child.pid)), 0);
  const gives: AckedGive[] = [];
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    for (const kind of ['baseline', 'bank'] as const) {
      const electionsBefore = await counterSum(hosts, 'ringstate_elections_total');
      const cpuBefore = serverCpuMicros();
      const result = await runLoad({
        hosts,
        players,
        rampSeconds: 1,
        ratePerPlayer,
        durationSeconds,
        scenario: kind === 'bank' ? 'bank' : 'movers',
        ...(kind === 'bank' ? { bank: plan } : {}),
        chaos: {},
      });
      runs[kind].push(result);
      cpuMsPerCommand[kind].push((serverCpuMicros() - cpuBefore) / 1000 / Math.max(1, result.commandsAcked));
      elections[kind].push((await counterSum(hosts, 'ringstate_elections_total')) - electionsBefore);
      gives.push(...result.gives);
      process.stderr.write(`  ${kind} ${repeat + 1}: ${(result.commandsSent / durationSeconds).toFixed(1)} offered/s, ${(result.commandsAcked / durationSeconds).toFixed(1)} acked/s, p99 ${result.latencyMs.p99.toFixed(1)} ms, ${result.commandsRejected + result.commandsFailed} not acked, load tester ${(result.generatorUtilisation * 100).toFixed(0)}% busy, elections ${elections[kind].at(-1)}${Object.keys(result.errorsByCode).length === 0 ? '' : `, errors ${JSON.stringify(result.errorsByCode)}`}\n`);
    }
  }
  const pending = await waitOutboxesEmpty(hosts, SETTLE_TIMEOUT_MS);
  await waitConverged(hosts, SETTLE_TIMEOUT_MS);
  const verdict = await checkBankOverAdminApi(
    hosts,
    Array.from({ length: plan.accounts }, (_, index) => accountOf(index)),
    gives,
  );
  const ok = !bankBroken(verdict) && pending === 0;
  const row = (label: string, results: readonly RunResult[], delivery: string[], electionCounts: readonly number[], cpuMs: readonly number[]): string[] => [
    label,
    median(results.map((result) => result.commandsSent / durationSeconds)).toFixed(1),
    median(results.map((result) => result.commandsAcked / durationSeconds)).toFixed(1),
    median(results.map((result) => result.latencyMs.p50)).toFixed(1),
    median(results.map((result) => result.latencyMs.p99)).toFixed(1),
    ...delivery,
    median(cpuMs).toFixed(2),
    String(median(electionCounts)),
    median(results.map((result) => result.generatorUtilisation * 100)).toFixed(0),
  ];
  const delivery = verdict.deliveryMs === null ? ['n/a', 'n/a'] : [String(verdict.deliveryMs.p50), String(verdict.deliveryMs.p99)];
  process.stdout.write(
    `${formatTable(
      ['phase (median of repeats)', 'offered/s', 'acked/s', 'p50 ms', 'p99 ms', 'delivery p50 ms', 'delivery p99 ms', 'server CPU ms/cmd', 'elections', 'gen%'],
      [
        row('baseline: move (1 entry)', runs.baseline, ['-', '-'], elections.baseline, cpuMsPerCommand.baseline),
        row('bank: give (3 entries, 2 aggregates)', runs.bank, delivery, elections.bank, cpuMsPerCommand.bank),
      ],
    )}\n`,
  );
  process.stdout.write(
    `transfers/s ${median(runs.bank.map((result) => result.gives.length / durationSeconds)).toFixed(1)}, give p99 ${median(runs.bank.map((result) => result.latencyMs.p99)).toFixed(1)} ms, delivery p99 ${delivery[1]} ms; delivery retries ${await deliveryRetries(hosts)}\n`,
  );
  process.stdout.write(
    `bank oracle: ${ok ? 'ok' : 'FAILED'}: total ${verdict.totalBefore} -> ${verdict.totalAfter}, ${verdict.transfersAcknowledged} acknowledged, ${verdict.appliedOnce} applied once (${verdict.delivered} delivered, ${verdict.refunded} refunded), lost ${verdict.lost}, duplicated ${verdict.duplicated}, stuck ${verdict.stuck}, negative ${verdict.negativeBalances}, divergent ${verdict.divergentReplicas}, outbox pending ${pending ?? 'unknown'}\n`,
  );
  if (!ok) {
    process.stderr.write(`bank oracle findings:\n  ${verdict.details.join('\n  ')}\n`);
    exitCode = 1;
  }
} finally {
  await cluster.stopAll();
  cluster.remove();
}
process.exit(exitCode);
