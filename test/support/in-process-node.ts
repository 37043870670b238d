/** Starts a GameNode with the example game inside the test process, on a free port. */
import { pino } from 'pino';
import { exampleGame } from '../../server/example-game/index.ts';
import { GameNode } from '../../server/src/game-node.ts';
import { loadConfig, type ConfigInput } from '../../server/src/config/index.ts';
import { randomNodeSecrets, secretEnv } from '../../loadtest/src/cluster/node-secrets.ts';
import { tempDir } from './temp-dir.ts';

/**
 * Random secrets for every node this test process starts, the same across restarts (a restarted
 * node must still verify the tokens it issued). They come in as environment variables, below
 * the overrides, so a test that sets its own keys still wins.
 */
export const TEST_SECRETS = randomNodeSecrets();

export interface TestNode {
  node: GameNode;
  url: string;
  httpUrl: string;
  dataDir: string;
  stop: () => Promise<void>;
}

export async function startTestNode(overrides: Partial<ConfigInput> & Record<string, unknown> = {}, dataDir?: string): Promise<TestNode> {
  const dir = dataDir === undefined ? tempDir('node') : { path: dataDir, remove: () => undefined };
  const config = loadConfig({ env: secretEnv(TEST_SECRETS), overrides: { port: 0, dataDir: dir.path, devMode: true, replicationFactor: 1, logLevel: 'silent', ...overrides } });
  const node = new GameNode({ config, aggregates: exampleGame, logger: pino({ level: 'silent' }), processMetrics: false });
  await node.start();
  return {
    node,
    url: `ws://127.0.0.1:${node.port}/v1/ws`,
    httpUrl: `http://127.0.0.1:${node.port}`,
    dataDir: dir.path,
    stop: async () => {
      await node.stop();
      if (dataDir === undefined) dir.remove();
    },
  };
}

export async function devToken(httpUrl: string, player: string): Promise<string> {
  const response = await fetch(`${httpUrl}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player }) });
  if (!response.ok) throw new Error(`dev token: HTTP ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}
