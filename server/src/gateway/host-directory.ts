/**
 * The host directory: what every node knows about every healthy node's client side, and the
 * host suggestion `GET /v1/hosts?player=<id>` answers from it.
 *
 * Each node learns the others' advertised client host (`advertisedHost`, a hostname in
 * production) and load (open client connections) through the cluster-info request it already
 * serves (see cluster-services.ts):
 *
 *   request {}  ->  response {hasState, ringVersion, clientHost, connections, serving}
 *
 * Polling starts with the first host request and runs about once a second
 * (`hosts.pollIntervalMs`); it stops by itself after a minute without requests and when the node
 * stops, so nodes that no SDK client asks never poll. Liveness is not taken from the poll: a
 * node is listed only while the peer layer's failure detector says it is alive, so a dead node
 * disappears from every answer within `cluster.failureTimeoutMs`, however old the last poll is.
 *
 * The choice itself (`chooseHost`) is a pure function of the healthy nodes, the partition's
 * owner and a random number, so it is unit-tested without a cluster.
 */
import { partitionOf, RingstateError } from '@ringstate/protocol';
import type { Config } from '../config/index.ts';
import type { PeerNetwork } from '../peer/index.ts';

/** What one node tells the others about its client side. */
export interface ClientSideInfo {
  /** host:port clients should dial (config `advertisedHost`, default host:port). */
  readonly clientHost: string;
  /** Open client connections: the load measure. */
  readonly connections: number;
  /** False while the node starts or stops: never suggest it then. */
  readonly serving: boolean;
}

export interface NodeLoad extends ClientSideInfo {
  readonly nodeId: string;
}

export interface HostSuggestion {
  /** host:port the client should use. */
  readonly suggested: string;
  /** Every healthy node's advertised host:port, sorted. */
  readonly hosts: string[];
  readonly ringVersion: number;
  /** How long a client may treat this answer as current. */
  readonly ttlSeconds: number;
}

export type HostSettings = Config['hosts'];

/**
 * Load differences smaller than this many connections are noise (counts move between polls):
 * nodes within it of the least loaded are equally good, and the owner is not overloaded for
 * being this much above average. It also keeps tiny clusters from flapping.
 */
const LOAD_SLACK_CONNECTIONS = 64;
/** Polling stops after this long without a host request; the next request restarts it. */
const POLL_IDLE_STOP_MS = 60_000;
/** Player ids as the token layer accepts them (auth/player-tokens.ts). */
const PLAYER_ID = /^[A-Za-z0-9._:@-]{1,64}$/;

/** True when `node` holds too many connections to be suggested over a less loaded node. */
export function isOverloaded(node: NodeLoad, healthy: readonly NodeLoad[], settings: Pick<HostSettings, 'overloadRatio' | 'connectionsSoftMax'>): boolean {
  if (node.connections >= settings.connectionsSoftMax) return true;
  const mean = healthy.reduce((sum, other) => sum + other.connections, 0) / Math.max(1, healthy.length);
  return node.connections > mean * settings.overloadRatio + LOAD_SLACK_CONNECTIONS;
}

/**
 * The suggestion: the owner when it is healthy and not overloaded, otherwise a least loaded
 * healthy node. Nodes within LOAD_SLACK_CONNECTIONS of the minimum count as least loaded and
 * one of them is picked at random, so thousands of clients asking between two polls spread
 * out instead of all landing on the node that was emptiest a second ago.
 */
export function chooseHost(
  healthy: readonly NodeLoad[],
  owner: string | undefined,
  settings: Pick<HostSettings, 'overloadRatio' | 'connectionsSoftMax'>,
  random: () => number,
): NodeLoad | undefined {
  const ownerNode = owner === undefined ? undefined : healthy.find((node) => node.nodeId === owner);
  if (ownerNode !== undefined && !isOverloaded(ownerNode, healthy, settings)) return ownerNode;
  if (healthy.length === 0) return undefined;
  const least = Math.min(...healthy.map((node) => node.connections));
  const candidates = healthy.filter((node) => node.connections <= least + LOAD_SLACK_CONNECTIONS);
  return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))];
}

/** Validates the `player` query parameter: absent is fine, malformed is INVALID_QUERY. */
export function parsePlayerQuery(query: URLSearchParams): string | undefined {
  const players = query.getAll('player');
  if (players.length === 0) return undefined;
  const player = players[0];
  if (players.length > 1 || player === undefined || !PLAYER_ID.test(player)) {
    throw new RingstateError('INVALID_QUERY', '`player` must appear once and be 1-64 characters of A-Z a-z 0-9 . _ : @ -');
  }
  return player;
}

/** Parses a peer's cluster-info answer; undefined when it lacks the client-side fields. */
export function parseClientSideInfo(value: unknown): ClientSideInfo | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { clientHost, connections, serving } = value as Record<string, unknown>;
  if (typeof clientHost !== 'string' || clientHost.length === 0 || clientHost.length > 261) return undefined;
  if (typeof connections !== 'number' || !Number.isSafeInteger(connections) || connections < 0) return undefined;
  if (typeof serving !== 'boolean') return undefined;
  return { clientHost, connections, serving };
}

export interface HostDirectoryDeps {
  readonly settings: HostSettings;
  readonly partitionCount: number;
  readonly nodeId: string;
  /** This node's own client side, read fresh for every answer. */
  readonly self: () => Promise<ClientSideInfo> | ClientSideInfo;
  /** The peer network (cluster mode); absent on a single node, which answers with itself. */
  readonly peers: PeerNetwork | undefined;
  readonly infoProtocol: string;
  /** The node currently owning a partition, as this node knows it. */
  readonly owner: (partition: number) => string | undefined;
  readonly ringVersion: () => number;
  /** False once the node stopped: polling ends for good. */
  readonly running: () => boolean;
  readonly nowMs: () => number;
  readonly random: () => number;
}

interface Polled {
  readonly info: ClientSideInfo;
  readonly atMs: number;
}

export class HostDirectory {
  readonly #deps: HostDirectoryDeps;
  readonly #polled = new Map<string, Polled>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastRequestAtMs = 0;
  #polling: Promise<void> | undefined;
  /** The first poll round after polling (re)started: every answer waits for it, not just the first. */
  #warmUp: Promise<void> | undefined;

  constructor(deps: HostDirectoryDeps) {
    this.#deps = deps;
  }

  /** Answers a host request; throws UNAVAILABLE when this node is not serving. */
  async suggest(player: string | undefined): Promise<HostSuggestion> {
    const deps = this.#deps;
    this.#lastRequestAtMs = deps.nowMs();
    if (deps.peers !== undefined && this.#timer === undefined && deps.running()) {
      this.#timer = setInterval(() => this.#tick(), deps.settings.pollIntervalMs);
      this.#timer.unref?.();
      this.#warmUp = this.#poll();
    }
    // Answers after a quiet period wait for one poll round (bounded by its timeout).
    if (this.#warmUp !== undefined) await this.#warmUp;
    const healthy = await this.healthy();
    const self = healthy.find((node) => node.nodeId === deps.nodeId);
    if (self === undefined) throw new RingstateError('UNAVAILABLE', 'this node is not serving clients; ask another host');
    const owner = player === undefined ? undefined : deps.owner(partitionOf('player', player, deps.partitionCount));
    const chosen = chooseHost(healthy, owner, deps.settings, deps.random) ?? self;
    return {
      suggested: chosen.clientHost,
      hosts: [...new Set(healthy.map((node) => node.clientHost))].sort(),
      ringVersion: deps.ringVersion(),
      ttlSeconds: deps.settings.ttlSeconds,
    };
  }

  /** Every healthy node: this one if serving, and each peer that is alive, polled recently and serving. */
  async healthy(): Promise<NodeLoad[]> {
    const deps = this.#deps;
    const nodes: NodeLoad[] = [];
    const self = await deps.self();
    if (self.serving) nodes.push({ nodeId: deps.nodeId, ...self });
    const staleAfterMs = deps.settings.pollIntervalMs * 3;
    const nowMs = deps.nowMs();
    for (const member of deps.peers?.members() ?? []) {
      if (member.self || !member.alive) continue;
      const polled = this.#polled.get(member.nodeId);
      if (polled === undefined || !polled.info.serving || nowMs - polled.atMs > staleAfterMs) continue;
      nodes.push({ nodeId: member.nodeId, ...polled.info });
    }
    return nodes;
  }

  #tick(): void {
    const deps = this.#deps;
    if (!deps.running() || deps.nowMs() - this.#lastRequestAtMs > POLL_IDLE_STOP_MS) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      this.#warmUp = undefined;
      return;
    }
    void this.#poll();
  }

  /** Asks every alive peer for its client side; one round at a time. */
  #poll(): Promise<void> {
    this.#polling ??= this.#pollRound().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #pollRound(): Promise<void> {
    const { peers, infoProtocol, settings, nowMs } = this.#deps;
    if (peers === undefined) return;
    const alive = peers.members().filter((member) => member.alive && !member.self);
    const timeoutMs = Math.min(settings.pollIntervalMs, 1_000);
    await Promise.all(
      alive.map(async (member) => {
        try {
          const info = parseClientSideInfo(await peers.request(member.nodeId, infoProtocol, {}, timeoutMs));
          if (info !== undefined) this.#polled.set(member.nodeId, { info, atMs: nowMs() });
        } catch {
          // Unanswered: the entry ages out after three poll intervals, or the failure detector drops the node first.
        }
      }),
    );
  }
}
