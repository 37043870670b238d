/** The load tester's progress line: it reports the whole interval since the previous line, not its last second. */
import { describe, expect, it } from 'vitest';
import { formatInterval, summariseInterval, type LiveSecond } from '../../../loadtest/src/runner/live-interval.ts';
import { newHistogram, type ChaosEvent } from '../../../loadtest/src/runner/timeline.ts';

function second(at: number, fields: { online: number; acked: number; latencyMs: number; errors?: number; reconnects?: number; chaos?: ChaosEvent[]; elu?: number }): LiveSecond {
  const latency = newHistogram();
  for (let n = 0; n < fields.acked; n += 1) latency.recordValue(Math.round(fields.latencyMs * 1000));
  return { fromSecond: at - 1, second: at, online: fields.online, acked: fields.acked, errors: fields.errors ?? 0, reconnects: fields.reconnects ?? 0, latency, chaos: fields.chaos ?? [], generatorUtilisation: fields.elu ?? 0.1 };
}

describe('loadtest - live interval', () => {
  it('live interval - a kill -9 three seconds before the line shows in it: reconnects, errors and acks summed, the dip in players online, the slow seconds in p99', () => {
    const kill: ChaosEvent = { second: 6, kind: 'kill', node: 'node-2' };
    const interval = [
      second(6, { online: 24, acked: 96, latencyMs: 5 }),
      second(7, { online: 2, acked: 10, latencyMs: 900, errors: 3, reconnects: 22, chaos: [kill], elu: 0.5 }),
      second(8, { online: 20, acked: 90, latencyMs: 6 }),
      second(9, { online: 24, acked: 96, latencyMs: 5 }),
      second(10, { online: 24, acked: 98, latencyMs: 4 }),
    ];
    const summary = summariseInterval(interval);
    expect(summary).toMatchObject({ second: 10, seconds: 5, onlineMin: 2, acked: 390, commandsPerSecond: 78, errors: 3, reconnects: 22, chaos: [kill] });
    // 10 of 390 acks took 900 ms: above the 99th percentile's rank, so p99 is the slow second's latency.
    expect(summary.p99Ms).toBeCloseTo(900, 0);
    expect(summary.p50Ms).toBeCloseTo(5, 1);
    expect(summary.generatorUtilisation).toBeCloseTo(0.18, 5);
    expect(formatInterval(summary)).toBe('t=10s (last 5 s) online min 2 acks 390 (78/s) p50 5.0 ms p99 900.1 ms errors 3 reconnects 22 loadtester-elu 18% [kill node-2]');
  });

  it('live interval - a single second is reported as it is, an idle interval has zero latency, an empty one is a programmer error', () => {
    const one = summariseInterval([second(3, { online: 5, acked: 10, latencyMs: 2, reconnects: 1 })]);
    expect(one).toMatchObject({ second: 3, seconds: 1, onlineMin: 5, acked: 10, commandsPerSecond: 10, reconnects: 1 });
    expect(formatInterval(one)).toMatch(/^t=3s online min 5 acks 10 \(10\/s\) p50 2\.0 ms/);
    const idle = summariseInterval([second(4, { online: 5, acked: 0, latencyMs: 0 }), second(5, { online: 5, acked: 0, latencyMs: 0 })]);
    expect(idle).toMatchObject({ p50Ms: 0, p99Ms: 0, commandsPerSecond: 0 });
    expect(() => summariseInterval([])).toThrow(/at least one second/);
  });

  it('live interval - a second that covers a stall counts its whole span, and the inputs are not changed', () => {
    const stalled: LiveSecond = { ...second(10, { online: 8, acked: 40, latencyMs: 3 }), fromSecond: 6 };
    const before = stalled.latency.totalCount;
    const summary = summariseInterval([stalled]);
    expect(summary).toMatchObject({ seconds: 4, commandsPerSecond: 10 });
    expect(stalled.latency.totalCount).toBe(before);
  });
});
