/**
 * The Second Life API in a cluster: a signed command sent to a node that does not own the
 * aggregate's partition goes through that node's router and is forwarded to the owner (as
 * WebSocket clients' commands are), so an object may talk to any node of its host list.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { partitionOf } from '@ringstate/protocol';
import { llHMAC } from '../support/lsl-emulator.ts';
import { startTestCluster, type TestCluster } from '../support/in-process-cluster.ts';

const MASTER_KEY = 'test-second-life-master-key-0123456789abcdef';
const PARTITIONS = 16;

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

async function post(url: string, creds: { objectId: string; secret: string; exp: number }, body: string, path = '/v1/sl/commands'): Promise<{ status: number; body: Record<string, unknown> }> {
  const time = Math.floor(Date.now() / 1000);
  const nonce = `n-${Math.random().toString(36).slice(2, 14)}`;
  const signature = llHMAC(creds.secret, `POST\n${path}\n${time}\n${nonce}\n${body}`);
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    body,
    headers: { 'x-ringstate-object': creds.objectId, 'x-ringstate-expires': String(creds.exp), 'x-ringstate-time': String(time), 'x-ringstate-nonce': nonce, 'x-ringstate-signature': signature },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('second-life - cluster', () => {
  it('second-life - a command sent to a node that does not own the aggregate is forwarded to the owner and applied once; the credential works on every node and a revocation reaches every member', async () => {
    cluster = await startTestCluster(3, { partitionCount: PARTITIONS, secondLife: { enabled: true, masterKey: MASTER_KEY } });
    const members = cluster.members;
    // Wait until every partition has a ready owner that all members agree on.
    const deadline = Date.now() + 20_000;
    const ownerOf = (partition: number) => members[0]?.node.clusterView().partitions[partition]?.owner ?? null;
    while (Date.now() < deadline && !members.every((m) => m.node.clusterView().partitions.every((row, p) => row.owner !== null && row.owner === ownerOf(p)))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // A player whose partition another node owns than the one we send to.
    const via = members[1];
    if (via === undefined) throw new Error('no member');
    let player = '';
    for (let n = 0; n < 200 && player === ''; n += 1) {
      const owner = ownerOf(partitionOf('player', `sl${n}`, PARTITIONS));
      if (owner !== null && owner !== via.nodeId) player = `sl${n}`;
    }
    const owner = members.find((m) => m.nodeId === ownerOf(partitionOf('player', player, PARTITIONS)));
    if (owner === undefined) throw new Error('no owner found');
    const url = `http://127.0.0.1:${via.port}`;
    const token = (await (await fetch(`${url}/v1/dev/token`, { method: 'POST', body: JSON.stringify({ player }) })).json()) as { token: string };
    const provisioned = await fetch(`${url}/v1/sl/objects`, { method: 'POST', headers: { authorization: `Bearer ${token.token}` } });
    expect(provisioned.status).toBe(200);
    const creds = (await provisioned.json()) as { objectId: string; secret: string; exp: number };

    const body = JSON.stringify({ id: 'sl-forward-1', a: 'player', i: player, c: { type: 'append', value: 'from-sl' } });
    let answer = await post(url, creds, body);
    // Owners may still be settling after founding (seconds on a loaded machine): a retryable
    // answer is retried with the same id for up to 15 s.
    for (let attempt = 0; answer.status !== 200 && attempt < 75; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      answer = await post(url, creds, body);
    }
    expect(answer).toMatchObject({ status: 200 });
    expect(answer.body['seq']).toBe(1);
    // The owner applied it; a retry through the same non-owner node is a duplicate.
    const committed = owner.node.runtime.subscribe('player', player, player, undefined, { onUpdate: () => undefined });
    committed.close();
    expect(committed.seq).toBe(1);
    const again = await post(url, creds, body);
    expect(again).toMatchObject({ status: 200, body: { seq: 1 } });

    // The credential is stateless: the owner verifies it too. A revocation on one node reaches
    // every member (credentials are verified wherever the object sends).
    expect(await post(`http://127.0.0.1:${owner.port}`, creds, body)).toMatchObject({ status: 200, body: { seq: 1, dup: 1 } });
    expect(await post(url, creds, '{}', '/v1/sl/revoke')).toMatchObject({ status: 200 });
    for (const member of members) {
      let refused = await post(`http://127.0.0.1:${member.port}`, creds, body);
      for (let attempt = 0; refused.status !== 401 && attempt < 20; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        refused = await post(`http://127.0.0.1:${member.port}`, creds, body);
      }
      expect(refused, member.nodeId).toMatchObject({ status: 401, body: { error: { reason: 'OBJECT_REVOKED' } } });
    }
  });
});
