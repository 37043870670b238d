/**
 * Operator endpoints: GET /v1/admin/cluster shows this node's view of the members, the ring and
 * the partition table. Answered to loopback clients, or to anyone presenting
 * `Authorization: Bearer <admin.token>` when a token is configured.
 *
 * Response layout:
 *   {nodeId, ringVersion, members: [{nodeId, address, alive, self}],
 *    partitions: [{partition, replicas, role, epoch, leader, ready, commit, applied, lastPosition,
 *                  voters, learners, lag}]}
 * `replicas` is the ring's replica set (preferred owner first); `lag` is the owner's commit
 * minus this replica's applied position, as far as this node knows.
 */
import { timingSafeEqual } from 'node:crypto';
import { errorResult, isLoopbackAddress, json, type HttpRequestInfo, type HttpRouter } from '../gateway/index.ts';

export interface MemberRow {
  readonly nodeId: string;
  readonly address: string;
  readonly alive: boolean;
  readonly self: boolean;
}

export interface PartitionRow {
  readonly partition: number;
  readonly replicas: readonly string[];
  readonly role: string;
  readonly epoch: number;
  readonly leader: string | null;
  readonly ready: boolean;
  readonly commit: number;
  readonly applied: number;
  readonly lastPosition: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  readonly lag: number;
}

export interface ClusterView {
  readonly nodeId: string;
  readonly ringVersion: number;
  readonly members: readonly MemberRow[];
  readonly partitions: readonly PartitionRow[];
}

export function adminRoutes(router: HttpRouter, options: { token: string | undefined; view: () => ClusterView }): void {
  router.add('GET', '/v1/admin/cluster', (request) => {
    if (!allowed(request, options.token)) return errorResult('FORBIDDEN', 'admin endpoints answer loopback clients or a valid admin token');
    return json(200, options.view());
  });
}

export function allowed(request: HttpRequestInfo, token: string | undefined): boolean {
  if (isLoopbackAddress(request.remoteAddress)) return true;
  if (token === undefined) return false;
  const presented = request.headers.get('authorization') ?? '';
  const expected = `Bearer ${token}`;
  return presented.length === expected.length && timingSafeEqual(Buffer.from(presented), Buffer.from(expected));
}
