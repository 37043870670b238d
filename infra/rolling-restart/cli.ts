/**
 * npm run rolling-restart -- [--hosts 127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003]
 *                            [--admin-token <token>] [--command '<restart command with {nodeId}>']
 *                            [--log-dir <dir>] [--phase-timeout-ms 60000]
 *
 * Restarts every node of a cluster in turn (procedure.ts): SIGTERM, wait for the exit, start,
 * wait for /readyz and for the node to catch up, then the next. Without --command it restarts
 * local processes (the `npm start` cluster by default); with --command it runs that command per
 * node instead (systemd over ssh, kubectl delete pod). The last line of output is a JSON summary.
 * Exit status: 0 when every node was restarted and the cluster is healthy, 1 otherwise.
 *
 * The admin token (the nodes' admin.token) comes from --admin-token or, better, from the
 * environment variable RINGSTATE_ADMIN_TOKEN, which keeps it out of `ps` and shell history.
 * Outside dev mode every admin request needs it, from the node's own machine too.
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CommandController, LocalProcessController } from './controllers.ts';
import { rollingRestart } from './procedure.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003' },
    'admin-token': { type: 'string' },
    command: { type: 'string' },
    'log-dir': { type: 'string', default: join(tmpdir(), 'ringstate-rolling-restart') },
    'phase-timeout-ms': { type: 'string', default: '60000' },
  },
});

const log = (line: string): void => console.error(`[rolling-restart] ${line}`);
const hosts = String(values.hosts)
  .split(',')
  .map((host) => host.trim())
  .filter((host) => host !== '');
// The flag wins; the environment variable is the one nodes read admin.token from.
const adminToken = values['admin-token'] ?? (process.env['RINGSTATE_ADMIN_TOKEN'] || undefined);
const phaseTimeoutMs = Number(values['phase-timeout-ms']);
if (hosts.length === 0 || !Number.isInteger(phaseTimeoutMs) || phaseTimeoutMs <= 0) {
  log('usage: --hosts host:port,host:port,... [--admin-token t | RINGSTATE_ADMIN_TOKEN=t] [--phase-timeout-ms n]');
  process.exit(2);
}
const local = values.command === undefined ? new LocalProcessController({ logDir: resolve(String(values['log-dir'])), ...(adminToken === undefined ? {} : { adminToken }), log }) : undefined;
const controller = local ?? new CommandController(String(values.command), log);

try {
  const startedMs = Date.now();
  const reports = await rollingRestart({ hosts, controller, ...(adminToken === undefined ? {} : { adminToken }), phaseTimeoutMs, log });
  log(`done: ${reports.length} node(s) restarted in ${Date.now() - startedMs} ms`);
  const restarts = local?.restarts ?? [];
  console.log(JSON.stringify({ ok: true, totalMs: Date.now() - startedMs, nodes: reports.map((report) => ({ ...report, ...restarts.find((restart) => restart.nodeId === report.nodeId) })) }));
} catch (error) {
  log(`failed: ${(error as Error).message}`);
  console.log(JSON.stringify({ ok: false, error: (error as Error).message, restarted: local?.restarts ?? [] }));
  process.exitCode = 1;
}
