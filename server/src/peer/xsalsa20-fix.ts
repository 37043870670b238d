/**
 * Works around a bug in `xsalsa20` 1.2.0, the cipher under @libp2p/pnet (the cluster key's
 * private network), that crashed nodes with "WebAssembly.Memory.grow(): Maximum memory size
 * exceeded" after a burst of replication traffic (found by bench:cluster's catch-up phase and
 * the netns partition test: a busy node died right after a heal or a catch-up).
 *
 * The package runs every cipher instance (two per connection) in one shared WebAssembly
 * memory, and each instance caches a view of it. When one instance grows the memory for a
 * large chunk, every other instance's view is detached (length 0); its next update then
 * "grows" the memory again by the whole size it needs instead of the difference, and so on
 * for every connection, until the 64 MB maximum is reached and the process throws from a
 * socket callback. pnet also encrypts each outgoing batch as one chunk, so large sends make
 * the memory grow in the first place.
 *
 * The fix, applied once when this module is imported (before any connection exists):
 *   - an instance whose view is detached picks up the live view before it updates;
 *   - updates are cut into slices of at most SLICE_BYTES. The cipher keeps its position
 *     within the keystream across calls, so slicing does not change the output; it bounds
 *     the memory to the slice size.
 * test/unit/peer/xsalsa20-fix.test.ts checks both against an independent XSalsa20
 * (@noble/ciphers) with many interleaved instances. The package is pinned (package-lock), and
 * the patch refuses to apply, loudly, if its internals are not the expected shape.
 */
import { createRequire } from 'node:module';

const SLICE_BYTES = 256 * 1024;

interface WasmXor {
  _memory: Uint8Array;
  update(input: Uint8Array, output: Uint8Array): void;
}

interface XSalsa20Instance {
  _xor: WasmXor | null;
}

type XSalsa20Factory = (nonce: Uint8Array, key: Uint8Array) => XSalsa20Instance;

const require = createRequire(import.meta.url);
// Resolved from @libp2p/pnet's location, so this patches the very copy pnet loads.
const xsalsa20 = require(require.resolve('xsalsa20', { paths: [require.resolve('@libp2p/pnet')] })) as XSalsa20Factory;

export const XSALSA20_PATCHED = Symbol.for('ringstate.xsalsa20-fix');

function install(): void {
  const probe = xsalsa20(new Uint8Array(24), new Uint8Array(32));
  const prototype = probe._xor === null ? undefined : (Object.getPrototypeOf(probe._xor) as WasmXor & { [XSALSA20_PATCHED]?: true });
  // Without WebAssembly the package uses a pure-JS fallback that has no shared memory.
  if (prototype === undefined || !(probe._xor?._memory instanceof Uint8Array)) return;
  if (prototype[XSALSA20_PATCHED] === true) return;
  if (typeof prototype.update !== 'function') throw new Error('xsalsa20 internals changed: review server/src/peer/xsalsa20-fix.ts');
  const original = prototype.update;
  /** The most recent view of the shared memory that is still attached. */
  let live: Uint8Array = probe._xor._memory;
  prototype.update = function update(this: WasmXor, input: Uint8Array, output: Uint8Array): void {
    for (let start = 0; start < input.length; start += SLICE_BYTES) {
      if (this._memory.buffer.byteLength === 0 && live.buffer.byteLength !== 0) this._memory = live;
      const end = Math.min(input.length, start + SLICE_BYTES);
      original.call(this, input.subarray(start, end), output.subarray(start, end));
      live = this._memory;
    }
  };
  prototype[XSALSA20_PATCHED] = true;
}

install();
