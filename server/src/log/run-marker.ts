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
 * So `running.json` in the store's directory says "this store may hold writes that are only in
 * the page cache": a store under `os` writes it before LMDB writes anything (the machine's boot
 * id, the pid) and removes it when it has closed, after syncing. A store under `fsync` writes
 * none (each of its commits is synced), except after a crash under `os` in this boot, whose
 * unsynced writes it inherits until its own clean close. At open:
 * - no marker: nothing unsynced was left behind;
 * - a marker from this boot: the process crashed; the page cache kept every write;
 * - a marker from another boot: the machine went down while writes were unsynced. The store
 *   refuses to open (UNCLEAN_POWER_LOSS) instead of serving state it cannot vouch for. The
 *   operator wipes the directory (a cluster member then rejoins empty and fetches its replicas,
 *   as after a disk replacement) or, when no other copy exists, deletes the marker to accept
 *   whatever the file holds (docs/storage.md).
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

function sameBoot(a: BootIdentity, b: BootIdentity): boolean {
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
  if (marker !== undefined && !sameBoot(marker.boot, boot)) throw new UncleanPowerLossError(directory, marker);
  return marker;
}

/**
 * Reads the marker. One that cannot be parsed cannot come from writeRunMarker (it renames a
 * synced file into place), so it was damaged or edited: it reads as a run from an unknown boot,
 * which fails closed.
 */
function readRunMarker(directory: string): RunMarker | undefined {
  const file = join(directory, RUN_MARKER_FILE);
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunMarker>;
    if (typeof parsed.boot?.timeMs === 'number' && typeof parsed.pid === 'number' && typeof parsed.startedAt === 'string') return parsed as RunMarker;
  } catch {
    // Not JSON: as below.
  }
  return { boot: { timeMs: Number.NaN }, pid: 0, startedAt: 'an unknown time (the marker is unreadable)' };
}

/** Writes the marker durably (temporary file, fsync, rename, fsync of the directory) before LMDB writes. */
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
