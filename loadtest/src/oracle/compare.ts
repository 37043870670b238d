/**
 * The list-append history check, shared by the load tester's oracle (replicas read over the
 * admin API) and the fault tests (replicas read from their LMDB files).
 *
 * Input per aggregate: the value sequence every replica holds, and the appends that were
 * acknowledged (value and seq). Output: acknowledged values missing (S1), values applied twice
 * (S4), replicas whose sequence differs from the longest one (S3), and values stored at another
 * seq than acknowledged.
 */
export interface AckedAppend {
  readonly value: string;
  readonly seq: number;
}

export interface HistoryVerdict {
  ackedEventsLost: number;
  duplicateApplications: number;
  divergentReplicas: number;
  wrongSeq: number;
  readonly details: string[];
  /** Replica copies read per node, so a report shows which nodes the oracle actually compared. */
  readonly copiesByNode: Record<string, number>;
}

export function emptyVerdict(): HistoryVerdict {
  return { ackedEventsLost: 0, duplicateApplications: 0, divergentReplicas: 0, wrongSeq: 0, details: [], copiesByNode: {} };
}

const DETAILS_MAX = 20;

export function compareHistory(verdict: HistoryVerdict, aggregate: string, replicas: ReadonlyArray<{ name: string; values: readonly string[] }>, acked: readonly AckedAppend[]): void {
  const note = (text: string): void => {
    if (verdict.details.length < DETAILS_MAX) verdict.details.push(`${aggregate}: ${text}`);
  };
  const reference = replicas.reduce<readonly string[]>((longest, replica) => (replica.values.length > longest.length ? replica.values : longest), []);
  const referenceText = reference.join('\u0000');
  for (const replica of replicas) verdict.copiesByNode[replica.name] = (verdict.copiesByNode[replica.name] ?? 0) + 1;
  for (const replica of replicas) {
    if (replica.values.join('\u0000') !== referenceText) {
      verdict.divergentReplicas += 1;
      note(`replica ${replica.name} holds ${replica.values.length} values, the longest holds ${reference.length}`);
    }
  }
  const seen = new Map<string, number>();
  for (const value of reference) seen.set(value, (seen.get(value) ?? 0) + 1);
  for (const [value, times] of seen) {
    if (times > 1) {
      verdict.duplicateApplications += times - 1;
      note(`${value} applied ${times} times`);
    }
  }
  const index = new Map(reference.map((value, position) => [value, position + 1]));
  for (const ack of acked) {
    const seq = index.get(ack.value);
    if (seq === undefined) {
      verdict.ackedEventsLost += 1;
      note(`acknowledged ${ack.value} (seq ${ack.seq}) is missing`);
    } else if (seq !== ack.seq) {
      verdict.wrongSeq += 1;
      note(`${ack.value} acknowledged at seq ${ack.seq} but stored at ${seq}`);
    }
  }
}
