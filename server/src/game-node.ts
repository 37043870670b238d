/**
 * The composition root of one node: builds every layer from the frozen config and owns their
 * shared lifecycle (start, then stop in reverse order).
 *
 *   gateway (uWS: WebSocket + HTTP)  ->  aggregate runtime  ->  partition log  ->  log store (LMDB)
 *
 * The partition log is the replication seam: LocalPartitionLog on a single node; the cluster
 * layer provides a replicated one with the same interface.
 */
import { RingstateError } from '@ringstate/protocol';
import { AggregateRegistry, AggregateRuntime, type AggregateDefinition, type CommandRequest } from './aggregate/index.ts';
import { PlayerTokens } from './auth/index.ts';
import { ConfigError, devSecretsInUse, secretsRefusal, type Config } from './config/index.ts';
import { HostDirectory, parsePlayerQuery, UwsGateway, type ClientSideInfo } from './gateway/index.ts';
import { HttpRouter, errorResult, json, parseJsonBody } from './http/index.ts';
import { CommandRouter, InFlightCommands } from './router/index.ts';
import { Courier } from './outbox/index.ts';
import { LogStore, type StoreDamagedError } from './log/index.ts';
import { CommandStats, NodeMetrics, OwnershipHistory, SecurityLog, adminRoutes, createLogger, dashboardRoutes, type AdminAccess, type ClusterView, type Logger } from './observability/index.ts';
import { CLUSTER_INFO_PROTOCOL, ClusterServices } from './cluster/index.ts';
import { LocalPartitionLog, type PartitionLog } from './partition/index.ts';
import { shortfallWarning } from './ring/index.ts';
import { LocalSecondLifeBackend, secondLifeRoutes } from './second-life/index.ts';

const PASSIVATION_SWEEP_MS = 5_000;
const DEDUPE_SWEEP_MS = 60_000;
const DEDUPE_PRUNE_BATCH = 10_000;

export interface GameNodeOptions {
  readonly config: Readonly<Config>;
  readonly aggregates: ReadonlyArray<AggregateDefinition<any, any, any>>;
  readonly logger?: Logger;
  /** Collect Node.js process metrics (off in tests that run several nodes in one process). */
  readonly processMetrics?: boolean;
  /**
   * Called once a leave (POST /v1/admin/leave) has moved every replica away; the CLI stops the
   * process there. Without it the node stops itself.
   */
  readonly onLeft?: () => void;
}

export class GameNode {
  readonly config: Readonly<Config>;
  readonly logger: Logger;
  readonly metrics: NodeMetrics;
  readonly store: LogStore;
  readonly log: PartitionLog;
  readonly runtime: AggregateRuntime;
  readonly tokens: PlayerTokens;
  /** Present when config.cluster.enabled: peers, ring, replicated log, forwarding. */
  readonly cluster: ClusterServices | undefined;
  /** The last partition ownership changes this node saw (dashboard, GET /v1/admin/stats). */
  readonly ownership = new OwnershipHistory();
  /** Rate-limited warnings for refusals an attacker can provoke (docs/security.md). */
  readonly securityLog: SecurityLog;
  private readonly gateway: UwsGateway;
  /** Admission, execution here or forwarding: every command's way in (router/). */
  private readonly router: CommandRouter;
  /** Delivers what aggregates send each other, and their timers, from the owners of the senders (outbox/). */
  private readonly courier: Courier;
  private readonly timers: Array<ReturnType<typeof setInterval>> = [];
  private state: 'new' | 'running' | 'stopping' | 'stopped' = 'new';
  private boundPort = 0;
  private readonly onLeft: (() => void) | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: GameNodeOptions) {
    const config = options.config;
    // loadConfig checks this too; an embedder that builds its config with configSchema.parse
    // does not pass through it, and must not get a node that signs with public secrets (F1).
    const refusal = secretsRefusal(config, config as unknown as Record<string, unknown>);
    if (refusal !== undefined) throw new ConfigError(refusal);
    this.onLeft = options.onLeft;
    this.config = config;
    this.logger = options.logger ?? createLogger({ level: config.logLevel, nodeId: config.nodeId });
    this.metrics = new NodeMetrics({ defaultMetrics: options.processMetrics ?? true });
    this.securityLog = new SecurityLog(this.logger);
    // Before anything else touches the disk or the network: a second process on this directory
    // stops here with DATA_DIR_IN_USE (log/directory-lock.ts).
    this.store = LogStore.open({ path: config.dataDir, durability: config.durability, indexBatchEntries: config.indexBatchEntries, holder: `ringstate node ${config.nodeId}`, onDamage: damageLogger(this.logger) });
    const epochs = new Map<number, number>();
    this.cluster = config.cluster.enabled
      ? new ClusterServices(config, this.store, this.logger, {
          onOwnershipChange: (change) => {
            this.ownership.record({ atMs: Date.now(), partition: change.partition, epoch: change.epoch, role: change.role, owner: change.owner, ready: change.ready, reason: change.reason });
            this.metrics.ownershipChanges.inc({ reason: change.reason });
            // A pre-vote round only asks whether an election could win; the election is the
            // candidate's campaign, which raises the epoch.
            if (change.reason === 'campaign') (change.role === 'pre-candidate' ? this.metrics.preVotes : this.metrics.elections).inc();
            if (epochs.get(change.partition) !== change.epoch) {
              epochs.set(change.partition, change.epoch);
              this.metrics.epochChanges.inc();
            }
          },
          onSnapshotInstalled: (_partition, fetchedEntries) => {
            this.metrics.snapshotInstalls.inc();
            this.metrics.snapshotEntriesFetched.inc(fetchedEntries);
          },
          onReplicationWork: ({ messages, frames, writes, cycles, entries }) => {
            this.metrics.replicationMessages.inc(messages);
            this.metrics.replicationFrames.inc(frames);
            this.metrics.replicationWrites.inc(writes);
            this.metrics.replicationCycles.inc(cycles);
            this.metrics.replicationEntriesWritten.inc(entries);
          },
        })
      : undefined;
    this.log = this.cluster?.log ?? new LocalPartitionLog(this.store);
    this.tokens = new PlayerTokens(config.tokens);
    this.runtime = new AggregateRuntime({
      registry: new AggregateRegistry(options.aggregates),
      store: this.store,
      log: this.log,
      nowMs: Date.now,
      settings: {
        partitionCount: config.partitionCount,
        snapshotEveryEvents: config.snapshotEveryEvents,
        aggregateIdleMs: config.aggregateIdleMs,
        activeAggregatesMax: config.activeAggregatesMax,
        commandQueueMax: config.commandQueueMax,
        docResidentMs: config.docResidentMs,
      },
      hooks: {
        onHandlerError: ({ aggregate, commandId, cause }) => {
          this.metrics.handlerErrors.inc();
          this.logger.warn({ aggregate, commandId, err: cause }, 'aggregate handler threw; command rejected');
        },
        onCompensationRefused: ({ aggregate, item, code, message, cause }) => {
          this.metrics.deliveries.inc({ outcome: 'compensation_refused' });
          this.logger.error({ aggregate, item, code, reason: message, err: cause }, 'an onRejected command was refused by its own aggregate: the outbox item is settled without its compensation (a bug in game code)');
        },
      },
    });
    const cluster = this.cluster;
    this.router = new CommandRouter({
      runtime: this.runtime,
      admission: new InFlightCommands(config.limits.commandsInFlightMax, () => performance.now(), config.limits.admissionDelayTargetMs),
      ...(cluster === undefined ? {} : { forwarder: cluster }),
      onForward: () => this.metrics.forwardedCommands.inc(),
      onAdmissionRefused: () => this.metrics.limitTrips.inc({ limit: 'commands_in_flight' }),
    });
    const router = this.router;
    this.courier = new Courier({
      log: this.log,
      store: this.store,
      route: (request) => router.route(request),
      settle: (request) => this.runtime.settle(request),
      partitionCount: config.partitionCount,
      nowMs: Date.now,
      timers: { setTimeout: (callback, ms) => setTimeout(callback, ms).unref(), clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout) },
      random: Math.random,
      settings: config.outbox,
      hooks: {
        onSettled: ({ outcome }) => this.metrics.deliveries.inc({ outcome: outcome.kind }),
        onRetry: ({ code }) => this.metrics.deliveryRetries.inc({ code }),
      },
    });
    this.gateway = new UwsGateway(
      {
        host: config.host,
        port: config.port,
        frameBytesMax: config.limits.frameBytesMax,
        idleTimeoutSeconds: config.limits.idleTimeoutSeconds,
        httpBodyBytesMax: config.limits.httpBodyBytesMax,
      },
      {
        runtime: this.runtime,
        tokens: this.tokens,
        limits: config.limits,
        nodeId: config.nodeId,
        metrics: this.metrics,
        logger: this.logger,
        nowMs: Date.now,
        isShuttingDown: () => this.state !== 'running',
        router: this.router,
        securityLog: this.securityLog,
      },
      this.httpRoutes(),
      this.logger,
    );
  }

  /** The port actually bound (differs from config when config.port is 0). */
  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`cannot start a node in state ${this.state}`);
    const recovered = this.store.partitions().length;
    if (this.cluster !== undefined) {
      this.cluster.serveForwarding(this.router);
      await this.cluster.start();
    } else {
      await this.log.start();
    }
    this.boundPort = await this.gateway.listen();
    this.state = 'running';
    this.courier.start();
    this.timers.push(setInterval(() => this.passivate(), PASSIVATION_SWEEP_MS).unref());
    this.timers.push(setInterval(() => void this.pruneDedupe(), DEDUPE_SWEEP_MS).unref());
    this.logger.info({ host: this.config.host, port: this.boundPort, dataDir: this.config.dataDir, partitionsWithData: recovered, devMode: this.config.devMode }, 'node started');
    if (this.config.devMode) {
      this.logger.warn({ devMode: true, devSecrets: devSecretsInUse(this.config) }, 'dev mode is not for production: the dev token issuer is on and the listed secrets are public built-in values');
    }
  }

  /** Graceful stop: refuse new commands, close clients (1001), let pending writes commit, close the log. */
  stop(): Promise<void> {
    // One stop at a time: a second call (a second signal, a leave completing) waits for the first.
    this.stopping ??= this.runStop();
    return this.stopping;
  }

  private async runStop(): Promise<void> {
    if (this.state === 'stopped') return;
    if (this.state === 'running') await this.leaveBeforeStop();
    this.state = 'stopping';
    this.courier.stop();
    for (const timer of this.timers) clearInterval(timer);
    this.gateway.close();
    this.securityLog.stop();
    if (this.cluster !== undefined) await this.cluster.stop();
    else await this.log.stop();
    await this.store.close();
    this.state = 'stopped';
    this.logger.info('node stopped');
  }

  /**
   * Scale-in: takes this node out of the ring (throws MEMBERSHIP_REFUSED when that is not
   * allowed), and once its replicas live elsewhere, stops it (or calls `onLeft`).
   */
  leave(force = false): void {
    const cluster = this.cluster;
    if (cluster === undefined) throw new RingstateError('NOT_FOUND', 'this node runs without a cluster');
    if (cluster.isLeaving) return;
    cluster.leave({ force }).then(
      () => (this.onLeft === undefined ? void this.stop() : this.onLeft()),
      (error: unknown) => this.logger.error({ err: error }, 'leave did not complete'),
    );
  }

  /** With cluster.leaveOnStop: leave the ring (replicas move away) before stopping, within leaveTimeoutMs. */
  private async leaveBeforeStop(): Promise<void> {
    const cluster = this.cluster;
    if (cluster === undefined || !this.config.cluster.leaveOnStop) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`replicas did not move within cluster.leaveTimeoutMs (${this.config.cluster.leaveTimeoutMs} ms)`)), this.config.cluster.leaveTimeoutMs);
      });
      await Promise.race([cluster.leave(), timeout]);
    } catch (error) {
      // Refused (the last members, fewer than replicationFactor) or too slow: stop as a restart would.
      this.logger.warn({ err: error }, 'leave on stop did not complete; stopping without it');
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** Members, ring and partition table as this node sees them (admin API, dashboard). */
  clusterView(): ClusterView {
    const cluster = this.cluster;
    if (cluster === undefined) {
      const partitions = Array.from({ length: this.config.partitionCount }, (_, partition) => {
        const position = this.store.lastPosition(partition);
        return { partition, replicas: [this.config.nodeId], role: 'owner', epoch: 1, owner: this.config.nodeId, ready: true, commit: position, applied: position, lastPosition: position, voters: [this.config.nodeId], learners: [], lag: 0 };
      });
      return { nodeId: this.config.nodeId, ringVersion: 0, ring: { generation: 0, members: [this.config.nodeId], clusterId: '' }, leaving: false, members: [{ nodeId: this.config.nodeId, address: `${this.config.host}:${this.boundPort}`, alive: true, self: true }], partitions };
    }
    const ring = cluster.ring;
    const partitions = Array.from({ length: this.config.partitionCount }, (_, partition) => {
      const status = cluster.log.status(partition);
      return {
        partition,
        replicas: ring.replicaSet(partition),
        role: status.role,
        epoch: status.epoch,
        owner: status.owner,
        ready: status.ready,
        commit: status.commit,
        applied: status.applied,
        lastPosition: status.lastPosition,
        voters: status.membership.voters,
        learners: status.membership.learners,
        lag: Math.max(0, status.commit - status.applied),
        quiesced: status.quiesced,
        spread: ring.isSpread(ring.replicaSet(partition)),
        votersSpread: ring.isSpread(status.membership.voters),
      };
    });
    const members = cluster.peers.members().map((member) => ({ nodeId: member.nodeId, address: member.address, alive: member.alive, self: member.self, ...ring.localityOf(member.nodeId) }));
    const { generation, members: ringMembers, clusterId } = cluster.membership.record;
    const spread = { ...ring.domains, replicationFactor: ring.replicationFactor, shortfalls: ring.shortfalls, warning: shortfallWarning(ring.shortfalls) ?? null };
    return { nodeId: this.config.nodeId, ringVersion: ring.version, ring: { generation, members: ringMembers, clusterId }, leaving: cluster.isLeaving, members, partitions, spread };
  }

  private updatePartitionGauges(): void {
    const view = this.clusterView();
    const alive = new Set(view.members.filter((member) => member.alive).map((member) => member.nodeId));
    let owned = 0;
    let replicated = 0;
    let under = 0;
    let lag = 0;
    let quiesced = 0;
    for (const row of view.partitions) {
      if (row.voters.includes(this.config.nodeId) || row.replicas.includes(this.config.nodeId)) replicated += 1;
      if (row.owner === this.config.nodeId && row.ready) {
        owned += 1;
        if (row.quiesced === true) quiesced += 1;
        if (row.voters.filter((voter) => alive.has(voter)).length < Math.min(this.config.replicationFactor, row.replicas.length)) under += 1;
      }
      lag = Math.max(lag, row.lag);
    }
    this.metrics.partitionsOwned.set(owned);
    this.metrics.partitionsQuiesced.set(quiesced);
    this.metrics.partitionsReplicated.set(replicated);
    this.metrics.partitionsUnderReplicated.set(under);
    this.metrics.replicationLagEntries.set(lag);
  }

  private passivate(): void {
    const dropped = this.runtime.passivateIdle();
    this.runtime.compactIdleDocs();
    if (dropped > 0) this.metrics.passivations.inc(dropped);
    this.metrics.activeAggregates.set(this.runtime.activeCount);
    this.metrics.outboxPending.set(this.courier.pendingCount);
  }

  private async pruneDedupe(): Promise<void> {
    try {
      await this.store.pruneDedupe(Date.now() - this.config.dedupeRetentionMs, DEDUPE_PRUNE_BATCH);
    } catch (error) {
      this.logger.error({ err: error }, 'dedupe pruning failed');
    }
  }

  private httpRoutes(): HttpRouter {
    const router = new HttpRouter();
    router.add('GET', '/healthz', () => json(200, { status: 'ok', nodeId: this.config.nodeId }));
    router.add('GET', '/readyz', () =>
      this.state === 'running' ? json(200, { status: 'ready', nodeId: this.config.nodeId }) : errorResult('UNAVAILABLE', `node is ${this.state}`),
    );
    router.add('GET', '/metrics', async () => {
      this.metrics.activeAggregates.set(this.runtime.activeCount);
      this.metrics.deferredIndexEntries.set(this.store.deferredIndexEntries);
      this.updatePartitionGauges();
      return { status: 200, contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
    });
    const cluster = this.cluster;
    const access: AdminAccess = { token: this.config.admin.token, devMode: this.config.devMode, securityLog: this.securityLog };
    adminRoutes(router, {
      access,
      view: () => this.clusterView(),
      ...(cluster === undefined ? {} : { membership: { leave: (force: boolean) => this.leave(force), remove: (nodeId: string, force: boolean) => cluster.removeMember(nodeId, { force }) } }),
      readAggregate: (type, id, limit) => {
        const partition = this.runtime.partitionOf(type, id);
        const replicated = this.log.replicates(partition);
        const entries = replicated ? this.store.aggregateEntries(partition, `${type}/${id}`, 0).slice(0, limit) : [];
        return {
          nodeId: this.config.nodeId,
          partition,
          replicated,
          seq: entries.at(-1)?.seq ?? 0,
          entries: entries.map((entry) => ({
            seq: entry.seq,
            commandId: entry.commandId,
            playerId: entry.playerId,
            events: entry.events,
            timestampMs: entry.timestampMs,
            ...(entry.refusal === undefined ? {} : { refusal: entry.refusal }),
            ...(entry.outbox === undefined ? {} : { outbox: entry.outbox }),
          })),
          // What the aggregate still has to deliver (sends, timers), as this replica's applied entries leave it.
          pending: replicated ? this.store.outboxOf(partition, `${type}/${id}`) : [],
        };
      },
    });
    dashboardRoutes(router, {
      access,
      nodeId: this.config.nodeId,
      metrics: this.metrics,
      commandStats: new CommandStats(this.metrics.commandLatency, Date.now),
      ownership: this.ownership,
      activeAggregates: () => this.runtime.activeCount,
      nowMs: Date.now,
      startedAtMs: Date.now(),
    });
    // Host suggestion (gateway/host-directory.ts): peers learn this node's client side from cluster-info.
    const clientSide = async (): Promise<ClientSideInfo> => ({
      clientHost: this.config.advertisedHost ?? `${this.config.host}:${this.boundPort}`,
      connections: (await this.metrics.connections.get()).values[0]?.value ?? 0,
      serving: this.state === 'running',
    });
    if (this.cluster !== undefined) this.cluster.clientInfo = clientSide;
    const hosts = new HostDirectory({
      settings: this.config.hosts,
      partitionCount: this.config.partitionCount,
      nodeId: this.config.nodeId,
      self: clientSide,
      peers: this.cluster?.peers,
      infoProtocol: CLUSTER_INFO_PROTOCOL,
      owner: (partition) => (this.cluster === undefined ? this.config.nodeId : (this.cluster.log.status(partition).owner ?? this.cluster.ring.preferredOwner(partition))),
      ringVersion: () => this.cluster?.ring.version ?? 0,
      running: () => this.state === 'new' || this.state === 'running',
      nowMs: Date.now,
      random: Math.random,
    });
    // Public and read-only, so any web origin may read it (a game page served from a CDN).
    router.add('GET', '/v1/hosts', async (request) => ({ ...json(200, await hosts.suggest(parsePlayerQuery(request.query))), headers: { 'access-control-allow-origin': '*' } }));
    router.add('POST', '/v1/dev/token', async (request) => {
      if (!this.config.devMode) return errorResult('NOT_FOUND', 'the dev token issuer is only enabled in dev mode');
      const body = parseJsonBody(request.body);
      const issued = await this.tokens.issue(String(body['player'] ?? ''), this.config.tokens.devTokenTtlMs, Date.now());
      return json(200, issued);
    });
    const clusterServices = this.cluster;
    const secondLife = secondLifeRoutes(router, {
      settings: this.config.secondLife,
      backend: new LocalSecondLifeBackend(this.runtime, this.router, this.store, this.config.secondLife.eventsBehindMax),
      tokens: this.tokens,
      credentialLifetimeMaxMs: this.config.tokens.lifetimeMaxMs,
      adminAccess: { token: this.config.admin.token, devMode: this.config.devMode, securityLog: this.securityLog },
      ...(clusterServices === undefined ? {} : { shareRevocation: (revocation) => clusterServices.shareSecondLifeRevocation(revocation) }),
      logger: this.logger,
      securityLog: this.securityLog,
      nodeId: this.config.nodeId,
      isServing: () => this.state === 'running',
    });
    if (clusterServices !== undefined && secondLife !== undefined) clusterServices.onSecondLifeRevocation = (revocation) => secondLife.revoked(revocation);
    return router;
  }
}

/** Aggregates whose damage was logged at most (a bound on memory; later ones log again each time). */
const DAMAGE_LOGGED_MAX = 10_000;

/**
 * Logs a damaged store once per aggregate, at error, with the repair command in the message
 * (store-damage.ts): every later command on that aggregate gets STORE_DAMAGED without a new line.
 */
function damageLogger(logger: Logger): (error: StoreDamagedError) => void {
  const logged = new Set<string>();
  return (error) => {
    const key = error.aggregate ?? '';
    if (logged.has(key)) return;
    if (logged.size < DAMAGE_LOGGED_MAX) logged.add(key);
    logger.error({ code: error.code, aggregate: error.aggregate, dataDir: error.directory }, error.message);
  };
}
