/**
 * Push delivery to scripts' HTTP-in URLs (llRequestURL), kept in memory with a TTL.
 *
 * A registration is (object, aggregate) -> URL plus a cursor. After each committed change
 * the node POSTs the next event batch (wire.ts layout, at most 2048 bytes because HTTP-in cuts
 * longer bodies) to the URL, one request at a time per registration, and advances the cursor
 * when the script answers 2xx. Each push is signed like a request (signing.ts) with the
 * object's secret, canonical path "/v1/sl/push", and the signature travels twice: as
 * X-Ringstate-Time/-Nonce/-Signature headers and as the query `t`, `n`, `s`, because
 * llGetHTTPHeader documents only x-query-string and a few generated headers reliably:
 *
 *   POST <url>?t=<unix>&n=<nonce>&s=<base64 signature, escaped>
 *   {"a":"arena","i":"main","seq":7,"ev":[...],"more":0}
 *
 * HTTP-in URLs vanish on region restart, so a URL is dropped after
 * `pushFailuresBeforeDrop` failures in a row, or at once when a push times out (a dead
 * region often accepts nothing and answers nothing); the script re-registers when it gets a
 * new URL and every TTL/2, sending its own cursor, so nothing is lost in between. Batches the
 * script already has are simply ignored by seq on its side.
 *
 * Only http/https URLs on public addresses are accepted unless allowPrivatePushTargets is on:
 * otherwise any object could make the node probe its own network. Hostnames are resolved and
 * checked at registration and redirects are not followed; a DNS answer that changes after
 * registration is a residual risk (docs/second-life.md).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { RingstateError } from '@ringstate/protocol';
import type { Logger } from '../observability/index.ts';
import type { AggregateRef, SecondLifeBackend } from './backend.ts';
import { PUSH_CANONICAL_PATH, sign } from './signing.ts';
import { LSL_BODY_BYTES_DEFAULT, assertFits, packBatch, renderBatch } from './wire.ts';

export interface PushSettings {
  readonly pushRegistrationTtlSeconds: number;
  readonly pushRegistrationsPerObjectMax: number;
  readonly pushRegistrationsMax: number;
  readonly pushTimeoutMs: number;
  readonly pushFailuresBeforeDrop: number;
  readonly allowPrivatePushTargets: boolean;
}

export interface PushDeps {
  readonly backend: SecondLifeBackend;
  readonly settings: PushSettings;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly isServing: () => boolean;
}

export interface PushObject {
  readonly objectId: string;
  readonly playerId: string;
  readonly secret: string;
  /** The credential's end: pushes stop with it (a renewed object registers again). */
  readonly expiresAtMs: number;
}

interface Registration {
  readonly key: string;
  readonly object: PushObject;
  readonly aggregate: AggregateRef;
  readonly url: URL;
  cursor: number;
  failures: number;
  expiresAtMs: number;
  running: boolean;
  dirty: boolean;
  dropped: boolean;
  unwatch: () => void;
}

export interface PushStats {
  delivered: number;
  failed: number;
  dropped: number;
}

const URL_CHARS_MAX = 512;
/** Entries read per batch: a 2048-byte batch never holds more. */
const BATCH_ENTRIES_MAX = 100;
const RETRY_DELAY_MS = 500;
const RESPONSE_BYTES_READ_MAX = 4096;

export class PushRegistry {
  private readonly registrations = new Map<string, Registration>();
  private readonly perObject = new Map<string, number>();
  readonly stats: PushStats = { delivered: 0, failed: 0, dropped: 0 };

  constructor(private readonly deps: PushDeps) {}

  get size(): number {
    return this.registrations.size;
  }

  /** Registers or replaces the URL for (object, aggregate); the first push catches up from `afterSeq`. */
  async register(object: PushObject, aggregate: AggregateRef, rawUrl: string, afterSeq: number): Promise<{ ttlSeconds: number }> {
    const settings = this.deps.settings;
    const url = await this.checkedUrl(rawUrl);
    // Authorizes the read (FORBIDDEN otherwise) before anything is stored.
    await this.deps.backend.eventsAfter(aggregate, object.playerId, afterSeq, 0);
    const key = `${object.objectId}\u0000${aggregate.type}/${aggregate.id}`;
    const previous = this.registrations.get(key);
    if (previous === undefined) {
      if ((this.perObject.get(object.objectId) ?? 0) >= settings.pushRegistrationsPerObjectMax) {
        throw new RingstateError('RATE_LIMITED', `an object may register at most ${settings.pushRegistrationsPerObjectMax} push URLs`);
      }
      if (this.registrations.size >= settings.pushRegistrationsMax) throw new RingstateError('OVERLOADED', 'this node holds its maximum of push registrations; try another host');
    } else {
      this.drop(previous, 'replaced');
    }
    const registration: Registration = {
      key,
      object,
      aggregate,
      url,
      cursor: afterSeq,
      failures: 0,
      expiresAtMs: Math.min(this.deps.nowMs() + settings.pushRegistrationTtlSeconds * 1000, object.expiresAtMs),
      running: false,
      dirty: false,
      dropped: false,
      unwatch: () => undefined,
    };
    registration.unwatch = this.deps.backend.watch(aggregate, object.playerId, () => this.pump(registration));
    this.registrations.set(key, registration);
    this.perObject.set(object.objectId, (this.perObject.get(object.objectId) ?? 0) + 1);
    this.deps.logger.info({ objectId: object.objectId, aggregate: `${aggregate.type}/${aggregate.id}`, host: url.host, afterSeq }, 'second-life push URL registered');
    this.pump(registration);
    return { ttlSeconds: settings.pushRegistrationTtlSeconds };
  }

  unregister(objectId: string, aggregate: AggregateRef): boolean {
    const registration = this.registrations.get(`${objectId}\u0000${aggregate.type}/${aggregate.id}`);
    if (registration === undefined) return false;
    this.drop(registration, 'unregistered');
    return true;
  }

  /** Drops every registration of a revoked object. */
  unregisterObject(objectId: string): void {
    for (const registration of [...this.registrations.values()]) if (registration.object.objectId === objectId) this.drop(registration, 'revoked');
  }

  /** Drops expired registrations (the TTL, or the credential's end). */
  sweep(nowMs: number): void {
    for (const registration of [...this.registrations.values()]) {
      if (registration.expiresAtMs <= nowMs) this.drop(registration, 'expired');
    }
  }

  dropAll(why: string): void {
    for (const registration of [...this.registrations.values()]) this.drop(registration, why);
  }

  private drop(registration: Registration, why: string): void {
    if (registration.dropped) return;
    registration.dropped = true;
    registration.unwatch();
    if (this.registrations.get(registration.key) === registration) this.registrations.delete(registration.key);
    const count = (this.perObject.get(registration.object.objectId) ?? 1) - 1;
    if (count <= 0) this.perObject.delete(registration.object.objectId);
    else this.perObject.set(registration.object.objectId, count);
    if (why !== 'replaced') this.stats.dropped += 1;
    this.deps.logger.info({ objectId: registration.object.objectId, aggregate: `${registration.aggregate.type}/${registration.aggregate.id}`, why, cursor: registration.cursor }, 'second-life push URL dropped');
  }

  /** Delivers batches until the script has everything; one pump per registration at a time. */
  private pump(registration: Registration): void {
    if (registration.running) {
      registration.dirty = true;
      return;
    }
    registration.running = true;
    this.deliverAll(registration)
      .catch((error: unknown) => {
        this.deps.logger.warn({ err: error, objectId: registration.object.objectId }, 'second-life push pump failed');
        this.drop(registration, 'error');
      })
      .finally(() => {
        registration.running = false;
      });
  }

  private async deliverAll(registration: Registration): Promise<void> {
    for (;;) {
      registration.dirty = false;
      if (registration.dropped) return;
      if (!this.deps.isServing()) {
        this.drop(registration, 'node stopping');
        return;
      }
      const body = await this.nextBody(registration);
      if (body === undefined) {
        if (registration.dirty) continue;
        return;
      }
      const outcome = await this.post(registration, body.text);
      if (registration.dropped) return;
      if (outcome === 'ok') {
        registration.cursor = body.seq;
        registration.failures = 0;
        this.stats.delivered += 1;
        continue;
      }
      this.stats.failed += 1;
      registration.failures += 1;
      if (outcome === 'timeout' || registration.failures >= this.deps.settings.pushFailuresBeforeDrop) {
        this.drop(registration, outcome === 'timeout' ? 'timeout' : `failed ${registration.failures} times`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * registration.failures).unref());
    }
  }

  private async nextBody(registration: Registration): Promise<{ seq: number; text: string } | undefined> {
    const { aggregate, object } = registration;
    const fields = { a: aggregate.type, i: aggregate.id };
    const read = await this.deps.backend.eventsAfter(aggregate, object.playerId, registration.cursor, BATCH_ENTRIES_MAX);
    if (read.behind) {
      const text = renderBatch(fields, { seq: read.headSeq, ev: [], more: false }, true);
      return { seq: read.headSeq, text: assertFits(text, LSL_BODY_BYTES_DEFAULT) };
    }
    if (read.entries.length === 0) return undefined;
    const lastRead = read.entries.at(-1)?.seq ?? registration.cursor;
    const batch = packBatch(fields, read.entries, registration.cursor, lastRead < read.headSeq, LSL_BODY_BYTES_DEFAULT);
    return { seq: batch.seq, text: assertFits(renderBatch(fields, batch), LSL_BODY_BYTES_DEFAULT) };
  }

  private async post(registration: Registration, body: string): Promise<'ok' | 'failed' | 'timeout'> {
    const timeSeconds = Math.floor(this.deps.nowMs() / 1000);
    const nonce = randomBytes(12).toString('base64url').replace(/_/g, '-');
    const signature = sign(registration.object.secret, { method: 'POST', path: PUSH_CANONICAL_PATH, timeSeconds, nonce, payload: body });
    const target = new URL(registration.url);
    target.searchParams.append('t', String(timeSeconds));
    target.searchParams.append('n', nonce);
    target.searchParams.append('s', signature);
    try {
      const response = await fetch(target, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.deps.settings.pushTimeoutMs),
        headers: { 'content-type': 'application/json', 'x-ringstate-time': String(timeSeconds), 'x-ringstate-nonce': nonce, 'x-ringstate-signature': signature },
      });
      await drain(response);
      return response.status >= 200 && response.status < 300 ? 'ok' : 'failed';
    } catch (error) {
      return error instanceof Error && error.name === 'TimeoutError' ? 'timeout' : 'failed';
    }
  }

  private async checkedUrl(raw: string): Promise<URL> {
    if (raw.length === 0 || raw.length > URL_CHARS_MAX) throw new RingstateError('INVALID_MESSAGE', `url must be 1-${URL_CHARS_MAX} characters`);
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new RingstateError('INVALID_MESSAGE', 'url is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RingstateError('INVALID_MESSAGE', 'url must be http or https');
    if (url.username !== '' || url.password !== '') throw new RingstateError('INVALID_MESSAGE', 'url must not carry credentials');
    if (this.deps.settings.allowPrivatePushTargets) return url;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (host === 'localhost' || host.endsWith('.localhost')) throw new RingstateError('FORBIDDEN', 'push URLs may not point at loopback or private networks');
    let addresses: string[];
    if (isIP(host) !== 0) {
      addresses = [host];
    } else {
      try {
        addresses = (await lookup(host, { all: true, verbatim: true })).map((found) => found.address);
      } catch (error) {
        throw new RingstateError('INVALID_MESSAGE', `cannot resolve ${host.slice(0, 64)}`, { cause: error });
      }
    }
    if (addresses.length === 0 || addresses.some(isPrivateAddress)) throw new RingstateError('FORBIDDEN', 'push URLs may not point at loopback or private networks');
    return url;
  }
}

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return PRIVATE.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

async function drain(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  if (reader === undefined) return;
  let read = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    read += value.byteLength;
    if (read > RESPONSE_BYTES_READ_MAX) {
      await reader.cancel();
      return;
    }
  }
}
