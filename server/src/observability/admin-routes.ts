/**
 * Operator endpoints: GET /v1/admin/cluster shows this node's view of the members, the ring and
 * the partition table. Every endpoint here needs `Authorization: Bearer <admin.token>` outside
 * dev mode; in dev mode loopback clients need none (admin-access.ts).
 *
 * Response layout:
 *   {nodeId, ringVersion, members: [{nodeId, address, alive, self, zone?, host?}],
 *    partitions: [{partition, replicas, role, epoch, owner, ready, commit, applied, lastPosition,
 *                  voters, learners, lag, spread?, votersSpread?}],
 *    spread?: {zones, hosts, replicationFactor, shortfalls: [{level, domains, wanted}], warning}}
 * `replicas` is the ring's replica set (preferred owner first); `lag` is the owner's commit
 * minus this replica's applied position, as far as this node knows. `zone` and `host` are the
 * member's declared locality (absent: unknown). `spread` on a partition says whether its ring
 * replica set spans as many zones and hosts as the members allow, `votersSpread` the same of its
 * current voters (false while a move towards the ring is under way, or when the domains run
 * short). The view's `spread` counts the members' distinct zones and hosts; `warning` (null when
 * none) says that there are fewer of them than copies, in the words of the log line.
 *
 * `ring` is the agreed ring membership {generation, members, clusterId} and `leaving` is true while this
 * node moves its replicas away before stopping.
 *
 * POST /v1/admin/leave [{"force": true}] takes this node out of the ring (202 at once); it moves
 * its replicas to the remaining members and then stops by itself (scale-in, docs/operations.md).
 * POST /v1/admin/members/remove {"nodeId": "...", "force"?: true} takes a member that is down
 * for good out of the ring (200 with the new ring). Both answer 409 MEMBERSHIP_REFUSED when
 * the change would leave fewer members than replicationFactor (unless force), name a
 * non-member, or (remove) name a node that is alive.
 *
 * GET /v1/admin/aggregate?type=<t>&id=<i>[&limit=<n>] reads this replica's committed entries of
 * one aggregate (the load tester's loss oracle compares them across replicas):
 *   {nodeId, partition, replicated, seq, entries: [{seq, commandId, playerId, events}]}
 */
import { errorResult, json, parseJsonBody, type HttpRouter } from '../http/index.ts';
import { refuseAdmin, type AdminAccess } from './admin-access.ts';
import type { OutboxChange, OutboxItem, RecordedRefusal } from '../log/index.ts';

export interface MemberRow {
  readonly nodeId: string;
  readonly address: string;
  readonly alive: boolean;
  readonly self: boolean;
  /** The member's declared locality (absent: unknown, or an older build). */
  readonly zone?: string;
  readonly host?: string;
}

export interface PartitionRow {
  readonly partition: number;
  readonly replicas: readonly string[];
  readonly role: string;
  readonly epoch: number;
  readonly owner: string | null;
  readonly ready: boolean;
  readonly commit: number;
  readonly applied: number;
  readonly lastPosition: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  readonly lag: number;
  /** Idle without heartbeats (an owner), or expecting none (a replica): docs/replication.md, "Quiescence". Absent from older builds. */
  readonly quiesced?: boolean;
  /** The ring's replica set spans as many zones and hosts as the members allow. Absent from older builds. */
  readonly spread?: boolean;
  /** The same of the partition's current voters, as far as this node knows. */
  readonly votersSpread?: boolean;
}

/** How replica sets can spread over the members' failure domains (docs/cluster.md, "Failure domains"). */
export interface SpreadView {
  readonly zones: number;
  readonly hosts: number;
  readonly replicationFactor: number;
  readonly shortfalls: ReadonlyArray<{ readonly level: string; readonly domains: number; readonly wanted: number }>;
  /** Fewer domains than copies, in the words of the log line; null when none. */
  readonly warning: string | null;
}

/**
 * A GET /v1/admin/cluster answer as this build names it. Nodes before 0.2 named a partition's
 * owner `leader` and its role 'leader': tools that talk to a cluster during a rolling upgrade
 * read both through this.
 */
export function clusterViewOf(json: unknown): ClusterView {
  const view = json as ClusterView;
  const partitions = view.partitions.map((row) => {
    const legacy = row as PartitionRow & { leader?: string | null };
    if (legacy.owner !== undefined && legacy.role !== 'leader') return row;
    const { leader, ...rest } = legacy;
    return { ...rest, owner: legacy.owner ?? leader ?? null, role: legacy.role === 'leader' ? 'owner' : legacy.role };
  });
  return { ...view, partitions };
}

export interface ClusterView {
  readonly nodeId: string;
  readonly ringVersion: number;
  readonly ring: { readonly generation: number; readonly members: readonly string[]; readonly clusterId: string };
  readonly leaving: boolean;
  readonly members: readonly MemberRow[];
  readonly partitions: readonly PartitionRow[];
  /** Absent on a single node and from older builds. */
  readonly spread?: SpreadView;
}

export interface AggregateLog {
  readonly nodeId: string;
  readonly partition: number;
  /** False when this node holds no replica of the partition (entries is then empty). */
  readonly replicated: boolean;
  readonly seq: number;
  readonly entries: ReadonlyArray<{
    seq: number;
    commandId: string;
    playerId: string;
    events: readonly unknown[];
    timestampMs: number;
    /** A delivery from another aggregate refused for good (recorded so repeats get the same answer). */
    refusal?: RecordedRefusal;
    /** What the entry changed in the aggregate's outbox (sends, timers, cancels, settled items). */
    outbox?: OutboxChange;
  }>;
  /** The aggregate's outbox items still pending on this replica. */
  readonly pending: readonly OutboxItem[];
}

export interface AdminRouteOptions {
  readonly access: AdminAccess;
  readonly view: () => ClusterView;
  readonly readAggregate: (type: string, id: string, limit: number) => AggregateLog;
  /** Absent on a single node (no ring). */
  readonly membership?: {
    readonly leave: (force: boolean) => void;
    readonly remove: (nodeId: string, force: boolean) => { generation: number; members: readonly string[] };
  };
}

const AGGREGATE_ENTRIES_MAX = 100_000;
const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const ID = /^.{1,64}$/;
const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function adminRoutes(router: HttpRouter, options: AdminRouteOptions): void {
  router.add('GET', '/v1/admin/cluster', (request) => {
    const refused = refuseAdmin(request, options.access);
    if (refused !== undefined) return refused;
    return json(200, options.view());
  });
  router.add('POST', '/v1/admin/leave', (request) => {
    const refused = refuseAdmin(request, options.access);
    if (refused !== undefined) return refused;
    if (options.membership === undefined) return errorResult('NOT_FOUND', 'this node runs without a cluster');
    const body = request.body.length === 0 ? {} : parseJsonBody(request.body);
    options.membership.leave(body['force'] === true);
    return json(202, { leaving: true, nodeId: options.view().nodeId });
  });
  router.add('POST', '/v1/admin/members/remove', (request) => {
    const refused = refuseAdmin(request, options.access);
    if (refused !== undefined) return refused;
    if (options.membership === undefined) return errorResult('NOT_FOUND', 'this node runs without a cluster');
    const body = parseJsonBody(request.body);
    const nodeId = body['nodeId'];
    if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) return errorResult('INVALID_MESSAGE', `nodeId must match ${NODE_ID}`);
    return json(200, { ring: options.membership.remove(nodeId, body['force'] === true) });
  });
  router.add('GET', '/v1/admin/aggregate', (request) => {
    const refused = refuseAdmin(request, options.access);
    if (refused !== undefined) return refused;
    const type = request.query.get('type') ?? '';
    const id = request.query.get('id') ?? '';
    const limit = Number(request.query.get('limit') ?? AGGREGATE_ENTRIES_MAX);
    if (!NAME.test(type) || !ID.test(id) || !Number.isInteger(limit) || limit < 1 || limit > AGGREGATE_ENTRIES_MAX) {
      return errorResult('INVALID_MESSAGE', `type must match ${NAME}, id be 1-64 characters, limit 1-${AGGREGATE_ENTRIES_MAX}`);
    }
    return json(200, options.readAggregate(type, id, limit));
  });
}
