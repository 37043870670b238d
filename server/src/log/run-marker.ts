/**
 * The run marker: how a store under the `os` durability policy tells a process crash from a
 * power loss, and refuses to open after one.
 *
 * Under `os` (LMDB's noSync) a commit is acknowledged once it is in the operating system's page
 * cache. A process crash (kill -9) loses nothing: the page cache outlives the process. A power
 * loss or kernel crash loses what the page cache had not written yet, and because LMDB reuses
 * pages that only unsynced transactions had freed, the file left behind may be older than what
 * was acknowledged or not a valid B-tree at all. In a cluster that is worse than a lost tail: the
 * node may have forgotten entries it acknowledged and votes it cast, and a node that serves on
 * after that can help elect an owner that misses committed entries (S1, S2).
 *
 * So a store writes `running.json` into its directory before it opens LMDB (the machine's boot
 * id, the policy, the pid) and removes it when it has closed, after syncing. At open:
 * - no marker: the last run closed cleanly;
 * - a marker from this boot: the process crashed; the page cache kept every write (the new
 *   marker keeps saying `os` if the crashed run's did, until a clean close has synced);
 * - a marker from another boot, written under `fsync`: every acknowledged write was synced;
 * - a marker from another boot, written under `os`: the machine went down while the node ran
 *   unsynced. The store refuses to open (UNCLEAN_POWER_LOSS) instead of serving state it cannot
 *   vouch for. The operator wipes the directory (a cluster member then rejoins empty and fetches
 *   its replicas, as after a disk replacement) or, when no other copy exists, deletes the marker
 *   to accept whatever the file holds (docs/storage.md).
 *
 * Fail closed: a clean reboot that killed the node before it stopped (SIGKILL after a stop
 * timeout) is refused too, although the kernel flushed the page cache; the operator tells.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { uptime } from 'node:os';
import { join } from 'node:path';

export const RUN_MARKER_FILE = 'running.json';

/** Without a boot id (no /proc: macOS), boot times this close are one boot: the wall clock moves under NTP. */
const BOOT_TIME_TOLERANCE_MS = 120_000;

export interface BootIdentity {
  /** Linux: /proc/sys/kernel/random/boot_id, new at every boot. */
  readonly id?: string;
  /** Wall-clock time of the boot (now - uptime); used where there is no id. */
  readonly timeMs: number;
}

export interface RunMarker {
  readonly boot: BootIdentity;
  /** The run's policy; `os` also while a crashed run of the same boot under `os` may have left writes unsynced. */
  readonly durability: string;
  readonly pid: number;
  readonly startedAt: string;
}

export function currentBoot(): BootIdentity {
  const timeMs = Date.now() - uptime() * 1000;
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (id !== '') return { id, timeMs };
  } catch {
    // Not Linux: the boot time alone.
  }
  return { timeMs };
}

export function sameBoot(a: BootIdentity, b: BootIdentity): boolean {
  if (a.id !== undefined && b.id !== undefined) return a.id === b.id;
  return Math.abs(a.timeMs - b.timeMs) < BOOT_TIME_TOLERANCE_MS;
}

/** The store refuses to open: its last run may have lost acknowledged writes (see the header). */
export class UncleanPowerLossError extends Error {
  override readonly name = 'UncleanPowerLossError';
  readonly code = 'UNCLEAN_POWER_LOSS';
  constructor(
    readonly directory: string,
    readonly marker: RunMarker,
  ) {
    super(
      `UNCLEAN_POWER_LOSS: the store in ${directory} was in use with durability "os" (pid ${marker.pid}, since ${marker.startedAt}) when the machine went down; ` +
        `writes acknowledged then may be lost and the file may be damaged, so it is not opened. ` +
        `In a cluster, remove the directory and start the node again: it rejoins empty and fetches its replicas. ` +
        `With no other copy (a single node, or every replica lost power), delete ${join(directory, RUN_MARKER_FILE)} to open the store as it is (docs/storage.md).`,
    );
  }
}

/**
 * Throws UncleanPowerLossError when the previous run of this store may have lost acknowledged
 * writes; otherwise returns its marker (undefined after a clean close).
 */
export function checkRunMarker(directory: string, boot: BootIdentity): RunMarker | undefined {
  const marker = readRunMarker(directory);
  if (marker !== undefined && marker.durability === 'os' && !sameBoot(marker.boot, boot)) throw new UncleanPowerLossError(directory, marker);
  return marker;
}

/**
 * Reads the marker. One that cannot be parsed cannot come from writeRunMarker (it renames a
 * synced file into place), so it was damaged or edited: it reads as an unknown run under `os`
 * from an unknown boot, which fails closed.
 */
export function readRunMarker(directory: string): RunMarker | undefined {
  const file = join(directory, RUN_MARKER_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunMarker>;
    if (typeof parsed.durability === 'string' && typeof parsed.boot?.timeMs === 'number' && typeof parsed.pid === 'number' && typeof parsed.startedAt === 'string') return parsed as RunMarker;
  } catch {
    // Not JSON: as below.
  }
  return { boot: { timeMs: Number.NaN }, durability: 'os', pid: 0, startedAt: 'an unknown time (the marker is unreadable)' };
}

/** Writes the marker durably (temporary file, fsync, rename, fsync of the directory) before the store takes writes. */
export function writeRunMarker(directory: string, marker: RunMarker): void {
  const file = join(directory, RUN_MARKER_FILE);
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(marker)}\n`);
  syncPath(temporary);
  renameSync(temporary, file);
  syncPath(directory);
}

/** Removes the marker once the store is closed; the next open then knows the run ended cleanly. */
export function removeRunMarker(directory: string): void {
  rmSync(join(directory, RUN_MARKER_FILE), { force: true });
  syncPath(directory);
}

function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
