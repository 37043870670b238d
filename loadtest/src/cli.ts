#!/usr/bin/env node
/**
 * `npm run loadtest -- [options]`: drive simulated players through the real client SDK against
 * a cluster, inject faults, and prove with the oracle that nothing acknowledged was lost.
 *
 *   target   --cluster N (start a local N-node cluster, stop it afterwards) | --hosts h1:p,h2:p
 *            [--base-port P [--peer-base-port Q]] (node i of --cluster on P+i, peers on Q+i, Q = P+100)
 *   load     --players 100 --ramp 5 --rate 2 --duration 30 --scenario idle|movers|traders|list-append|bank
 *            [--accounts N (bank; default --players) --alpha 1.5 (Zipf contention on the target)]
 *   chaos    --kill-at S [--kill-node ID] | --kill-every S --restart-after S | --pause-at S --pause-for S
 *            | --partition-at S --partition-for S (nodes in network namespaces; root, ip, iptables)
 *   scale    --join-at S (a new node joins) | --leave-at S [--leave-node ID] (a node leaves and exits)
 *            (chaos needs --cluster: the load tester must own the processes)
 *   output   --report out.json --html out.html   [--admin-token T, or env RINGSTATE_ADMIN_TOKEN: for --hosts outside dev mode]
 *
 * Exit status: 0 when the oracle found no lost, duplicated or divergent event (or did not run;
 * bank: nor a stuck transfer, a negative balance or a changed total) and every chaos and scale
 * step was carried out, 1 otherwise, 2 on bad options.
 */
import '../../server/src/polyfills.ts';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { adminTokenOption, waitConverged } from './cluster/admin-client.ts';
import { createNetnsLab, type NetnsLab } from './cluster/netns-lab.ts';
import { pinnedPorts, portsInUse, type PinnedPorts } from './cluster/pinned-ports.ts';
import { startProcessCluster, type ProcessCluster } from './cluster/process-cluster.ts';
import { checkBankOverAdminApi, checkOverAdminApi, waitOutboxesEmpty } from './oracle/admin-oracle.ts';
import { bankBroken } from './oracle/bank.ts';
import type { HistoryVerdict } from './oracle/compare.ts';
import { renderHtml } from './report/html.ts';
import { buildReport, type BankFindings } from './report/report.ts';
import { formatInterval, summariseInterval, type LiveSecond } from './runner/live-interval.ts';
import { runLoad } from './runner/load-run.ts';
import { BANK_DEFAULTS, SCENARIOS, accountOf, type BankPlan, type ScenarioName } from './runner/scenarios.ts';

/** How long the bank oracle waits for every outbox to empty after the run before it reads the accounts. */
const OUTBOX_SETTLE_TIMEOUT_MS = 60_000;

function fail(message: string): never {
  process.stderr.write(`loadtest: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    cluster: { type: 'string' },
    'base-port': { type: 'string' },
    'peer-base-port': { type: 'string' },
    hosts: { type: 'string' },
    players: { type: 'string', default: '100' },
    ramp: { type: 'string', default: '5' },
    rate: { type: 'string', default: '2' },
    duration: { type: 'string', default: '30' },
    scenario: { type: 'string', default: 'list-append' },
    accounts: { type: 'string' },
    alpha: { type: 'string', default: String(BANK_DEFAULTS.alpha) },
    'kill-at': { type: 'string' },
    'kill-node': { type: 'string' },
    'kill-every': { type: 'string' },
    'restart-after': { type: 'string' },
    'pause-at': { type: 'string' },
    'pause-for': { type: 'string', default: '5' },
    'partition-at': { type: 'string' },
    'join-at': { type: 'string' },
    'leave-at': { type: 'string' },
    'leave-node': { type: 'string' },
    'partition-for': { type: 'string', default: '5' },
    partitions: { type: 'string', default: '64' },
    durability: { type: 'string', default: 'fsync' },
    report: { type: 'string' },
    html: { type: 'string' },
    'admin-token': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(`${(await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8').split('\n').slice(2, 18).join('\n')}\n`);
  process.exit(0);
}

const number = (name: string, raw: string | undefined, min: number, max: number): number | undefined => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) fail(`--${name} must be a number in ${min}..${max}, got ${raw}`);
  return value;
};
const scenario = values.scenario as ScenarioName;
if (!SCENARIOS.includes(scenario)) fail(`--scenario must be one of ${SCENARIOS.join(', ')}`);
if ((values.cluster === undefined) === (values.hosts === undefined)) fail('give exactly one of --cluster N or --hosts h1:port,h2:port');
const clusterSize = number('cluster', values.cluster, 1, 9);
const players = number('players', values.players, 1, 100_000) ?? 100;
const durationSeconds = number('duration', values.duration, 1, 86_400) ?? 30;
if (scenario !== 'bank' && values.accounts !== undefined) fail('--accounts is an option of --scenario bank');
const bank: BankPlan | undefined =
  scenario === 'bank' ? { accounts: number('accounts', values.accounts, 2, 100_000) ?? Math.max(2, players), alpha: number('alpha', values.alpha, 0, 10) ?? BANK_DEFAULTS.alpha, amountMax: BANK_DEFAULTS.amountMax } : undefined;
const chaosRequested = ['kill-at', 'kill-every', 'pause-at', 'partition-at', 'join-at', 'leave-at'].some((name) => values[name as keyof typeof values] !== undefined);
if (chaosRequested && clusterSize === undefined) fail('chaos (--kill-at, --kill-every, --pause-at, --partition-at, --join-at, --leave-at) needs --cluster: the load tester must own the node processes');
if (values['join-at'] !== undefined && values['partition-at'] !== undefined) fail('--join-at adds a node on loopback and cannot be combined with --partition-at (network namespaces)');
let ports: PinnedPorts | undefined;
if (values['base-port'] !== undefined || values['peer-base-port'] !== undefined) {
  if (clusterSize === undefined) fail('--base-port and --peer-base-port pin the ports of the cluster --cluster starts; with --hosts the cluster is not ours');
  if (values['base-port'] === undefined) fail('--peer-base-port needs --base-port');
  // A node that joins (--join-at) takes the next port of each range.
  const portFlag = (name: 'base-port' | 'peer-base-port', raw: string): number => (/^\d{1,5}$/.test(raw) ? Number(raw) : fail(`--${name} must be a port number, got ${raw}`));
  const peerBasePort = values['peer-base-port'] === undefined ? undefined : portFlag('peer-base-port', values['peer-base-port']);
  const planned = pinnedPorts(portFlag('base-port', values['base-port']), peerBasePort, clusterSize + (values['join-at'] === undefined ? 0 : 1));
  if ('error' in planned) fail(planned.error);
  ports = planned;
}

let cluster: ProcessCluster | undefined;
let netns: NetnsLab | undefined;
let hosts: string[];
if (values['partition-at'] !== undefined) {
  if (process.getuid?.() !== 0) fail('--partition-at runs nodes in network namespaces and needs root');
  try {
    netns = createNetnsLab(clusterSize ?? 3);
  } catch (error) {
    fail(`--partition-at needs iproute2 and iptables (apt-get install iproute2 iptables): ${(error as Error).message}`);
  }
}
const adminToken = adminTokenOption(values['admin-token']) ?? (netns === undefined ? undefined : `loadtest-admin-${process.pid}-0123456789abcdefghijklmnopqrstuv`);
if (clusterSize !== undefined && ports !== undefined && netns === undefined) {
  const count = clusterSize + (values['join-at'] === undefined ? 0 : 1);
  const wanted = Array.from({ length: count }, (_, index) => [ports.basePort + index, ports.peerBasePort + index]).flat();
  const busy = await portsInUse('127.0.0.1', wanted);
  if (busy.length > 0) fail(`ports already in use on 127.0.0.1: ${busy.join(', ')} (choose another --base-port / --peer-base-port)`);
}
if (clusterSize !== undefined) {
  process.stderr.write(`starting a local ${clusterSize}-node cluster${netns === undefined ? '' : ' in network namespaces'}...\n`);
  cluster = await startProcessCluster(
    clusterSize,
    {
      partitionCount: number('partitions', values.partitions, 1, 4096),
      durability: values.durability,
      logLevel: 'warn',
      limits: { messagesPerSecondMax: 10_000 },
      ...(netns === undefined ? {} : { admin: { token: adminToken } }),
    },
    { ...(netns === undefined ? {} : { netns }), ...(ports === undefined ? {} : { ports }) },
  );
  hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
  await waitConverged(hosts, 60_000, adminToken);
} else {
  hosts = String(values.hosts).split(',').map((host) => host.trim()).filter(Boolean);
}

const tty = process.stderr.isTTY === true;
let lastSaturationWarningSecond = -Infinity;
// Seconds since the previous printed line: every line reports its whole interval.
let unprinted: LiveSecond[] = [];
let printedSecond = 0;
const live = (second: LiveSecond): void => {
  unprinted.push(second);
  if (second.generatorUtilisation > 0.9 && second.second - lastSaturationWarningSecond >= 10) {
    lastSaturationWarningSecond = second.second;
    process.stderr.write(`\nwarning: the load tester's event loop is ${(second.generatorUtilisation * 100).toFixed(0)}% busy: it, not the cluster, may be the bottleneck\n`);
  }
  const chaos = second.chaos.length > 0;
  if (!tty && second.second - printedSecond < 5 && !chaos) return;
  const text = formatInterval(summariseInterval(unprinted));
  unprinted = [];
  printedSecond = second.second;
  if (tty) process.stderr.write(`\r\x1b[2K${text}${chaos ? '\n' : ''}`);
  else process.stderr.write(`${text}\n`);
};

try {
  const result = await runLoad({
    hosts,
    players,
    rampSeconds: number('ramp', values.ramp, 0, 3600) ?? 5,
    ratePerPlayer: number('rate', values.rate, 0, 1000) ?? 2,
    durationSeconds,
    scenario,
    ...(bank === undefined ? {} : { bank }),
    chaos: {
      ...(values['kill-at'] === undefined ? {} : { killAtSeconds: number('kill-at', values['kill-at'], 0, 86_400) as number }),
      ...(values['kill-node'] === undefined ? {} : { killNode: values['kill-node'] }),
      ...(values['kill-every'] === undefined ? {} : { killEverySeconds: number('kill-every', values['kill-every'], 1, 86_400) as number }),
      ...(values['restart-after'] === undefined ? {} : { restartAfterSeconds: number('restart-after', values['restart-after'], 0, 86_400) as number }),
      ...(values['pause-at'] === undefined ? {} : { pauseAtSeconds: number('pause-at', values['pause-at'], 0, 86_400) as number, pauseForSeconds: number('pause-for', values['pause-for'], 0, 3600) as number }),
      ...(values['partition-at'] === undefined ? {} : { partitionAtSeconds: number('partition-at', values['partition-at'], 0, 86_400) as number, partitionForSeconds: number('partition-for', values['partition-for'], 0, 3600) as number }),
      ...(values['join-at'] === undefined ? {} : { joinAtSeconds: number('join-at', values['join-at'], 0, 86_400) as number }),
      ...(values['leave-at'] === undefined ? {} : { leaveAtSeconds: number('leave-at', values['leave-at'], 0, 86_400) as number }),
      ...(values['leave-node'] === undefined ? {} : { leaveNode: values['leave-node'] }),
    },
    ...(cluster === undefined ? {} : { cluster }),
    ...(adminToken === undefined ? {} : { adminToken }),
    ...(netns === undefined ? {} : { netns }),
    onSecond: live,
  });
  if (tty) process.stderr.write('\n');
  let verdict: HistoryVerdict | undefined;
  let bankFindings: BankFindings | undefined;
  if (scenario === 'list-append' || bank !== undefined) {
    if (cluster !== undefined) {
      // Bring every killed node back and let replicas catch up so every replica can be
      // compared; nodes that left stay gone, nodes that joined are compared too.
      const left = new Set(result.timeline.chaos.filter((event) => event.kind === 'leave').map((event) => event.node));
      for (const member of cluster.members) if (member.child === undefined && !left.has(member.nodeId)) await cluster.start(member.nodeId);
      await cluster.waitReady();
      hosts = cluster.members.filter((member) => !left.has(member.nodeId)).map((member) => `${member.host}:${member.port}`);
    }
    netns?.heal();
    await waitConverged(hosts, 60_000, adminToken);
    if (bank === undefined) verdict = await checkOverAdminApi(hosts, result.acked, adminToken);
    else {
      // Deliveries still in flight settle first (bounded), then the settlements replicate.
      const outboxPendingAtCheck = await waitOutboxesEmpty(hosts, OUTBOX_SETTLE_TIMEOUT_MS);
      await waitConverged(hosts, 60_000, adminToken);
      const accounts = Array.from({ length: bank.accounts }, (_, index) => accountOf(index));
      const bankVerdict = await checkBankOverAdminApi(hosts, accounts, result.gives, adminToken);
      bankFindings = { plan: bank, verdict: bankVerdict, outboxPendingAtCheck, ok: !bankBroken(bankVerdict) && outboxPendingAtCheck === 0 };
    }
  }
  const report = buildReport(result, scenario, verdict, bankFindings);
  const { timeline: _timeline, oracleDetails, ...summary } = report;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (oracleDetails.length > 0) process.stderr.write(`oracle findings:\n  ${oracleDetails.join('\n  ')}\n`);
  if (report.loadTesterEventLoopUtilisation > 0.9) process.stderr.write('warning: the load tester was saturated during the run; its figures understate the cluster\n');
  if (values.report !== undefined) writeFileSync(values.report, `${JSON.stringify(report, null, 2)}\n`);
  if (values.html !== undefined) writeFileSync(values.html, renderHtml(report));
  if (result.chaosFailures.length > 0) process.stderr.write(`the run did not carry out its chaos plan:\n  ${result.chaosFailures.join('\n  ')}\n`);
  const broken = (verdict !== undefined && (verdict.ackedEventsLost > 0 || verdict.duplicateApplications > 0 || verdict.divergentReplicas > 0 || verdict.wrongSeq > 0)) || bankFindings?.ok === false;
  process.exitCode = broken || result.chaosFailures.length > 0 ? 1 : 0;
} finally {
  if (cluster !== undefined) {
    await cluster.stopAll();
    cluster.remove();
  }
  netns?.teardown();
}
process.exit(process.exitCode ?? 0);
