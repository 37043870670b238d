/**
 * Ways to stop and start a node for the rolling restart (procedure.ts).
 *
 * LocalProcessController: for nodes running as processes on this machine (`npm start`, or
 * `ringstate start` by hand). It asks the node for its pid (GET /v1/admin/stats, with the admin token),
 * records the process's command line, working directory and environment from /proc (Linux),
 * sends SIGTERM, waits for the exit, and starts the same command again as a detached process
 * whose output goes to a log file. The restarted nodes outlive this script, like the originals.
 *
 * CommandController: runs an operator's command per node, e.g.
 *   ssh {nodeId} sudo systemctl restart ringstate
 *   kubectl -n ringstate delete pod {nodeId}       (the StatefulSet recreates it)
 * The command must return once the old process is gone; the procedure then waits for /readyz.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeController, NodeTarget } from './procedure.ts';

interface Launch {
  readonly argv: string[];
  readonly cwd: string;
  readonly env: Record<string, string>;
}

export interface LocalRestart {
  readonly nodeId: string;
  readonly oldPid: number;
  readonly newPid: number;
  readonly logFile: string;
}

const STOP_TIMEOUT_MS_DEFAULT = 30_000;

export class LocalProcessController implements NodeController {
  readonly restarts: LocalRestart[] = [];
  private readonly launches = new Map<string, Launch & { oldPid: number }>();

  constructor(private readonly options: { logDir: string; adminToken?: string; stopTimeoutMs?: number; log?: (line: string) => void }) {}

  async stop(target: NodeTarget): Promise<void> {
    const pid = await this.pidOf(target);
    this.launches.set(target.nodeId, { ...readLaunch(pid), oldPid: pid });
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + (this.options.stopTimeoutMs ?? STOP_TIMEOUT_MS_DEFAULT);
    while (isRunning(pid)) {
      if (Date.now() > deadline) {
        this.options.log?.(`${target.nodeId}: pid ${pid} still running after SIGTERM; sending SIGKILL`);
        process.kill(pid, 'SIGKILL');
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async start(target: NodeTarget): Promise<void> {
    const launch = this.launches.get(target.nodeId);
    if (launch === undefined) throw new Error(`${target.nodeId} was not stopped by this controller`);
    mkdirSync(this.options.logDir, { recursive: true });
    const logFile = join(this.options.logDir, `${target.nodeId}.log`);
    const fd = openSync(logFile, 'a');
    try {
      const [command, ...args] = launch.argv;
      if (command === undefined) throw new Error(`empty command line for ${target.nodeId}`);
      const child = spawn(command, args, { cwd: launch.cwd, env: launch.env, detached: true, stdio: ['ignore', fd, fd] });
      child.unref();
      if (child.pid === undefined) throw new Error(`could not start ${target.nodeId}`);
      this.restarts.push({ nodeId: target.nodeId, oldPid: launch.oldPid, newPid: child.pid, logFile });
    } finally {
      closeSync(fd);
    }
  }

  private async pidOf(target: NodeTarget): Promise<number> {
    const response = await fetch(`http://${target.host}/v1/admin/stats`, {
      ...(this.options.adminToken === undefined ? {} : { headers: { authorization: `Bearer ${this.options.adminToken}` } }),
      signal: AbortSignal.timeout(2_000),
    });
    if (!response.ok) throw new Error(`${target.host}: GET /v1/admin/stats answered ${response.status}`);
    const pid = ((await response.json()) as { pid?: unknown }).pid;
    if (typeof pid !== 'number' || !isRunning(pid)) throw new Error(`${target.host}: no local process for pid ${String(pid)}; is the node on this machine?`);
    return pid;
  }
}

function readLaunch(pid: number): Launch {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '');
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const env: Record<string, string> = {};
  for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const equals = entry.indexOf('=');
    if (equals > 0) env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return { argv, cwd, env };
}

/** True while the process exists and is not a zombie waiting for its parent. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export class CommandController implements NodeController {
  constructor(private readonly template: string, private readonly log?: (line: string) => void) {}

  async stop(target: NodeTarget): Promise<void> {
    const command = this.template.replaceAll('{nodeId}', target.nodeId).replaceAll('{host}', target.host.replace(/:\d+$/, ''));
    this.log?.(`${target.nodeId}: ${command}`);
    await new Promise<void>((resolve, reject) => {
      const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'] });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
    });
  }

  async start(): Promise<void> {
    // The command restarts the node (systemctl restart, or the StatefulSet recreating the pod).
  }
}
