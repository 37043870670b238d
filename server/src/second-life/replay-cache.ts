/**
 * Remembers the nonces of signed requests until their timestamps leave the signature window,
 * so a captured request cannot be replayed. Pure apart from the time passed in.
 *
 * Bounded two ways, and neither bound ever forgets a live nonce (forgetting one would reopen
 * the replay it guards against): an object with `perObjectMax` live nonces is refused until
 * some expire, and when `objectsMax` objects hold live nonces a new object is refused. Only
 * requests with a valid signature reach the cache, so only provisioned objects can fill it.
 */
export type NonceVerdict = 'fresh' | 'replayed' | 'object-full' | 'cache-full';

export interface ReplayCacheOptions {
  readonly perObjectMax: number;
  readonly objectsMax: number;
}

export class ReplayCache {
  /** objectId -> nonce -> expiresAtMs. */
  private readonly objects = new Map<string, Map<string, number>>();
  private entries = 0;

  constructor(private readonly options: ReplayCacheOptions) {
    if (options.perObjectMax < 1 || options.objectsMax < 1) throw new Error('replay cache bounds must be positive');
  }

  get objectCount(): number {
    return this.objects.size;
  }

  get nonceCount(): number {
    return this.entries;
  }

  /** Records the nonce when it is new; `expiresAtMs` is when its timestamp leaves the window. */
  check(objectId: string, nonce: string, expiresAtMs: number, nowMs: number): NonceVerdict {
    let nonces = this.objects.get(objectId);
    if (nonces === undefined) {
      if (this.objects.size >= this.options.objectsMax) this.sweep(nowMs);
      if (this.objects.size >= this.options.objectsMax) return 'cache-full';
      nonces = new Map();
      this.objects.set(objectId, nonces);
    }
    const seenUntilMs = nonces.get(nonce);
    if (seenUntilMs !== undefined && seenUntilMs > nowMs) return 'replayed';
    if (seenUntilMs === undefined && nonces.size >= this.options.perObjectMax) {
      this.sweepObject(objectId, nonces, nowMs);
      if (nonces.size >= this.options.perObjectMax) return 'object-full';
      // Sweeping may have removed the (now empty) object: put it back before recording.
      this.objects.set(objectId, nonces);
    }
    if (seenUntilMs === undefined) this.entries += 1;
    nonces.set(nonce, expiresAtMs);
    return 'fresh';
  }

  /** Forgets expired nonces and empty objects; returns how many nonces were forgotten. */
  sweep(nowMs: number): number {
    const before = this.entries;
    for (const [objectId, nonces] of this.objects) this.sweepObject(objectId, nonces, nowMs);
    return before - this.entries;
  }

  private sweepObject(objectId: string, nonces: Map<string, number>, nowMs: number): void {
    for (const [nonce, expiresAtMs] of nonces) {
      if (expiresAtMs <= nowMs) {
        nonces.delete(nonce);
        this.entries -= 1;
      }
    }
    if (nonces.size === 0) this.objects.delete(objectId);
  }
}
