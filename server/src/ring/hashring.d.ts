// Minimal typings for the `hashring` package (it ships none): only what ring.ts uses.
declare module 'hashring' {
  export default class HashRing {
    constructor(servers: string[] | Record<string, number | { weight?: number; vnodes?: number }>, algorithm?: string, options?: { 'max cache size'?: number; replicas?: number });
    /** `count` distinct servers for `key`, in ring order (the first is the key's server). */
    range(key: string, count: number, unique?: boolean): string[];
    get(key: string): string;
  }
}
