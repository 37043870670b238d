/**
 * One process per data directory and port (issue 28): the same config started twice, as the
 * production bundle runs it (`node server/bin/ringstate.mjs start --config node.json`), and a
 * dev node (`npm run start:node`, i.e. `cli.ts dev`) started beside a running node on its port
 * and data directory. The second process exits non-zero with one line naming the directory (or
 * port) and the first process's pid, before it touches anything; only the first listens, and it
 * keeps serving: a list-append load through it loses and duplicates nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECTORY_LOCK_FILE } from '../../server/src/log/index.ts';
import { portHolder } from '../../server/src/port-in-use.ts';
import { checkHistories, runListAppend } from '../support/list-append.ts';
import { freePort } from '../support/process-node.ts';
import { tempDir } from '../support/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PARTITIONS = 8;
const dirs: Array<ReturnType<typeof tempDir>> = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  // The production bundle (npm run build's last step), so the test runs what an operator runs.
  const build = await run(process.execPath, ['server/scripts/build-server.mjs']);
  expect(build.code, build.output).toBe(0);
}, 60_000);

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) dir.remove();
});

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

function start(args: readonly string[]): Started {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Runs to completion (at most 60 s) and returns its status and everything it printed. */
async function run(command: string, args: readonly string[]): Promise<{ code: number | null; output: string; stderr: string }> {
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (status) => resolve(status)));
  clearTimeout(timer);
  return { code, output: `${stdout}${stderr}`, stderr };
}

async function waitReady(node: Started, port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (node.child.exitCode !== null) throw new Error(`node exited early (${node.child.exitCode}):\n${node.output()}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`node did not become ready:\n${node.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stop(node: Started): Promise<void> {
  node.child.kill('SIGTERM');
  expect(await node.exited, node.output()).toBe(0);
}

/** The stderr lines a refused process printed (its log records, JSON, go to stdout). */
function lines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '');
}

/** A node's config: dev mode for its token issuer (the load needs tokens), otherwise as deployed. */
function writeConfig(dataRoot: string, port: number): { file: string; dataDir: string } {
  const dataDir = join(dataRoot, 'node-1');
  const file = join(dataRoot, 'node.json');
  writeFileSync(file, JSON.stringify({ nodeId: 'node-1', host: '127.0.0.1', port, dataDir, devMode: true, partitionCount: PARTITIONS, logLevel: 'warn' }));
  return { file, dataDir };
}

/** A short list-append load through the first node, then its log checked after a clean stop. */
async function loadThrough(node: Started, port: number, dataDir: string): Promise<void> {
  const histories = await runListAppend({ hosts: [`127.0.0.1:${port}`], players: ['a', 'b', 'c', 'd'], durationMs: 2_000 });
  const acked = histories.reduce((sum, history) => sum + history.acked.length, 0);
  expect(acked).toBeGreaterThan(20);
  expect(histories.reduce((sum, history) => sum + history.failed + history.indeterminate, 0)).toBe(0);
  await stop(node);
  const verdict = await checkHistories([dataDir], histories, PARTITIONS);
  expect(verdict.details).toEqual([]);
  expect(verdict.ackedEventsLost).toBe(0);
  expect(verdict.duplicateApplications).toBe(0);
  expect(verdict.wrongSeq).toBe(0);
}

describe('one process per data directory and port', () => {
  it('lock - the same config started twice: the second prints one line naming the directory and the first pid, exits 2, touches nothing; the first serves on', async () => {
    const root = tempDir('twice');
    dirs.push(root);
    const port = await freePort();
    const { file, dataDir } = writeConfig(root.path, port);
    const first = start(['server/bin/ringstate.mjs', 'start', '--config', file]);
    await waitReady(first, port);
    const before = readdirSync(dataDir).sort();

    const second = await run(process.execPath, ['server/bin/ringstate.mjs', 'start', '--config', file]);
    expect(second.code, second.output).toBe(2);
    const refusal = lines(second.stderr);
    expect(refusal, second.output).toHaveLength(1);
    expect(refusal[0]).toMatch(new RegExp(`^node-1: DATA_DIR_IN_USE: the data directory ${dataDir} is in use by process ${first.child.pid} \\(ringstate node node-1, since [^)]+\\); `));
    expect(second.output).not.toContain('    at ');
    // Nothing written by the second: the same files (no run marker), and one listener, the first.
    expect(readdirSync(dataDir).sort()).toEqual(before);
    expect(before).toContain(DIRECTORY_LOCK_FILE);
    expect(portHolder(port)?.pid).toBe(first.child.pid);

    await loadThrough(first, port, dataDir);
  }, 120_000);

  it('lock - a dev node (npm run start:node) beside a running node: refused on its data directory, and on its port with a directory of its own', async () => {
    const root = tempDir('dev-beside');
    dirs.push(root);
    const port = await freePort();
    const { file, dataDir } = writeConfig(root.path, port);
    const first = start(['--import', 'tsx', 'server/src/cli.ts', 'start', '--config', file]);
    await waitReady(first, port);

    // What `npm run start:node` runs, on the running node's port and data directory.
    const sameData = await run(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', 'dev', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn']);
    expect(sameData.code, sameData.output).toBe(2);
    expect(lines(sameData.stderr), sameData.output).toHaveLength(1);
    expect(lines(sameData.stderr)[0]).toContain(`DATA_DIR_IN_USE: the data directory ${dataDir} is in use by process ${first.child.pid} (ringstate node node-1`);

    // With a directory of its own, the port is the conflict: no SO_REUSEPORT, so the bind fails.
    const ownDir = join(root.path, 'dev');
    const samePort = await run(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', 'dev', '--port', String(port), '--data-dir', ownDir, '--log-level', 'warn']);
    expect(samePort.code, samePort.output).toBe(1);
    expect(lines(samePort.stderr), samePort.output).toHaveLength(1);
    expect(lines(samePort.stderr)[0]).toContain(`PORT_IN_USE: client port ${port} on 127.0.0.1 is in use by process ${first.child.pid} (`);
    expect(portHolder(port)?.pid).toBe(first.child.pid);

    await loadThrough(first, port, dataDir);
  }, 120_000);
});
