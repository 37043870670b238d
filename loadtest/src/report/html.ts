/**
 * The HTML report: one self-contained file (inline SVG and CSS, no script or network) with
 * charts of throughput, latency percentiles, connected players and reconnects over time, and
 * chaos events marked on the time axis.
 */
import type { LoadReport } from './report.ts';

interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
}

const WIDTH = 900;
const HEIGHT = 220;
const PAD = 40;

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

function chart(title: string, unit: string, series: readonly Series[], report: LoadReport): string {
  const seconds = report.timeline.seconds.length;
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const x = (i: number): number => PAD + (i / Math.max(1, seconds - 1)) * (WIDTH - 2 * PAD);
  const y = (v: number): number => HEIGHT - PAD - (v / max) * (HEIGHT - 2 * PAD);
  const lines = series
    .map((s) => `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  const chaos = report.timeline.chaos
    .map((event) => {
      const index = Math.max(0, event.second - 1);
      return `<line x1="${x(index)}" x2="${x(index)}" y1="${PAD / 2}" y2="${HEIGHT - PAD}" stroke="#c00" stroke-dasharray="4 3"/><text x="${x(index) + 3}" y="${PAD / 2 + 10}" font-size="11" fill="#c00">${escape(`${event.kind} ${event.node}`)}</text>`;
    })
    .join('');
  const legend = series.map((s, i) => `<text x="${PAD + i * 140}" y="${HEIGHT - 8}" font-size="12" fill="${s.color}">■ ${escape(s.label)}</text>`).join('');
  return `<section><h2>${escape(title)}</h2><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" role="img" aria-label="${escape(title)}">
<line x1="${PAD}" y1="${HEIGHT - PAD}" x2="${WIDTH - PAD}" y2="${HEIGHT - PAD}" stroke="#999"/><line x1="${PAD}" y1="${PAD / 2}" x2="${PAD}" y2="${HEIGHT - PAD}" stroke="#999"/>
<text x="4" y="${PAD / 2 + 4}" font-size="11">${escape(`${max.toFixed(max < 10 ? 1 : 0)} ${unit}`)}</text><text x="${WIDTH - PAD - 30}" y="${HEIGHT - PAD + 14}" font-size="11">${seconds}s</text>
${lines}${chaos}${legend}</svg></section>`;
}

function bankRows(report: LoadReport): Array<[string, string]> {
  const bank = report.bank;
  if (bank === null) return [];
  const delivery = bank.deliveryMs === null ? 'n/a (the nodes report no entry timestamps)' : `${bank.deliveryMs.p50} / ${bank.deliveryMs.p99} / ${bank.deliveryMs.max} ms`;
  return [
    ['bank verdict', bank.ok ? 'ok' : '<b>FAILED</b>'],
    ['bank accounts (zipf alpha)', `${bank.accounts} (${bank.alpha})`],
    ['bank total before / after', `${bank.totalBefore} / ${bank.totalAfter}; by node ${escape(JSON.stringify(bank.totalsByNode))}`],
    ['transfers acknowledged / in the logs', `${bank.transfersAcknowledged} / ${bank.transfersInLog} (${bank.transfersPerSecond}/s)`],
    ['applied once (delivered + refunded)', `${bank.appliedOnce} (${bank.delivered} + ${bank.refunded})`],
    ['lost / duplicated / stuck in flight', `${bank.lost} / ${bank.duplicated} / ${bank.stuck} (outbox items pending at the check: ${bank.outboxPendingAtCheck ?? 'unknown'})`],
    ['negative balances / divergent replicas', `${bank.negativeBalances} / ${bank.divergentReplicas}`],
    ['give acknowledgement p50 / p99', `${bank.giveMs.p50} / ${bank.giveMs.p99} ms`],
    ['delivery (given to received) p50 / p99 / max', delivery],
  ];
}

export function renderHtml(report: LoadReport): string {
  const s = report.timeline.seconds;
  const verdict =
    report.ackedEventsLost === null
      ? 'not checked (the oracle runs for the list-append and bank scenarios)'
      : `${report.ackedEventsLost} acked events lost, ${report.duplicateApplications} duplicates, ${report.divergentReplicas} divergent replicas`;
  const rows: Array<[string, string]> = [
    ['players', String(report.players)],
    ['duration', `${report.durationSeconds} s (${escape(report.scenario)})`],
    ['commands sent / acked / rejected / failed', `${report.commandsSent} / ${report.commandsAcked} / ${report.commandsRejected} / ${report.commandsFailed}`],
    ['throughput', `${report.throughputPerSecond} cmd/s`],
    ['latency p50 / p90 / p99 / p99.9 / max', `${report.latencyMs.p50} / ${report.latencyMs.p90} / ${report.latencyMs.p99} / ${report.latencyMs.p999} / ${report.latencyMs.max} ms`],
    ['oracle', escape(verdict)],
    ['failover', `${report.failover.kills} faults, ${report.failover.playersAffected} players affected, recovery p50 ${report.failover.recoveryMs.p50} ms, p99 ${report.failover.recoveryMs.p99} ms, max ${report.failover.recoveryMs.max} ms`],
    ['state updates delivered / expected', `${report.stateUpdates.delivered} / ${report.stateUpdates.expected}`],
    ['reconnects', String(report.reconnects)],
    ['errors by code', escape(JSON.stringify(report.errorsByCode))],
    ['load tester event-loop utilisation', `${(report.loadTesterEventLoopUtilisation * 100).toFixed(0)} %`],
    ...bankRows(report),
  ];
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ringstate load test</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;max-width:960px;color:#222}table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:4px 12px 4px 0}h2{font-size:16px;margin:24px 0 4px}</style></head><body>
<h1>ringstate load test</h1><table>${rows.map(([k, v]) => `<tr><td>${escape(k)}</td><td>${v}</td></tr>`).join('')}</table>
${chart('Throughput', 'cmd/s', [{ label: 'acked/s', color: '#1565c0', values: s.map((x) => x.acked) }, { label: 'errors/s', color: '#c62828', values: s.map((x) => x.errors) }], report)}
${chart('Latency', 'ms', [{ label: 'p50', color: '#2e7d32', values: s.map((x) => x.p50Ms) }, { label: 'p99', color: '#ef6c00', values: s.map((x) => x.p99Ms) }], report)}
${chart('Connected players', 'players', [{ label: 'online', color: '#6a1b9a', values: s.map((x) => x.online) }], report)}
${chart('Reconnects', 'per s', [{ label: 'reconnects', color: '#00838f', values: s.map((x) => x.reconnects) }], report)}
</body></html>
`;
}
