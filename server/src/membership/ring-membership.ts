/**
 * Ring membership: which nodes the partition ring is computed over, agreed by gossip.
 *
 * The membership is one small record, `{generation, members, clusterId}`. A change (a node joins, leaves,
 * or an operator removes a dead one) is made by whichever node receives it: it writes the
 * record with generation + 1, persists it, and pushes it to every live peer. Every node adopts
 * a record that is newer than its own (higher generation; on a tie, the one with localities,
 * then the higher ring version, so two concurrent changes resolve the same way everywhere) and pushes its record to one
 * random live peer every `ringSyncIntervalMs`, and to a peer as soon as it comes up. So all
 * nodes converge on one record, and the ring version they report is the same number.
 *
 * Concurrent changes can lose to each other (two joins accepted by two nodes at the same
 * generation: one survives). The party that wants a change therefore retries it until the
 * converged record shows it (RingMembership.join/leave do). A node that left and stopped
 * retries nothing, so the record also remembers who left (`left`) and what its own change
 * added (`added`): a node that adopts a record listing a member that left per its own record,
 * which that record neither added nor lists as left, holds a record from a branch that never
 * heard of the departure (a join admitted on an old record, say) and takes the member out again,
 * the same way on every node that knew (simulator seeds 1507, 48216). A node that left and
 * joins again is `added` by its join, so it stays.
 *
 * The ring only says which replica set each partition *should* have. Who may commit is
 * decided inside each partition's replication group (replication/): the owner moves its
 * membership towards the ring's replica set one node at a time, with a new replica catching
 * up as a learner before it votes. So nodes that briefly disagree about the ring cannot break
 * S1-S3; they only move partitions a little later.
 *
 * Localities (zone, host; ring/locality.ts) are part of the record, so every node computes the
 * same domain-spread replica sets from it. Only a node itself says where it runs: a joiner sends
 * its locality with its join request, and a member whose configured locality differs from the
 * record's (a founder: the founding record has none, so founders agree on it without talking;
 * or a node moved or reconfigured) makes a change of its own, generation + 1, and retries it
 * after every record and every gossip round until the agreed record shows it. Every other
 * change copies the localities of the members it keeps. A record without localities (older
 * nodes, or none declared) means every locality is unknown: the plain successor sets.
 *
 * The cluster id names the cluster a record belongs to: the founders derive it from the
 * founding member list (so they agree without talking), every later record keeps it, and a
 * node that holds a record ignores records, and refuses joins, of another cluster. Without it,
 * two separately founded clusters that can reach each other (same cluster key) would merge
 * their rings: the higher generation would win everywhere. A record written before cluster
 * ids existed has none (''); it is compatible with any record, and takes an id only by being
 * replaced with a newer record that has one, so such a cluster stays unprotected until then.
 *
 * Wire (protocol /ringstate/ring/1.0.0, msgpack maps):
 *   push     {g, m, c, l?, a?, lo?}      one-way: "here is my record" (l: members that left, a:
 *                                          members this record's change added, lo: localities
 *                                          {nodeId: {z?, h?}} of members that declare one; all optional)
 *   request  {op: 'join', c?, lo?}      -> {g, m, c}   add the requesting node (c: the
 *                                          cluster the requester belongs to, if it knows one;
 *                                          lo: its locality {z?, h?})
 *                                       -> {error}     when c names another cluster
 *   request  {op: 'get'} or {op: 'sync'} -> {g, m, c}  (sync: a restarted node comparing its record)
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { LOCALITY_NAME, normalizeLocalities, PartitionRing, ringVersion, sameLocality, shortfallWarning, type Localities, type Locality } from '../ring/index.ts';
import type { PeerNetwork } from '../peer/index.ts';

export const RING_PROTOCOL = '/ringstate/ring/1.0.0';
const META_KEY = 'ringMembership';
const NODE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const MEMBERS_MAX = 256;
const CLUSTER_ID = /^[0-9a-f]{16}$/;
const FOREIGN_WARN_INTERVAL_MS = 10_000;
/** Pause between rounds of a join or leave that is still in progress. */
export const MEMBERSHIP_RETRY_MS = 500;
/** How long one join request waits for its answer. */
const JOIN_REQUEST_TIMEOUT_MS = 2_000;

export interface RingRecord {
  readonly generation: number;
  readonly members: readonly string[];
  /** The cluster this record belongs to ('': a provisional record, or one from before cluster ids). */
  readonly clusterId: string;
  /** Nodes removed (left or taken out) and not joined again since, oldest first; absent when none. */
  readonly left?: readonly string[];
  /** Nodes this record's change added (a join); absent when none. */
  readonly added?: readonly string[];
  /** Localities of members that declare one (normalized, ring/locality.ts); absent when none. */
  readonly localities?: Localities;
}

/**
 * Why taking `nodeId` out of a ring of `members` must be refused, or undefined when it may go:
 * not a member, the last member, or (without `force`) fewer members left than copies wanted.
 */
export function shrinkRefusal(members: readonly string[], nodeId: string, replicationFactor: number, force: boolean): string | undefined {
  if (!members.includes(nodeId)) return `${nodeId} is not a ring member (members: ${members.join(', ')})`;
  if (members.length === 1) return 'the last member cannot leave the ring';
  if (!force && members.length - 1 < replicationFactor) {
    return `removing ${nodeId} leaves ${members.length - 1} members, fewer than replicationFactor ${replicationFactor}: partitions would lose fault tolerance (pass force to do it anyway)`;
  }
  return undefined;
}

/** The id of a cluster founded with these members (the same on every founder). */
export function foundingClusterId(members: readonly string[]): string {
  return createHash('sha256').update(`ringstate/cluster/${[...members].sort().join(',')}`).digest('hex').slice(0, 16);
}

/**
 * True when `candidate` should replace `current` (see the header). On a tie of generations a
 * record with localities wins over one without: an older node stores and gossips records
 * without them at the same generation, and letting those win ties would make the members
 * declare their localities again, one generation after another, for as long as it runs.
 */
export function isNewerRecord(candidate: RingRecord, current: RingRecord): boolean {
  if (candidate.generation !== current.generation) return candidate.generation > current.generation;
  const located = (record: RingRecord): boolean => Object.keys(record.localities ?? {}).length > 0;
  if (located(candidate) !== located(current)) return located(candidate);
  return ringVersion(candidate.members, candidate.localities) > ringVersion(current.members, current.localities);
}

/** A record from the wire or the disk, or undefined when malformed. */
export function parseRingRecord(value: unknown): RingRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { g, m, c, l, a, lo } = value as { g?: unknown; m?: unknown; c?: unknown; l?: unknown; a?: unknown; lo?: unknown };
  if (typeof g !== 'number' || !Number.isInteger(g) || g < 0) return undefined;
  if (c !== undefined && c !== '' && (typeof c !== 'string' || !CLUSTER_ID.test(c))) return undefined;
  if (!Array.isArray(m) || m.length === 0 || m.length > MEMBERS_MAX) return undefined;
  if (!m.every((member): member is string => typeof member === 'string' && NODE_ID.test(member))) return undefined;
  if (new Set(m).size !== m.length) return undefined;
  const left = l === undefined ? [] : nodeIds(l);
  const added = a === undefined ? [] : nodeIds(a);
  if (left === undefined || added === undefined) return undefined;
  const localities = lo === undefined ? {} : parseLocalities(lo);
  if (localities === undefined) return undefined;
  const record = withChanges({ generation: g, members: [...m].sort(), clusterId: typeof c === 'string' ? c : '' }, left, added);
  return withLocalities(record, localities);
}

/** `{nodeId: {z?, h?}}` from the wire, or undefined when malformed. */
function parseLocalities(value: unknown): Localities | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MEMBERS_MAX) return undefined;
  const out: Record<string, Locality> = {};
  for (const [nodeId, wire] of entries) {
    const locality = parseLocality(wire);
    if (!NODE_ID.test(nodeId) || locality === undefined) return undefined;
    out[nodeId] = locality;
  }
  return out;
}

/** A locality `{z?, h?}` from the wire (join requests, records), or undefined when malformed. */
export function parseLocality(value: unknown): Locality | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { z, h } = value as { z?: unknown; h?: unknown };
  if (z !== undefined && (typeof z !== 'string' || !LOCALITY_NAME.test(z))) return undefined;
  if (h !== undefined && (typeof h !== 'string' || !LOCALITY_NAME.test(h))) return undefined;
  return { ...(z === undefined ? {} : { zone: z }), ...(h === undefined ? {} : { host: h }) };
}

export function encodeLocality(locality: Locality): { z?: string; h?: string } {
  return { ...(locality.zone === undefined ? {} : { z: locality.zone }), ...(locality.host === undefined ? {} : { h: locality.host }) };
}

/** `record` with the localities of its members, or none when no member declares one (so older nodes see the record they know). */
function withLocalities(record: RingRecord, localities: Localities | undefined): RingRecord {
  const { localities: _localities, ...base } = record;
  const kept = normalizeLocalities(localities, record.members);
  return Object.keys(kept).length === 0 ? base : { ...base, localities: kept };
}

function nodeIds(value: unknown): string[] | undefined {
  if (!Array.isArray(value) || value.length > MEMBERS_MAX) return undefined;
  return value.every((id): id is string => typeof id === 'string' && NODE_ID.test(id)) ? [...value] : undefined;
}

/** `record` with `left` and `added` set, or left out when empty (older nodes never send them). */
function withChanges(record: RingRecord, left: readonly string[], added: readonly string[]): RingRecord {
  const { left: _left, added: _added, ...base } = record;
  return { ...base, ...(left.length === 0 ? {} : { left: [...left] }), ...(added.length === 0 ? {} : { added: [...added] }) };
}

export function encodeRingRecord(record: RingRecord): { g: number; m: string[]; c: string; l?: string[]; a?: string[]; lo?: Record<string, { z?: string; h?: string }> } {
  const localities = Object.entries(record.localities ?? {});
  return {
    g: record.generation,
    m: [...record.members],
    c: record.clusterId,
    ...(record.left === undefined || record.left.length === 0 ? {} : { l: [...record.left] }),
    ...(record.added === undefined || record.added.length === 0 ? {} : { a: [...record.added] }),
    ...(localities.length === 0 ? {} : { lo: Object.fromEntries(localities.map(([nodeId, locality]) => [nodeId, encodeLocality(locality)])) }),
  };
}

export interface RingMembershipInit {
  readonly nodeId: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** Members from the config: the founding set, and the provisional ring until a record is known. */
  readonly configuredMembers: readonly string[];
  readonly syncIntervalMs: number;
  /** Where this node runs (config `locality`); absent or empty: unknown. */
  readonly locality?: Locality;
}

/** Where the record is kept: a small synchronous, durable key-value write (LogStore's meta database). */
export interface MembershipStore {
  readMeta(key: string): unknown;
  writeMeta(key: string, value: unknown): void;
}

/**
 * The timers of gossip and of the join, leave and removal loops. Node's by default; the
 * simulator supplies its virtual clock's, so the same loops run in the seeds.
 */
export interface MembershipTimers {
  /** Runs `run` every `intervalMs` until the returned function is called; must not keep the process alive. */
  every(intervalMs: number, run: () => void): () => void;
  sleep(ms: number): Promise<void>;
  nowMs(): number;
}

const NODE_TIMERS: MembershipTimers = {
  every: (intervalMs, run) => {
    const timer = setInterval(run, intervalMs);
    timer.unref?.();
    return () => clearInterval(timer);
  },
  sleep: (ms) =>
    new Promise((resolve) => {
      setTimeout(resolve, ms).unref?.();
    }),
  nowMs: () => Date.now(),
};

export interface RingMembershipComponents {
  readonly store: MembershipStore;
  readonly peers: PeerNetwork;
  readonly logger: Logger;
  readonly random: () => number;
  readonly timers?: MembershipTimers;
  /** Called after every adopted change, with the new ring. */
  readonly onChange: (ring: PartitionRing, record: RingRecord) => void;
}

export class RingMembership {
  private current: RingRecord;
  /** False until a record was founded, stored, or learned from a peer (a new node's config is only provisional). */
  private known: boolean;
  /**
   * False from start until a peer showed us its record (or a while passed with none to ask):
   * a node that was down kept an old record, and a join it admitted on it could win a tie
   * against a newer change of the same generation and undo it, say bring back a node that
   * left and stopped (simulator seed 1507). Until then it refuses joins; the joiner asks another member.
   */
  private confirmed = false;
  /** Nodes that left per the records adopted here, until a record adds them again (insertion order). */
  private readonly departed = new Set<string>();
  private startedMs = 0;
  private currentRing: PartitionRing;
  private stopGossip: (() => void) | undefined;
  /** Set by `join`: this node stays a member until this says stop (see join). */
  private joinStopped: (() => boolean) | undefined;
  private joining: Promise<boolean> | undefined;
  private readonly timers: MembershipTimers;
  private readonly unsubscribe: Array<() => void> = [];
  private foreignWarnedAtMs = Number.NEGATIVE_INFINITY;
  /** The last ring version whose spread shortfall was logged (one warning per version). */
  private shortfallWarnedVersion: number | undefined;

  constructor(
    private readonly init: RingMembershipInit,
    private readonly components: RingMembershipComponents,
  ) {
    const saved = components.store.readMeta(META_KEY);
    const stored = parseRingRecord(saved);
    if (saved !== undefined && stored === undefined) components.logger.warn({ saved }, 'ignored an unreadable stored ring record; the ring is learned again');
    this.known = stored !== undefined;
    // Provisional for a node that has no record yet: generation -1 loses to any real record.
    this.current = stored ?? { generation: -1, members: [...init.configuredMembers].sort(), clusterId: '' };
    this.currentRing = this.ringOf(this.current);
    this.timers = components.timers ?? NODE_TIMERS;
    this.noteDepartures(this.current);
  }

  get ring(): PartitionRing {
    return this.currentRing;
  }

  get record(): RingRecord {
    return this.current;
  }

  /** True once this node holds a real record (founded, stored or learned), not just its config. */
  get isKnown(): boolean {
    return this.known;
  }

  includes(nodeId: string): boolean {
    return this.current.members.includes(nodeId);
  }

  /**
   * The ring founders write their initial replica sets from: the configured members without
   * localities, the same on every founder whatever record it has learned or declared since
   * (its own locality, a record pushed by a founder that founded first). The sets then move
   * towards the agreed ring like after a join.
   */
  get foundingRing(): PartitionRing {
    return new PartitionRing([...this.init.configuredMembers].sort(), this.init.partitionCount, this.init.replicationFactor);
  }

  /** Founding, or a node that has state from before ring records existed: the configured members are generation 0. */
  adoptConfigured(): void {
    if (this.known) return;
    const members = [...this.init.configuredMembers].sort();
    this.adopt({ generation: 0, members, clusterId: foundingClusterId(members) }, 'configured');
    // Founding: every founder starts from this same record, there is nothing newer to learn.
    this.confirmed = true;
    this.declareLocality();
  }

  /**
   * Makes the agreed record show this node's configured locality (see the header): a change of
   * its own when it is a member whose locality there differs. Called after every adopted record
   * and every gossip round, so a change lost to a concurrent one is made again.
   */
  private declareLocality(): void {
    if (!this.running || !this.confirmed || !this.isMember()) return;
    const self = this.init.nodeId;
    const own = this.init.locality ?? {};
    if (sameLocality(this.current.localities?.[self], own)) return;
    this.change(this.current.members, 'locality of this node', { [self]: own });
  }

  start(): void {
    const { peers } = this.components;
    peers.handle(RING_PROTOCOL, (payload, from) => this.answer(payload, from));
    this.unsubscribe.push(
      peers.on('message', ({ from, protocol, message }) => {
        if (protocol !== RING_PROTOCOL) return;
        const record = parseRingRecord(message);
        if (record === undefined) {
          this.components.logger.warn({ from }, 'dropped a malformed ring record');
          return;
        }
        this.offer(record, from);
      }),
      peers.on('member-up', ({ nodeId }) => {
        if (this.known) peers.send(nodeId, encodeRingRecord(this.current), RING_PROTOCOL);
        this.confirmWith([nodeId]);
      }),
    );
    this.startedMs = this.timers.nowMs();
    this.stopGossip = this.timers.every(this.init.syncIntervalMs, () => this.gossipOnce());
    this.confirmWith(this.aliveMembers());
  }

  /** Asks `nodeIds` for their records (any request answers with one), until one answered. */
  private confirmWith(nodeIds: readonly string[]): void {
    if (this.confirmed || !this.known) return;
    for (const nodeId of nodeIds) {
      void this.components.peers.request(nodeId, RING_PROTOCOL, { op: 'sync' }, JOIN_REQUEST_TIMEOUT_MS).then(
        (answer) => {
          const record = parseRingRecord(answer);
          if (record !== undefined && this.running) this.offer(record, nodeId);
        },
        () => undefined,
      );
    }
  }

  private aliveMembers(): string[] {
    return this.components.peers.members().filter((member) => member.alive && !member.self).map((member) => member.nodeId);
  }

  /** See `confirmed`: a lone node (none to ask) admits joins after two sync intervals. */
  private mayAdmit(): boolean {
    return this.confirmed || this.timers.nowMs() - this.startedMs >= 2 * this.init.syncIntervalMs;
  }

  get running(): boolean {
    return this.stopGossip !== undefined;
  }

  stop(): void {
    this.stopGossip?.();
    this.stopGossip = undefined;
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * Adopts `record` if it is newer than ours; a peer holding an older record gets ours back.
   * A node without a record adopts the first one offered; after that, records of another
   * cluster are ignored.
   */
  offer(record: RingRecord, from?: string): boolean {
    if (this.known && record.clusterId !== '' && this.current.clusterId !== '' && record.clusterId !== this.current.clusterId) {
      this.warnForeign(from, record.clusterId);
      return false;
    }
    // After this, ours is at least as new as that peer's.
    if (from !== undefined) this.confirmed = true;
    if (!this.known || isNewerRecord(record, this.current)) {
      this.adopt(record, from === undefined ? 'learned' : `from ${from}`);
      this.keepOutDeparted(record);
      return true;
    }
    if (from !== undefined && isNewerRecord(this.current, record)) this.components.peers.send(from, encodeRingRecord(this.current), RING_PROTOCOL);
    // A restarted node whose configured locality changed declares it once a peer confirmed its record.
    this.declareLocality();
    return false;
  }

  /**
   * Applies a change here (generation + 1) and pushes it to every live peer. Members it removes
   * join `left`; members it adds leave `left` and are its `added`.
   */
  change(members: readonly string[], reason: string, localities: Localities = {}): RingRecord {
    const next = [...new Set(members)].sort();
    const previous = this.current;
    const added = next.filter((member) => !previous.members.includes(member));
    const removed = previous.members.filter((member) => !next.includes(member));
    const left = [...(previous.left ?? []).filter((member) => !next.includes(member) && !removed.includes(member)), ...removed].slice(-MEMBERS_MAX);
    const base = withChanges({ generation: previous.generation + 1, members: next, clusterId: previous.clusterId }, left, added);
    const record = withLocalities(base, { ...previous.localities, ...localities });
    this.adopt(record, reason);
    this.broadcast();
    return record;
  }

  /** Remembers who left per `record`, and forgets a node that `record` added (it joined again). */
  private noteDepartures(record: RingRecord): void {
    for (const member of record.left ?? []) this.departed.add(member);
    for (const member of record.added ?? []) this.departed.delete(member);
    while (this.departed.size > MEMBERS_MAX) this.departed.delete(this.departed.values().next().value as string);
  }

  /**
   * After adopting `record`: members this node knows left, listed by `record` although its own
   * change did not add them, come from a branch that missed the departure; they are taken out
   * again (see the header), as far as `replicationFactor` members remain (a departed member
   * still listed is better than a ring too small to survive one more failure; the next record
   * adopted tries again). Nodes that know the same departures compute the same change.
   */
  private keepOutDeparted(record: RingRecord): void {
    if (!this.running) return;
    const stale = [...this.departed].filter((member) => record.members.includes(member) && member !== this.init.nodeId).sort();
    const removable = stale.slice(0, Math.max(0, record.members.length - this.init.replicationFactor));
    if (removable.length === 0) return;
    this.change(
      record.members.filter((member) => !removable.includes(member)),
      `keeping out ${removable.join(', ')}: they left, and this record came from a change that had not heard of it`,
    );
  }

  /**
   * Removes `nodeId` (a change, as above) and keeps it out for `keepOutMs`: a concurrent change
   * accepted elsewhere at the same generation can win the tie and bring it back, so every
   * `retryMs` the removal is applied again on top of the agreed record while `stillWanted()`
   * (the node is still down, the removal still allowed) holds.
   */
  removeAndKeepOut(nodeId: string, reason: string, options: { keepOutMs: number; retryMs: number; stillWanted: () => boolean }): RingRecord {
    const record = this.change(this.current.members.filter((member) => member !== nodeId), reason);
    const deadline = this.timers.nowMs() + options.keepOutMs;
    void (async () => {
      for (;;) {
        await this.timers.sleep(options.retryMs);
        if (!this.running || this.timers.nowMs() >= deadline) return;
        if (this.current.members.includes(nodeId) && options.stillWanted()) {
          this.change(this.current.members.filter((member) => member !== nodeId), `${reason} (again: a concurrent change had won)`);
        }
      }
    })();
    return record;
  }

  /**
   * Asks live ring members to add this node until the agreed record includes it, and keeps it
   * there: a change made elsewhere from a record that did not include this node yet (a leave
   * computed before the join spread) can drop it again, so every adopted record that leaves
   * this node out starts the loop again, until `stopped()` or `leave`. Resolves true once a
   * member, false if `stopped()` said to give up first.
   */
  async join(stopped: () => boolean): Promise<boolean> {
    this.joinStopped = stopped;
    if (this.joining !== undefined) return this.joining;
    this.joining = this.joinLoop(stopped).finally(() => {
      this.joining = undefined;
    });
    return this.joining;
  }

  private async joinLoop(stopped: () => boolean): Promise<boolean> {
    let refusalLogged = false;
    while (!stopped() && !this.isMember()) {
      const alive = new Set(this.aliveMembers());
      const candidates = this.current.members.filter((member) => alive.has(member));
      const target = candidates[Math.floor(this.components.random() * candidates.length)];
      if (target !== undefined) {
        const answer = await this.components.peers.request(target, RING_PROTOCOL, this.joinRequest(), JOIN_REQUEST_TIMEOUT_MS).catch(() => undefined);
        const record = parseRingRecord(answer);
        if (record !== undefined) this.offer(record, target);
        const refusal = (answer as { error?: unknown } | undefined)?.error;
        if (typeof refusal === 'string' && !refusalLogged) {
          refusalLogged = true;
          this.components.logger.warn({ target, refusal }, 'join refused; retrying with other members');
        }
      }
      if (!this.isMember()) await this.timers.sleep(MEMBERSHIP_RETRY_MS);
    }
    return this.isMember();
  }

  /** In the agreed record: a provisional one (a new node's config, which may list it) does not count. */
  private isMember(): boolean {
    return this.known && this.includes(this.init.nodeId);
  }

  /**
   * Takes this node out of the agreed record, again after every round in which a concurrent
   * change brought it back, until `done()` (the caller's check that its replicas moved away)
   * says so; never below `replicationFactor` members unless `force` (shrinkRefusal). Throws
   * `stoppedError()` if `stopped()` first.
   */
  async leave(options: { stopped: () => boolean; stoppedError: () => Error; done: () => Promise<boolean>; force?: boolean }): Promise<void> {
    const self = this.init.nodeId;
    this.joinStopped = undefined;
    let waitLogged = false;
    for (;;) {
      if (options.stopped()) throw options.stoppedError();
      if (this.includes(self)) {
        // The caller checked the ring size when the leave was asked, but the record that won
        // since may be smaller (other leaves, a joiner dropped by a concurrent change): taken
        // out of it, this node could leave fewer members than copies, even two, where one
        // lost disk stops a partition for good (simulator seed 1634). Wait for members instead.
        const refusal = shrinkRefusal(this.current.members, self, this.init.replicationFactor, options.force === true);
        if (refusal === undefined) this.change(this.current.members.filter((member) => member !== self), 'leave');
        else if (!waitLogged) {
          waitLogged = true;
          this.components.logger.warn({ members: this.current.members, refusal }, 'leave waits: the ring has shrunk since it was asked');
        }
      }
      if (await options.done()) return;
      await this.timers.sleep(MEMBERSHIP_RETRY_MS);
    }
  }

  broadcast(): void {
    for (const member of this.components.peers.members()) {
      if (member.alive && !member.self) this.components.peers.send(member.nodeId, encodeRingRecord(this.current), RING_PROTOCOL);
    }
  }

  /** The join request this node sends: it names its cluster once it knows one. */
  joinRequest(): { op: 'join'; c?: string; lo?: { z?: string; h?: string } } {
    const locality = this.init.locality === undefined ? {} : { lo: encodeLocality(this.init.locality) };
    return this.known ? { op: 'join', c: this.current.clusterId, ...locality } : { op: 'join', ...locality };
  }

  private answer(payload: unknown, from: string): unknown {
    const { op, c, lo } = (payload ?? {}) as { op?: unknown; c?: unknown; lo?: unknown };
    if (op === 'join' && this.known && typeof c === 'string' && c !== '' && this.current.clusterId !== '' && c !== this.current.clusterId) {
      this.warnForeign(from, c);
      return { error: 'the requester belongs to another cluster' };
    }
    if (op === 'join' && this.known && !this.current.members.includes(from)) {
      if (!NODE_ID.test(from)) return { error: 'bad node id' };
      if (!this.mayAdmit()) return { error: 'this node has just started and not yet compared its ring record with a peer; ask another member' };
      // A malformed locality is left out: the joiner then declares its own once it is a member.
      const locality = lo === undefined ? undefined : parseLocality(lo);
      this.change([...this.current.members, from], `join of ${from}`, locality === undefined ? {} : { [from]: locality });
    }
    return encodeRingRecord(this.current);
  }

  private gossipOnce(): void {
    if (!this.known) return;
    this.confirmWith(this.aliveMembers());
    this.declareLocality();
    const alive = this.components.peers.members().filter((member) => member.alive && !member.self);
    const target = alive[Math.floor(this.components.random() * alive.length)];
    if (target !== undefined) this.components.peers.send(target.nodeId, encodeRingRecord(this.current), RING_PROTOCOL);
  }

  private adopt(record: RingRecord, reason: string): void {
    const previous = this.current;
    this.current = record;
    this.noteDepartures(record);
    this.known = true;
    this.currentRing = this.ringOf(record);
    this.components.store.writeMeta(META_KEY, encodeRingRecord(record));
    const added = record.members.filter((member) => !previous.members.includes(member));
    const removed = previous.members.filter((member) => !record.members.includes(member));
    this.components.logger.info(
      { generation: record.generation, ringVersion: this.currentRing.version, members: record.members, added, removed, reason },
      'ring membership changed',
    );
    this.warnShortfall();
    this.components.onChange(this.currentRing, record);
    const stopped = this.joinStopped;
    if (stopped !== undefined && !stopped() && this.joining === undefined && removed.includes(this.init.nodeId)) {
      this.components.logger.warn({ generation: record.generation, reason }, 'a ring change made elsewhere left this node out: joining again');
      void this.join(stopped);
    }
    this.declareLocality();
  }

  /** One warning line per ring version whose members have fewer zones or hosts than a replica set has copies. */
  private warnShortfall(): void {
    const ring = this.currentRing;
    const warning = shortfallWarning(ring.shortfalls);
    if (warning === undefined || this.shortfallWarnedVersion === ring.version) return;
    this.shortfallWarnedVersion = ring.version;
    this.components.logger.warn({ ringVersion: ring.version, shortfalls: ring.shortfalls, zones: ring.domains.zones, hosts: ring.domains.hosts }, warning);
  }

  private warnForeign(from: string | undefined, clusterId: unknown): void {
    const now = this.timers.nowMs();
    if (now - this.foreignWarnedAtMs < FOREIGN_WARN_INTERVAL_MS) return;
    this.foreignWarnedAtMs = now;
    this.components.logger.warn(
      { from, theirClusterId: clusterId, clusterId: this.current.clusterId },
      'ignored the ring of another cluster (same cluster key, different founding); check the members and bootstrap settings',
    );
  }

  private ringOf(record: RingRecord): PartitionRing {
    return new PartitionRing(record.members, this.init.partitionCount, this.init.replicationFactor, record.localities ?? {});
  }
}
