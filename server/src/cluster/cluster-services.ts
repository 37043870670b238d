/**
 * Everything a node needs to be a cluster member, composed: the libp2p peer network, the
 * partition ring, the replicated partition log, command forwarding to partition owners, and
 * the founding decision (who bootstraps a new cluster).
 *
 * Forwarding (protocol /ringstate/forward/1.0.0), request and response are msgpack maps:
 *   request  {player, commandId, a, i, c, hop, snd?}   snd: [type, id, item, player] of a delivery
 *                                                      from another aggregate's outbox (outbox/)
 *   response {ok: true, seq, dup} | {ok: false, code, msg, reason?, ra?}
 * `hop` counts the forwards before this one. The receiver hands a forwarded command to its
 * router (router/), which executes it or passes it on once more (hop 1, so at most two hops).
 * If ownership moved meanwhile the answer is UNAVAILABLE (retryable) and the client retries
 * with the same command id.
 *
 * Cluster info (protocol /ringstate/cluster-info/1.0.0): request {} -> {hasState, foundingOnly,
 * ringVersion, clientHost, connections, serving}. The last three (from `clientInfo`, set by the composition
 * root) feed the host directory behind GET /v1/hosts (host-directory.ts); older nodes omit them.
 * A node whose disk is empty asks the other members before it starts its partitions: if any
 * member has lived past founding (an election, an entry), the cluster exists and this node
 * rejoins without bootstrapping (its replicas stay non-voting until the owners readmit them, so
 * a wiped disk cannot cause a second vote in an epoch). If every other founder (after
 * ALL_FOUNDERS_WAIT_MS, a majority) answers that it is empty, or holds only the founding state
 * (see hasFoundingStateOnly), this is cluster creation and the node bootstraps the founding
 * replica sets, identical on every founder.
 *
 * Joining and leaving (ring-membership.ts holds the agreed member record):
 *   - A node that starts outside the ring (a new node, or one that left) asks a ring member to
 *     add it and retries until the converged ring includes it (`cluster.autoJoin`); it also
 *     joins again if a concurrent change drops it later (RingMembership.join). Owners
 *     then add it to the replica sets the ring now gives it: as a learner that catches up
 *     from the owner's log, then as a voter, then the node it replaces is removed.
 *   - `leave()` takes this node out of the ring, hands over the partitions it owns, and
 *     resolves once no partition's replica set counts it any more, as the owners of every
 *     partition report (cluster-info `{holds: nodeId}` below), and every live member holds its
 *     ring record or a newer one without it. Only then may it stop.
 *   - `removeMember()` takes out a member that died for good, so its partitions get a new replica.
 *
 * Cluster info with `{holds: nodeId}` also answers `led` (partitions this node owns) and
 * `holding` (those of them whose replica set still counts nodeId or has a change in flight).
 */
import { randomBytes } from 'node:crypto';
import { RingstateError, isErrorCode, partitionOf, type ErrorCode } from '@ringstate/protocol';
import type { Logger } from 'pino';
import type { AggregateRuntime, CommandRequest, CommandResult } from '../aggregate/index.ts';
import type { Config } from '../config/index.ts';
import type { LogStore } from '../log/index.ts';
import { FORWARD_HOPS_MAX, forwardFailure, parseForward, type CommandRouter, type Forwarder } from '../router/index.ts';
import { NoQuorumError, type OwnershipChange } from '../replication/index.ts';
import { localityFromSettings, type PartitionRing } from '../ring/index.ts';
import { createPeerNetwork, FORWARD_PROTOCOL, REPLICATION_PROTOCOL, StallDiscountingClock, type PeerNetwork } from '../peer/index.ts';
import { ReplicatedPartitionLog, SNAPSHOT_PROTOCOL, type ReplicatedLogComponents } from '../replicated-log/index.ts';
import { encodeRingRecord, MEMBERSHIP_RETRY_MS, parseRingRecord, RING_PROTOCOL, RingMembership, shrinkRefusal, type RingRecord } from '../membership/index.ts';

export const CLUSTER_INFO_PROTOCOL = '/ringstate/cluster-info/1.0.0';
/**
 * A Second Life object revoked at run time, told to every live member:
 *   request {objectId: string, untilMs: number}  ->  response {ok: true}
 * Object credentials are stateless (any node verifies any object), so a revocation must reach
 * every node that could be asked.
 */
export const SECOND_LIFE_REVOCATION_PROTOCOL = '/ringstate/sl-revocation/1.0.0';
const REVOCATION_SEND_TIMEOUT_MS = 2_000;
const HANDOVER_WAIT_MS = 3_000;
/** How long a removal is reapplied if a concurrent ring change wins over it. */
const REMOVAL_KEEP_OUT_MS = 10_000;
/** How long founders of a new cluster wait for every founder before a majority may found (at most half of cluster.bootstrapWaitMs). */
const ALL_FOUNDERS_WAIT_MS = 10_000;

/** Why a ring change asked for by an operator was refused (the admin API answers MEMBERSHIP_REFUSED). */
export class MembershipRefusedError extends RingstateError {
  override readonly name = 'MembershipRefusedError';
  constructor(message: string) {
    super('MEMBERSHIP_REFUSED', message);
  }
}

/** A stall of the event loop counts for at most this much on the failure timers' clock... */
const STALL_STEP_MAX_MS = 50;
/** ...which reads itself this often, so a longer gap between readings is a stall. */
const STALL_SAMPLE_MS = 20;
const STALL_LOG_INTERVAL_MS = 10_000;
/** A start has settled once every partition has a known owner and none changed for this long... */
const SETTLE_QUIET_MS = 1_000;
/** ...or after this long at most; ownership changes log one by one (at info) from then on. */
const SETTLE_WAIT_MAX_MS = 30_000;

export type ClusterHooks = Pick<ReplicatedLogComponents, 'onOwnershipChange' | 'onSnapshotInstalled' | 'onReplicationWork'>;

/**
 * Whether a leaving node `self`, holding `ours`, may stop, from the cluster-info `{holds: self}`
 * answers of the live members of its ring (undefined: no answer): every partition is owned
 * (`led`) by a member, no owner counts `self` (`holding` empty), and every member holds `ours` or
 * a newer record without `self`. The last part keeps the leave from dying with the node: a
 * member that never adopted the leave (cut off, or down when it was made) would otherwise meet a
 * member coming back with an older record that lists `self`, adopt it, and keep a member that
 * never returns and runs no leave loop (simulator seed 59074: the only holders of the leave
 * record were the leaving node and nodes that were down). A member that does not answer counts
 * as not holding it.
 */
export function leaveSettled(self: string, ours: RingRecord, answers: readonly unknown[], partitionCount: number): boolean {
  const led = new Set<number>();
  for (const answer of answers) {
    const report = answer as { led?: unknown; holding?: unknown; ring?: unknown } | undefined;
    const theirs = parseRingRecord(report?.ring);
    if (theirs === undefined || theirs.generation < ours.generation || theirs.members.includes(self)) return false;
    if (!Array.isArray(report?.led) || !Array.isArray(report.holding)) continue;
    if (report.holding.length > 0) return false;
    for (const partition of report.led) if (typeof partition === 'number') led.add(partition);
  }
  return led.size === partitionCount;
}

export class ClusterServices implements Forwarder {
  readonly peers: PeerNetwork;
  readonly membership: RingMembership;
  readonly log: ReplicatedPartitionLog;
  private readonly settings: Config['cluster'];
  private stopped = false;
  private leaving: Promise<void> | undefined;
  /** The founding members from the config (empty for a node that can only join). */
  private readonly founders: readonly string[];
  /** This process's start, so a founder can tell the same empty node it counted from a restart. */
  private readonly bootId = randomBytes(8).toString('hex');
  /** The boot ids of the empty founders this node counted when it founded (none if it did not). */
  private countedFounders: string[] = [];
  /** The failure timers' clock (see stall-discounting-clock.ts). */
  private readonly clock: StallDiscountingClock;
  /** When an ownership change last happened here (the start's summary waits for a quiet moment). */
  private lastOwnershipChangeMs = Date.now();
  private settleTimer: ReturnType<typeof setInterval> | undefined;
  /** This node's client side (advertised host, load), merged into cluster-info answers. */
  clientInfo: () => Promise<object> | object = () => ({});

  constructor(
    private readonly config: Readonly<Config>,
    private readonly store: LogStore,
    private readonly logger: Logger,
    hooks: ClusterHooks = {},
  ) {
    this.settings = config.cluster;
    // No members configured: a lone node founds a one-node cluster, but a node given bootstrap
    // peers is joining an existing cluster and must never found one of its own.
    this.founders = this.settings.members.length > 0 ? this.settings.members : this.settings.bootstrap.length > 0 ? [] : [config.nodeId];
    const members = this.founders.length > 0 ? this.founders : [config.nodeId];
    // Shared by the peer layer and the replication driver: whichever reads first after a
    // stall discounts it (see stall-discounting-clock.ts).
    const stallLog = logger.child({ layer: 'cluster' });
    let stallLoggedAtMs = Number.NEGATIVE_INFINITY;
    this.clock = new StallDiscountingClock({
      wall: () => performance.timeOrigin + performance.now(),
      stepMaxMs: STALL_STEP_MAX_MS,
      onStall: (stalledMs) => {
        if (stalledMs < this.settings.electionTimeoutMinMs / 2 || Date.now() - stallLoggedAtMs < STALL_LOG_INTERVAL_MS) return;
        stallLoggedAtMs = Date.now();
        stallLog.warn({ stalledMs: Math.round(stalledMs) }, 'event loop stalled; failure timers did not count the stall');
      },
    });
    const clock = this.clock;
    const now = () => clock.now();
    this.peers = createPeerNetwork(
      {
        nodeId: config.nodeId,
        listen: { host: this.settings.peerHost, port: this.settings.peerPort },
        ...(this.settings.advertisedPeerAddress === undefined ? {} : { advertise: this.settings.advertisedPeerAddress }),
        bootstrap: this.settings.bootstrap,
        clusterKey: this.settings.key,
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
        failureTimeoutMs: this.settings.failureTimeoutMs,
        protocols: [REPLICATION_PROTOCOL, FORWARD_PROTOCOL, CLUSTER_INFO_PROTOCOL, RING_PROTOCOL, SNAPSHOT_PROTOCOL, SECOND_LIFE_REVOCATION_PROTOCOL],
      },
      { logger: logger.child({ layer: 'peer' }), clock: now },
    );
    this.log = new ReplicatedPartitionLog(
      {
        nodeId: config.nodeId,
        partitionCount: config.partitionCount,
        tickIntervalMs: this.settings.tickIntervalMs,
        compactEveryEntries: this.settings.compactEveryEntries,
        settings: {
          heartbeatIntervalMs: this.settings.replicationHeartbeatMs,
          electionTimeoutMinMs: this.settings.electionTimeoutMinMs,
          electionTimeoutMaxMs: this.settings.electionTimeoutMaxMs,
          replicaApplyDelayMs: this.settings.replicaApplyDelayMs,
        },
      },
      {
        store,
        peers: this.peers,
        logger: logger.child({ layer: 'replication' }),
        nowMs: now,
        random: Math.random,
        ...hooks,
        onOwnershipChange: (change) => {
          this.lastOwnershipChangeMs = Date.now();
          hooks.onOwnershipChange?.(change);
        },
      },
    );
    this.membership = new RingMembership(
      {
        nodeId: config.nodeId,
        partitionCount: config.partitionCount,
        replicationFactor: config.replicationFactor,
        configuredMembers: members,
        syncIntervalMs: this.settings.ringSyncIntervalMs,
        locality: localityFromSettings(config.locality),
      },
      { store, peers: this.peers, logger: logger.child({ layer: 'ring' }), random: Math.random, onChange: (ring) => this.log.setRing(ring) },
    );
  }

  /** The ring this node currently agrees on (changes when nodes join or leave). */
  get ring(): PartitionRing {
    return this.membership.ring;
  }

  /** True while a leave is in progress (this node is moving its replicas away before it stops). */
  get isLeaving(): boolean {
    return this.leaving !== undefined;
  }

  /** Starts the peer network, decides about founding, and starts replicating. */
  async start(): Promise<void> {
    this.clock.start(STALL_SAMPLE_MS);
    // Founding or recovery elects an owner for every partition: one summary line once that
    // settles (watchSettle) instead of a line per partition and change.
    this.log.quietOwnership = true;
    this.peers.handle(CLUSTER_INFO_PROTOCOL, async (payload) => ({
      ...(await this.clientInfo()),
      hasState: this.hasState(),
      foundingOnly: this.hasFoundingStateOnly(),
      bootId: this.bootId,
      countedFounders: this.countedFounders,
      ringVersion: this.ring.version,
      ...(this.membership.isKnown ? { ring: encodeRingRecord(this.membership.record) } : {}),
      ...this.holdingReport(payload),
    }));
    this.peers.handle(SECOND_LIFE_REVOCATION_PROTOCOL, async (payload) => {
      const revocation = parseRevocation(payload);
      if (revocation === undefined) throw new Error('not a revocation');
      this.onSecondLifeRevocation?.(revocation);
      return { ok: true };
    });
    this.membership.start();
    await this.peers.start();
    const hadState = this.hasState();
    if (!hadState) {
      const found = await this.decideFounding();
      if (found) {
        this.membership.adoptConfigured();
        // Not this.ring: a founder that founded first may already have pushed a newer record
        // (its own locality), and every founder must write the same initial replica sets.
        const founding = this.membership.foundingRing;
        this.logger.info({ members: founding.members, ringVersion: founding.version }, 'founding the cluster: bootstrapping partitions');
        this.log.bootstrap(founding);
      } else {
        this.logger.warn('empty disk in an existing cluster: rejoining; replicas vote again once their owners readmit them');
      }
    } else {
      // State from before ring records were stored: the configured members were the ring.
      this.membership.adoptConfigured();
    }
    this.log.setRing(this.ring);
    await this.log.start();
    this.logger.info({ ringVersion: this.ring.version, members: this.ring.members, peerAddress: this.peers.address(), recovered: hadState }, 'cluster member started');
    this.watchSettle();
    // With autoJoin a node also stays a member: a concurrent change that drops it makes it join again (RingMembership.join).
    if (this.settings.autoJoin) void this.join();
  }

  /**
   * Asks ring members to add this node until the agreed ring includes it. Runs in the
   * background: meanwhile the node serves clients by forwarding to the owners.
   */
  async join(): Promise<void> {
    const wasMember = this.membership.includes(this.config.nodeId);
    if (!wasMember) this.logger.info({ members: this.ring.members }, 'not a ring member: joining');
    const joined = await this.membership.join(() => this.stopped || this.leaving !== undefined);
    if (joined && !wasMember) this.logger.info({ ringVersion: this.ring.version, members: this.ring.members }, 'joined the ring');
  }

  /**
   * Takes this node out of the ring and resolves once the owners of every partition report
   * that no replica set counts it any more (its data then lives on the remaining replicas).
   * Idempotent: a second call returns the same promise.
   */
  leave(options: { force?: boolean } = {}): Promise<void> {
    if (this.leaving !== undefined) return this.leaving;
    this.checkShrink(this.config.nodeId, options.force === true);
    this.leaving = this.runLeave(options.force === true);
    return this.leaving;
  }

  /** Takes a member that is down for good out of the ring, so its partitions get a new replica elsewhere. */
  removeMember(nodeId: string, options: { force?: boolean } = {}): RingRecord {
    if (nodeId === this.config.nodeId) throw new MembershipRefusedError('a node removes itself with leave (POST /v1/admin/leave), which hands its partitions over first');
    if (this.livePeers().has(nodeId)) {
      throw new MembershipRefusedError(`${nodeId} is alive; ask it to leave (POST /v1/admin/leave on that node) so it hands over its partitions first`);
    }
    const force = options.force === true;
    this.checkShrink(nodeId, force);
    const stillWanted = (): boolean => {
      if (this.stopped || this.livePeers().has(nodeId)) return false;
      try {
        this.checkShrink(nodeId, force);
        return true;
      } catch {
        return false;
      }
    };
    return this.membership.removeAndKeepOut(nodeId, `removal of ${nodeId}`, { keepOutMs: REMOVAL_KEEP_OUT_MS, retryMs: MEMBERSHIP_RETRY_MS, stillWanted });
  }

  private checkShrink(nodeId: string, force: boolean): void {
    const refusal = shrinkRefusal(this.ring.members, nodeId, this.config.replicationFactor, force);
    if (refusal !== undefined) throw new MembershipRefusedError(refusal);
  }

  private async runLeave(force: boolean): Promise<void> {
    this.logger.info({ members: this.ring.members }, 'leaving the ring: moving replicas away');
    await this.membership.leave({
      force,
      stopped: () => this.stopped,
      stoppedError: () => new RingstateError('SHUTTING_DOWN', 'node stopped before its leave completed'),
      done: () => this.replicasMovedAway(),
    });
    this.logger.info({ ringVersion: this.ring.version }, 'left the ring: no partition counts this node any more and every live member holds the ring without it');
  }

  /** See `leaveSettled`. */
  private async replicasMovedAway(): Promise<boolean> {
    const self = this.config.nodeId;
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      if (this.log.status(partition).role === 'owner') return false;
    }
    const answers = await Promise.all(
      this.aliveRingMembers().map((member) => this.peers.request(member, CLUSTER_INFO_PROTOCOL, { holds: self }, 2_000).catch(() => undefined)),
    );
    return leaveSettled(self, this.membership.record, answers, this.config.partitionCount);
  }

  /** The `{holds: nodeId}` part of a cluster-info answer (see the header). */
  private holdingReport(payload: unknown): { led?: number[]; holding?: number[] } {
    const nodeId = (payload as { holds?: unknown } | null)?.holds;
    if (typeof nodeId !== 'string') return {};
    const led: number[] = [];
    const holding: number[] = [];
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      const status = this.log.status(partition);
      if (status.role !== 'owner' || !status.ready) continue;
      led.push(partition);
      const { voters, learners } = status.membership;
      if (voters.includes(nodeId) || learners.includes(nodeId) || status.membershipPending) holding.push(partition);
    }
    return { led, holding };
  }

  /** Set by the composition root: a revocation another member shared. */
  onSecondLifeRevocation: ((revocation: { objectId: string; untilMs: number }) => void) | undefined;

  /**
   * Tells every live member of a Second Life revocation, retrying each once. A member that is down
   * now does not learn it (docs/security.md, "Known gaps": secondLife.revokedObjectIds is the
   * durable list).
   */
  shareSecondLifeRevocation(revocation: { readonly objectId: string; readonly untilMs: number }): void {
    const payload = { objectId: revocation.objectId, untilMs: revocation.untilMs };
    for (const member of this.livePeers()) {
      const send = () => this.peers.request(member, SECOND_LIFE_REVOCATION_PROTOCOL, payload, REVOCATION_SEND_TIMEOUT_MS);
      send()
        .catch(send)
        .catch((error: unknown) => this.logger.warn({ peer: member, objectId: revocation.objectId, err: error }, 'second-life revocation not delivered to a member'));
    }
  }

  /** The other nodes the peer layer currently sees alive. */
  private livePeers(): Set<string> {
    return new Set(this.peers.members().filter((member) => member.alive && !member.self).map((member) => member.nodeId));
  }

  private aliveRingMembers(): string[] {
    const alive = this.livePeers();
    return this.ring.members.filter((member) => alive.has(member));
  }

  /**
   * Graceful leave of ownership: hands every partition this node owns to another live
   * replica, waits a little for the moves, then stops replication and the peer network.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.settleTimer);
    // Handing every partition over is one summary line below, not one per partition.
    this.log.quietOwnership = true;
    const alive = this.livePeers();
    const owned: number[] = [];
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      const status = this.log.status(partition);
      if (status.role !== 'owner') continue;
      const target = status.membership.voters.find((voter) => voter !== this.config.nodeId && alive.has(voter));
      if (target === undefined) continue;
      const moved = this.log.core.transferOwnership(partition, target);
      if (moved.ok) owned.push(partition);
    }
    const deadline = Date.now() + HANDOVER_WAIT_MS;
    while (owned.some((partition) => this.log.status(partition).role === 'owner') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (owned.length > 0) this.logger.info({ partitions: owned.length }, 'handed partitions over before stopping');
    this.membership.stop();
    await this.log.stop();
    await this.peers.stop();
    this.clock.stop();
  }

  /** Serves commands forwarded by other nodes through the node's router (admission, execution, one more hop). */
  serveForwarding(router: Pick<CommandRouter, 'route'>): void {
    this.peers.handle(FORWARD_PROTOCOL, async (payload, from) => {
      const parsed = parseForward(payload);
      if (parsed === undefined) return { ok: false, code: 'INVALID_MESSAGE', msg: `malformed forward from ${from}` };
      const { request, hop } = parsed;
      return router.route(request, { forwards: hop + 1, from }).then(
        (result) => ({ ok: true, seq: result.seq, dup: result.duplicate }),
        (failure: unknown) => forwardFailure(failure),
      );
    });
  }

  /**
   * Sends a command to the partition's owner and returns its answer (the router's Forwarder);
   * `hop` is how many times it was forwarded before.
   */
  async forward(owner: string, request: CommandRequest, hop = 0): Promise<CommandResult> {
    let response: unknown;
    try {
      response = await this.peers.request(
        owner,
        FORWARD_PROTOCOL,
        {
          player: request.playerId,
          commandId: request.commandId,
          a: request.aggregateType,
          i: request.aggregateId,
          c: request.command,
          hop,
          ...(request.sender === undefined ? {} : { snd: [request.sender.type, request.sender.id, request.sender.item, request.sender.playerId] }),
        },
        this.settings.forwardTimeoutMs,
      );
    } catch (error) {
      // The owner went silent (the failure detector gave up on it). When that leaves the
      // partition without a quorum reachable from here, say so: NO_QUORUM, marked outcome
      // unknown, since the owner may have applied the command before it went silent.
      const partition = partitionOf(request.aggregateType, request.aggregateId, this.config.partitionCount);
      if (this.log.ownership(partition).quorumLost === true) throw new NoQuorumError(partition, true);
      throw new RingstateError('UNAVAILABLE', `owner ${owner} did not answer`, { cause: error });
    }
    const answer = response as { ok?: unknown; seq?: unknown; dup?: unknown; code?: unknown; msg?: unknown; reason?: unknown; ra?: unknown };
    if (answer.ok === true && typeof answer.seq === 'number') return { seq: answer.seq, duplicate: answer.dup === true };
    const code: ErrorCode = isErrorCode(answer.code) ? answer.code : 'INTERNAL';
    // The owner's retry hint travels back to the client (an overloaded owner, not this node).
    const options = {
      ...(typeof answer.reason === 'string' ? { reason: answer.reason } : {}),
      ...(typeof answer.ra === 'number' && Number.isFinite(answer.ra) && answer.ra > 0 ? { retryAfterMs: answer.ra } : {}),
    };
    throw new RingstateError(code, typeof answer.msg === 'string' ? answer.msg : 'forwarded command failed', options);
  }

  /**
   * Logs one summary of what this node owns once the start has settled (every partition has a
   * known owner, no change for SETTLE_QUIET_MS), or after SETTLE_WAIT_MAX_MS; ownership changes
   * log one by one from then on.
   */
  private watchSettle(): void {
    const startedMs = Date.now();
    this.lastOwnershipChangeMs = startedMs;
    this.settleTimer = setInterval(() => {
      const nowMs = Date.now();
      const summary = this.ownershipSummary();
      const settled = summary.unowned === 0 && nowMs - this.lastOwnershipChangeMs >= SETTLE_QUIET_MS;
      if (!settled && nowMs - startedMs < SETTLE_WAIT_MAX_MS) return;
      clearInterval(this.settleTimer);
      this.log.quietOwnership = false;
      this.logger.info({ ...summary, partitions: this.config.partitionCount, settledMs: nowMs - startedMs }, settled ? 'partitions settled: owns partitions' : 'partitions not settled yet: owns partitions');
    }, 250);
    this.settleTimer.unref();
  }

  /** Partitions this node replicates, owns (ready), and of those it replicates, how many have no known owner. */
  private ownershipSummary(): { owned: number; replicated: number; unowned: number } {
    let owned = 0;
    let replicated = 0;
    let unowned = 0;
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      if (!this.ring.replicaSet(partition).includes(this.config.nodeId)) continue;
      replicated += 1;
      const status = this.log.status(partition);
      if (status.role === 'owner' && status.ready) owned += 1;
      else if (status.owner === null) unowned += 1;
    }
    return { owned, replicated, unowned };
  }

  private hasState(): boolean {
    for (let partition = 0; partition < this.config.partitionCount; partition += 1) {
      if (this.store.hardState(partition) !== undefined) return true;
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
      const state = this.store.hardState(partition) as { epoch?: unknown; vote?: unknown } | undefined;
      if (state === undefined) continue;
      if (typeof state.epoch !== 'number' || state.epoch > 1 || (state.vote !== null && state.vote !== undefined)) return false;
      if (this.store.lastPosition(partition) > 1) return false;
    }
    return true;
  }

  /** True when this is cluster creation (see the header comment). */
  private async decideFounding(): Promise<boolean> {
    const configured = this.founders;
    const founder = configured.includes(this.config.nodeId);
    if (founder && configured.length === 1) return true;
    const majority = Math.floor(configured.length / 2) + 1;
    const startedMs = Date.now();
    const deadline = startedMs + this.settings.bootstrapWaitMs;
    // Founders wait a while for every other founder, not just a majority: a majority that found
    // at once elects owners within a second, and a founder started a moment later would then
    // find "an existing cluster" and rejoin (safe, but a brand-new cluster should not start with
    // a founder fenced out). Waiting is never less safe; after the window a majority suffices,
    // so a founder that never comes cannot block creation.
    const allFoundersUntilMs = startedMs + Math.min(ALL_FOUNDERS_WAIT_MS, this.settings.bootstrapWaitMs / 2);
    while (Date.now() < deadline) {
      // Founders ask each other, and everyone asks every peer it has found (through
      // cluster.bootstrap): a founder whose disk was wiped after the cluster grew and its
      // fellow founders left must learn the cluster exists from the members that hold it,
      // not found a second cluster with whichever founders it can still reach.
      const others = [...new Set([...(founder ? configured : []), ...this.livePeers()])].filter((member) => member !== this.config.nodeId);
      const answers = await Promise.all(
        others.map((member) =>
          this.peers.request(member, CLUSTER_INFO_PROTOCOL, {}, 1_000).then(
            (answer) => ({ member, ...(answer as { hasState?: unknown; foundingOnly?: unknown; ring?: unknown; bootId?: unknown; countedFounders?: unknown }) }),
            () => undefined,
          ),
        ),
      );
      // A founder that already founded counting this very process (same boot, still empty, so
      // it never voted) as a fellow founder: founding is what it expects of us, even if its
      // owners have been elected since. Only a restart (a wiped disk) changes the boot id.
      const countedUs = answers.some((answer) => Array.isArray(answer?.countedFounders) && answer.countedFounders.includes(this.bootId));
      if (founder && countedUs) return true;
      // A member that has lived past founding (elections, entries): the cluster exists; learn its ring.
      const existing = answers.filter((answer) => answer?.hasState === true && answer.foundingOnly !== true);
      for (const answer of existing) {
        const record = parseRingRecord(answer?.ring);
        if (record !== undefined) this.membership.offer(record);
      }
      if (existing.length > 0) return false;
      // Empty members and members holding only the founding state agree this is creation.
      // A node outside the configured members never founds: it waits for the cluster and joins.
      const fellows = answers.filter((answer) => answer !== undefined && configured.includes(answer.member) && (answer.hasState === false || answer.foundingOnly === true));
      const needed = Date.now() < allFoundersUntilMs ? configured.length : majority;
      if (founder && fellows.length + 1 >= needed) {
        this.countedFounders = fellows.filter((answer) => answer?.hasState === false && typeof answer.bootId === 'string').map((answer) => answer?.bootId as string);
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(
      founder
        ? `could not reach a majority of the founding members (${configured.join(', ')}) within cluster.bootstrapWaitMs`
        : 'found no running cluster through cluster.bootstrap within cluster.bootstrapWaitMs (this node is not a founding member, so it only joins)',
    );
  }
}

function parseRevocation(payload: unknown): { objectId: string; untilMs: number } | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { objectId, untilMs } = payload as { objectId?: unknown; untilMs?: unknown };
  if (typeof objectId !== 'string' || objectId.length > 128 || typeof untilMs !== 'number' || !Number.isSafeInteger(untilMs)) return undefined;
  return { objectId, untilMs };
}
