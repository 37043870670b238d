import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PeerConfigError, PeerNetworkStoppedError, createPeerNetwork, type PeerNetworkInit } from '../../../server/src/peer/index.ts';

const logger = pino({ level: 'silent' });
const base: PeerNetworkInit = { nodeId: 'node-1', listen: { host: '127.0.0.1', port: 0 }, clusterKey: 'a-long-enough-cluster-secret' };

describe('peer network configuration', () => {
  it('peer network - operator mistakes are PeerConfigErrors at construction, before anything listens', () => {
    expect(() => createPeerNetwork({ ...base, bootstrap: ['no-port'] }, { logger })).toThrow(PeerConfigError);
    expect(() => createPeerNetwork({ ...base, clusterKey: 'short' }, { logger })).toThrow(PeerConfigError);
    expect(() => createPeerNetwork({ ...base, listen: { host: '0.0.0.0', port: 7000 } }, { logger })).toThrow(PeerConfigError);
    expect(() => createPeerNetwork({ ...base, advertise: 'bad address' }, { logger })).toThrow(PeerConfigError);
    expect(() => createPeerNetwork({ ...base, listen: { host: '0.0.0.0', port: 7000 }, advertise: 'node-1.internal:7000' }, { logger })).not.toThrow();
  });

  it('peer network - inconsistent limits are programmer errors (assertions)', () => {
    expect(() => createPeerNetwork({ ...base, heartbeatIntervalMs: 500, failureTimeoutMs: 600 }, { logger })).toThrow(/two heartbeat/);
    expect(() => createPeerNetwork({ ...base, messageBytesMax: 1024, queuedBytesPerPeerMax: 100 }, { logger })).toThrow(/at least one message/);
  });

  it('peer network - before start nothing is sent and requests fail as stopped', async () => {
    const net = createPeerNetwork(base, { logger });
    expect(net.send('node-2', { x: 1 })).toBe(false);
    expect(net.stats().droppedUnreachable).toBe(1);
    await expect(net.request('node-2', '/ringstate/forward/1.0.0', {}, 100)).rejects.toBeInstanceOf(PeerNetworkStoppedError);
    await net.stop();
  });
});
