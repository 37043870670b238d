/**
 * A store damaged on purpose while its node is stopped (an aggregate-index record pointing at
 * another aggregate's entry, written with lmdb directly): the restarted node answers that
 * aggregate STORE_DAMAGED and logs the repair command; `ringstate check` reports the record and
 * exits non-zero; `ringstate repair` fixes it; the node then serves the aggregate again, its
 * events intact and its seq continuing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { MessageType, PROTOCOL_VERSION, aggregateKey, partitionOf, type AckMessage, type RejectMessage } from '@ringstate/protocol';
import { LogStore } from '../../server/src/log/index.ts';
import { devToken } from '../support/in-process-node.ts';
import { spawnNode, type NodeProcess } from '../support/process-node.ts';
import { RawClient } from '../support/raw-client.ts';
import { tempDir } from '../support/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PARTITIONS = 64; // the default partitionCount of a dev node
const dir = tempDir('store-repair');
afterAll(() => dir.remove());

/** Sends `values` as append commands of `player`, one at a time; returns each answer. */
async function appendAll(node: NodeProcess, player: string, values: string[], prefix: string): Promise<Array<AckMessage | RejectMessage>> {
  const client = await RawClient.connect(node.url);
  try {
    client.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token: await devToken(node.httpUrl, player) });
    await client.waitFor((m) => m.t === MessageType.WELCOME);
    const answers: Array<AckMessage | RejectMessage> = [];
    for (const [index, value] of values.entries()) {
      const id = `${prefix}-${player}-${index}`;
      client.send({ t: MessageType.COMMAND, id, a: 'player', i: player, c: { type: 'append', value } });
      answers.push((await client.waitFor((m) => (m.t === MessageType.ACK || m.t === MessageType.REJECT) && (m as AckMessage).id === id)) as AckMessage | RejectMessage);
    }
    return answers;
  } finally {
    client.close();
  }
}

async function stop(node: NodeProcess): Promise<void> {
  node.child.kill('SIGTERM');
  expect(await node.exited).toBe(0);
}

function ringstate(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'server/src/cli.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A second player in the same partition as `player`, so the bad record points at a foreign entry of that partition. */
function neighbourOf(player: string): string {
  const partition = partitionOf('player', player, PARTITIONS);
  for (let n = 0; ; n += 1) if (partitionOf('player', `n${n}`, PARTITIONS) === partition && `n${n}` !== player) return `n${n}`;
}

describe('store repair - a damaged store is found, repaired, and serves again', () => {
  it('store repair - check reports a foreign index record, repair fixes it, and the aggregate continues its seq', async () => {
    const player = 'victim';
    const other = neighbourOf(player);
    const partition = partitionOf('player', player, PARTITIONS);
    let node = await spawnNode({ dataDir: dir.path });
    expect((await appendAll(node, player, ['a', 'b', 'c'], 'r1')).map((m) => (m as AckMessage).seq)).toEqual([1, 2, 3]);
    expect((await appendAll(node, other, ['x'], 'r1')).map((m) => (m as AckMessage).seq)).toEqual([1]);
    await stop(node);

    // The damage: the victim's seq 1 index record points at the neighbour's entry (lmdb directly, the store's options).
    const root = open({ path: dir.path, maxDbs: 12, compression: false });
    const entries = root.openDB<{ aggregate: string; seq: number }, [number, number]>({ name: 'entries' });
    const aggregates = root.openDB<number, [string, number]>({ name: 'aggregates' });
    const foreign = [...entries.getRange({ start: [partition, 0], end: [partition, Number.MAX_SAFE_INTEGER] })].find(({ value }) => value.aggregate === aggregateKey('player', other));
    expect(foreign).toBeDefined();
    const foreignPosition = foreign?.key[1] ?? 0;
    const victimPosition = aggregates.get([aggregateKey('player', player), 1]);
    aggregates.putSync([aggregateKey('player', player), 1], foreignPosition);
    await root.close();

    // The node refuses the victim with a code that says what to do, and serves the rest.
    node = await spawnNode({ dataDir: dir.path });
    const refused = await appendAll(node, player, ['d'], 'r2');
    expect(refused[0]).toMatchObject({ t: MessageType.REJECT, code: 'STORE_DAMAGED' });
    expect((await appendAll(node, other, ['y'], 'r2')).map((m) => (m as AckMessage).seq)).toEqual([2]);
    await stop(node);
    expect(node.output()).toContain(`ringstate repair --data ${dir.path}`);

    const check = ringstate('check', '--data', dir.path);
    expect(check.status, check.output).toBe(1);
    expect(check.output).toContain(
      `index [partition ${partition}, player/${player}, position ${victimPosition}]: the index record for player/${player} seq 1 points at ${partition}/${foreignPosition}, which holds player/${other} seq 1`,
    );

    const repair = ringstate('repair', '--data', dir.path);
    expect(repair.status, repair.output).toBe(0);
    expect(repair.output).toMatch(/^clean: /m);
    expect(ringstate('check', '--data', dir.path).status).toBe(0);

    node = await spawnNode({ dataDir: dir.path });
    expect((await appendAll(node, player, ['d'], 'r3')).map((m) => (m as AckMessage).seq)).toEqual([4]);
    await stop(node);

    const store = LogStore.open({ path: dir.path, durability: 'fsync' });
    try {
      const events = store.aggregateEntries(partition, aggregateKey('player', player), 0).map((entry) => [entry.seq, entry.events]);
      expect(events.map(([seq]) => seq)).toEqual([1, 2, 3, 4]);
      expect(JSON.stringify(events)).toMatch(/"a".*"b".*"c".*"d"/);
      store.verify();
    } finally {
      await store.close();
    }
  }, 120_000);
});
