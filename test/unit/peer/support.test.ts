import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../server/src/peer/backoff.ts';
import { isWildcardHost, toMultiaddr } from '../../../server/src/peer/address.ts';
import { TypedEmitter } from '../../../server/src/peer/emitter.ts';
import {
  PeerConfigError,
  formatAddress,
  generateClusterKey,
  parseAddress,
  swarmKeyFromClusterKey,
} from '../../../server/src/peer/index.ts';

describe('peer support', () => {
  it('address - parses host:port, names and bracketed IPv6, and refuses the rest', () => {
    expect(parseAddress('127.0.0.1:7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(parseAddress('node-1.cluster.local:7000')).toEqual({ host: 'node-1.cluster.local', port: 7000 });
    expect(parseAddress('[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    for (const bad of ['', 'host', 'host:', ':7000', 'host:0', 'host:70000', '::1:7000', '[nothex]:1', 'a b:1']) {
      expect(() => parseAddress(bad), bad).toThrow(PeerConfigError);
    }
    expect(formatAddress({ host: '::1', port: 7 })).toBe('[::1]:7');
    expect(formatAddress(parseAddress('node-1:7000'))).toBe('node-1:7000');
  });

  it('address - IPs dial directly and hostnames through DNS', () => {
    expect(toMultiaddr({ host: '10.1.2.3', port: 7000 }).toString()).toBe('/ip4/10.1.2.3/tcp/7000');
    expect(toMultiaddr({ host: '::1', port: 7000 }).toString()).toBe('/ip6/::1/tcp/7000');
    expect(toMultiaddr({ host: 'node-1.cluster.local', port: 7000 }).toString()).toBe('/dns4/node-1.cluster.local/tcp/7000');
    expect(isWildcardHost('0.0.0.0')).toBe(true);
    expect(isWildcardHost('127.0.0.1')).toBe(false);
  });

  it('cluster key - a secret string derives the same swarm key every time, different secrets differ', () => {
    const a1 = new TextDecoder().decode(swarmKeyFromClusterKey('correct horse battery staple'));
    const a2 = new TextDecoder().decode(swarmKeyFromClusterKey('  correct horse battery staple\n'));
    const b = new TextDecoder().decode(swarmKeyFromClusterKey('correct horse battery stapler'));
    expect(a1).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/);
    expect(a2).toBe(a1);
    expect(b).not.toBe(a1);
  });

  it('cluster key - swarm key text is used as is; short secrets and broken swarm keys are refused', () => {
    const generated = generateClusterKey();
    expect(new TextDecoder().decode(swarmKeyFromClusterKey(generated))).toBe(generated);
    expect(generateClusterKey()).not.toBe(generated);
    expect(new TextDecoder().decode(swarmKeyFromClusterKey(generated.replace(/\n/g, '\r\n')))).toBe(generated);
    expect(() => swarmKeyFromClusterKey('short')).toThrow(PeerConfigError);
    expect(() => swarmKeyFromClusterKey('/key/swarm/psk/1.0.0/\n/base16/\nabc')).toThrow(PeerConfigError);
  });

  it('backoff - grows from min to max with equal jitter', () => {
    const settings = { minMs: 100, maxMs: 2_000 };
    expect(backoffDelayMs(0, settings, () => 0)).toBe(50);
    expect(backoffDelayMs(0, settings, () => 0.999_999)).toBe(100);
    expect(backoffDelayMs(3, settings, () => 0)).toBe(400);
    expect(backoffDelayMs(10, settings, () => 0.999_999)).toBe(2_000);
    expect(backoffDelayMs(10_000, settings, () => 0)).toBe(1_000);
  });

  it('emitter - delivers typed events, unsubscribes, and isolates a throwing listener', () => {
    const errors: unknown[] = [];
    const emitter = new TypedEmitter<{ ping: number }>((_event, err) => errors.push(err));
    const seen: number[] = [];
    const off = emitter.on('ping', (n) => seen.push(n));
    emitter.on('ping', () => {
      throw new Error('listener bug');
    });
    emitter.on('ping', (n) => seen.push(n * 10));
    emitter.emit('ping', 1);
    off();
    emitter.emit('ping', 2);
    expect(seen).toEqual([1, 10, 20]);
    expect(errors).toHaveLength(2);
  });
});
