/**
 * The per-connection limits, driven in-process through a fake ConnectionPort and a fake clock.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { CloseCodes, MessageType, PROTOCOL_VERSION, decodeFrame, encodeFrame, type ServerMessage } from '@ringstate/protocol';
import { exampleGame } from '../../../server/example-game/index.ts';
import { AggregateRegistry, AggregateRuntime } from '../../../server/src/aggregate/index.ts';
import { PlayerTokens } from '../../../server/src/auth/index.ts';
import { loadConfig } from '../../../server/src/config/index.ts';
import { ClientSession, type ConnectionPort } from '../../../server/src/gateway/index.ts';
import { CommandRouter, InFlightCommands } from '../../../server/src/router/index.ts';
import { LogStore } from '../../../server/src/log/index.ts';
import { NodeMetrics } from '../../../server/src/observability/index.ts';
import { LocalPartitionLog } from '../../../server/src/partition/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

class FakePort implements ConnectionPort {
  readonly sent: ServerMessage[] = [];
  closedWith: number | undefined;
  buffered = 0;
  send(frame: Uint8Array): void {
    this.sent.push(decodeFrame(frame) as ServerMessage);
  }
  close(code: number): void {
    this.closedWith = code;
  }
  bufferedBytes(): number {
    return this.buffered;
  }
}

let dir: ReturnType<typeof tempDir>;
let store: LogStore;
let nowMs = 1_000_000;
const config = loadConfig({ overrides: { devMode: true, limits: { messagesPerSecondMax: 10, rateViolationsBeforeClose: 5, subscriptionsPerConnectionMax: 2, outgoingBufferBytesMax: 1000 } } });
const tokens = new PlayerTokens(config.tokens);

async function readySession(inFlight?: InFlightCommands): Promise<{ session: ClientSession; port: FakePort }> {
  const runtime = new AggregateRuntime({
    registry: new AggregateRegistry(exampleGame),
    store,
    log: new LocalPartitionLog(store),
    nowMs: () => nowMs,
    settings: { partitionCount: 8, snapshotEveryEvents: 100, aggregateIdleMs: 1000, activeAggregatesMax: 100, commandQueueMax: 100, docResidentMs: 1000 },
  });
  const port = new FakePort();
  const session = new ClientSession(
    port,
    { runtime, router: new CommandRouter({ runtime, admission: inFlight ?? new InFlightCommands(0) }), tokens, limits: config.limits, nodeId: 'n1', metrics: new NodeMetrics({ defaultMetrics: false }), logger: pino({ level: 'silent' }), nowMs: () => nowMs, isShuttingDown: () => false },
    's1',
  );
  // Issued on the session's clock: a token whose iat lies in the verifier's future counts its lifetime from now.
  const { token } = await tokens.issue('ann', 60_000, nowMs);
  session.receive(encodeFrame({ t: MessageType.HELLO, v: PROTOCOL_VERSION, token }), true);
  for (let tries = 0; tries < 100 && !port.sent.some((m) => m.t === MessageType.WELCOME); tries += 1) await new Promise((r) => setTimeout(r, 5));
  return { session, port };
}

beforeEach(() => {
  dir = tempDir('session');
  store = LogStore.open({ path: dir.path, durability: 'os' });
});
afterEach(async () => {
  await store.close();
  dir.remove();
});

describe('session limits', () => {
  it('limits - messages beyond the rate get RATE_LIMITED, and persistent abuse closes with 4008', async () => {
    const { session, port } = await readySession();
    for (let n = 0; n < 40; n += 1) session.receive(encodeFrame({ t: MessageType.PING, n }), true);
    expect(port.sent.filter((m) => m.t === MessageType.PONG).length).toBeLessThanOrEqual(20);
    expect(port.sent.some((m) => m.t === MessageType.ERROR && m.code === 'RATE_LIMITED')).toBe(true);
    expect(port.closedWith).toBe(CloseCodes.RATE_LIMIT_EXCEEDED);
  });

  it('limits - a rate-limited command is answered with a retryable REJECT carrying its id', async () => {
    const { session, port } = await readySession();
    // HELLO took one token of the burst of 20; 23 commands leave 4 rate-limited, below the close threshold.
    for (let n = 0; n < 23; n += 1) session.receive(encodeFrame({ t: MessageType.COMMAND, id: `c${n}`, a: 'player', i: 'ann', c: { type: 'score', points: 1 } }), true);
    const limited = port.sent.find((m) => m.t === MessageType.REJECT && m.code === 'RATE_LIMITED');
    expect(limited).toMatchObject({ retry: true });
    // The bucket refills with time.
    nowMs += 2_000;
    session.receive(encodeFrame({ t: MessageType.PING, n: 1 }), true);
    expect(port.sent.at(-1)).toEqual({ t: MessageType.PONG, n: 1 });
  });

  it('limits - subscriptions beyond the per-connection maximum are refused with TOO_MANY_SUBSCRIPTIONS', async () => {
    const { session, port } = await readySession();
    for (const id of ['a', 'b', 'c']) session.receive(encodeFrame({ t: MessageType.SUB, a: 'player', i: id }), true);
    expect(port.sent.filter((m) => m.t === MessageType.SNAPSHOT)).toHaveLength(2);
    expect(port.sent.find((m) => m.t === MessageType.UNSUBBED)).toMatchObject({ i: 'c', code: 'TOO_MANY_SUBSCRIPTIONS' });
    expect(session.subscriptionCount).toBe(2);
  });

  it('limits - a slow consumer whose outgoing buffer passes the limit is closed with 4009', async () => {
    const { session, port } = await readySession();
    port.buffered = 5_000;
    session.receive(encodeFrame({ t: MessageType.PING, n: 1 }), true);
    expect(port.closedWith).toBe(CloseCodes.SLOW_CONSUMER);
    session.receive(encodeFrame({ t: MessageType.PING, n: 2 }), true);
    expect(port.sent.filter((m) => m.t === MessageType.PONG)).toHaveLength(1);
  });

  it('limits - beyond commandsInFlightMax a node answers OVERLOADED at once, and slots come back as commands finish', async () => {
    const inFlight = new InFlightCommands(2);
    const { session, port } = await readySession(inFlight);
    // Two slots are taken elsewhere (say, forwarded commands): this client's command is refused.
    expect(inFlight.admit()).toBeUndefined();
    expect(inFlight.admit()).toBeUndefined();
    session.receive(encodeFrame({ t: MessageType.COMMAND, id: 'c1', a: 'player', i: 'ann', c: { type: 'move', x: 1, y: 1 } }), true);
    // Refused before anything runs: the answer leaves within the same turn of the event loop.
    await Promise.resolve();
    await Promise.resolve();
    const refused = port.sent.find((m) => m.t === MessageType.REJECT && m.id === 'c1');
    // With a retry hint (ms) the SDK waits for.
    expect(refused).toMatchObject({ code: 'OVERLOADED', retry: true, ra: expect.any(Number) });
    // Slots released: the command is accepted, and its own slot is returned once it is answered.
    inFlight.release(10);
    inFlight.release(10);
    session.receive(encodeFrame({ t: MessageType.COMMAND, id: 'c2', a: 'player', i: 'ann', c: { type: 'move', x: 2, y: 1 } }), true);
    for (let tries = 0; tries < 100 && !port.sent.some((m) => m.t === MessageType.ACK && m.id === 'c2'); tries += 1) await new Promise((r) => setTimeout(r, 5));
    expect(port.sent.some((m) => m.t === MessageType.ACK && m.id === 'c2')).toBe(true);
    await new Promise((r) => setTimeout(r, 5));
    expect(inFlight.current).toBe(0);
    session.closed();
  });

  it('limits - a full node refuses a command before validating it: OVERLOADED with its id, nothing taken or run', async () => {
    const inFlight = new InFlightCommands(1);
    const { session, port } = await readySession(inFlight);
    expect(inFlight.admit()).toBeUndefined();
    // The body is invalid (no command type): admitted, it would get INVALID_MESSAGE.
    session.receive(encodeFrame({ t: MessageType.COMMAND, id: 'bad-1', a: 'player', i: 'ann', c: {} } as never), true);
    expect(port.sent.at(-1)).toMatchObject({ t: MessageType.REJECT, id: 'bad-1', code: 'OVERLOADED', retry: true, ra: expect.any(Number) });
    expect(inFlight.current).toBe(1);
    // With a slot free the same frame is validated and refused for what it is.
    inFlight.release(10);
    session.receive(encodeFrame({ t: MessageType.COMMAND, id: 'bad-2', a: 'player', i: 'ann', c: {} } as never), true);
    expect(port.sent.at(-1)).toMatchObject({ t: MessageType.ERROR, code: 'INVALID_MESSAGE', ref: 'bad-2' });
    expect(inFlight.current).toBe(0);
    session.closed();
  });
});
