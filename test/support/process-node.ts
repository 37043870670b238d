/**
 * Runs a node as a real child process (`tsx server/src/cli.ts`), for tests that kill -9,
 * SIGSTOP or restart it. Waits for /readyz before returning.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly httpUrl: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

export { freePort } from '../../loadtest/src/cluster/process-cluster.ts';
import { freePort } from '../../loadtest/src/cluster/process-cluster.ts';
import { randomNodeSecrets, secretEnv } from '../../loadtest/src/cluster/node-secrets.ts';

/** Random secrets for the nodes this test process spawns, the same across restarts; options.env wins. */
const SECRETS = randomNodeSecrets();

export async function spawnNode(options: { dataDir: string; port?: number; args?: string[]; env?: Record<string, string> }): Promise<NodeProcess> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', 'dev', '--port', String(port), '--data-dir', options.dataDir, '--log-level', 'warn', ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...secretEnv(SECRETS), ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`node exited early (${child.exitCode}):\n${output}`);
    try {
      const response = await fetch(`${httpUrl}/readyz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`node did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, port, url: `ws://127.0.0.1:${port}/v1/ws`, httpUrl, output: () => output, exited };
}
