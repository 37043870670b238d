/** The run's JSON report (fields as the load tester's documentation lists them). */
import type { HistoryVerdict } from '../oracle/compare.ts';
import type { RunResult } from '../runner/load-run.ts';

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
}

export function buildReport(result: RunResult, scenario: string, verdict: HistoryVerdict | undefined): LoadReport {
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
  };
}
