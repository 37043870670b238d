import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactConfig } from '../../../server/src/config/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

describe('config', () => {
  it('config - a renamed setting still works under its old name, in overrides and env; the new name wins', () => {
    expect(loadConfig({ overrides: { devMode: true, cluster: { snapshotEntries: 77 } } }).cluster.compactEveryEntries).toBe(77);
    expect(loadConfig({ overrides: { devMode: true }, env: { RINGSTATE_CLUSTER_SNAPSHOT_ENTRIES: '55' } }).cluster.compactEveryEntries).toBe(55);
    expect(loadConfig({ overrides: { devMode: true, cluster: { snapshotEntries: 77, compactEveryEntries: 88 } } }).cluster.compactEveryEntries).toBe(88);
    expect(loadConfig({ overrides: { devMode: true, cluster: { enabled: true, snapshotEntries: 1 } } }).cluster.enabled).toBe(true);
  });

  it('config - locality comes from RINGSTATE_LOCALITY_ZONE / _HOST (the downward API), names are checked, empty means unknown', () => {
    const config = loadConfig({ overrides: { devMode: true }, env: { RINGSTATE_LOCALITY_ZONE: 'eu-west-1a', RINGSTATE_LOCALITY_HOST: 'ip-10-0-3-7.internal' } });
    expect(config.locality).toEqual({ zone: 'eu-west-1a', host: 'ip-10-0-3-7.internal' });
    expect(loadConfig({ overrides: { devMode: true } }).locality).toEqual({});
    expect(loadConfig({ overrides: { devMode: true }, env: { RINGSTATE_LOCALITY_ZONE: '' } }).locality).toEqual({ zone: '' });
    for (const zone of ['eu west', 'a/b', 'x'.repeat(65)]) expect(() => loadConfig({ overrides: { devMode: true, locality: { zone } } })).toThrow(/locality/);
    expect(() => loadConfig({ overrides: { devMode: true, locality: { rack: 'r1' } } })).toThrow(/locality/);
  });

  it('config - defaults are complete and frozen', () => {
    const config = loadConfig({ overrides: { devMode: true } });
    expect(config.port).toBe(9001);
    expect(config.limits.frameBytesMax).toBe(16 * 1024);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
  });

  it('config - file < env < overrides, with env names derived from the schema', () => {
    const dir = tempDir('config');
    const file = join(dir.path, 'node.json');
    writeFileSync(file, JSON.stringify({ port: 9100, nodeId: 'from-file', devMode: true, limits: { heartbeatMs: 1000 } }));
    const config = loadConfig({ file, env: { RINGSTATE_PORT: '9200', RINGSTATE_LIMITS_FRAME_BYTES_MAX: '2048', RINGSTATE_NODE_ID: 'from-env' }, overrides: { nodeId: 'from-flag' } });
    expect(config).toMatchObject({ port: 9200, nodeId: 'from-flag', limits: { frameBytesMax: 2048, heartbeatMs: 1000 } });
    dir.remove();
  });

  it('config - a bad value names the setting and the reason', () => {
    expect(() => loadConfig({ overrides: { port: 70000 } })).toThrow(ConfigError);
    expect(() => loadConfig({ overrides: { limits: { frameBytesMax: -1 } } })).toThrow(/limits\.frameBytesMax/);
    expect(() => loadConfig({ overrides: { limits: { nonsense: 1 } } })).toThrow(/nonsense/);
    expect(() => loadConfig({ env: { RINGSTATE_DURABILITY: 'sometimes' } })).toThrow(/durability/);
  });

  it('config - printing redacts token secrets', () => {
    const printed = JSON.stringify(redactConfig(loadConfig({ overrides: { devMode: true } })));
    expect(printed).not.toContain('dev-secret');
    expect(printed).toContain('<redacted>');
  });
});
