/**
 * Network partition between real hosts: each node runs in its own network namespace; one node
 * is cut off from the others with iptables while SDK clients keep appending through every
 * node. The minority side must refuse writes with a retryable error, the majority must keep
 * serving, and after the heal every replica must hold the same history with every
 * acknowledged append exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageType, PROTOCOL_VERSION, type RejectMessage } from '@ringstate/protocol';
import { checkHistories, percentile, recoveryTimesMs, runListAppend, waitConverged } from '../support/list-append.ts';
import { createNetnsLab, type NetnsLab } from '../support/netns-lab.ts';
import { startProcessCluster, type ProcessCluster } from '../support/process-cluster.ts';
import { RawClient } from '../support/raw-client.ts';

const PARTITIONS = 16;
const ADMIN_TOKEN = 'partition-test-admin-token-0123456789abcdef';
let lab: NetnsLab;
let cluster: ProcessCluster | undefined;

beforeAll(() => {
  lab = createNetnsLab(3);
});
afterAll(async () => {
  await cluster?.stopAll();
  cluster?.remove();
  lab?.teardown();
});

describe('cluster partition - network namespaces and iptables', () => {
  it('partition - an isolated node refuses writes, the majority serves, and histories agree after the heal', async () => {
    cluster = await startProcessCluster(3, { partitionCount: PARTITIONS, admin: { token: ADMIN_TOKEN } }, { netns: lab });
    const hosts = cluster.members.map((member) => `${member.host}:${member.port}`);
    const players = Array.from({ length: 9 }, (_, n) => `np${n}`);
    const isolated = 2;
    let cutAtMs = 0;
    let minorityAnswer: RejectMessage | undefined;
    const histories = await runListAppend({ hosts, players, durationMs: 10_000 }, async (elapsed) => {
      while (elapsed() < 2_000) await new Promise((resolve) => setTimeout(resolve, 50));
      cutAtMs = Date.now();
      lab.isolate(isolated);
      // Past check-quorum, a write sent to the isolated node is refused with a retryable code.
      while (elapsed() < 4_500) await new Promise((resolve) => setTimeout(resolve, 50));
      minorityAnswer = await writeOn(hosts[isolated] ?? '', 'minority-probe');
      while (elapsed() < 6_000) await new Promise((resolve) => setTimeout(resolve, 50));
      lab.heal();
    });
    await waitConverged(hosts, 30_000, ADMIN_TOKEN).catch((error: unknown) => {
      for (const member of cluster?.members ?? []) console.log(`--- ${member.nodeId} (running: ${member.child !== undefined})\n${member.output.slice(-4000)}`);
      throw error;
    });
    const recovery = recoveryTimesMs(histories, cutAtMs);
    console.log(`isolated node-${isolated + 1} for 4 s: recovery ms p50 ${percentile(recovery, 0.5)} p99 ${percentile(recovery, 0.99)} max ${recovery.at(-1)}; acked ${histories.reduce((n, h) => n + h.acked.length, 0)}; minority answered ${minorityAnswer?.code}`);
    expect(minorityAnswer).toMatchObject({ retry: true });
    expect(['UNAVAILABLE', 'NO_QUORUM']).toContain(minorityAnswer?.code);
    await cluster.stopAll();
    const check = await checkHistories(cluster.members.map((member) => member.dataDir), histories, PARTITIONS);
    expect(check.details).toEqual([]);
    expect(check).toMatchObject({ ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0 });
  }, 150_000);
});

/** One command straight to `host` over a raw socket; returns the REJECT (or undefined on ACK). */
async function writeOn(host: string, player: string): Promise<RejectMessage | undefined> {
  const response = await fetch(`http://${host}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player }) });
  const { token } = (await response.json()) as { token: string };
  const client = await RawClient.connect(`ws://${host}/v1/ws`);
  try {
    client.send({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token });
    await client.waitFor((m) => m.t === MessageType.WELCOME);
    client.send({ t: MessageType.COMMAND, id: 'probe', a: 'player', i: player, c: { type: 'append', value: 'probe' } });
    const answer = await client.waitFor((m) => (m.t === MessageType.ACK || m.t === MessageType.REJECT) && m.id === 'probe', 15_000);
    return answer.t === MessageType.REJECT ? (answer as RejectMessage) : undefined;
  } finally {
    client.close();
  }
}
