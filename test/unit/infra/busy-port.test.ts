/**
 * A port that another process holds is one line naming the port, that process and the flag that
 * moves it, not a stack trace: in the local cluster launcher (`npm start`, before it starts any
 * node) and in a single node (`cli.ts dev`, when its bind fails). A launcher whose data directory
 * another launcher holds is one line naming it and that launcher's pid, before it writes anything.
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DIRECTORY_LOCK_FILE, lockDirectory } from '../../../server/src/log/index.ts';
import { ROOT } from './k8s-manifests.ts';
import { tempDir } from '../../support/temp-dir.ts';

const servers: Server[] = [];
const dirs: Array<ReturnType<typeof tempDir>> = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
  for (const dir of dirs.splice(0)) dir.remove();
});

async function occupy(): Promise<number> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('busy port', () => {
  it('busy port - npm start with a taken client port prints one line naming it and --base-port, starts nothing, exits 1', async () => {
    const port = await occupy();
    const data = tempDir('busy-launcher');
    dirs.push(data);
    const result = await run(['infra/local/local-cluster.ts', '--base-port', String(port), '--peer-base-port', String(await occupy()), '--data', data.path]);
    expect(result.code).toBe(1);
    const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`PORT_IN_USE: port ${port}`);
    expect(lines[0]).toContain(`in use by process ${process.pid} (`);
    expect(lines[0]).toContain('--base-port');
  }, 90_000);

  it('busy port - npm start on a data directory another launcher holds prints one line naming it and that pid, writes nothing, exits 1', async () => {
    const data = tempDir('busy-launcher-data');
    dirs.push(data);
    // This test process plays the first launcher.
    const lock = lockDirectory(data.path, 'local cluster launcher');
    try {
      const result = await run(['infra/local/local-cluster.ts', '--base-port', '40201', '--peer-base-port', '40211', '--data', data.path]);
      expect(result.code).toBe(1);
      const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`DATA_DIR_IN_USE: the data directory ${data.path} is in use by process ${process.pid} (local cluster launcher, since `);
      expect(readdirSync(data.path)).toEqual([DIRECTORY_LOCK_FILE]);
    } finally {
      lock.release();
    }
  }, 90_000);

  it('busy port - a taken peer port names --peer-base-port', async () => {
    const peerPort = await occupy();
    const data = tempDir('busy-launcher-peer');
    dirs.push(data);
    // Client ports 40000+ are very likely free; the taken peer port is the first problem found.
    const result = await run(['infra/local/local-cluster.ts', '--nodes', '2', '--base-port', '40101', '--peer-base-port', String(peerPort), '--data', data.path]);
    expect(result.code).toBe(1);
    const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`port ${peerPort}`);
    expect(lines[0]).toContain('--peer-base-port');
  }, 90_000);

  it('busy port - a single dev node whose port is taken prints one line naming it and --port, exits 1', async () => {
    const port = await occupy();
    const data = tempDir('busy-node');
    dirs.push(data);
    const result = await run(['server/src/cli.ts', 'dev', '--port', String(port), '--data-dir', data.path, '--log-level', 'warn']);
    expect(result.code).toBe(1);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`PORT_IN_USE: client port ${port}`);
    expect(lines[0]).toContain(`in use by process ${process.pid} (`);
    expect(lines[0]).toContain('--port');
    expect(result.stderr).not.toContain('    at ');
  }, 90_000);
});
