/**
 * `npm run bench:stages -- <profile dir> [--baseline <dir>] [--commands N]`: where a node's CPU
 * goes, per stage of a command's path, from V8 CPU profiles of the cluster's node processes.
 *
 * Record them with any benchmark that starts a process cluster, for example
 *   RINGSTATE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:peers -- --repeats 1 --systems ringstate
 * (each node writes its profile when it exits). A sample belongs to the stage of the innermost
 * frame of our own code on its stack (so msgpackr called by the gateway counts as gateway,
 * called by the log store as storage); samples with none of our code on the stack go by the
 * library they are in (libp2p, LMDB, ...). Start-up (module loading) is left out.
 *
 * With `--baseline` (profiles of an idle run of the same length) and `--commands` (commands
 * acknowledged in the profiled run), it prints the marginal CPU per command of each stage:
 * (stage CPU - baseline stage CPU) / commands, summed over the nodes. V8's profiler adds some
 * overhead, so read shares and differences, not absolute throughput, from profiled runs.
 * docs/benchmarks.md ("Stage budget") has figures.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** First match wins: a file of our code or a library, and the stage it belongs to. */
const STAGES: ReadonlyArray<readonly [RegExp, string]> = [
  [/server\/src\/gateway\/|client-sdk\/protocol\/src\//, 'gateway: client frames (decode, validate, answer)'],
  [/server\/src\/router\//, 'router and admission'],
  [/server\/src\/aggregate\/view-doc|nm:yjs|nm:lib0/, 'runtime: Yjs state'],
  [/server\/src\/aggregate\/|server\/example-game\//, 'runtime: decide, digest, dedupe'],
  [/server\/src\/replicated-log\/(payload-size|replica-storage)/, 'entry encoding (payload size, stored form)'],
  [/server\/src\/replicated-log\/replication-messages/, 'replica decode (parse replication messages)'],
  [/server\/src\/log\/|nm:lmdb|nm:ordered-binary/, 'storage (LMDB, index, dedupe, outbox)'],
  [/server\/src\/peer\/|nm:@libp2p|nm:libp2p|nm:@chainsafe|nm:it-|nm:uint8arraylist|nm:@noble|nm:@multiformats|nm:multiformats|nm:protons/, 'peer network (framing, Noise, pnet, yamux, sockets)'],
  [/server\/src\/replication\/|server\/src\/replicated-log\//, 'replication core and driver'],
  [/server\/src\/observability\/|nm:prom-client/, 'metrics'],
  [/server\/src\/outbox\//, 'outbox courier'],
  [/server\/src\/(cluster|membership|ring)\//, 'cluster, membership, ring'],
];
const STARTUP = 'start-up (module loading)';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A frame's file, shortened: `server/src/...` for ours, `nm:<package>` for a dependency. */
function fileOf(node: ProfileNode): string {
  return node.callFrame.url.replace(/^.*?\/((server|client-sdk|loadtest)\/)/, '$1').replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*/, 'nm:$1');
}

function stageOf(leafId: number, nodes: Map<number, ProfileNode>, parents: Map<number, number>): string {
  const leaf = nodes.get(leafId);
  if (leaf === undefined) return 'other';
  const name = leaf.callFrame.functionName;
  if (name === '(garbage collector)') return 'garbage collector';
  if (name === '(program)') return '(program: native code, uWS, libuv)';
  let library: string | undefined;
  let loading = false;
  for (let id: number | undefined = leafId; id !== undefined; id = parents.get(id)) {
    const node = nodes.get(id);
    if (node === undefined) break;
    const file = fileOf(node);
    if (/^(server|client-sdk)\//.test(file)) return STAGES.find(([pattern]) => pattern.test(file))?.[1] ?? 'other (our code)';
    library ??= STAGES.find(([pattern]) => pattern.test(file))?.[1];
    loading ||= /modules\/(esm|cjs)|module_job|source_map|bootstrap\/realm|nm:tsx|nm:esbuild|cjs-module-lexer/.test(file);
  }
  if (loading) return STARTUP;
  return library ?? 'other (Node internals)';
}

/** Microseconds of CPU per stage over every profile in `dir` (idle samples left out). */
function stageTimes(dir: string): Map<string, number> {
  const times = new Map<string, number>();
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no .cpuprofile files in ${dir}`);
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parents = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
    const perLeaf = new Map<number, number>();
    profile.samples.forEach((id, index) => perLeaf.set(id, (perLeaf.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
    for (const [id, micros] of perLeaf) {
      if (nodes.get(id)?.callFrame.functionName === '(idle)') continue;
      const stage = stageOf(id, nodes, parents);
      times.set(stage, (times.get(stage) ?? 0) + micros);
    }
  }
  times.delete(STARTUP);
  return times;
}

const { values, positionals } = parseArgs({ allowPositionals: true, options: { baseline: { type: 'string' }, commands: { type: 'string' } } });
const dir = positionals[0];
if (dir === undefined) {
  console.error('usage: npm run bench:stages -- <profile dir> [--baseline <idle profile dir>] [--commands N]');
  process.exit(2);
}
const run = stageTimes(dir);
const baseline = values.baseline === undefined ? undefined : stageTimes(values.baseline);
const commands = values.commands === undefined ? undefined : Number(values.commands);
const total = [...run.values()].reduce((sum, micros) => sum + micros, 0);
console.log(`${dir}: ${(total / 1e6).toFixed(1)} s of node CPU (start-up left out)`);
const rows = [...new Set([...run.keys(), ...(baseline?.keys() ?? [])])]
  .map((stage) => ({ stage, micros: run.get(stage) ?? 0, base: baseline?.get(stage) ?? 0 }))
  .sort((a, b) => b.micros - a.micros);
for (const { stage, micros, base } of rows) {
  const share = `${((100 * micros) / total).toFixed(1).padStart(5)} %`;
  const perCommand = commands !== undefined && commands > 0 ? `  ${((micros - base) / commands).toFixed(0).padStart(6)} µs/cmd` : '';
  console.log(`${share}  ${(micros / 1e6).toFixed(2).padStart(7)} s${perCommand}  ${stage}`);
}
if (commands !== undefined && commands > 0) {
  const baseTotal = [...(baseline?.values() ?? [])].reduce((sum, micros) => sum + micros, 0);
  console.log(`marginal CPU per command, all nodes: ${((total - baseTotal) / commands).toFixed(0)} µs (${commands} commands${baseline === undefined ? ', no baseline' : ''})`);
}
