/**
 * A node's locality: the failure domains it runs in, from the widest down (a zone of a cloud
 * region, then a host: one machine). Replica sets spread over distinct zones first, then over
 * distinct hosts (replica-spread.ts).
 *
 * A missing zone is one shared "unknown zone"; a missing host means the node is a machine of
 * its own, which is what every node was assumed to be before localities existed. So a ring
 * without localities spreads exactly as it always did: over distinct nodes.
 */
import { fnv1a32 } from '@ringstate/protocol';

export interface Locality {
  readonly zone?: string;
  readonly host?: string;
}

/** Localities by node id; a node that is absent has declared none. */
export type Localities = Readonly<Record<string, Locality>>;

/** A zone or host name: short, and safe in logs, metrics labels and file names. */
export const LOCALITY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The zone a node counts in ('' is the shared unknown zone). */
export function zoneOf(localities: Localities, nodeId: string): string {
  return localities[nodeId]?.zone ?? '';
}

/** The machine a node counts on: a declared host within its zone, or the node itself. */
export function hostOf(localities: Localities, nodeId: string): string {
  const locality = localities[nodeId];
  return locality?.host === undefined ? `node:${nodeId}` : `host:${locality.zone ?? ''}/${locality.host}`;
}

/** A locality from settings, where '' (an unset downward-API variable) means not declared. */
export function localityFromSettings(settings: { readonly zone?: string | undefined; readonly host?: string | undefined }): Locality {
  return { ...(settings.zone === undefined || settings.zone === '' ? {} : { zone: settings.zone }), ...(settings.host === undefined || settings.host === '' ? {} : { host: settings.host }) };
}

/** True when the two localities name the same zone and host (both absent counts as equal). */
export function sameLocality(a: Locality | undefined, b: Locality | undefined): boolean {
  return (a?.zone ?? '') === (b?.zone ?? '') && (a?.host ?? '') === (b?.host ?? '');
}

/** True when the locality declares nothing. */
export function isEmptyLocality(locality: Locality | undefined): boolean {
  return locality === undefined || (locality.zone === undefined && locality.host === undefined);
}

/**
 * `localities` restricted to `members`, without empty entries, keys sorted: the form records
 * keep, so equal inputs give equal records and ring versions.
 */
export function normalizeLocalities(localities: Localities | undefined, members: readonly string[]): Localities {
  const out: Record<string, Locality> = {};
  for (const member of [...members].sort()) {
    const locality = localities?.[member];
    if (locality === undefined || isEmptyLocality(locality)) continue;
    out[member] = { ...(locality.zone === undefined ? {} : { zone: locality.zone }), ...(locality.host === undefined ? {} : { host: locality.host }) };
  }
  return out;
}

/**
 * The ring version: a hash of the sorted member ids and, when any member declares a locality,
 * of the localities too (they change replica sets). Without localities it is the number it
 * always was, so a cluster that declares none keeps its ring version across the upgrade.
 */
export function ringVersion(members: readonly string[], localities: Localities = {}): number {
  const sorted = [...members].sort();
  const declared = normalizeLocalities(localities, sorted);
  const names = Object.keys(declared);
  if (names.length === 0) return fnv1a32(sorted.join('\n'));
  const suffix = names.map((name) => `${name}=${declared[name]?.zone ?? ''}/${declared[name]?.host ?? ''}`).join('\n');
  return fnv1a32(`${sorted.join('\n')}\n#localities\n${suffix}`);
}
