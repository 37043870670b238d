/**
 * The Dockerfile and the systemd unit point at things that exist: the files they copy, the
 * bundle `npm run build` writes, the command line the CLI accepts, and settings the schema
 * knows. The bundle is built and run with `--print-config` against the example configuration,
 * exactly as the unit and the image start it. systemd's own offline checker validates the unit.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT, fillPlaceholderSecrets, settingEnvNames } from './k8s-manifests.ts';

const HANDOVER_WAIT_SECONDS = 3;
const DOCKERFILE = join(ROOT, 'infra/k8s/Dockerfile');
const UNIT = join(ROOT, 'infra/systemd/ringstate.service');
const ENV_EXAMPLE = join(ROOT, 'infra/systemd/ringstate.env.example');
const NODE_EXAMPLE = join(ROOT, 'infra/systemd/node.example.json');

/** KEY=value lines of an env file (comments and blanks skipped). */
function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match !== null) out[match[1] as string] = match[2] as string;
  }
  return out;
}

/** Dockerfile instructions, continuation lines joined. */
function dockerInstructions(): Array<{ op: string; args: string }> {
  const joined = readFileSync(DOCKERFILE, 'utf8').replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const space = line.indexOf(' ');
      return { op: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

function unitSettings(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match === null) continue;
    out.set(match[1] as string, [...(out.get(match[1] as string) ?? []), match[2] as string]);
  }
  return out;
}

function hasSystemdAnalyze(): boolean {
  return spawnSync('systemd-analyze', ['--version'], { timeout: 10_000 }).status === 0;
}

/** Problems systemd reports for a unit file: a non-zero exit or any warning counts. */
function verifyUnit(path: string): string {
  const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 20_000 });
  return `${result.status === 0 ? '' : `exit ${result.status}\n`}${result.stderr}`.trim();
}

describe('infra - Dockerfile, systemd unit, bundle', () => {
  it('bundle - builds and starts with --print-config on the example node config and env file', () => {
    const build = spawnSync(process.execPath, ['server/scripts/build-server.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(build.status, build.stderr).toBe(0);
    expect(existsSync(join(ROOT, 'server/dist/ringstate.mjs'))).toBe(true);
    const shipped = readEnvFile(ENV_EXAMPLE);
    const known = settingEnvNames();
    expect(Object.keys(shipped).filter((name) => !known.has(name))).toEqual([]);
    // As shipped the env file holds placeholders: the node refuses them in one line.
    const refused = spawnSync(process.execPath, ['server/dist/ringstate.mjs', 'start', '--config', NODE_EXAMPLE], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env['PATH'] ?? '', ...shipped },
    });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('a placeholder from an example');
    const env = fillPlaceholderSecrets(shipped);
    const run = spawnSync(process.execPath, ['server/dist/ringstate.mjs', 'start', '--config', NODE_EXAMPLE, '--print-config'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    expect(run.status, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as Record<string, any>;
    expect(printed['nodeId']).toBe('node-1');
    expect(printed['cluster'].enabled).toBe(true);
    expect(printed['cluster'].key).toBe('<redacted>');
    expect(printed['admin'].token).toBe('<redacted>');
    expect(printed['tokens'].keys).toEqual([{ kid: '2026-11', secret: '<redacted>' }]);
    for (const secret of Object.values(env)) expect(run.stdout).not.toContain(secret.replace(/^.*"secret":"([^"]+)".*$/, '$1'));
  }, 90_000);

  it('Dockerfile - Node 20 base, copies real paths, builds the bundle it runs, as a non-root user', () => {
    const steps = dockerInstructions();
    const froms = steps.filter((step) => step.op === 'FROM').map((step) => step.args);
    expect(froms.every((from) => /^node:20[-.]/.test(from))).toBe(true);
    for (const step of steps.filter((copy) => copy.op === 'COPY' && !copy.args.startsWith('--from'))) {
      const sources = step.args.split(/\s+/).slice(0, -1);
      for (const source of sources) expect(existsSync(join(ROOT, source)), `COPY ${source}`).toBe(true);
    }
    const runs = steps.filter((step) => step.op === 'RUN').map((step) => step.args);
    expect(runs.some((run) => run.includes('npm ci --omit=dev'))).toBe(true);
    expect(runs.some((run) => run.includes('npm run build'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts['build']).toContain('server/scripts/build-server.mjs');
    const user = steps.filter((step) => step.op === 'USER').at(-1)?.args ?? 'root';
    expect(user).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/);
    const entrypoint = JSON.parse(steps.find((step) => step.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    const cmd = JSON.parse(steps.find((step) => step.op === 'CMD')?.args ?? '[]') as string[];
    expect(entrypoint).toEqual(['node', '/app/server/dist/ringstate.mjs']);
    expect(readFileSync(join(ROOT, 'server/scripts/build-server.mjs'), 'utf8')).toContain("'../dist/ringstate.mjs'");
    expect(steps.some((step) => step.op === 'COPY' && step.args.includes('/app/server/dist server/dist'))).toBe(true);
    // The StatefulSet passes the same arguments as the image's default command.
    const statefulSet = parseAllDocuments(readFileSync(join(ROOT, 'infra/k8s/statefulset.yaml'), 'utf8'))[0]?.toJS() as any;
    expect(statefulSet.spec.template.spec.containers[0].args).toEqual(cmd);
    expect(statefulSet.spec.template.spec.securityContext.runAsUser).toBe(Number(user.split(':')[0]));
  });

  it('systemd - the unit runs the bundle with a config, stops with SIGTERM in time, and is hardened', () => {
    const settings = unitSettings(readFileSync(UNIT, 'utf8'));
    const execStart = (settings.get('ExecStart')?.[0] ?? '').split(/\s+/);
    expect(execStart[0]).toBe('/usr/bin/node');
    expect(execStart[1]).toBe('/opt/ringstate/server/dist/ringstate.mjs');
    expect(execStart.slice(2)).toEqual(['start', '--config', '/etc/ringstate/node.json']);
    expect(settings.get('WorkingDirectory')).toEqual(['/opt/ringstate']);
    expect(settings.get('EnvironmentFile')).toEqual(['/etc/ringstate/ringstate.env']);
    expect(settings.get('KillSignal')).toEqual(['SIGTERM']);
    expect(Number(settings.get('TimeoutStopSec')?.[0])).toBeGreaterThanOrEqual(HANDOVER_WAIT_SECONDS + 10);
    expect(settings.get('StateDirectory')).toEqual(['ringstate']);
    const nodeExample = JSON.parse(readFileSync(NODE_EXAMPLE, 'utf8')) as { dataDir: string };
    expect(nodeExample.dataDir.startsWith('/var/lib/ringstate/')).toBe(true);
    for (const key of ['NoNewPrivileges', 'ProtectSystem', 'PrivateTmp', 'PrivateDevices', 'RestrictAddressFamilies', 'SystemCallFilter', 'CapabilityBoundingSet']) {
      expect(settings.has(key), key).toBe(true);
    }
  });

  it('systemd - systemd-analyze verify accepts the unit and refuses a broken copy', () => {
    if (!hasSystemdAnalyze()) {
      console.log('systemd-analyze not installed: offline unit verification skipped');
      return;
    }
    expect(verifyUnit(UNIT)).toBe('');
    const dir = mkdtempSync(join(tmpdir(), 'ringstate-unit-'));
    try {
      const broken = join(dir, 'ringstate.service');
      writeFileSync(broken, readFileSync(UNIT, 'utf8').replace('TimeoutStopSec=30', 'TimeoutStopSecs=30').replace('KillSignal=SIGTERM', 'KillSignal=SIGTERMINATE'));
      const problems = verifyUnit(broken);
      expect(problems).toMatch(/TimeoutStopSecs/);
      expect(problems).toMatch(/SIGTERMINATE/);
      const missingBinary = join(dir, 'missing.service');
      writeFileSync(missingBinary, readFileSync(UNIT, 'utf8').replace('ExecStart=/usr/bin/node', 'ExecStart=/usr/bin/no-such-node'));
      expect(verifyUnit(missingBinary)).toMatch(/no-such-node/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('systemd - exposure score stays low (systemd-analyze security --offline)', () => {
    if (!hasSystemdAnalyze()) return;
    const score = (path: string): number => {
      const result = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', path], { encoding: 'utf8', timeout: 20_000 });
      const match = /Overall exposure level for \S+: ([0-9.]+)/.exec(result.stdout);
      if (match === null) throw new Error(`no score:\n${result.stdout}\n${result.stderr}`);
      return Number(match[1]);
    };
    const hardened = score(UNIT);
    console.log(`systemd exposure level of ringstate.service: ${hardened}`);
    expect(hardened).toBeLessThanOrEqual(2);
    const dir = mkdtempSync(join(tmpdir(), 'ringstate-unit-'));
    try {
      const bare = join(dir, 'ringstate.service');
      const text = readFileSync(UNIT, 'utf8');
      writeFileSync(bare, text.slice(0, text.indexOf('# Hardening')) + text.slice(text.indexOf('[Install]')));
      expect(score(bare)).toBeGreaterThan(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
