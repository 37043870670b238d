/** Starts an N-node cluster of GameNodes inside the test process (loopback, free ports). */
import { pino, type Logger } from 'pino';
import { exampleGame } from '../../server/example-game/index.ts';
import { GameNode } from '../../server/src/game-node.ts';
import { loadConfig } from '../../server/src/config/index.ts';
import { secretEnv } from '../../loadtest/src/cluster/node-secrets.ts';
import { TEST_SECRETS } from './in-process-node.ts';
import { freePort } from './process-node.ts';
import { tempDir } from './temp-dir.ts';

export interface ClusterMember {
  nodeId: string;
  node: GameNode;
  port: number;
  peerPort: number;
  dataDir: string;
}

export interface TestCluster {
  members: ClusterMember[];
  start(nodeId: string): Promise<ClusterMember>;
  stop(nodeId: string): Promise<void>;
  stopAll(): Promise<void>;
}

export interface TestClusterOptions {
  /** Starts the founders this far apart (node-1 first), instead of all at once. */
  staggerMs?: number;
  /** A logger per node (default: silent, or the level in CLUSTER_LOG). */
  logger?: (nodeId: string) => Logger;
  /**
   * Nodes prepared but not started: node-(size+1) ... , not founding members, in every node's
   * bootstrap list; `start(id)` starts one, and it joins the ring (cluster.autoJoin).
   */
  spares?: number;
  /** Settings under `cluster` besides members, peer port and bootstrap. */
  clusterSettings?: Record<string, unknown>;
}

export async function startTestCluster(size: number, overrides: Record<string, unknown> = {}, options: TestClusterOptions = {}): Promise<TestCluster> {
  const ids = Array.from({ length: size }, (_, n) => `node-${n + 1}`);
  const spares = Array.from({ length: options.spares ?? 0 }, (_, n) => `node-${size + n + 1}`);
  const ports = new Map<string, { port: number; peerPort: number; dir: ReturnType<typeof tempDir> }>();
  for (const id of [...ids, ...spares]) ports.set(id, { port: await freePort(), peerPort: await freePort(), dir: tempDir(`cluster-${id}`) });
  const members: ClusterMember[] = [];
  const start = async (nodeId: string): Promise<ClusterMember> => {
    const slot = ports.get(nodeId);
    if (slot === undefined) throw new Error(`unknown node ${nodeId}`);
    const config = loadConfig({
      // Random secrets shared by the members (a cluster needs one cluster key); overrides win.
      env: secretEnv(TEST_SECRETS),
      overrides: {
        nodeId,
        port: slot.port,
        dataDir: slot.dir.path,
        devMode: true,
        logLevel: 'silent',
        durability: 'os',
        partitionCount: 16,
        cluster: {
          enabled: true,
          members: ids,
          peerPort: slot.peerPort,
          bootstrap: [...ports.keys()].filter((id) => id !== nodeId).map((id) => `127.0.0.1:${ports.get(id)?.peerPort}`),
          ...(options.clusterSettings ?? {}),
        },
        ...overrides,
      },
    });
    const logger = options.logger?.(nodeId) ?? pino({ level: process.env['CLUSTER_LOG'] ?? 'silent' });
    const node = new GameNode({ config, aggregates: exampleGame, logger, processMetrics: false });
    const member = { nodeId, node, port: slot.port, peerPort: slot.peerPort, dataDir: slot.dir.path };
    const index = members.findIndex((m) => m.nodeId === nodeId);
    if (index >= 0) members[index] = member;
    else members.push(member);
    await node.start();
    return member;
  };
  const staggerMs = options.staggerMs ?? 0;
  await Promise.all(ids.map(async (id, index) => {
    if (staggerMs > 0) await new Promise((resolve) => setTimeout(resolve, index * staggerMs));
    return start(id);
  }));
  return {
    members,
    start,
    async stop(nodeId) {
      await members.find((member) => member.nodeId === nodeId)?.node.stop();
    },
    async stopAll() {
      await Promise.all(members.map((member) => member.node.stop()));
      for (const slot of ports.values()) slot.dir.remove();
    },
  };
}
