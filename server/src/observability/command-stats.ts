/**
 * Commands per second and the p99 answer time over the last few seconds, derived from the
 * Prometheus histogram the gateway already feeds (ringstate_command_duration_seconds), so the
 * command path pays nothing extra. Sampled lazily when someone asks (the dashboard polls every
 * second): each call compares the histogram now with the oldest sample still inside the
 * window. The p99 is a bucket's upper bound, the resolution Prometheus would give too.
 */
import type { Histogram } from 'prom-client';

interface Sample {
  readonly atMs: number;
  readonly count: number;
  /** Cumulative bucket counts, in the order of `bounds`. */
  readonly buckets: readonly number[];
}

export interface CommandRates {
  /** Commands answered per second over `windowMs`; null until two samples exist. */
  readonly commandsPerSecond: number | null;
  /** Upper bound (ms) of the bucket holding the 99th percentile; null without commands in the window. */
  readonly p99Ms: number | null;
  /** True when the p99 lies beyond the largest bucket (then p99Ms is that bucket's bound). */
  readonly p99AboveMax: boolean;
  readonly windowMs: number;
  readonly commandsTotal: number;
}

const SAMPLE_SPACING_MS = 250;
export const COMMAND_STATS_WINDOW_MS = 5_000;

export class CommandStats {
  private readonly samples: Sample[] = [];
  private bounds: number[] = [];

  constructor(
    private readonly histogram: Histogram<string>,
    private readonly nowMs: () => number,
    private readonly windowMs: number = COMMAND_STATS_WINDOW_MS,
  ) {}

  async read(): Promise<CommandRates> {
    const current = await this.sampleNow();
    while (this.samples.length > 0 && current.atMs - (this.samples[0] as Sample).atMs > this.windowMs) this.samples.shift();
    const base = this.samples[0];
    const last = this.samples.at(-1);
    if (last === undefined || current.atMs - last.atMs >= SAMPLE_SPACING_MS) this.samples.push(current);
    if (base === undefined || current.atMs - base.atMs < SAMPLE_SPACING_MS) {
      return { commandsPerSecond: null, p99Ms: null, p99AboveMax: false, windowMs: this.windowMs, commandsTotal: current.count };
    }
    const delta = current.count - base.count;
    const commandsPerSecond = (delta * 1000) / (current.atMs - base.atMs);
    const { p99Ms, aboveMax } = this.percentile(base, current, 0.99);
    return { commandsPerSecond, p99Ms, p99AboveMax: aboveMax, windowMs: current.atMs - base.atMs, commandsTotal: current.count };
  }

  private percentile(base: Sample, current: Sample, quantile: number): { p99Ms: number | null; aboveMax: boolean } {
    const delta = current.count - base.count;
    if (delta <= 0) return { p99Ms: null, aboveMax: false };
    const rank = quantile * delta;
    for (const [index, bound] of this.bounds.entries()) {
      if ((current.buckets[index] ?? 0) - (base.buckets[index] ?? 0) >= rank) return { p99Ms: bound * 1000, aboveMax: false };
    }
    return { p99Ms: (this.bounds.at(-1) ?? 0) * 1000, aboveMax: true };
  }

  private async sampleNow(): Promise<Sample> {
    const { values } = await this.histogram.get();
    const bounds: number[] = [];
    const buckets: number[] = [];
    let count = 0;
    for (const value of values) {
      if (value.metricName?.endsWith('_bucket') === true && value.labels['le'] !== '+Inf') {
        bounds.push(Number(value.labels['le']));
        buckets.push(value.value);
      } else if (value.metricName?.endsWith('_count') === true) {
        count = value.value;
      }
    }
    this.bounds = bounds;
    return { atMs: this.nowMs(), count, buckets };
  }
}
