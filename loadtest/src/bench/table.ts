/**
 * Plain-text tables for benchmark output: the first column left-aligned, the others right-
 * aligned, every column as wide as its widest cell, so headers and rows cannot drift apart.
 */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}
