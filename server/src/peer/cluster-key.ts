/**
 * The cluster key: a pre-shared key for the libp2p private network (@libp2p/pnet). Every
 * byte between nodes is XSalsa20-encrypted with it beneath Noise, so a process without the key
 * cannot complete a handshake, let alone deliver a message.
 *
 * Operators supply either the standard swarm key text (`/key/swarm/psk/1.0.0/`, `/base16/`,
 * 64 hex digits; what `generateClusterKey` prints) or any secret string of at least
 * `CLUSTER_SECRET_CHARS_MIN` characters. A secret string is stretched with scrypt under a fixed
 * salt: deterministic, so every node derives the same key from the same config or env value,
 * and slow, so a captured handshake does not make a guessable secret cheap to brute-force.
 */
import { scryptSync, randomBytes } from 'node:crypto';
import { PeerConfigError } from './errors.ts';

const SWARM_KEY_HEADER = '/key/swarm/psk/1.0.0/';
export const CLUSTER_SECRET_CHARS_MIN = 16;
const KEY_BYTES = 32;
const SCRYPT_SALT = 'ringstate/cluster-key/v1';
// 2^15 * 8 * 128 bytes = 32 MiB and about 50-100 ms: paid once per process start.
const SCRYPT_OPTIONS = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const derived = new Map<string, Uint8Array>();

/** The swarm key text for @libp2p/pnet `preSharedKey({ psk })`, as bytes. */
export function swarmKeyFromClusterKey(clusterKey: string): Uint8Array {
  const trimmed = clusterKey.trim();
  if (trimmed.startsWith(SWARM_KEY_HEADER)) return parseSwarmKeyText(trimmed);
  if (trimmed.length < CLUSTER_SECRET_CHARS_MIN) {
    throw new PeerConfigError(
      `the cluster key must be a swarm key or a secret of at least ${CLUSTER_SECRET_CHARS_MIN} characters ` +
        '(generate one with `openssl rand -hex 32`)',
    );
  }
  const cached = derived.get(trimmed);
  if (cached !== undefined) return cached;
  const key = scryptSync(trimmed, SCRYPT_SALT, KEY_BYTES, SCRYPT_OPTIONS);
  const swarmKey = new TextEncoder().encode(swarmKeyText(key));
  derived.set(trimmed, swarmKey);
  return swarmKey;
}

/** A fresh random cluster key in the standard swarm key format. */
export function generateClusterKey(): string {
  return swarmKeyText(randomBytes(KEY_BYTES));
}

function swarmKeyText(key: Uint8Array): string {
  return `${SWARM_KEY_HEADER}\n/base16/\n${Buffer.from(key).toString('hex')}`;
}

function parseSwarmKeyText(text: string): Uint8Array {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  const hex = lines[2] ?? '';
  if (lines.length !== 3 || lines[1] !== '/base16/' || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new PeerConfigError('the cluster key looks like a swarm key but is not "/key/swarm/psk/1.0.0/", "/base16/", 64 hex digits');
  }
  return new TextEncoder().encode(`${SWARM_KEY_HEADER}\n/base16/\n${hex.toLowerCase()}`);
}
