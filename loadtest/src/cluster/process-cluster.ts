/**
 * An N-node cluster of real processes (`server/src/cli.ts start --config <file>`), for the load
 * tester, the cluster benchmark and the fault tests that kill -9, SIGSTOP, restart or wipe
 * nodes. Configs are written like infra/local does, with fresh random secrets shared by the
 * members (settings passed in win), so no test cluster runs on a public dev key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomNodeSecrets, secretSettings, type NodeSecrets } from './node-secrets.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface ProcessMember {
  readonly nodeId: string;
  /** Address clients and peers use: 127.0.0.1, or the node's namespace address. */
  readonly host: string;
  readonly namespace: string | undefined;
  readonly port: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly configFile: string;
  child: ChildProcess | undefined;
  output: string;
}

export interface ProcessCluster {
  readonly members: ProcessMember[];
  readonly root: string;
  /** The random secrets written into every member's config (settings passed in override them). */
  readonly secrets: NodeSecrets;
  /** The admin token the members use: settings' admin.token, else the random one. */
  readonly adminToken: string;
  start(nodeId: string): Promise<void>;
  /** Starts one more node (node-<n+1>, on loopback) that joins the running cluster; resolves once it is ready. */
  add(): Promise<ProcessMember>;
  kill(nodeId: string, signal?: NodeJS.Signals): Promise<void>;
  wipe(nodeId: string): void;
  /** Waits until GET /readyz answers 200 on every running member. */
  waitReady(timeoutMs?: number): Promise<void>;
  stopAll(): Promise<void>;
  remove(): void;
}

export interface ProcessClusterOptions {
  /** Run node i inside network namespace `namespaces[i]`, bound to `hosts[i]` (see netns-lab.ts). */
  readonly netns?: { readonly hosts: readonly string[]; readonly namespaces: readonly string[] };
  /**
   * Pin the ports: node i (0-based, members added later included) serves clients on
   * `basePort + i` and peers on `peerBasePort + i`, like infra/local's --base-port and
   * --peer-base-port. Without them every port is a free one picked at random.
   */
  readonly ports?: { readonly basePort: number; readonly peerBasePort: number };
  /** The `locality` setting of node i (0-based), e.g. several nodes on one simulated host. */
  readonly locality?: (index: number, nodeId: string) => { readonly zone?: string; readonly host?: string };
}

/** Ports for node `index`: pinned (`options.ports`), else free ones. */
async function portsFor(index: number, options: ProcessClusterOptions): Promise<{ port: number; peerPort: number }> {
  if (options.ports === undefined) return { port: await freePort(), peerPort: await freePort() };
  return { port: options.ports.basePort + index, peerPort: options.ports.peerBasePort + index };
}

export async function startProcessCluster(size: number, settings: Record<string, unknown> = {}, options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
  const dirPath = mkdtempSync(join(tmpdir(), 'ringstate-cluster-'));
  const dir = { path: dirPath, remove: () => rmSync(dirPath, { recursive: true, force: true }) };
  const ids = Array.from({ length: size }, (_, n) => `node-${n + 1}`);
  const secrets = randomNodeSecrets();
  const own = secretSettings(secrets);
  const section = (name: string): Record<string, unknown> => (settings[name] as Record<string, unknown> | undefined) ?? {};
  const members: ProcessMember[] = [];
  for (const [index, nodeId] of ids.entries()) {
    const host = options.netns?.hosts[index] ?? '127.0.0.1';
    members.push({ nodeId, host, namespace: options.netns?.namespaces[index], ...(await portsFor(index, options)), dataDir: join(dir.path, nodeId), configFile: join(dir.path, `${nodeId}.json`), child: undefined, output: '' });
  }
  // `ids` stays the founding set. A member added later gets no members at all, only bootstrap
  // peers, as an operator would configure a new node: it joins rather than founds.
  const writeConfig = (member: ProcessMember, joining = false): void => {
    const config = {
      nodeId: member.nodeId,
      host: member.host,
      port: member.port,
      advertisedHost: `${member.host}:${member.port}`,
      dataDir: member.dataDir,
      devMode: true,
      logLevel: process.env['CLUSTER_LOG'] ?? 'warn',
      partitionCount: 16,
      ...(options.locality === undefined ? {} : { locality: options.locality(members.indexOf(member), member.nodeId) }),
      ...settings,
      tokens: { ...own.tokens, ...section('tokens') },
      admin: { ...own.admin, ...section('admin') },
      secondLife: { ...own.secondLife, ...section('secondLife') },
      cluster: {
        enabled: true,
        key: own.cluster.key,
        members: joining ? [] : ids,
        peerHost: member.host,
        peerPort: member.peerPort,
        bootstrap: members.filter((other) => other !== member).map((other) => `${other.host}:${other.peerPort}`),
        ...section('cluster'),
      },
    };
    writeFileSync(member.configFile, JSON.stringify(config));
  };
  for (const member of members) writeConfig(member);
  const byId = (nodeId: string): ProcessMember => {
    const member = members.find((candidate) => candidate.nodeId === nodeId);
    if (member === undefined) throw new Error(`no member ${nodeId}`);
    return member;
  };
  const cluster: ProcessCluster = {
    members,
    root: dir.path,
    secrets,
    adminToken: typeof section('admin')['token'] === 'string' ? (section('admin')['token'] as string) : secrets.adminToken,
    async add() {
      if (options.netns !== undefined) throw new Error('adding members is not supported inside network namespaces');
      const nodeId = `node-${members.length + 1}`;
      const member: ProcessMember = { nodeId, host: '127.0.0.1', namespace: undefined, ...(await portsFor(members.length, options)), dataDir: join(dir.path, nodeId), configFile: join(dir.path, `${nodeId}.json`), child: undefined, output: '' };
      members.push(member);
      writeConfig(member, true);
      await cluster.start(nodeId);
      await cluster.waitReady();
      return member;
    },
    async start(nodeId) {
      const member = byId(nodeId);
      const args = [...(process.env['RINGSTATE_NODE_ARGS']?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', 'server/src/cli.ts', 'start', '--config', member.configFile];
      const child =
        member.namespace === undefined
          ? spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
          : spawn('ip', ['netns', 'exec', member.namespace, process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      member.child = child;
      child.stdout?.on('data', (chunk: Buffer) => (member.output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (member.output += chunk.toString()));
      // CLUSTER_LOG_DIR=<dir>: each node's output also goes to <dir>/<nodeId>.log (with CLUSTER_LOG=info to read a run).
      const logDir = process.env['CLUSTER_LOG_DIR'];
      if (logDir !== undefined && logDir !== '') {
        const file = createWriteStream(join(logDir, `${nodeId}.log`), { flags: 'a' });
        child.stdout?.pipe(file);
        child.stderr?.pipe(file);
      }
      child.once('exit', () => {
        if (member.child === child) member.child = undefined;
      });
    },
    async kill(nodeId, signal = 'SIGKILL') {
      const member = byId(nodeId);
      const child = member.child;
      if (child === undefined) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
    },
    wipe(nodeId) {
      rmSync(byId(nodeId).dataDir, { recursive: true, force: true });
    },
    async waitReady(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (const member of members) {
        for (;;) {
          if (member.child === undefined) break;
          try {
            if ((await fetch(`http://${member.host}:${member.port}/readyz`)).ok) break;
          } catch {
            // not up yet
          }
          if (Date.now() > deadline) throw new Error(`${member.nodeId} not ready:\n${member.output.slice(-3000)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
    async stopAll() {
      await Promise.all(members.map((member) => cluster.kill(member.nodeId, 'SIGTERM')));
    },
    remove() {
      dir.remove();
    },
  };
  // Never leave nodes behind when the driving process ends (a timeout, an uncaught error).
  process.once('exit', () => {
    for (const member of members) member.child?.kill('SIGKILL');
  });
  for (const member of members) await cluster.start(member.nodeId);
  await cluster.waitReady();
  return cluster;
}
