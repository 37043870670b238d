/**
 * End-to-end tests of the peer layer: real libp2p nodes in this process on 127.0.0.1.
 * One cluster (a seed and two nodes bootstrapped only from it) is shared by the tests, which
 * run in order; the restart test goes last because it replaces a node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import {
  FORWARD_PROTOCOL,
  MessageTooLargeError,
  NoHandlerError,
  PeerUnavailableError,
  REPLICATION_PROTOCOL,
  RemoteHandlerError,
  RequestTimeoutError,
  createPeerNetwork,
  generateClusterKey,
  type Libp2pPeerNetwork,
  type PeerMessage,
  type PeerNetworkInit,
} from '../../server/src/peer/index.ts';

const CLUSTER_KEY = 'e2e-test-cluster-secret-0123456789';
const FAILURE_TIMEOUT_MS = 800; // the default, so the test measures what operators get
const SLACK_MS = 400;

interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

function captureLogger(nodeId: string): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const logger = pino({ level: 'debug', base: { nodeId } }, { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) });
  return { logger, records };
}

interface TestNode {
  net: Libp2pPeerNetwork;
  records: LogRecord[];
  received: PeerMessage[];
}

async function startNode(nodeId: string, init: Partial<PeerNetworkInit> = {}): Promise<TestNode> {
  const { logger, records } = captureLogger(nodeId);
  const net = createPeerNetwork(
    { nodeId, listen: { host: '127.0.0.1', port: 0 }, clusterKey: CLUSTER_KEY, ...init },
    { logger },
  );
  const received: PeerMessage[] = [];
  net.on('message', (m) => received.push(m));
  await net.start();
  return { net, records, received };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - started;
}

function aliveIds(node: TestNode): string[] {
  return node.net.members().filter((m) => m.alive).map((m) => m.nodeId);
}

describe('peer network (real libp2p on loopback)', () => {
  const nodes = new Map<string, TestNode>();
  const node = (id: string): TestNode => {
    const n = nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  };
  const ids = ['node-a', 'node-b', 'node-c'];
  /** Releases node-a's answers to `held` requests, in arrival order. */
  const heldAnswers: (() => void)[] = [];

  beforeAll(async () => {
    const seed = await startNode('node-a');
    nodes.set('node-a', seed);
    nodes.set('node-b', await startNode('node-b', { bootstrap: [seed.net.address()] }));
    // node-c accepts smaller messages than the others, for the oversize test; it bootstraps
    // through a hostname to exercise DNS resolution.
    const seedPort = seed.net.address().split(':')[1];
    nodes.set('node-c', await startNode('node-c', { bootstrap: [`localhost:${seedPort}`], messageBytesMax: 64 * 1024 }));
  });

  afterAll(async () => {
    await Promise.all([...nodes.values()].map((n) => n.net.stop()));
  });

  it('peer network - three nodes bootstrapped from one seed all see each other alive', async () => {
    const ms = await waitFor('full mesh', () => ids.every((id) => aliveIds(node(id)).length === 3), 5_000);
    for (const id of ids) {
      expect(aliveIds(node(id))).toEqual(ids);
      const self = node(id).net.members().find((m) => m.self);
      expect(self?.nodeId).toBe(id);
      expect(self?.address).toBe(node(id).net.address());
    }
    // node-b and node-c only knew the seed: they met through gossip.
    expect(node('node-b').net.members().find((m) => m.nodeId === 'node-c')?.address).toBe(node('node-c').net.address());
    console.info(`[measure] full mesh of 3 nodes after ${ms.toFixed(0)} ms`);
  });

  it('peer network - messages flow in order between each pair', async () => {
    const count = 300;
    for (const from of ids) {
      for (const to of ids) {
        if (from === to) continue;
        for (let seq = 0; seq < count; seq += 1) {
          expect(node(from).net.send(to, { seq, from, blob: new Uint8Array(seq % 50) })).toBe(true);
        }
      }
    }
    const expected = (to: string) => (ids.length - 1) * count;
    // What is checked is order, not speed: allow a machine busy with other work (CI, a second
    // test run) the time to carry 1,800 messages.
    await waitFor('all messages', () => ids.every((to) => node(to).received.length >= expected(to)), 20_000);
    for (const to of ids) {
      for (const from of ids) {
        if (from === to) continue;
        const seqs = node(to).received
          .filter((m) => m.from === from && m.protocol === REPLICATION_PROTOCOL)
          .map((m) => (m.message as { seq: number }).seq);
        expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i));
      }
      const sample = node(to).received[0]?.message as { blob: Uint8Array };
      expect(sample.blob).toBeInstanceOf(Uint8Array);
    }
  });

  it('peer network - request gets its response, and fails clearly on timeout, missing handler or a throwing handler', async () => {
    const a = node('node-a').net;
    const b = node('node-b').net;
    a.handle(FORWARD_PROTOCOL, (payload, from) => {
      const p = payload as { op: string };
      if (p.op === 'hang') return new Promise(() => undefined);
      if (p.op === 'held') return new Promise((resolve) => heldAnswers.push(() => resolve({ held: payload, from })));
      if (p.op === 'throw') throw Object.assign(new Error('handler exploded'), { code: 'BOOM' });
      return { echo: payload, from };
    });
    await expect(b.request('node-a', FORWARD_PROTOCOL, { op: 'echo', n: 1 }, 1_000)).resolves.toEqual({
      echo: { op: 'echo', n: 1 },
      from: 'node-b',
    });

    const started = performance.now();
    await expect(b.request('node-a', FORWARD_PROTOCOL, { op: 'hang' }, 150)).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(performance.now() - started).toBeLessThan(400);

    const thrown = await b.request('node-a', FORWARD_PROTOCOL, { op: 'throw' }, 1_000).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(RemoteHandlerError);
    expect((thrown as RemoteHandlerError).remoteCode).toBe('BOOM');
    await expect(b.request('node-a', REPLICATION_PROTOCOL, { op: 'echo' }, 1_000)).rejects.toBeInstanceOf(NoHandlerError);
    await expect(b.request('node-zz', FORWARD_PROTOCOL, {}, 1_000)).rejects.toBeInstanceOf(PeerUnavailableError);

    // Round trip on loopback, sequential requests.
    const rounds = 200;
    const t0 = performance.now();
    for (let i = 0; i < rounds; i += 1) await b.request('node-a', FORWARD_PROTOCOL, { op: 'echo', i }, 1_000);
    const perRoundMs = (performance.now() - t0) / rounds;
    console.info(`[measure] request round trip on loopback: ${(perRoundMs * 1000).toFixed(0)} µs`);
    expect(perRoundMs).toBeLessThan(20);
  });

  it('peer network - oversize messages are refused without crashing either side', async () => {
    const a = node('node-a').net;
    const big = new Uint8Array(5 * 1024 * 1024); // above the 4 MiB default of node-a
    const before = a.stats().droppedOversize;
    expect(a.send('node-b', { big })).toBe(false);
    expect(a.stats().droppedOversize).toBe(before + 1);
    await expect(a.request('node-b', FORWARD_PROTOCOL, { big }, 1_000)).rejects.toBeInstanceOf(MessageTooLargeError);

    // 100 KiB passes node-a's limit but not node-c's 64 KiB: node-c closes that stream.
    const c = node('node-c');
    const cBefore = c.net.stats().droppedOversize;
    expect(a.send('node-c', { medium: new Uint8Array(100 * 1024) })).toBe(true);
    await waitFor('node-c refuses the frame', () => c.net.stats().droppedOversize > cBefore, 2_000);
    expect(c.records.some((r) => r.level === 40 && r.msg.includes('bad data stream'))).toBe(true);
    // Traffic resumes on a new stream.
    await waitFor(
      'a message after the refused one',
      () => {
        a.send('node-c', { after: true });
        return c.received.some((m) => (m.message as { after?: boolean }).after === true);
      },
      3_000,
    );
    expect(aliveIds(c)).toEqual(ids);
  });

  it('peer network - a stranger without the cluster key cannot connect or deliver anything', async () => {
    const seed = node('node-a');
    const { logger, records } = captureLogger('stranger');
    const stranger = createPeerNetwork(
      {
        nodeId: 'stranger',
        listen: { host: '127.0.0.1', port: 0 },
        clusterKey: generateClusterKey(),
        bootstrap: [seed.net.address(), node('node-b').net.address()],
      },
      { logger },
    );
    await stranger.start();
    try {
      const refusedMs = await waitFor(
        'the seed logs the refused connection',
        () => seed.records.some((r) => r.level === 40 && r['security'] === 'peer_refused' && r['reason'] === 'CLUSTER_KEY_WRONG'),
        3_000,
      );
      // Usually tens of ms; bounded by connectTimeoutMs when garbled bytes look like a partial message.
      console.info(`[measure] stranger connection refused after ${refusedMs.toFixed(0)} ms`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(stranger.send('node-a', { evil: true })).toBe(false);
      await expect(stranger.request('node-a', FORWARD_PROTOCOL, {}, 200)).rejects.toBeInstanceOf(PeerUnavailableError);
      expect(stranger.members().map((m) => m.nodeId)).toEqual(['stranger']);
      expect(records.some((r) => r.level === 40 && r.msg.includes('cannot reach bootstrap peer'))).toBe(true);
      for (const id of ids) {
        expect(node(id).net.members().map((m) => m.nodeId)).not.toContain('stranger');
        expect(node(id).received.some((m) => (m.message as { evil?: boolean }).evil === true)).toBe(false);
      }
      expect(seed.net.stats().connectionsRefused).toBeGreaterThan(0);
    } finally {
      await stranger.stop();
    }
  });

  it('peer network - start fails cleanly when the port is taken', async () => {
    const port = Number(node('node-a').net.address().split(':')[1]);
    const { logger } = captureLogger('late');
    const late = createPeerNetwork({ nodeId: 'late', listen: { host: '127.0.0.1', port }, clusterKey: CLUSTER_KEY }, { logger });
    await expect(late.start()).rejects.toThrow();
    await late.stop();
  });

  it('peer network - a second process claiming a live node id is refused and logged', async () => {
    const { logger, records } = captureLogger('impostor');
    const impostor = createPeerNetwork(
      { nodeId: 'node-b', listen: { host: '127.0.0.1', port: 0 }, clusterKey: CLUSTER_KEY, bootstrap: [node('node-a').net.address()] },
      { logger },
    );
    await impostor.start();
    try {
      await waitFor(
        'node-a refuses the hello',
        () => node('node-a').records.some((r) => r.level === 40 && r.msg === 'refused peer hello' && r['reason'] === 'node-id-in-use'),
        3_000,
      );
      await waitFor('the impostor hears the refusal', () => records.some((r) => r.msg === 'peer refused our hello'), 1_000);
      expect(node('node-a').net.members().find((m) => m.nodeId === 'node-b')?.address).toBe(node('node-b').net.address());
      expect(impostor.members().filter((m) => m.alive).map((m) => m.nodeId)).toEqual(['node-b']);
    } finally {
      await impostor.stop();
    }
    expect(aliveIds(node('node-a'))).toEqual(ids);
  });

  it('peer network - a stopped node is marked down within the failure timeout and up again after a restart', async () => {
    const c = node('node-c');
    const downAt = new Map<string, number>();
    const unsubscribe = ['node-a', 'node-b'].map((id) =>
      node(id).net.on('member-down', (e) => {
        if (e.nodeId === 'node-c') downAt.set(id, performance.now());
      }),
    );
    // A request of this process that node-a answers only after node-c restarted (below).
    void c.net.request('node-a', FORWARD_PROTOCOL, { op: 'held', run: 'old' }, 30_000).catch(() => undefined);
    await waitFor('the old request held at node-a', () => heldAnswers.length === 1, 2_000);
    const stoppedAt = performance.now();
    await c.net.stop();
    await waitFor('node-c down on a and b', () => downAt.size === 2, FAILURE_TIMEOUT_MS + SLACK_MS + 500);
    const detectMs = Math.max(...downAt.values()) - stoppedAt;
    console.info(`[measure] dead peer detected after ${detectMs.toFixed(0)} ms (failureTimeoutMs ${FAILURE_TIMEOUT_MS})`);
    expect(detectMs).toBeLessThan(FAILURE_TIMEOUT_MS + SLACK_MS);
    for (const id of ['node-a', 'node-b']) {
      const entry = node(id).net.members().find((m) => m.nodeId === 'node-c');
      expect(entry?.alive).toBe(false);
      expect(node(id).net.send('node-c', { lost: true })).toBe(false);
    }
    unsubscribe.forEach((off) => off());

    // Same node id and port, a new process identity, and no bootstrap list: node-a and node-b
    // must find it again by redialing its address on their own.
    const port = Number(c.net.address().split(':')[1]);
    const restarted = await startNode('node-c', { listen: { host: '127.0.0.1', port } });
    nodes.set('node-c', restarted);
    const upMs = await waitFor('node-c up again everywhere', () => ids.every((id) => aliveIds(node(id)).length === 3), 5_000);
    console.info(`[measure] restarted node seen up by all after ${upMs.toFixed(0)} ms`);
    for (const id of ['node-a', 'node-b']) {
      expect(node(id).net.members().find((m) => m.nodeId === 'node-c')?.address).toBe(restarted.net.address());
    }
    await waitFor(
      'a message to the restarted node',
      () => {
        node('node-a').net.send('node-c', { hello: 'again' });
        return restarted.received.some((m) => m.from === 'node-a');
      },
      2_000,
    );

    // node-a now answers the old process's request, over its link to the new process, while a
    // request of the new process waits: the old answer must not settle it (with request ids
    // restarting at 1 in each process it did: a forwarded command got another command's result).
    const fresh = restarted.net.request('node-a', FORWARD_PROTOCOL, { op: 'held', run: 'new' }, 5_000);
    await waitFor('the new request held at node-a', () => heldAnswers.length === 2, 2_000);
    heldAnswers.shift()?.();
    await new Promise((resolve) => setTimeout(resolve, 100));
    heldAnswers.shift()?.();
    await expect(fresh).resolves.toEqual({ held: { op: 'held', run: 'new' }, from: 'node-c' });
  });
});
