export { PartitionRing, ringWalk } from './partition-ring.ts';
export { hostOf, isEmptyLocality, LOCALITY_NAME, localityFromSettings, normalizeLocalities, ringVersion, sameLocality, zoneOf, type Localities, type Locality } from './locality.ts';
export { countDomains, isSpread, shortfallWarning, spreadShortfalls, type DomainCount, type SpreadLevel, type SpreadShortfall } from './replica-spread.ts';
