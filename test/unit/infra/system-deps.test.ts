/**
 * The README's `npm test` checks the system packages the suite needs first (test/support/system-deps.sh),
 * and CI runs that same check. Without root and apt-get it must stop at once with one line naming
 * the missing packages and the command that installs them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './k8s-manifests.ts';

const SCRIPT = 'test/support/system-deps.sh';

describe('system deps', () => {
  it('system deps - without the commands and without installing, one line names the packages and the install command, exit non-zero', () => {
    const emptyBin = mkdtempSync(join(tmpdir(), 'no-commands-'));
    try {
      // A PATH with none of iptables, ip, systemd-analyze or apt-get; forced "not root" so a
      // root test run never installs anything.
      const result = spawnSync('/bin/bash', [join(ROOT, SCRIPT)], { encoding: 'utf8', env: { PATH: emptyBin, SYSTEM_DEPS_NO_INSTALL: '1' }, timeout: 10_000 });
      expect(result.status).not.toBe(0);
      expect(result.stdout).toBe('');
      const lines = result.stderr.split('\n').filter((line) => line !== '');
      expect(lines).toHaveLength(1);
      const line = lines[0] ?? '';
      for (const name of ['iptables', 'iproute2', 'systemd']) expect(line).toContain(name);
      expect(line).toMatch(/apt-get install -y .*iptables/);
    } finally {
      rmSync(emptyBin, { recursive: true, force: true });
    }
  });

  it('system deps - npm test runs the check first, and CI runs npm test after npm ci instead of its own list', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['test']?.startsWith(`bash ${SCRIPT} && `)).toBe(true);
    expect(scripts['test']).toContain('tsc -p tsconfig.json --noEmit && vitest run');
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/\nnpm ci [^\n]*\nnpm test\n/);
    expect(ci).not.toMatch(/^\s*apt-get/m);
  });
});
