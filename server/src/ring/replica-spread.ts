/**
 * Replica sets spread over failure domains (Cassandra's NetworkTopologyStrategy walk).
 *
 * A partition's candidates come in ring order from its position (the consistent-hashing walk).
 * The set takes, in that order, first members of zones it does not have yet, then members of
 * hosts it does not have yet, then any member, until it holds `size` members. So it spans
 * min(size, zones) zones and min(size, hosts) hosts, the most the members allow (a host lies in
 * one zone, so the zone picks are on distinct hosts too). The first member of the walk is always
 * taken first: the preferred owner is the one plain consistent hashing names, and owners spread
 * exactly as evenly as before. Without localities every node is its own host in one unknown
 * zone, and the set is the first `size` members of the walk: today's sets, unchanged.
 *
 * All of it is a pure function of the walk and the localities, so every node that holds the same
 * ring record computes the same sets.
 */
import { hostOf, zoneOf, type Localities } from './locality.ts';

export type SpreadLevel = 'zone' | 'host';

/** Distinct zones and hosts among `members`. */
export interface DomainCount {
  readonly zones: number;
  readonly hosts: number;
}

/** A level with fewer domains than the replica sets want: some set has two copies in one of them. */
export interface SpreadShortfall {
  readonly level: SpreadLevel;
  readonly domains: number;
  readonly wanted: number;
}

export function countDomains(members: readonly string[], localities: Localities): DomainCount {
  return {
    zones: new Set(members.map((member) => zoneOf(localities, member))).size,
    hosts: new Set(members.map((member) => hostOf(localities, member))).size,
  };
}

/**
 * Picks `size` members from `walk` (ring order from the partition's position) by the three
 * passes in the header. Returns undefined when the walk so far cannot decide the set yet
 * (see `settled`), so a caller can walk further; `complete` says the walk holds every member.
 */
export function pickSpread(walk: readonly string[], size: number, localities: Localities, domains: DomainCount, complete: boolean): string[] | undefined {
  const picked: string[] = [];
  const taken = new Set<string>();
  const zones = new Set<string>();
  const hosts = new Set<string>();
  const pass = (accept: (member: string) => boolean): void => {
    for (const member of walk) {
      if (picked.length === size) return;
      if (taken.has(member) || !accept(member)) continue;
      picked.push(member);
      taken.add(member);
      zones.add(zoneOf(localities, member));
      hosts.add(hostOf(localities, member));
    }
  };
  pass((member) => !zones.has(zoneOf(localities, member)));
  pass((member) => !hosts.has(hostOf(localities, member)));
  pass(() => true);
  if (complete) return picked;
  // A prefix of the walk decides the set once the set is full and already spans every domain
  // it could: a member further on can then displace nobody (pass 1 and 2 found all they can).
  const settled = picked.length === size && zones.size === Math.min(size, domains.zones) && hosts.size === Math.min(size, domains.hosts);
  return settled ? picked : undefined;
}

/** True when `set` spans as many zones and hosts as a set of its size over `domains` can. */
export function isSpread(set: readonly string[], localities: Localities, domains: DomainCount): boolean {
  const zones = new Set(set.map((member) => zoneOf(localities, member))).size;
  const hosts = new Set(set.map((member) => hostOf(localities, member))).size;
  return zones === Math.min(set.length, domains.zones) && hosts === Math.min(set.length, domains.hosts);
}

/**
 * The levels at which the members have fewer domains than a replica set has copies
 * (min(replicationFactor, members)): there some sets keep two copies, perhaps a majority, in
 * one domain. Zones count only once some member declares one; without any, the cluster is
 * one unknown zone by choice and no warning is due.
 */
export function spreadShortfalls(members: readonly string[], localities: Localities, replicationFactor: number): SpreadShortfall[] {
  const wanted = Math.min(replicationFactor, members.length);
  const domains = countDomains(members, localities);
  const zonesDeclared = members.some((member) => localities[member]?.zone !== undefined);
  const out: SpreadShortfall[] = [];
  if (zonesDeclared && domains.zones < wanted) out.push({ level: 'zone', domains: domains.zones, wanted });
  if (domains.hosts < wanted) out.push({ level: 'host', domains: domains.hosts, wanted });
  return out;
}

/** The one wording of the shortfall warning (log line, admin API, dashboard), or undefined when there is none. */
export function shortfallWarning(shortfalls: readonly SpreadShortfall[]): string | undefined {
  if (shortfalls.length === 0) return undefined;
  const levels = shortfalls.map((shortfall) => `${shortfall.domains} ${shortfall.level}${shortfall.domains === 1 ? '' : 's'} for ${shortfall.wanted} copies`);
  return `replica sets cannot spread over enough failure domains (${levels.join(', ')}): one ${shortfalls[0]?.level ?? 'domain'}'s outage can take a majority of some partitions' replicas`;
}
