/**
 * The directory lock (server/src/log/directory-lock.ts): one process at a time per data
 * directory, refused with the holder's pid, and free again once the holder is gone, even by
 * kill -9 (the kernel drops a flock with its process). The holder here is a real child process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIRECTORY_LOCK_FILE, DirectoryInUseError, LogStore, RUN_MARKER_FILE, lockDirectory } from '../../../server/src/log/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const LOCK_MODULE = join(ROOT, 'server/src/log/directory-lock.ts');

const dirs: Array<ReturnType<typeof tempDir>> = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) dir.remove();
});

function directory(): string {
  const dir = tempDir('lock');
  dirs.push(dir);
  return dir.path;
}

/** A child process that takes the lock on `path`, says "locked" and waits to be killed. */
async function holdInChild(path: string): Promise<ChildProcess> {
  const script = `const { lockDirectory } = await import(${JSON.stringify(LOCK_MODULE)}); lockDirectory(${JSON.stringify(path)}, 'test holder'); console.log('locked'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the holder exited (${code}) before locking`)));
  });
  return child;
}

function refusal(action: () => unknown): DirectoryInUseError {
  try {
    action();
  } catch (error) {
    if (error instanceof DirectoryInUseError) return error;
    throw error;
  }
  throw new Error('expected DATA_DIR_IN_USE');
}

describe('directory lock', () => {
  it('directory lock - a second process is refused with the holder pid; after kill -9 of the holder the lock is free again', async () => {
    const path = directory();
    const holder = await holdInChild(path);
    const refused = refusal(() => lockDirectory(path, 'second'));
    expect(refused.code).toBe('DATA_DIR_IN_USE');
    expect(refused.holder?.pid).toBe(holder.pid);
    expect(refused.message).toContain(path);
    expect(refused.message).toContain(`process ${holder.pid} (test holder, since `);
    expect(refused.message).not.toContain('\n');

    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    // No clean-up: the file is still there, with the dead holder's pid in it.
    expect(existsSync(join(path, DIRECTORY_LOCK_FILE))).toBe(true);
    const lock = lockDirectory(path, 'after the crash');
    lock.release();
  });

  it('directory lock - within one process a second lock is refused too, and release frees it', () => {
    const path = directory();
    const first = lockDirectory(path, 'first');
    expect(refusal(() => lockDirectory(path, 'second')).holder?.pid).toBe(process.pid);
    first.release();
    first.release();
    lockDirectory(path, 'third').release();
  });

  it('directory lock - a store refused its directory writes nothing there: no LMDB files, no run marker', async () => {
    const path = directory();
    const holder = await holdInChild(path);
    const refused = refusal(() => LogStore.open({ path, durability: 'os' }));
    expect(refused.holder?.pid).toBe(holder.pid);
    expect(readdirSync(path)).toEqual([DIRECTORY_LOCK_FILE]);
    expect(existsSync(join(path, RUN_MARKER_FILE))).toBe(false);
  });

  it('directory lock - a store holds the lock while open and gives it back when closed', async () => {
    const path = directory();
    const store = LogStore.open({ path, durability: 'fsync', holder: 'ringstate node test' });
    const refused = refusal(() => LogStore.open({ path, durability: 'fsync' }));
    expect(refused.holder).toMatchObject({ pid: process.pid, holder: 'ringstate node test' });
    await store.close();
    await LogStore.open({ path, durability: 'fsync' }).close();
  });
});
