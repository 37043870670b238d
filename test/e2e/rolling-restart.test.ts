/**
 * `npm run rolling-restart` on a 3-node cluster of real processes under the list-append load:
 * every node is stopped (SIGTERM, hand-over), restarted and caught up in turn while SDK clients
 * append; afterwards no command failed, none is left indeterminate, and the history checker
 * finds every acknowledged append exactly once, in order, on every replica.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isRunning } from '../../infra/rolling-restart/controllers.ts';
import { checkHistories, runListAppend, waitConverged } from '../support/list-append.ts';
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';

const PARTITIONS = 16;
let cluster: ProcessCluster | undefined;
let restartedPids: number[] = [];

async function stopPid(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (!isRunning(pid)) return;
  process.kill(pid, signal);
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isRunning(pid)) process.kill(pid, 'SIGKILL');
}

afterEach(async () => {
  // The restarted nodes are detached processes the cluster helper does not track.
  for (const pid of restartedPids) await stopPid(pid, 'SIGKILL', 5_000);
  restartedPids = [];
  await cluster?.stopAll();
  cluster?.remove();
  cluster = undefined;
});

interface Summary {
  ok: boolean;
  error?: string;
  totalMs: number;
  nodes: Array<{ nodeId: string; newPid: number; oldPid: number; stopMs: number; readyMs: number; caughtUpMs: number; logFile: string }>;
}

function runRollingRestart(hosts: readonly string[], logDir: string): Promise<{ code: number | null; summary: Summary; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'rolling-restart', '--', '--hosts', hosts.join(','), '--log-dir', logDir, '--phase-timeout-ms', '45000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').at(-1) ?? '{}';
      try {
        resolve({ code, summary: JSON.parse(last) as Summary, stderr });
      } catch {
        reject(new Error(`no summary from rolling-restart (exit ${code}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

describe('rolling restart - real processes', () => {
  it('rolling restart - every node restarted in turn under load: 0 failed commands, 0 acked events lost', async () => {
    cluster = await startProcessCluster(3, { partitionCount: PARTITIONS });
    const current = cluster;
    const hosts = current.members.map((member) => `${member.host}:${member.port}`);
    const players = Array.from({ length: 9 }, (_, n) => `rr${n}`);
    let run: Awaited<ReturnType<typeof runRollingRestart>> | undefined;
    let restartEndedMs = 0;
    let startedMs = 0;
    // The load runs until a second after the rolling restart finished (bounded at 120 s).
    const histories = await runListAppend({ hosts, players, durationMs: 120_000, commandTimeoutMs: 20_000, stopWhen: () => restartEndedMs > 0 && Date.now() - startedMs > restartEndedMs + 1_000 }, async (elapsed) => {
      startedMs = Date.now() - elapsed();
      while (elapsed() < 2_000) await new Promise((resolve) => setTimeout(resolve, 50));
      run = await runRollingRestart(hosts, join(current.root, 'logs'));
      restartEndedMs = elapsed();
      restartedPids = run.summary.nodes?.map((node) => node.newPid) ?? [];
    });
    if (run?.code !== 0) for (const member of current.members) console.log(`${member.nodeId} output:\n${member.output.slice(-2000)}`);
    expect(run?.summary.error, run?.stderr).toBeUndefined();
    expect(run?.code).toBe(0);
    const summary = (run as { summary: Summary }).summary;
    expect(summary.nodes.map((node) => node.nodeId).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    expect(summary.nodes.every((node) => node.newPid !== node.oldPid && isRunning(node.newPid))).toBe(true);
    // The load must have covered the whole restart, or the run proves less than it claims.
    expect(restartEndedMs).toBeGreaterThan(0);
    expect(histories.every((history) => history.acked.some((ack) => ack.ackedAtMs > startedMs + restartEndedMs))).toBe(true);

    await waitConverged(hosts, 30_000);
    for (const pid of restartedPids) await stopPid(pid, 'SIGTERM', 15_000);
    const acked = histories.reduce((sum, history) => sum + history.acked.length, 0);
    const failed = histories.reduce((sum, history) => sum + history.failed, 0);
    const indeterminate = histories.reduce((sum, history) => sum + history.indeterminate, 0);
    console.log(
      `rolling restart: ${summary.totalMs} ms for 3 nodes (${summary.nodes.map((node) => `${node.nodeId} stop ${node.stopMs} ms, ready ${node.readyMs} ms, caught up ${node.caughtUpMs} ms`).join('; ')}); ` +
        `load: acked ${acked}, failed ${failed}, indeterminate ${indeterminate}`,
    );
    const check = await checkHistories(current.members.map((member) => member.dataDir), histories, PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
    expect(failed).toBe(0);
    expect(indeterminate).toBe(0);
    expect(acked).toBeGreaterThan(players.length * 20);
  }, 180_000);
});
