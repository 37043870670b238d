/**
 * The load tester end to end: its own local cluster, a kill -9 mid-run, the oracle over every
 * replica, and both reports. Short and small so it fits the suite; the acceptance run
 * (500 players, 60 s) is documented in docs/loadtest.md.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = tempDir('loadtest');
afterAll(() => dir.remove());

describe('load tester - CLI', () => {
  it('loadtest - a run with a kill reports 0 lost, 0 duplicates, 0 divergent, with recovery figures', () => {
    const report = join(dir.path, 'report.json');
    const html = join(dir.path, 'report.html');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'loadtest/src/cli.ts', '--cluster', '3', '--players', '24', '--ramp', '1', '--rate', '4', '--duration', '10', '--kill-at', '4', '--partitions', '16', '--report', report, '--html', html],
      { cwd: ROOT, encoding: 'utf8', timeout: 150_000 },
    );
    expect(run.status, run.stderr.slice(-3000)).toBe(0);
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as Record<string, unknown> & { failover: { kills: number; recoveryMs: { p99: number } }; stateUpdates: { expected: number; delivered: number } };
    for (const field of ['players', 'durationSeconds', 'commandsSent', 'commandsAcked', 'commandsRejected', 'commandsFailed', 'throughputPerSecond', 'latencyMs', 'ackedEventsLost', 'duplicateApplications', 'divergentReplicas', 'failover', 'stateUpdates', 'reconnects', 'errorsByCode']) {
      expect(parsed, field).toHaveProperty(field);
    }
    expect(parsed).toMatchObject({ players: 24, ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0 });
    expect(parsed['commandsAcked']).toBeGreaterThan(500);
    expect(parsed.failover.kills).toBe(1);
    expect(parsed.stateUpdates.delivered).toBeGreaterThan(0);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('<svg');
    expect(page).toContain('kill node-');
    expect(page).not.toMatch(/<script|https?:\/\//);
    console.log(run.stdout.split('\n').filter((line) => /recovery|p99|throughput/.test(line)).join(' '));
  }, 180_000);

  it('loadtest - scale out and in mid-run (--join-at, --leave-at): no failed command, the oracle covers the new node', () => {
    const report = join(dir.path, 'scale.json');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'loadtest/src/cli.ts', '--cluster', '3', '--players', '24', '--ramp', '1', '--rate', '4', '--duration', '12', '--join-at', '2', '--leave-at', '8', '--leave-node', 'node-1', '--partitions', '16', '--report', report],
      { cwd: ROOT, encoding: 'utf8', timeout: 150_000 },
    );
    expect(run.status, run.stderr.slice(-3000)).toBe(0);
    const parsed = JSON.parse(readFileSync(report, 'utf8')) as { commandsFailed: number; commandsAcked: number; ackedEventsLost: number; duplicateApplications: number; divergentReplicas: number; failover: { kills: number }; timeline: { chaos: Array<{ kind: string; node: string }> }; oracleCopiesByNode: Record<string, number> };
    expect(parsed).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, commandsFailed: 0 });
    expect(parsed.failover.kills).toBe(0);
    expect(parsed.commandsAcked).toBeGreaterThan(500);
    expect(parsed.timeline.chaos.map((event) => `${event.kind} ${event.node}`)).toEqual(['join node-4', 'leave node-1']);
    // Every player's aggregate was read on each of its 3 replicas; node-4 holds some of them, node-1 none.
    expect(Object.keys(parsed.oracleCopiesByNode).sort()).toEqual(['node-2', 'node-3', 'node-4']);
    expect(Object.values(parsed.oracleCopiesByNode).reduce((sum, count) => sum + count, 0)).toBe(24 * 3);
  }, 180_000);
});
