/**
 * Everything a node needs to be a cluster member, composed: the libp2p peer network, the
 * partition ring, the replicated partition log, command forwarding to partition owners, and
 * the founding decision (who bootstraps a new cluster).
 *
 * Forwarding (protocol /ringstate/forward/1.0.0), request and response are msgpack maps:
 *   request  {player, commandId, a, i, c}
 *   response {ok: true, seq, dup} | {ok: false, code, msg, reason?}
 * The owner executes a forwarded command locally and never forwards it again, so a command
 * crosses at most one hop; if ownership moved meanwhile the answer is UNAVAILABLE (retryable)
 * and the client retries with the same command id.
 *
 * Cluster info (protocol /ringstate/cluster-info/1.0.0): request {} -> {hasState, foundingOnly,
 * ringVersion, clientHost, connections, serving}. The last three (from `clientInfo`, set by the composition
 * root) feed the host directory behind GET /v1/hosts (host-directory.ts); older nodes omit them.
 * A node whose disk is empty asks the other members before it starts its partitions: if any
 * member has lived past founding (an election, an entry), the cluster exists and this node
 * rejoins without bootstrapping (its replicas stay non-voting until the owners readmit them, so
 * a wiped disk cannot cause a second vote in an epoch). If a majority of members answer that
 * they are empty, or hold only the founding state (see hasFoundingStateOnly), this is cluster
 * creation and the node bootstraps the founding replica sets, identical on every founder.
 */
import { RingstateError, isErrorCode, type ErrorCode } from '@ringstate/client-sdk/protocol';
import type { Logger } from 'pino';
import type { AggregateRuntime, CommandRequest, CommandResult } from '../aggregate/index.ts';
import type { Config } from '../config/index.ts';
import type { LogStore } from '../log/index.ts';
import type { OwnershipChange } from '../replication/index.ts';
import { PartitionRing } from '../ring/index.ts';
import { createPeerNetwork, FORWARD_PROTOCOL, REPLICATION_PROTOCOL, type PeerNetwork } from './peer/index.ts';
import { ReplicatedPartitionLog } from './replicated-partition-log.ts';

export const CLUSTER_INFO_PROTOCOL = '/ringstate/cluster-info/1.0.0';
const HANDOVER_WAIT_MS = 3_000;

export interface ClusterHooks {
  readonly onOwnershipChange?: (change: OwnershipChange) => void;
}

export class ClusterServices {
  readonly peers: PeerNetwork;
  readonly ring: PartitionRing;
  readonly log: ReplicatedPartitionLog;
  private readonly settings: Config['cluster'];
  /** This node's client side (advertised host, load), merged into cluster-info answers. */
  clientInfo: () => Promise<object> | object = () => ({});

  constructor(
    private readonly config: Readonly<Config>,
    private readonly store: LogStore,
    private readonly logger: Logger,
    hooks: ClusterHooks = {},
  ) {
    this.settings = config.cluster;
    const members = this.settings.members.length > 0 ? this.settings.members : [config.nodeId];
    if (!members.includes(config.nodeId)) throw new Error(`cluster.members (${members.join(', ')}) must include this node's id ${config.nodeId}`);
    this.ring = new PartitionRing(members, config.partitionCount, config.replicationFactor);
    this.peers = createPeerNetwork(
      {
        nodeId: config.nodeId,
        listen: { host: this.settings.peerHost, port: this.settings.peerPort },
        ...(this.settings.advertisedPeerAddress === undefined ? {} : { advertise: this.settings.advertisedPeerAddress }),
        bootstrap: this.settings.bootstrap,
        clusterKey: this.settings.key,
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
        failureTimeoutMs: this.settings.failureTimeoutMs,
        protocols: [REPLICATION_PROTOCOL, FORWARD_PROTOCOL, CLUSTER_INFO_PROTOCOL],
      },
      { logger: logger.child({ layer: 'peer' }) },
    );
    this.log = new ReplicatedPartitionLog(
      {
        nodeId: config.nodeId,
        partitionCount: config.partitionCount,
        tickIntervalMs: this.settings.tickIntervalMs,
        settings: {
          heartbeatIntervalMs: this.settings.replicationHeartbeatMs,
          electionTimeoutMinMs: this.settings.electionTimeoutMinMs,
          electionTimeoutMaxMs: this.settings.electionTimeoutMaxMs,
        },
      },
      {
        store,
        peers: this.peers,
        logger: logger.child({ layer: 'replication' }),
        nowMs: () => performance.timeOrigin + performance.now(),
        random: Math.random,
        ...(hooks.onOwnershipChange === undefined ? {} : { onOwnershipChange: hooks.onOwnershipChange }),
      },
    );
  }

  /** Starts the peer network, decides about founding, and starts replicating. */
  async start(): Promise<void> {
    this.peers.handle(CLUSTER_INFO_PROTOCOL, async () => ({
      ...(await this.clientInfo()),
      hasState: this.hasState(),
      foundingOnly: this.hasFoundingStateOnly(),
      ringVersion: this.ring.version,
    }));
    await this.peers.start();
    const hadState = this.hasState();
    if (!hadState) {
      const found = await this.decideFounding();
      if (found) {
        this.logger.info({ members: this.ring.members, ringVersion: this.ring.version }, 'founding the cluster: bootstrapping partitions');
        this.log.bootstrap(this.ring);
      } else {
        this.logger.warn('empty disk in an existing cluster: rejoining; replicas vote again once their owners readmit them');
      }
    }
    this.log.setRing(this.ring);
    await this.log.start();
    this.logger.info({ ringVersion: this.ring.version, members: this.ring.members, peerAddress: this.peers.address(), recovered: hadState }, 'cluster member started');
  }

  /**
   * Graceful leave of ownership: hands every partition this node owns to another live
   * replica, waits a little for the moves, then stops replication and the peer network.
   */
  async stop(): Promise<void> {
    const alive = new Set(this.peers.members().filter((member) => member.alive && !member.self).map((member) => member.nodeId));
    const owned: number[] = [];
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      const status = this.log.status(partition);
      if (status.role !== 'leader') continue;
      const target = status.membership.voters.find((voter) => voter !== this.config.nodeId && alive.has(voter));
      if (target === undefined) continue;
      const moved = this.log.core.transferLeadership(partition, target);
      if (moved.ok) owned.push(partition);
    }
    const deadline = Date.now() + HANDOVER_WAIT_MS;
    while (owned.some((partition) => this.log.status(partition).role === 'leader') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (owned.length > 0) this.logger.info({ partitions: owned.length }, 'handed partitions over before stopping');
    await this.log.stop();
    await this.peers.stop();
  }

  /** Serves commands forwarded by other nodes with this node's runtime. */
  serveForwarding(runtime: AggregateRuntime): void {
    this.peers.handle(FORWARD_PROTOCOL, async (payload, from) => {
      const request = parseForward(payload);
      if (request === undefined) return { ok: false, code: 'INVALID_MESSAGE', msg: `malformed forward from ${from}` };
      try {
        const result = await runtime.execute(request);
        return { ok: true, seq: result.seq, dup: result.duplicate };
      } catch (error) {
        const failure = error instanceof RingstateError ? error : new RingstateError('INTERNAL', 'forwarded command failed', { cause: error });
        return { ok: false, code: failure.code, msg: failure.message, ...(failure.reason === undefined ? {} : { reason: failure.reason }) };
      }
    });
  }

  /** Sends a command to the partition's owner and returns its answer. */
  async forward(owner: string, request: CommandRequest): Promise<CommandResult> {
    let response: unknown;
    try {
      response = await this.peers.request(
        owner,
        FORWARD_PROTOCOL,
        { player: request.playerId, commandId: request.commandId, a: request.aggregateType, i: request.aggregateId, c: request.command },
        this.settings.forwardTimeoutMs,
      );
    } catch (error) {
      throw new RingstateError('UNAVAILABLE', `owner ${owner} did not answer`, { cause: error });
    }
    const answer = response as { ok?: unknown; seq?: unknown; dup?: unknown; code?: unknown; msg?: unknown; reason?: unknown };
    if (answer.ok === true && typeof answer.seq === 'number') return { seq: answer.seq, duplicate: answer.dup === true };
    const code: ErrorCode = isErrorCode(answer.code) ? answer.code : 'INTERNAL';
    throw new RingstateError(code, typeof answer.msg === 'string' ? answer.msg : 'forwarded command failed', typeof answer.reason === 'string' ? { reason: answer.reason } : {});
  }

  private hasState(): boolean {
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      if (this.store.replicaState(partition) !== undefined) return true;
    }
    return false;
  }

  /**
   * True when this node's only state is what founding wrote: every partition at epoch 1 or
   * less, no vote cast, nothing in its log past the founding membership entry. Such a node has
   * never voted, so another founder bootstrapping the identical founding state next to it is
   * safe, and needed: founders finish at different moments, and one that already founded must
   * not look like "an existing cluster" to one that is still deciding.
   */
  private hasFoundingStateOnly(): boolean {
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      const state = this.store.replicaState(partition) as { epoch?: unknown; vote?: unknown } | undefined;
      if (state === undefined) continue;
      if (typeof state.epoch !== 'number' || state.epoch > 1 || (state.vote !== null && state.vote !== undefined)) return false;
      if (this.store.lastPosition(partition) > 1) return false;
    }
    return true;
  }

  /** True when this is cluster creation (see the header comment). */
  private async decideFounding(): Promise<boolean> {
    const others = this.ring.members.filter((member) => member !== this.config.nodeId);
    if (others.length === 0) return true;
    const majority = Math.floor(this.ring.members.length / 2) + 1;
    const deadline = Date.now() + this.settings.bootstrapWaitMs;
    while (Date.now() < deadline) {
      const answers = await Promise.all(
        others.map((member) =>
          this.peers.request(member, CLUSTER_INFO_PROTOCOL, {}, 1_000).then(
            (answer) => answer as { hasState?: unknown; foundingOnly?: unknown },
            () => undefined,
          ),
        ),
      );
      // A member that has lived past founding (elections, entries): the cluster exists.
      if (answers.some((answer) => answer?.hasState === true && answer.foundingOnly !== true)) return false;
      // Empty members and members holding only the founding state agree this is creation.
      const founding = answers.filter((answer) => answer?.hasState === false || answer?.foundingOnly === true).length + 1;
      if (founding >= majority) return true;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`could not reach a majority of cluster members (${this.ring.members.join(', ')}) within cluster.bootstrapWaitMs`);
  }
}

function parseForward(payload: unknown): CommandRequest | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { player, commandId, a, i, c } = payload as Record<string, unknown>;
  if (typeof player !== 'string' || typeof commandId !== 'string' || typeof a !== 'string' || typeof i !== 'string') return undefined;
  if (player.length > 64 || commandId.length > 128 || a.length > 32 || i.length > 64) return undefined;
  return { playerId: player, commandId, aggregateType: a, aggregateId: i, command: c };
}
