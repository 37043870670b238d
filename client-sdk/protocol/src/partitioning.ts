/**
 * Aggregate-to-partition mapping, shared so that clients and every node agree.
 *
 * An aggregate `(type, id)` hashes with 32-bit FNV-1a over the UTF-8 bytes of
 * `type + "/" + id` to one of `partitionCount` partitions. The partition count is fixed when a
 * cluster is created; changing it would move every aggregate.
 */
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

export function fnv1a32(text: string): number {
  const bytes = encoder.encode(text);
  let hash = FNV_OFFSET;
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

export function aggregateKey(type: string, id: string): string {
  return `${type}/${id}`;
}

export function partitionOf(type: string, id: string, partitionCount: number): number {
  return fnv1a32(aggregateKey(type, id)) % partitionCount;
}
