/**
 * `ringstate check` and `ringstate repair`: the offline store tools on a stopped node's data
 * directory (log/store-check.ts, log/store-repair.ts), with their output and exit status.
 *
 *   exit 0  the store is consistent (after repair: it is now)
 *   exit 1  findings remain (check: any; repair: those in the log or the replication state,
 *           which repair does not touch: drop the replica's data, docs/operations.md)
 *   exit 2  refused: no store there, the directory is in use, or (repair) a power loss under `os`
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkDataDir, DERIVED_AREAS, DirectoryInUseError, formatFinding, lockDirectory, NoStoreError, repairDataDir, UncleanPowerLossError, type DirectoryLock, type StoreCheckReport } from './log/index.ts';

export interface StoreCommandFlags {
  readonly data: string;
  readonly dedupeRetentionMs?: number;
  readonly findingsMax?: number;
}

type Output = (line: string) => void;

/**
 * The one place where both tools take the data directory before reading it: the directory lock
 * a running node holds (log/directory-lock.ts), so a running node's store is refused with one
 * line (DATA_DIR_IN_USE) and exit 2, and no node can start on it while a tool runs. A missing
 * directory is left for the tool to report (no store there), not created by the lock.
 */
function holdStoppedDataDir(directory: string, tool: string): DirectoryLock | undefined {
  return existsSync(directory) ? lockDirectory(directory, `ringstate ${tool}`) : undefined;
}

function optionsOf(flags: StoreCommandFlags): { dedupeRequiredAfterMs?: number; findingsMax?: number } {
  return {
    ...(flags.dedupeRetentionMs === undefined ? {} : { dedupeRequiredAfterMs: Date.now() - flags.dedupeRetentionMs }),
    ...(flags.findingsMax === undefined ? {} : { findingsMax: flags.findingsMax }),
  };
}

export function runCheck(flags: StoreCommandFlags, print: Output, printError: Output): number {
  const directory = resolve(flags.data);
  return refusing(directory, printError, () => {
    const lock = holdStoppedDataDir(directory, 'check');
    try {
      const report = checkDataDir(directory, optionsOf(flags));
      printReport(report, print);
      if (report.findingCount === 0) return 0;
      print(advice(report, directory));
      return 1;
    } finally {
      lock?.release();
    }
  });
}

export async function runRepair(flags: StoreCommandFlags, print: Output, printError: Output): Promise<number> {
  const directory = resolve(flags.data);
  return refusingAsync(directory, printError, async () => {
    const lock = holdStoppedDataDir(directory, 'repair');
    try {
      const { before, written, after } = await repairDataDir(directory, optionsOf(flags));
      const derived = before.findings.filter((finding) => DERIVED_AREAS.has(finding.area));
      for (const finding of derived) print(`repaired ${formatFinding(finding)}`);
      print(`repair: ${written} derived records written or removed in one transaction; checking again`);
      printReport(after, print);
      if (after.findingCount === 0) return 0;
      print(advice(after, directory));
      return 1;
    } finally {
      lock?.release();
    }
  });
}

function printReport(report: StoreCheckReport, print: Output): void {
  for (const finding of report.findings) print(formatFinding(finding));
  const { summary } = report;
  const more = report.findingCount - report.findings.length;
  if (more > 0) print(`... and ${more} more findings (raise --findings-max to list them)`);
  const areas = Object.entries(report.countsByArea).map(([area, count]) => `${area} ${count}`);
  print(
    `${report.findingCount === 0 ? 'clean' : `${report.findingCount} findings (${areas.join(', ')})`}: ` +
      `${summary.partitions} partitions, ${summary.entries} entries (${summary.appliedCommands} applied commands), ${summary.aggregates} aggregates, ` +
      `${summary.indexRecords} index records, ${summary.dedupeRecords} dedupe records, ${summary.outboxItems} outbox items, ${summary.aggregateSnapshots} aggregate snapshots`,
  );
}

function advice(report: StoreCheckReport, directory: string): string {
  const logDamage = Object.keys(report.countsByArea).some((area) => !DERIVED_AREAS.has(area as never));
  if (!logDamage) return `run \`ringstate repair --data ${directory}\` to rebuild the derived records from the log`;
  return (
    'the log or the replication state itself is damaged, which repair does not change: in a cluster, drop this replica\'s data and let it catch up from its peers; ' +
    'a single node restores a backup (docs/operations.md, "A damaged store")'
  );
}

function refusal(directory: string, error: unknown): string | undefined {
  if (error instanceof NoStoreError || error instanceof UncleanPowerLossError || error instanceof DirectoryInUseError) return error.message;
  if (error instanceof Error && /EACCES|EPERM|ENOENT/.test(error.message)) return `cannot open the store in ${directory}: ${error.message}`;
  return undefined;
}

function refusing(directory: string, printError: Output, run: () => number): number {
  try {
    return run();
  } catch (error) {
    const line = refusal(directory, error);
    if (line === undefined) throw error;
    printError(line);
    return 2;
  }
}

async function refusingAsync(directory: string, printError: Output, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    const line = refusal(directory, error);
    if (line === undefined) throw error;
    printError(line);
    return 2;
  }
}
