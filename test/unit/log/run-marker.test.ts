/**
 * The run marker (server/src/log/run-marker.ts): a store last used under `os` by a machine that
 * has rebooted since refuses to open; a crash of the process, a clean stop and `fsync` do not.
 * A copy of a store's directory taken while it is open is what the disk holds after a crash at
 * that instant; the `boot` option plays the machine's reboot.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogStore, RUN_MARKER_FILE, UncleanPowerLossError, currentBoot, type DurabilityPolicy, type LogEntry } from '../../../server/src/log/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

const dirs: Array<ReturnType<typeof tempDir>> = [];
const stores: LogStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) dir.remove();
});

const THIS_BOOT = currentBoot();
const NEXT_BOOT = { id: 'another-boot', timeMs: THIS_BOOT.timeMs + 3_600_000 };

function entry(position: number): LogEntry {
  return { partition: 0, position, epoch: 1, aggregate: 'a/1', seq: position, commandId: `c${position}`, playerId: 'p', events: [{ n: position }], eventVersion: 1, update: new Uint8Array([1]), timestampMs: position };
}

function open(path: string, durability: DurabilityPolicy, boot = THIS_BOOT): LogStore {
  const store = LogStore.open({ path, durability, boot });
  stores.push(store);
  return store;
}

/** A store under `durability` holding two entries, and a copy of its directory taken while it is open (a crash). */
async function crashedStore(durability: DurabilityPolicy): Promise<string> {
  const dir = tempDir('marker');
  const copy = tempDir('marker-crash');
  dirs.push(dir, copy);
  const store = open(dir.path, durability);
  await store.append([entry(1), entry(2)]);
  cpSync(dir.path, copy.path, { recursive: true });
  return copy.path;
}

describe('run marker', () => {
  it('marker - a store under os that the machine went down with refuses to open, with the code and the way out', async () => {
    const path = await crashedStore('os');
    let refusal: unknown;
    try {
      open(path, 'os', NEXT_BOOT);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(UncleanPowerLossError);
    expect((refusal as UncleanPowerLossError).code).toBe('UNCLEAN_POWER_LOSS');
    expect((refusal as Error).message).toContain(join(path, RUN_MARKER_FILE));
    // The policy of the next run does not matter: the writes at risk were made under os.
    expect(() => open(path, 'fsync', NEXT_BOOT)).toThrow(UncleanPowerLossError);
    // The operator's choice when no other copy exists: delete the marker, open the store as it is.
    rmSync(join(path, RUN_MARKER_FILE));
    expect(open(path, 'os', NEXT_BOOT).lastPosition(0)).toBe(2);
  });

  it('marker - a process crash under os (same boot) opens with everything it wrote', async () => {
    const path = await crashedStore('os');
    expect(open(path, 'os').lastPosition(0)).toBe(2);
  });

  it('marker - reopened under fsync after a crash under os, the store stays refused after a reboot until a clean close', async () => {
    const path = await crashedStore('os');
    const copy = tempDir('marker-again');
    dirs.push(copy);
    // The same boot, now under fsync: the crashed run's writes may still be in the page cache only.
    open(path, 'fsync');
    cpSync(path, copy.path, { recursive: true });
    expect(() => open(copy.path, 'fsync', NEXT_BOOT)).toThrow(UncleanPowerLossError);
    // A clean close syncs everything and removes the marker.
    await stores.pop()?.close();
    expect(open(path, 'fsync', NEXT_BOOT).lastPosition(0)).toBe(2);
  });

  it('marker - a store under fsync opens after a reboot: every acknowledged write was synced', async () => {
    const path = await crashedStore('fsync');
    expect(open(path, 'os', NEXT_BOOT).lastPosition(0)).toBe(2);
  });

  it('marker - a clean close removes the marker, so a reboot afterwards is harmless', async () => {
    const dir = tempDir('marker');
    dirs.push(dir);
    const store = LogStore.open({ path: dir.path, durability: 'os', boot: THIS_BOOT });
    expect(existsSync(join(dir.path, RUN_MARKER_FILE))).toBe(true);
    await store.append([entry(1)]);
    await store.close();
    expect(existsSync(join(dir.path, RUN_MARKER_FILE))).toBe(false);
    expect(open(dir.path, 'os', NEXT_BOOT).lastPosition(0)).toBe(1);
  });

  it('marker - an unreadable marker fails closed', async () => {
    const path = await crashedStore('fsync');
    writeFileSync(join(path, RUN_MARKER_FILE), '{"durab');
    expect(() => open(path, 'fsync')).toThrow(UncleanPowerLossError);
  });

  it('marker - without a boot id the boot time tells boots apart, within two minutes', async () => {
    const path = await crashedStore('os');
    const timeOnly = { timeMs: THIS_BOOT.timeMs };
    rmSync(join(path, RUN_MARKER_FILE));
    await open(path, 'os', timeOnly).close();
    stores.pop();
    const copy = tempDir('marker-time');
    dirs.push(copy);
    const store = open(path, 'os', timeOnly);
    cpSync(path, copy.path, { recursive: true });
    await store.close();
    stores.pop();
    // The clock moved a little (NTP): the same boot, a crash.
    expect(open(copy.path, 'os', { timeMs: THIS_BOOT.timeMs + 30_000 }).lastPosition(0)).toBe(2);
    await stores.pop()?.close();
    cpSync(path, copy.path, { recursive: true });
    writeFileSync(join(copy.path, RUN_MARKER_FILE), JSON.stringify({ boot: timeOnly, durability: 'os', pid: 1, startedAt: 'then' }));
    expect(() => open(copy.path, 'os', { timeMs: THIS_BOOT.timeMs + 600_000 })).toThrow(UncleanPowerLossError);
  });
});
