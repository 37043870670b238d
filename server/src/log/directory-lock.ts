/**
 * The directory lock: one process at a time per data directory.
 *
 * LMDB lets many processes open one environment (its own lock file, `lock.mdb`, exists to share
 * it), but a node is not written for that: it keeps each partition's last position, its deferred
 * index records and its replication state in memory, so two nodes on one directory hand out the
 * same positions and seqs, and their index records end up pointing at each other's entries. So
 * a store takes `ringstate.lock` in its directory first, before it reads the run marker or opens
 * LMDB, and keeps it until it has closed.
 *
 * The lock is flock(2) on that file, exclusive and non-blocking. The kernel ties it to the open
 * file description, so it goes when the process ends however it ends (kill -9 included): a stale
 * file needs no clean-up and is never taken for a live holder. Locks that guess staleness from a
 * PID or an mtime (`proper-lockfile`, `lockfile`) can both wrongly break a live lock and wrongly
 * keep a dead one, which is what this lock exists to prevent.
 *
 * Node has no flock call, and the npm packages that add one are native addons (`fs-ext` builds
 * with node-gyp at install, `os-lock` too; `fs-ext-extra-prebuilt` is a one-maintainer fork
 * carrying binaries for ~40 platforms), another install script and ABI-bound binary to keep. So
 * the process opens the file itself and lends the descriptor to the `flock` tool (util-linux,
 * part of every Debian-family system; busybox has it too), which locks that descriptor and exits.
 * The lock stays with the description, which this process alone still holds (Node opens files
 * close-on-exec, so no later child inherits it): the holder is the node process itself, not the
 * tool, not tsx or npm above it. The cost is one short child process at open.
 *
 * After taking the lock the holder writes its PID into the file; a process refused the lock
 * reads it for its message (DATA_DIR_IN_USE). Caveats (docs/storage.md): on NFS, flock is only
 * as good as the server's lock manager, and it does not see a process on another machine whose
 * mount lacks locking; and the lock is per file, so a copy of a directory is another directory.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DIRECTORY_LOCK_FILE = 'ringstate.lock';

/** What the lock file says about its holder (written after the lock is taken). */
export interface LockHolder {
  readonly pid: number;
  /** What holds it, in the words of the message ("ringstate node node-1", "local cluster launcher"). */
  readonly holder: string;
  readonly since: string;
}

/** Another live process holds the directory's lock. */
export class DirectoryInUseError extends Error {
  override readonly name = 'DirectoryInUseError';
  readonly code = 'DATA_DIR_IN_USE';
  constructor(
    readonly directory: string,
    /** Undefined when the holder had not written its PID yet (it took the lock a moment ago). */
    readonly holder: LockHolder | undefined,
  ) {
    const by = holder === undefined ? 'another process (its pid is not written yet)' : `process ${holder.pid} (${holder.holder}, since ${holder.since})`;
    super(`DATA_DIR_IN_USE: the data directory ${directory} is in use by ${by}; two processes on one directory would corrupt it. Stop that process first, or use another directory`);
  }
}

export interface DirectoryLock {
  readonly directory: string;
  /** Releases the lock (idempotent). The file stays: removing it would let a late opener lock a file no one else sees. */
  release(): void;
}

/** flock(1) exits 1 when the lock is held (its default conflict status). */
const FLOCK_CONFLICT_STATUS = 1;
/** The descriptor number the lock file gets in the flock child (0-2 are its stdio). */
const CHILD_FD = 3;
const FLOCK_TIMEOUT_MS = 10_000;

/**
 * Takes the exclusive lock on `directory` (creating the directory and the lock file) or throws
 * DirectoryInUseError naming the holder. `holder` says what this process is, for the message
 * another process gets.
 */
export function lockDirectory(directory: string, holder: string): DirectoryLock {
  const absolute = resolve(directory);
  mkdirSync(absolute, { recursive: true });
  const file = join(absolute, DIRECTORY_LOCK_FILE);
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    flockExclusive(fd, file);
  } catch (error) {
    closeSync(fd);
    throw error instanceof LockHeldSignal ? new DirectoryInUseError(absolute, readHolder(file)) : error;
  }
  const record: LockHolder = { pid: process.pid, holder, since: new Date().toISOString() };
  ftruncateSync(fd, 0);
  writeSync(fd, `${JSON.stringify(record)}\n`, 0);
  let held = true;
  return {
    directory: absolute,
    release: () => {
      if (!held) return;
      held = false;
      // Closing the only descriptor of the description drops the flock.
      closeSync(fd);
    },
  };
}

class LockHeldSignal extends Error {}

function flockExclusive(fd: number, file: string): void {
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'ignore', 'pipe', fd];
  const result = spawnSync('flock', ['--exclusive', '--nonblock', String(CHILD_FD)], { stdio, timeout: FLOCK_TIMEOUT_MS });
  if (result.error !== undefined) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? `cannot lock ${file}: the flock tool was not found (it comes with util-linux; install it, e.g. apt-get install util-linux)`
        : `cannot lock ${file}: ${result.error.message}`,
      { cause: result.error },
    );
  }
  if (result.status === 0) return;
  if (result.status === FLOCK_CONFLICT_STATUS) throw new LockHeldSignal();
  throw new Error(`cannot lock ${file}: flock exited with ${result.status ?? result.signal}: ${String(result.stderr).trim()}`);
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.holder === 'string' && typeof parsed.since === 'string') return parsed as LockHolder;
  } catch {
    // Empty (the holder has the lock but has not written yet) or not ours.
  }
  return undefined;
}
