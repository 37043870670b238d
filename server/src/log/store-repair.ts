/**
 * The offline tools on a stopped node's data directory: `checkDataDir` (read only) and
 * `repairDataDir`, which rebuilds the derived records (aggregate index, dedupe, outbox,
 * aggregate snapshots, `indexed` positions and the format number) from the log in one LMDB
 * transaction and checks again. Repair writes only derived records: it never removes or
 * rewrites a log entry, a hard state, an applied position or a replication-log start, so what
 * it cannot fix (the log itself) it leaves for the operator (store-check.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FORMAT_KEY, FORMAT_PLAIN, openDatabases, openDatabasesReadOnly, openEnvironment, type StoreDatabases } from './layout.ts';
import { checkRunMarker, currentBoot, UncleanPowerLossError } from './run-marker.ts';
import { checkStore, type StoreCheckOptions, type StoreCheckReport } from './store-check.ts';

/** The directory holds no store (LMDB's data file is missing). */
export class NoStoreError extends Error {
  override readonly name = 'NoStoreError';
  constructor(readonly directory: string) {
    super(`${directory} holds no ringstate store (no data.mdb)`);
  }
}

export type OfflineOptions = Omit<StoreCheckOptions, 'complete'>;

function assertStore(directory: string): void {
  if (!existsSync(join(directory, 'data.mdb'))) throw new NoStoreError(directory);
}

/**
 * Checks the store in `directory` without writing to it. A run marker from another boot
 * (run-marker.ts) does not stop the check: it becomes a finding, since the node would refuse to open.
 */
export function checkDataDir(directory: string, options: OfflineOptions = {}): StoreCheckReport {
  assertStore(directory);
  let marker: UncleanPowerLossError | undefined;
  try {
    checkRunMarker(directory, currentBoot());
  } catch (error) {
    if (!(error instanceof UncleanPowerLossError)) throw error;
    marker = error;
  }
  const root = openEnvironment(directory, { readOnly: true });
  try {
    const report = checkStore(openDatabasesReadOnly(root), options);
    if (marker === undefined) return report;
    return {
      ...report,
      findings: [{ area: 'state', message: marker.message }, ...report.findings],
      findingCount: report.findingCount + 1,
      countsByArea: { ...report.countsByArea, state: (report.countsByArea.state ?? 0) + 1 },
    };
  } finally {
    void root.close();
  }
}

export interface RepairResult {
  /** What the check found before the repair, in repair's view (deferred records count as findings). */
  readonly before: StoreCheckReport;
  /** Derived records written or removed. */
  readonly written: number;
  /** The check after the repair. */
  readonly after: StoreCheckReport;
}

/**
 * Rebuilds the derived records of the store in `directory` in one synced transaction and checks
 * it again. Refuses (UncleanPowerLossError) a store whose run marker is from another boot: after
 * a power loss under `os` the file may be older than what was acknowledged, so the way out is
 * dropping the replica, not rebuilding on top of it (docs/storage.md).
 */
export async function repairDataDir(directory: string, options: OfflineOptions = {}): Promise<RepairResult> {
  assertStore(directory);
  // A marker from this boot (a crashed run under `os`) stays: the node's next clean stop removes it.
  checkRunMarker(directory, currentBoot());
  const root = openEnvironment(directory);
  try {
    const dbs = openDatabases(root);
    let before: StoreCheckReport | undefined;
    root.transactionSync(() => {
      // Reads inside the transaction see one state of the store, and nothing writes between them and the fixes.
      before = checkStore(dbs, { ...options, complete: true });
      for (const fix of before.fixes) {
        const db = dbs[fix.database] as StoreDatabases['meta'];
        if (fix.value === undefined) db.removeSync(fix.key as never);
        else db.putSync(fix.key as never, fix.value);
      }
      // Every deferred record is now written out and no `indexed` record remains: format 1.
      if (dbs.meta.get(FORMAT_KEY) !== FORMAT_PLAIN) dbs.meta.putSync(FORMAT_KEY, FORMAT_PLAIN);
    });
    const report = before as unknown as StoreCheckReport;
    const after = checkStore(dbs, options);
    return { before: report, written: report.fixes.length, after };
  } finally {
    await root.close();
  }
}
