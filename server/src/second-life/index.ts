/**
 * The Second Life layer: an HTTP API shaped for LSL (docs/second-life.md). Depends on the
 * node only through SecondLifeBackend, so the cluster layer can swap in a forwarding backend.
 */
export { secondLifeRoutes, type SecondLifeApi, type SecondLifeDeps, type SecondLifeSettings } from './routes.ts';
export { LocalSecondLifeBackend, type SecondLifeBackend, type AggregateRef, type CommittedEntries, type CommittedView, type SecondLifeCommand } from './backend.ts';
export { ObjectAuthenticator, secondLifeHeaders, type VerifiedObject } from './auth.ts';
export { ReplayCache, type NonceVerdict } from './replay-cache.ts';
export { PushRegistry, isPrivateAddress } from './push.ts';
export { PUSH_CANONICAL_PATH, canonicalQuery, lslEscape, mintObjectId, objectSecret, parseObjectId, sign, verifySignature, type SignedParts } from './signing.ts';
export { LSL_BODY_BYTES_DEFAULT, LSL_BODY_BYTES_MAX, packBatch, renderBatch, type CommittedEntry, type EventBatch } from './wire.ts';
