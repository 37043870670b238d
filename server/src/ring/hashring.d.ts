// Minimal typings for the `hashring` package (it ships none): only what ring/ uses.
declare module 'hashring' {
  export default class HashRing {
    constructor(servers: string[] | Record<string, number | { weight?: number; vnodes?: number }>, algorithm?: string, options?: { 'max cache size'?: number; replicas?: number });
    /** `count` distinct servers for `key`, in ring order (the first is the key's server). */
    range(key: string, count: number, unique?: boolean): string[];
    get(key: string): string;
    /** The continuum (internal, stable in 3.x): points sorted by value. */
    readonly ring: ReadonlyArray<{ readonly value: number; readonly server: string }>;
    /** The index in `ring` where `range` starts for a key of this hash (internal). */
    find(hashValue: number): number;
    /** The key's position on the continuum (internal). */
    hashValue(key: string): number;
  }
}
