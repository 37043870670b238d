/**
 * The Second Life HTTP API, registered on the node's HttpRouter under /v1/sl/. Reference with
 * examples: docs/second-life.md. Bodies are compact JSON and never exceed 2048 bytes unless
 * the request's `max` allows more (the script then sets HTTP_BODY_MAXLENGTH to the same).
 *
 *   POST /v1/sl/objects     Bearer player token -> {"objectId","secret","player","exp"}
 *   POST /v1/sl/objects/renew  Bearer player token {"o":objectId} -> the same, new exp and secret
 *   POST /v1/sl/revoke      signed {} -> {"ok":1}: the object revokes its own id
 *   POST /v1/admin/sl/revoke  Bearer admin token {"o":objectId} -> {"ok":1}
 *   GET  /v1/sl/time        unsigned            -> {"t":<unix seconds>}
 *   GET  /v1/sl/whoami      signed              -> {"o","p","node","t","sl":{...X-SecondLife-* as sent}}
 *   POST /v1/sl/commands    signed {"id","a","i","c":{"type",...}} -> {"id","seq","dup":0|1}
 *   GET  /v1/sl/state       signed ?a&i[&k=key,key][&max] -> {"seq","v":{...view}}
 *   GET  /v1/sl/events      signed ?a&i&after[&wait=<s>][&max] -> event batch (wire.ts), held
 *                           open until something commits after `after` or `wait` passes
 *   POST /v1/sl/register    signed {"a","i","url","after"} -> {"ok":1,"ttl":<s>}; pushes start
 *   POST /v1/sl/unregister  signed {"a","i"} -> {"ok":1|0}
 *
 * Errors: {"error":{"code","message",...}} (wire.ts), `reason` for auth refusals (auth.ts) and
 * rejected commands, `id` echoing a command id.
 */
import { RingstateError, isRetryable, type ErrorCode } from '@ringstate/protocol';
import { errorResult, parseJsonBody, type HttpRequestInfo, type HttpResult, type HttpRouter } from '../http/index.ts';
import { refuseAdmin, type AdminAccess, type Logger, type SecurityLog } from '../observability/index.ts';
import type { PlayerTokens } from '../auth/index.ts';
import { ObjectAuthenticator, secondLifeHeaders, type Revocation, type SecondLifeHeaders, type VerifiedObject } from './auth.ts';
import type { AggregateRef, SecondLifeBackend } from './backend.ts';
import { PushRegistry } from './push.ts';
import { mintObjectId, parseObjectId } from './signing.ts';
import { LSL_BODY_BYTES_DEFAULT, LSL_BODY_BYTES_MAX, assertFits, byteLength, errorBody, packBatch, renderBatch } from './wire.ts';

export interface SecondLifeSettings {
  readonly enabled: boolean;
  readonly masterKey?: string | undefined;
  readonly revokedObjectIds: readonly string[];
  readonly signatureWindowSeconds: number;
  readonly nonceCachePerObjectMax: number;
  readonly nonceCacheObjectsMax: number;
  readonly requestsPerSecondPerObjectMax: number;
  readonly longPollWaitMs: number;
  readonly longPollsPerObjectMax: number;
  readonly longPollsMax: number;
  readonly eventsBehindMax: number;
  readonly commandTimeoutMs: number;
  readonly pushRegistrationTtlSeconds: number;
  readonly pushRegistrationsPerObjectMax: number;
  readonly pushRegistrationsMax: number;
  readonly pushTimeoutMs: number;
  readonly pushFailuresBeforeDrop: number;
  readonly allowPrivatePushTargets: boolean;
}

export interface SecondLifeDeps {
  readonly settings: SecondLifeSettings;
  readonly backend: SecondLifeBackend;
  readonly tokens: PlayerTokens;
  /** tokens.lifetimeMaxMs: no credential outlives it, and a revocation is kept this long. */
  readonly credentialLifetimeMaxMs: number;
  /** Who may revoke any object (POST /v1/admin/sl/revoke). */
  readonly adminAccess: AdminAccess;
  /**
   * Tells the cluster's other nodes of a run-time revocation (credentials are stateless and any
   * node verifies any object, so a revocation must reach every node). Absent on a single node.
   */
  readonly shareRevocation?: (revocation: Revocation) => void;
  readonly logger: Logger;
  /** Refused signatures and tokens become rate-limited warnings (observability/security-log.ts). */
  readonly securityLog?: SecurityLog;
  readonly nodeId: string;
  /** False before start and once the node stops: requests get SHUTTING_DOWN, long-polls end. */
  readonly isServing: () => boolean;
  readonly nowMs?: () => number;
}

/** Handle for tests and the operator: live counts. */
export interface SecondLifeApi {
  readonly push: PushRegistry;
  readonly longPolls: () => number;
  /** A revocation another node shared: refused here too until it lapses. */
  readonly revoked: (revocation: Revocation) => void;
}

const AGGREGATE_TYPE = /^[a-z][a-z0-9-]{0,31}$/;
const PRINTABLE = /^[\x21-\x7e]+$/;
const AGGREGATE_ID_CHARS_MAX = 128;
const COMMAND_ID_CHARS_MAX = 128;
/** A long-poll answer holds at most this many entries; 2048 bytes never fit more. */
const BATCH_ENTRIES_MAX = 100;
const HOUSEKEEPING_MS = 1_000;

/**
 * Registers the API on `router` when `settings.enabled`; returns undefined otherwise.
 * One call from the composition root wires everything.
 */
export function secondLifeRoutes(router: HttpRouter, deps: SecondLifeDeps): SecondLifeApi | undefined {
  if (!deps.settings.enabled) return undefined;
  const masterKey = deps.settings.masterKey;
  if (masterKey === undefined) throw new Error('secondLife.enabled requires secondLife.masterKey (the config schema checks this)');
  return new SecondLifeApiImpl(router, deps, masterKey);
}

interface Waiter {
  readonly wake: () => void;
}

class SecondLifeApiImpl implements SecondLifeApi {
  readonly push: PushRegistry;
  private readonly auth: ObjectAuthenticator;
  private readonly logger: Logger;
  private readonly nowMs: () => number;
  private readonly waiters = new Set<Waiter>();
  private readonly pollsPerObject = new Map<string, number>();
  private pollsTotal = 0;
  private readonly housekeeping: ReturnType<typeof setInterval>;
  private seenServing = false;

  constructor(
    router: HttpRouter,
    private readonly deps: SecondLifeDeps,
    masterKey: string,
  ) {
    this.nowMs = deps.nowMs ?? Date.now;
    this.logger = deps.logger.child({ component: 'second-life' });
    this.auth = new ObjectAuthenticator({ ...deps.settings, masterKey });
    this.push = new PushRegistry({ backend: deps.backend, settings: deps.settings, logger: this.logger, nowMs: this.nowMs, isServing: deps.isServing });
    this.housekeeping = setInterval(() => this.tick(), HOUSEKEEPING_MS).unref();

    router.add('POST', '/v1/sl/objects', (request) => this.guard(request, () => this.provision(request)));
    router.add('POST', '/v1/sl/objects/renew', (request) => this.guard(request, () => this.renew(request)));
    router.add('POST', '/v1/sl/revoke', (request) => this.signed(request, (object) => this.revokeSelf(request, object)));
    router.add('POST', '/v1/admin/sl/revoke', (request) => refuseAdmin(request, deps.adminAccess) ?? this.guard(request, () => this.revokeByAdmin(request)));
    router.add('GET', '/v1/sl/time', () => ok({ t: Math.floor(this.nowMs() / 1000) }));
    router.add('GET', '/v1/sl/whoami', (request) => this.signed(request, (object) => this.whoami(request, object)));
    router.add('POST', '/v1/sl/commands', (request) => this.signed(request, (object) => this.command(request, object)));
    router.add('GET', '/v1/sl/state', (request) => this.signed(request, (object) => this.state(request, object)));
    router.add('GET', '/v1/sl/events', (request) => this.signed(request, (object) => this.events(request, object)));
    router.add('POST', '/v1/sl/register', (request) => this.signed(request, (object) => this.register(request, object)));
    router.add('POST', '/v1/sl/unregister', (request) => this.signed(request, (object) => this.unregister(request, object)));
  }

  longPolls(): number {
    return this.waiters.size;
  }

  revoked(revocation: Revocation): void {
    if (!this.auth.revocations.add(revocation, this.nowMs())) this.logger.warn({ objectId: revocation.objectId }, 'second-life revocation from a peer dropped: revocation set full');
    this.push.unregisterObject(revocation.objectId);
  }

  private async provision(request: HttpRequestInfo): Promise<HttpResult> {
    const player = await this.verifiedPlayer(request);
    const objectId = mintObjectId(player.playerId);
    this.logger.info({ objectId, playerId: player.playerId }, 'second-life object provisioned');
    return this.credential(objectId, player);
  }

  /**
   * A new credential for an existing object, with a valid token of the object's player. The id
   * stays, so the object keeps its cursor, registrations and command ids; the old credential
   * still works until its own expiry (revoke the object to end it sooner).
   */
  private async renew(request: HttpRequestInfo): Promise<HttpResult> {
    const player = await this.verifiedPlayer(request);
    const objectId = parseJsonBody(request.body)['o'];
    const parsed = typeof objectId === 'string' && objectId.length <= 128 ? parseObjectId(objectId) : undefined;
    if (parsed === undefined) throw new RingstateError('INVALID_MESSAGE', 'o must be an object id issued by POST /v1/sl/objects');
    if (parsed.playerId !== player.playerId) throw new RingstateError('FORBIDDEN', 'the token is for another player than the object', { reason: 'PLAYER_MISMATCH' });
    if (this.auth.isRevoked(parsed.objectId, this.nowMs())) throw new RingstateError('AUTH_INVALID_TOKEN', 'this object id has been revoked', { reason: 'OBJECT_REVOKED' });
    this.logger.info({ objectId: parsed.objectId, playerId: player.playerId }, 'second-life credential renewed');
    return this.credential(parsed.objectId, player);
  }

  /** A credential ending with the token, and never later than now + tokens.lifetimeMaxMs. */
  private credential(objectId: string, player: { readonly playerId: string; readonly expiresAtMs: number }): HttpResult {
    const nowMs = this.nowMs();
    const exp = Math.floor(Math.min(player.expiresAtMs, nowMs + this.deps.credentialLifetimeMaxMs) / 1000);
    // A token accepted within tokens.clockSkewMs past its exp would mint a dead credential.
    if (exp * 1000 <= nowMs) throw new RingstateError('AUTH_TOKEN_EXPIRED', 'the token expires now: get a fresh one', { reason: 'EXPIRED' });
    return ok({ objectId, secret: this.auth.secretOf(objectId, exp), player: player.playerId, exp });
  }

  private revokeSelf(request: HttpRequestInfo, object: VerifiedObject): HttpResult {
    this.revoke(object.objectId, 'object', request);
    return ok({ ok: 1 });
  }

  private revokeByAdmin(request: HttpRequestInfo): HttpResult {
    const objectId = parseJsonBody(request.body)['o'];
    const parsed = typeof objectId === 'string' && objectId.length <= 128 ? parseObjectId(objectId) : undefined;
    if (parsed === undefined) throw new RingstateError('INVALID_MESSAGE', 'o must be an object id issued by POST /v1/sl/objects');
    this.revoke(parsed.objectId, 'admin', request);
    return ok({ ok: 1 });
  }

  /**
   * Refuses the object id here and on every other node until every credential it could hold has
   * expired (now + tokens.lifetimeMaxMs + the signature window); its push registrations end now.
   */
  private revoke(objectId: string, by: 'object' | 'admin', request: HttpRequestInfo): void {
    const untilMs = this.nowMs() + this.deps.credentialLifetimeMaxMs + this.deps.settings.signatureWindowSeconds * 1000;
    const revocation = { objectId, untilMs };
    if (!this.auth.revocations.add(revocation, this.nowMs())) throw new RingstateError('OVERLOADED', 'this node holds its maximum of revocations; use secondLife.revokedObjectIds', { reason: 'REVOCATIONS_MAX' });
    this.push.unregisterObject(objectId);
    this.deps.shareRevocation?.(revocation);
    this.logger.warn({ objectId, by, remoteAddress: request.remoteAddress }, 'second-life object revoked');
  }

  private async verifiedPlayer(request: HttpRequestInfo): Promise<{ readonly playerId: string; readonly expiresAtMs: number }> {
    const authorization = request.headers.get('authorization') ?? '';
    const token = /^Bearer (.+)$/i.exec(authorization)?.[1];
    let player: Awaited<ReturnType<PlayerTokens['verify']>>;
    try {
      if (token === undefined) throw new RingstateError('AUTH_INVALID_TOKEN', 'Authorization: Bearer <player token> is required', { reason: 'TOKEN_MISSING' });
      player = await this.deps.tokens.verify(token.trim(), this.nowMs());
    } catch (error) {
      const code = error instanceof RingstateError ? error.code : 'AUTH_INVALID_TOKEN';
      const reason = error instanceof RingstateError && error.reason !== undefined ? error.reason : 'TOKEN_MALFORMED';
      this.deps.securityLog?.record({ kind: 'auth_failed', code, reason, remoteAddress: request.remoteAddress, detail: { path: request.path } });
      throw error;
    }
    return player;
  }

  private whoami(request: HttpRequestInfo, object: VerifiedObject): HttpResult {
    return ok({ o: object.objectId, p: object.playerId, node: this.deps.nodeId, t: Math.floor(this.nowMs() / 1000), sl: secondLifeHeaders(request.headers) });
  }

  private async command(request: HttpRequestInfo, object: VerifiedObject): Promise<HttpResult> {
    const body = parseJsonBody(request.body);
    const id = body['id'];
    if (typeof id !== 'string' || id.length === 0 || id.length > COMMAND_ID_CHARS_MAX || !PRINTABLE.test(id)) {
      throw new RingstateError('INVALID_MESSAGE', `id must be 1-${COMMAND_ID_CHARS_MAX} printable characters`);
    }
    const aggregate = aggregateRef(body['a'], body['i']);
    const command = body['c'];
    if (typeof command !== 'object' || command === null || Array.isArray(command) || typeof (command as { type?: unknown }).type !== 'string') {
      throw new RingstateError('INVALID_MESSAGE', 'c must be a JSON object with a string "type"');
    }
    try {
      const result = await withTimeout(
        this.deps.backend.execute({ aggregate, playerId: object.playerId, commandId: id, command }),
        this.deps.settings.commandTimeoutMs,
        () => new RingstateError('UNAVAILABLE', 'the command did not commit in time; retry with the same id', { reason: 'COMMIT_TIMEOUT' }),
      );
      return ok({ id, seq: result.seq, dup: result.duplicate ? 1 : 0 });
    } catch (error) {
      if (error instanceof RingstateError) return failure(error, {}, { id });
      throw error;
    }
  }

  private async state(request: HttpRequestInfo, object: VerifiedObject): Promise<HttpResult> {
    const aggregate = aggregateRef(request.query.get('a'), request.query.get('i'));
    const budget = budgetOf(request.query.get('max'));
    const keys = request.query.get('k');
    const { seq, view } = await this.deps.backend.read(aggregate, object.playerId);
    const selected = keys === null || keys === '' ? view : Object.fromEntries(keys.split(',').filter((key) => Object.hasOwn(view, key)).map((key) => [key, view[key]]));
    const body = JSON.stringify({ seq, v: selected });
    const bytes = byteLength(body);
    if (bytes > budget) {
      return failure(new RingstateError('INVALID_MESSAGE', `the view is ${bytes} bytes; select keys with k=, or set HTTP_BODY_MAXLENGTH and max=`, { reason: 'RESPONSE_TOO_LARGE' }), { bytes });
    }
    return { status: 200, contentType: 'application/json', body: assertFits(body, budget) };
  }

  private async events(request: HttpRequestInfo, object: VerifiedObject): Promise<HttpResult> {
    const aggregate = aggregateRef(request.query.get('a'), request.query.get('i'));
    const afterSeq = seqOf(request.query.get('after'));
    const budget = budgetOf(request.query.get('max'));
    // A held poll ends when the credential does: the next request is refused CREDENTIAL_EXPIRED.
    const waitMs = Math.max(0, Math.min(waitOf(request.query.get('wait'), this.deps.settings.longPollWaitMs), object.expiresAtMs - this.nowMs()));
    const release = this.admitPoll(object.objectId);
    try {
      let changed = false;
      let wake: () => void = () => {
        changed = true;
      };
      // Watch before the first read, so a commit between the two cannot be missed.
      const unwatch = this.deps.backend.watch(aggregate, object.playerId, (seq) => {
        if (seq > afterSeq) wake();
      });
      try {
        const first = await this.batch(aggregate, object.playerId, afterSeq, budget);
        if (first !== undefined || waitMs === 0) return first ?? this.emptyBatch(aggregate, afterSeq);
        if (!changed) {
          await this.waitForChange(waitMs, (wakeNow) => {
            wake = wakeNow;
          });
        }
        if (!this.deps.isServing()) throw new RingstateError('SHUTTING_DOWN', 'the node is stopping; try another host');
        return (await this.batch(aggregate, object.playerId, afterSeq, budget)) ?? this.emptyBatch(aggregate, afterSeq);
      } finally {
        unwatch();
      }
    } finally {
      release();
    }
  }

  /** Resolves after `waitMs` or when the armed wake function is called, whichever is first. */
  private waitForChange(waitMs: number, arm: (wake: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, waitMs);
      this.waiters.add(waiter);
      arm(waiter.wake);
    });
  }

  private async batch(aggregate: AggregateRef, playerId: string, afterSeq: number, budget: number): Promise<HttpResult | undefined> {
    const fields = { a: aggregate.type, i: aggregate.id };
    const read = await this.deps.backend.eventsAfter(aggregate, playerId, afterSeq, BATCH_ENTRIES_MAX);
    if (read.behind) return ok200(renderBatch(fields, { seq: read.headSeq, ev: [], more: false }, true), budget);
    if (read.entries.length === 0) return undefined;
    const lastRead = read.entries.at(-1)?.seq ?? afterSeq;
    const batch = packBatch(fields, read.entries, afterSeq, lastRead < read.headSeq, budget);
    return ok200(renderBatch(fields, batch), budget);
  }

  private emptyBatch(aggregate: AggregateRef, afterSeq: number): HttpResult {
    return ok200(renderBatch({ a: aggregate.type, i: aggregate.id }, { seq: afterSeq, ev: [], more: false }), LSL_BODY_BYTES_DEFAULT);
  }

  private async register(request: HttpRequestInfo, object: VerifiedObject): Promise<HttpResult> {
    const body = parseJsonBody(request.body);
    const aggregate = aggregateRef(body['a'], body['i']);
    const url = body['url'];
    if (typeof url !== 'string') throw new RingstateError('INVALID_MESSAGE', 'url must be a string');
    const afterSeq = seqOf(body['after'] === undefined ? undefined : String(body['after']));
    const { ttlSeconds } = await this.push.register(object, aggregate, url, afterSeq);
    return ok({ ok: 1, ttl: ttlSeconds });
  }

  private unregister(request: HttpRequestInfo, object: VerifiedObject): HttpResult {
    const body = parseJsonBody(request.body);
    return ok({ ok: this.push.unregister(object.objectId, aggregateRef(body['a'], body['i'])) ? 1 : 0 });
  }

  /** Bounds open long-polls per object and in total; returns the release function. */
  private admitPoll(objectId: string): () => void {
    const settings = this.deps.settings;
    const held = this.pollsPerObject.get(objectId) ?? 0;
    if (held >= settings.longPollsPerObjectMax) throw new RingstateError('RATE_LIMITED', `an object may hold ${settings.longPollsPerObjectMax} long-polls at once`);
    if (this.pollsTotal >= settings.longPollsMax) throw new RingstateError('OVERLOADED', 'this node holds its maximum of long-polls; try another host');
    this.pollsPerObject.set(objectId, held + 1);
    this.pollsTotal += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.pollsTotal -= 1;
      const left = (this.pollsPerObject.get(objectId) ?? 1) - 1;
      if (left <= 0) this.pollsPerObject.delete(objectId);
      else this.pollsPerObject.set(objectId, left);
    };
  }

  /** Authenticates, then runs the route; every refusal becomes an LSL-sized error body. */
  private signed(request: HttpRequestInfo, route: (object: VerifiedObject) => Promise<HttpResult> | HttpResult): Promise<HttpResult> {
    return this.guard(request, async () => {
      const sl = secondLifeHeaders(request.headers);
      let object: VerifiedObject;
      try {
        object = this.auth.authenticate(request, this.nowMs());
      } catch (error) {
        if (error instanceof RingstateError) this.refused(request, error, sl);
        throw error;
      }
      this.logger.debug({ path: request.path, objectId: object.objectId, sl }, 'second-life request');
      return route(object);
    });
  }

  /**
   * One security event per refused request (rate-limited per kind, so a flood of forgeries
   * cannot fill the disk). The object id is as claimed; X-SecondLife-* headers are recorded for
   * diagnosis only, since anyone can send them.
   */
  private refused(request: HttpRequestInfo, error: RingstateError, sl: SecondLifeHeaders): void {
    const kind = error.code === 'RATE_LIMITED' || error.code === 'OVERLOADED' ? 'rate_limited' : 'second_life_refused';
    const detail: Record<string, string> = { path: request.path };
    for (const [field, value] of Object.entries(sl)) detail[`sl${field[0]?.toUpperCase() ?? ''}${field.slice(1)}`] = value;
    const reason = error.reason ?? error.code;
    this.deps.securityLog?.record({ kind, code: error.code, reason, remoteAddress: request.remoteAddress, object: request.headers.get('x-ringstate-object')?.slice(0, 128), detail });
  }

  private async guard(request: HttpRequestInfo, route: () => Promise<HttpResult> | HttpResult): Promise<HttpResult> {
    if (!this.deps.isServing()) return failure(new RingstateError('SHUTTING_DOWN', 'the node is not serving; try another host'));
    this.seenServing = true;
    try {
      return await route();
    } catch (error) {
      if (!(error instanceof RingstateError)) throw error;
      const extra = error.code === 'AUTH_INVALID_TOKEN' || error.code === 'AUTH_TOKEN_EXPIRED' || error.code === 'CREDENTIAL_EXPIRED' ? { t: Math.floor(this.nowMs() / 1000) } : {};
      return failure(error, extra);
    }
  }

  private tick(): void {
    const nowMs = this.nowMs();
    if (this.deps.isServing()) {
      this.seenServing = true;
      this.auth.sweep(nowMs);
      this.push.sweep(nowMs);
      return;
    }
    if (!this.seenServing) return;
    // The node stopped: end every long-poll now (they answer SHUTTING_DOWN) and stop pushing.
    for (const waiter of [...this.waiters]) waiter.wake();
    this.push.dropAll('node stopped');
    clearInterval(this.housekeeping);
  }
}

function ok(value: unknown): HttpResult {
  return ok200(JSON.stringify(value), LSL_BODY_BYTES_DEFAULT);
}

function ok200(body: string, budget: number): HttpResult {
  return { status: 200, contentType: 'application/json', body: assertFits(body, budget) };
}

/** An error body; `extra` goes inside `error`, `outer` beside it (a command's `id`). */
function failure(error: RingstateError, extra: Readonly<Record<string, string | number>> = {}, outer: Readonly<Record<string, string>> = {}): HttpResult {
  const fields: Record<string, string | number> = { retry: isRetryable(error.code) ? 1 : 0, ...extra };
  if (error.reason !== undefined) fields['reason'] = error.reason.slice(0, 64);
  if (error.retryAfterMs === undefined) return { status: statusOf(error.code), contentType: 'application/json', body: assertFits(errorBody(error.code, error.message, fields, outer), LSL_BODY_BYTES_DEFAULT) };
  // The retry hint: `retryAfterMs` in the body for scripts, Retry-After (whole seconds) for HTTP clients.
  fields['retryAfterMs'] = error.retryAfterMs;
  return {
    status: statusOf(error.code),
    contentType: 'application/json',
    body: assertFits(errorBody(error.code, error.message, fields, outer), LSL_BODY_BYTES_DEFAULT),
    headers: { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) },
  };
}

/** The gateway's status for a code, so both APIs agree. */
function statusOf(code: ErrorCode): number {
  return errorResult(code, '').status;
}

function aggregateRef(type: unknown, id: unknown): AggregateRef {
  if (typeof type !== 'string' || !AGGREGATE_TYPE.test(type)) throw new RingstateError('INVALID_MESSAGE', 'a must be an aggregate type (lower case letters, digits, dashes)');
  if (typeof id !== 'string' || id.length === 0 || id.length > AGGREGATE_ID_CHARS_MAX || !PRINTABLE.test(id)) {
    throw new RingstateError('INVALID_MESSAGE', `i must be 1-${AGGREGATE_ID_CHARS_MAX} printable characters`);
  }
  return { type, id };
}

function seqOf(raw: string | null | undefined): number {
  if (raw === null || raw === undefined || raw === '') return 0;
  const seq = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(seq)) throw new RingstateError('INVALID_MESSAGE', 'after must be a non-negative integer seq');
  return seq;
}

function budgetOf(raw: string | null): number {
  if (raw === null || raw === '') return LSL_BODY_BYTES_DEFAULT;
  const bytes = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(bytes >= LSL_BODY_BYTES_DEFAULT && bytes <= LSL_BODY_BYTES_MAX)) {
    throw new RingstateError('INVALID_MESSAGE', `max must be ${LSL_BODY_BYTES_DEFAULT}-${LSL_BODY_BYTES_MAX} (the script's HTTP_BODY_MAXLENGTH)`);
  }
  return bytes;
}

function waitOf(raw: string | null, waitMaxMs: number): number {
  if (raw === null || raw === '') return waitMaxMs;
  const seconds = /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(seconds)) throw new RingstateError('INVALID_MESSAGE', 'wait must be whole seconds');
  return Math.min(seconds * 1000, waitMaxMs);
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(onTimeout()), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}
