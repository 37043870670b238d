/** Starts an N-node cluster of GameNodes inside the test process (loopback, free ports). */
import { pino } from 'pino';
import { exampleGame } from '../../server/example-game/index.ts';
import { GameNode } from '../../server/src/game-node.ts';
import { loadConfig } from '../../server/src/config/index.ts';
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

export async function startTestCluster(size: number, overrides: Record<string, unknown> = {}): Promise<TestCluster> {
  const ids = Array.from({ length: size }, (_, n) => `node-${n + 1}`);
  const ports = new Map<string, { port: number; peerPort: number; dir: ReturnType<typeof tempDir> }>();
  for (const id of ids) ports.set(id, { port: await freePort(), peerPort: await freePort(), dir: tempDir(`cluster-${id}`) });
  const members: ClusterMember[] = [];
  const start = async (nodeId: string): Promise<ClusterMember> => {
    const slot = ports.get(nodeId);
    if (slot === undefined) throw new Error(`unknown node ${nodeId}`);
    const config = loadConfig({
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
          bootstrap: ids.filter((id) => id !== nodeId).map((id) => `127.0.0.1:${ports.get(id)?.peerPort}`),
        },
        ...overrides,
      },
    });
    const node = new GameNode({ config, aggregates: exampleGame, logger: pino({ level: process.env['CLUSTER_LOG'] ?? 'silent' }), processMetrics: false });
    const member = { nodeId, node, port: slot.port, peerPort: slot.peerPort, dataDir: slot.dir.path };
    const index = members.findIndex((m) => m.nodeId === nodeId);
    if (index >= 0) members[index] = member;
    else members.push(member);
    await node.start();
    return member;
  };
  await Promise.all(ids.map((id) => start(id)));
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
