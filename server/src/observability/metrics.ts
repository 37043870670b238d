/**
 * Prometheus metrics of one node, served at /metrics. Each node has its own registry so tests
 * can run several nodes in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class NodeMetrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: 'ringstate_commands_total',
    help: 'Commands handled, by outcome (acked, duplicate, or the error code).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly commandLatency = new Histogram({
    name: 'ringstate_command_duration_seconds',
    help: 'Time from receiving a command to its answer.',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly connections = new Gauge({ name: 'ringstate_connections', help: 'Open client WebSocket connections.', registers: [this.registry] });
  readonly subscriptions = new Gauge({ name: 'ringstate_subscriptions', help: 'Active aggregate subscriptions.', registers: [this.registry] });
  readonly activeAggregates = new Gauge({ name: 'ringstate_active_aggregates', help: 'Aggregates held in memory.', registers: [this.registry] });
  readonly deferredIndexEntries = new Gauge({
    name: 'ringstate_store_deferred_index_entries',
    help: 'Applied log entries whose aggregate-index and dedupe records are deferred in memory, not yet written (at most indexBatchEntries).',
    registers: [this.registry],
  });
  readonly limitTrips = new Counter({
    name: 'ringstate_limit_trips_total',
    help: 'Times a protective limit refused input, by limit.',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly protocolErrors = new Counter({
    name: 'ringstate_protocol_errors_total',
    help: 'Error frames sent to clients, by code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: 'ringstate_deliveries_total',
    help: 'Outbox deliveries (commands aggregates sent, timers) settled by this node, by outcome: delivered (taken by the target) or refused (refused for good, onRejected ran).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly deliveryRetries = new Counter({
    name: 'ringstate_delivery_retries_total',
    help: 'Outbox deliveries answered with a retryable code and tried again later, by code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly outboxPending = new Gauge({ name: 'ringstate_outbox_pending', help: 'Outbox items (sends, timers) pending in the partitions this node owns.', registers: [this.registry] });
  readonly handlerErrors = new Counter({ name: 'ringstate_handler_errors_total', help: 'Aggregate handlers that threw.', registers: [this.registry] });
  readonly passivations = new Counter({ name: 'ringstate_passivations_total', help: 'Aggregates dropped from memory when idle.', registers: [this.registry] });

  readonly partitionsOwned = new Gauge({ name: 'ringstate_partitions_owned', help: 'Partitions this node owns and serves.', registers: [this.registry] });
  readonly partitionsQuiesced = new Gauge({
    name: 'ringstate_partitions_quiesced',
    help: 'Partitions this node owns that are idle without heartbeats (quiesced; docs/replication.md).',
    registers: [this.registry],
  });
  readonly partitionsReplicated = new Gauge({ name: 'ringstate_partitions_replicated', help: 'Partitions this node holds a replica of.', registers: [this.registry] });
  readonly partitionsUnderReplicated = new Gauge({
    name: 'ringstate_partitions_under_replicated',
    help: 'Partitions owned by this node with fewer live voters than the replication factor.',
    registers: [this.registry],
  });
  readonly replicationLagEntries = new Gauge({
    name: 'ringstate_replication_lag_entries',
    help: 'Largest gap between a partition owner\'s commit and this replica\'s applied position.',
    registers: [this.registry],
  });
  readonly elections = new Counter({ name: 'ringstate_elections_total', help: 'Elections this node started (candidate campaigns, each raising the epoch; pre-vote rounds are counted apart).', registers: [this.registry] });
  readonly preVotes = new Counter({ name: 'ringstate_pre_votes_total', help: 'Pre-vote rounds this node started (asking whether an election could win, before campaigning).', registers: [this.registry] });
  readonly snapshotInstalls = new Counter({
    name: 'ringstate_snapshot_installs_total',
    help: 'Replication snapshots this node installed (it was too far behind for entry-by-entry catch-up).',
    registers: [this.registry],
  });
  readonly snapshotEntriesFetched = new Counter({
    name: 'ringstate_snapshot_entries_fetched_total',
    help: 'Log entries fetched from other replicas to install snapshots.',
    registers: [this.registry],
  });
  readonly replicationMessages = new Counter({
    name: 'ringstate_replication_messages_sent_total',
    help: 'Replication messages (appends, answers, heartbeats, votes) this node sent to peers.',
    registers: [this.registry],
  });
  readonly replicationFrames = new Counter({
    name: 'ringstate_replication_frames_sent_total',
    help: 'Peer frames the replication messages travelled in (one per peer per driver cycle).',
    registers: [this.registry],
  });
  readonly replicationWrites = new Counter({
    name: 'ringstate_replication_writes_total',
    help: 'Store transactions of the replicated log (entries, hard state and applied effects together).',
    registers: [this.registry],
  });
  readonly replicationCycles = new Counter({
    name: 'ringstate_replication_cycles_total',
    help: 'Cycles (Readies) of the replication driver: each persists, sends and applies one batch of work.',
    registers: [this.registry],
  });
  readonly replicationEntriesWritten = new Counter({
    name: 'ringstate_replication_entries_written_total',
    help: 'Log entries the replicated log wrote (divided by ringstate_replication_writes_total: entries per transaction).',
    registers: [this.registry],
  });
  readonly epochChanges = new Counter({ name: 'ringstate_epoch_changes_total', help: 'Partition epoch changes seen by this node.', registers: [this.registry] });
  readonly ownershipChanges = new Counter({
    name: 'ringstate_ownership_changes_total',
    help: 'Ownership changes of partitions on this node, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly forwardedCommands = new Counter({
    name: 'ringstate_forwarded_commands_total',
    help: 'Commands this node forwarded to the partition owner.',
    registers: [this.registry],
  });

  private readonly outcomeCounters = new Map<string, { inc: () => void }>();

  /** The counter child for one outcome, cached: label lookup per command is measurable. */
  commandOutcome(outcome: string): { inc: () => void } {
    let child = this.outcomeCounters.get(outcome);
    if (child === undefined) {
      child = this.commands.labels(outcome);
      this.outcomeCounters.set(outcome, child);
    }
    return child;
  }

  constructor(options: { defaultMetrics: boolean }) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
