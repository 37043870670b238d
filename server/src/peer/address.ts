/**
 * Peer addresses as operators write them (`host:port`, `[v6]:port`) and their libp2p
 * multiaddrs. Hostnames become `/dns4/<host>/tcp/<port>`: the TCP transport resolves them with
 * the system resolver (`/etc/hosts` included) at every dial, so a node that comes back under
 * the same name on a new IP is found again.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { PeerConfigError } from './errors.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[ipv6]:port`; throws `PeerConfigError` when malformed. */
export function parseAddress(address: string): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(address.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new PeerConfigError(`peer address "${address}" is not host:port (use [addr]:port for IPv6)`);
  }
  if (match?.[1] !== undefined && !isIPv6(host)) throw new PeerConfigError(`"${host}" is not an IPv6 address`);
  return { host, port };
}

export function formatAddress(hostPort: HostPort): string {
  return isIPv6(hostPort.host) ? `[${hostPort.host}]:${hostPort.port}` : `${hostPort.host}:${hostPort.port}`;
}

/** The multiaddr to dial (or listen on) for a host and TCP port. */
export function toMultiaddr(hostPort: HostPort): Multiaddr {
  const { host, port } = hostPort;
  if (isIPv4(host)) return multiaddr(`/ip4/${host}/tcp/${port}`);
  if (isIPv6(host)) return multiaddr(`/ip6/${host}/tcp/${port}`);
  return multiaddr(`/dns4/${host}/tcp/${port}`);
}

/** The TCP port of a listening multiaddr, if it has one. */
export function tcpPortOf(address: Multiaddr): number | undefined {
  const value = address.getComponents().find((c) => c.name === 'tcp')?.value;
  return value === undefined ? undefined : Number(value);
}

/** Wildcard listen hosts are not dialable and cannot be advertised. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}
