/** The dashboard's data sources: the bounded ownership history and the windowed command rates. */
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CommandStats, OwnershipHistory, type OwnershipEvent } from '../../../server/src/observability/index.ts';
import { renderDashboardPage } from '../../../server/src/observability/dashboard-page.ts';

const change = (partition: number): OwnershipEvent => ({ atMs: partition, partition, epoch: 1, role: 'owner', owner: 'n1', ready: true, reason: 'elected' });

describe('observability - dashboard data', () => {
  it('ownership history - keeps the newest entries up to its bound, newest first', () => {
    const history = new OwnershipHistory(3);
    expect(history.recent()).toEqual([]);
    for (let partition = 0; partition < 5; partition += 1) history.record(change(partition));
    expect(history.recent().map((event) => event.partition)).toEqual([4, 3, 2]);
    expect(history.recent(2).map((event) => event.partition)).toEqual([4, 3]);
    expect(history.recordedCount).toBe(5);
    expect(() => new OwnershipHistory(0)).toThrow();
  });

  it('command stats - rate and p99 over the window from the latency histogram', async () => {
    const histogram = new Histogram({ name: 'test_command_seconds', help: 'x', buckets: [0.001, 0.01, 0.1], registers: [new Registry()] });
    let nowMs = 0;
    const stats = new CommandStats(histogram, () => nowMs, 5_000);
    expect((await stats.read()).commandsPerSecond).toBeNull();
    for (let n = 0; n < 990; n += 1) histogram.observe(0.0005);
    for (let n = 0; n < 10; n += 1) histogram.observe(0.05);
    nowMs = 1_000;
    const first = await stats.read();
    expect(first.commandsPerSecond).toBeCloseTo(1000);
    expect(first.p99Ms).toBe(1);
    histogram.observe(5);
    histogram.observe(5);
    nowMs = 2_000;
    const second = await stats.read();
    expect(second.p99Ms).toBe(100);
    // Past the window the old traffic no longer counts.
    nowMs = 20_000;
    await stats.read();
    nowMs = 21_000;
    const idle = await stats.read();
    expect(idle.commandsPerSecond).toBe(0);
    expect(idle.p99Ms).toBeNull();
    expect(idle.commandsTotal).toBe(1002);
  });

  it('dashboard page - self-contained: no external URLs, a CSP that forbids them, the node id escaped', () => {
    const page = renderDashboardPage({ nodeId: '<script>x</script>' });
    expect(page).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(page).toContain("default-src 'none'");
    expect(page).toContain("connect-src 'self'");
    expect(page).not.toContain('<script>x</script>');
    expect(page).not.toMatch(/innerHTML/);
  });
});
