/**
 * The live progress line: what happened over the whole interval since the previous line.
 *
 * Off a TTY the line comes every 5 s, so reporting only its last second would hide what the
 * other four saw (a kill -9 whose 22 reconnects fell two seconds before the line printed
 * "reconnects 0"). The interval's seconds are folded here: counts are summed, players online is
 * the minimum over the interval, latency percentiles come from the merged per-second
 * histograms (percentiles of percentiles would be wrong), utilisation is the mean.
 */
import type { Histogram } from 'hdr-histogram-js';
import { newHistogram, type ChaosEvent } from './timeline.ts';

/**
 * One closed second as the runner hands it out: what happened from `fromSecond` up to `second`
 * (more than one second when the runner's event loop stalled). `latency` (µs) is not written
 * to afterwards.
 */
export interface LiveSecond {
  readonly fromSecond: number;
  readonly second: number;
  readonly online: number;
  readonly acked: number;
  readonly errors: number;
  readonly reconnects: number;
  readonly latency: Histogram;
  readonly chaos: readonly ChaosEvent[];
  readonly generatorUtilisation: number;
}

export interface IntervalSummary {
  /** The end of the interval, and how many seconds it spans. */
  readonly second: number;
  readonly seconds: number;
  readonly onlineMin: number;
  readonly acked: number;
  readonly commandsPerSecond: number;
  readonly errors: number;
  readonly reconnects: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly chaos: readonly ChaosEvent[];
  readonly generatorUtilisation: number;
}

/** Folds the seconds since the previous line (at least one) into one summary; reads, never mutates, its input. */
export function summariseInterval(seconds: readonly LiveSecond[]): IntervalSummary {
  const first = seconds[0];
  const last = seconds.at(-1);
  if (first === undefined || last === undefined) throw new Error('summariseInterval needs at least one second');
  const span = Math.max(1, last.second - first.fromSecond);
  const latency = newHistogram();
  for (const entry of seconds) latency.add(entry.latency);
  const acked = seconds.reduce((sum, entry) => sum + entry.acked, 0);
  return {
    second: last.second,
    seconds: span,
    onlineMin: Math.min(...seconds.map((entry) => entry.online)),
    acked,
    commandsPerSecond: Math.round(acked / span),
    errors: seconds.reduce((sum, entry) => sum + entry.errors, 0),
    reconnects: seconds.reduce((sum, entry) => sum + entry.reconnects, 0),
    p50Ms: latency.totalCount === 0 ? 0 : latency.getValueAtPercentile(50) / 1000,
    p99Ms: latency.totalCount === 0 ? 0 : latency.getValueAtPercentile(99) / 1000,
    chaos: seconds.flatMap((entry) => entry.chaos),
    generatorUtilisation: seconds.reduce((sum, entry) => sum + entry.generatorUtilisation, 0) / seconds.length,
  };
}

export function formatInterval(summary: IntervalSummary): string {
  const chaos = summary.chaos.map((event) => ` [${event.kind} ${event.node}]`).join('');
  const span = summary.seconds === 1 ? '' : ` (last ${summary.seconds} s)`;
  return (
    `t=${summary.second}s${span} online min ${summary.onlineMin} acks ${summary.acked} (${summary.commandsPerSecond}/s)` +
    ` p50 ${summary.p50Ms.toFixed(1)} ms p99 ${summary.p99Ms.toFixed(1)} ms errors ${summary.errors} reconnects ${summary.reconnects}` +
    ` loadtester-elu ${(summary.generatorUtilisation * 100).toFixed(0)}%${chaos}`
  );
}
