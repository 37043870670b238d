/** The run's JSON report (fields as the load tester's documentation lists them). */
import type { BankVerdict, Percentiles } from '../oracle/bank.ts';
import type { HistoryVerdict } from '../oracle/compare.ts';
import type { RunResult } from '../runner/load-run.ts';
import type { BankPlan } from '../runner/scenarios.ts';

/** The bank scenario's findings (null in other scenarios). */
export interface BankReport {
  readonly accounts: number;
  readonly alpha: number;
  readonly totalBefore: number;
  readonly totalAfter: number;
  readonly totalsByNode: Record<string, number>;
  readonly transfersAcknowledged: number;
  readonly transfersInLog: number;
  readonly appliedOnce: number;
  readonly delivered: number;
  readonly refunded: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly stuck: number;
  /** Outbox items the nodes still reported when the oracle read the accounts (after waiting for them). */
  readonly outboxPendingAtCheck: number | null;
  readonly negativeBalances: number;
  readonly divergentReplicas: number;
  readonly transfersPerSecond: number;
  /** From sending a give to its acknowledgement. */
  readonly giveMs: { p50: number; p99: number };
  /** From the `given` entry to the `received` entry (owners' clocks); null when the nodes report no entry timestamps. */
  readonly deliveryMs: Percentiles | null;
  readonly ok: boolean;
}

export interface BankFindings {
  readonly plan: BankPlan;
  readonly verdict: BankVerdict;
  readonly outboxPendingAtCheck: number | undefined;
  readonly ok: boolean;
}

export interface LoadReport {
  readonly players: number;
  readonly durationSeconds: number;
  readonly scenario: string;
  readonly commandsSent: number;
  readonly commandsAcked: number;
  readonly commandsRejected: number;
  readonly commandsFailed: number;
  readonly throughputPerSecond: number;
  readonly latencyMs: RunResult['latencyMs'];
  readonly ackedEventsLost: number | null;
  readonly duplicateApplications: number | null;
  readonly divergentReplicas: number | null;
  readonly oracleDetails: readonly string[];
  readonly failover: RunResult['failover'];
  readonly stateUpdates: RunResult['stateUpdates'];
  readonly reconnects: number;
  readonly errorsByCode: Record<string, number>;
  readonly loadTesterEventLoopUtilisation: number;
  /** Chaos and scale steps that could not be carried out (the exit status is then 1). */
  readonly chaosFailures: readonly string[];
  readonly timeline: { seconds: RunResult['timeline']['seconds']; chaos: RunResult['timeline']['chaos'] };
  /** Aggregate copies the oracle read per node (empty when the oracle did not run). */
  readonly oracleCopiesByNode: Record<string, number>;
  readonly bank: BankReport | null;
}

function bankReport(result: RunResult, bank: BankFindings): BankReport {
  const { verdict } = bank;
  return {
    accounts: verdict.accounts,
    alpha: bank.plan.alpha,
    totalBefore: verdict.totalBefore,
    totalAfter: verdict.totalAfter,
    totalsByNode: verdict.totalsByNode,
    transfersAcknowledged: verdict.transfersAcknowledged,
    transfersInLog: verdict.transfersInLog,
    appliedOnce: verdict.appliedOnce,
    delivered: verdict.delivered,
    refunded: verdict.refunded,
    lost: verdict.lost,
    duplicated: verdict.duplicated,
    stuck: verdict.stuck,
    outboxPendingAtCheck: bank.outboxPendingAtCheck ?? null,
    negativeBalances: verdict.negativeBalances,
    divergentReplicas: verdict.divergentReplicas,
    transfersPerSecond: Math.round((verdict.transfersAcknowledged / result.durationSeconds) * 10) / 10,
    // Every command of the bank scenario is a give.
    giveMs: { p50: result.latencyMs.p50, p99: result.latencyMs.p99 },
    deliveryMs: verdict.deliveryMs,
    ok: bank.ok,
  };
}

export function buildReport(result: RunResult, scenario: string, verdict: HistoryVerdict | undefined, bank?: BankFindings): LoadReport {
  if (bank !== undefined) {
    return {
      ...buildReport(result, scenario, undefined),
      ackedEventsLost: bank.verdict.lost,
      duplicateApplications: bank.verdict.duplicated,
      divergentReplicas: bank.verdict.divergentReplicas,
      oracleDetails: bank.verdict.details,
      oracleCopiesByNode: bank.verdict.copiesByNode,
      bank: bankReport(result, bank),
    };
  }
  return {
    players: result.players,
    durationSeconds: result.durationSeconds,
    scenario,
    commandsSent: result.commandsSent,
    commandsAcked: result.commandsAcked,
    commandsRejected: result.commandsRejected,
    commandsFailed: result.commandsFailed,
    throughputPerSecond: Math.round((result.commandsAcked / result.durationSeconds) * 10) / 10,
    latencyMs: result.latencyMs,
    // The oracle runs for the list-append scenario; null means "not checked", never "zero".
    ackedEventsLost: verdict?.ackedEventsLost ?? null,
    duplicateApplications: verdict === undefined ? null : verdict.duplicateApplications + verdict.wrongSeq,
    divergentReplicas: verdict?.divergentReplicas ?? null,
    oracleDetails: verdict?.details ?? [],
    oracleCopiesByNode: verdict?.copiesByNode ?? {},
    failover: result.failover,
    stateUpdates: result.stateUpdates,
    reconnects: result.reconnects,
    errorsByCode: result.errorsByCode,
    loadTesterEventLoopUtilisation: Math.round(result.generatorUtilisation * 1000) / 1000,
    chaosFailures: result.chaosFailures,
    timeline: { seconds: result.timeline.seconds, chaos: result.timeline.chaos },
    bank: null,
  };
}
