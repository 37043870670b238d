/**
 * Fail closed on secrets (DESIGN.md F1): outside dev mode loadConfig refuses every secret a node
 * needs while it is missing or one of the public built-in dev values, with one line naming the
 * setting and its environment variable; dev mode keeps the built-in values.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_CLUSTER_KEY, DEV_SECOND_LIFE_MASTER_KEY, DEV_TOKEN_KEY, configSchema, devSecretsInUse, loadConfig, type ConfigSources } from '../../../server/src/config/index.ts';
import { GameNode } from '../../../server/src/game-node.ts';

const secret = (): string => randomBytes(32).toString('hex');

/** Every secret set to a fresh random value, as environment variables like a deployment passes them. */
function ownSecrets(): Record<string, string> {
  return {
    RINGSTATE_TOKENS_KEYS: JSON.stringify([{ kid: 'k1', secret: secret() }]),
    RINGSTATE_ADMIN_TOKEN: secret(),
    RINGSTATE_CLUSTER_KEY: secret(),
    RINGSTATE_SECOND_LIFE_MASTER_KEY: secret(),
  };
}

function without(env: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...env };
  delete copy[name];
  return copy;
}

const PRODUCTION = { cluster: { enabled: true }, secondLife: { enabled: true } };

/** The refusal message, checked to be exactly one line with no stack trace. */
function refusal(sources: ConfigSources): string {
  try {
    loadConfig(sources);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('loadConfig accepted the configuration');
}

describe('config - secrets outside dev mode', () => {
  it('secrets - the dev cluster key with whitespace around it (an env file\'s newline) is the dev key and refused', () => {
    const env = { ...ownSecrets(), RINGSTATE_CLUSTER_KEY: `${DEV_CLUSTER_KEY}\n` };
    expect(refusal({ env, overrides: PRODUCTION })).toContain('cluster.key');
    expect(refusal({ env: { ...env, RINGSTATE_CLUSTER_KEY: ` ${DEV_CLUSTER_KEY}` }, overrides: PRODUCTION })).toContain('cluster.key');
  });

  it('secrets - a node with its own secrets starts', () => {
    const env = ownSecrets();
    const config = loadConfig({ env, overrides: PRODUCTION });
    expect(config.admin.token).toBe(env['RINGSTATE_ADMIN_TOKEN']);
    expect(devSecretsInUse(config)).toEqual([]);
  });

  it('secrets - missing player token keys are refused (they would fall back to the dev key)', () => {
    const message = refusal({ env: without(ownSecrets(), 'RINGSTATE_TOKENS_KEYS'), overrides: PRODUCTION });
    expect(message).toContain('refusing to start outside dev mode');
    expect(message).toContain('tokens.keys or RINGSTATE_TOKENS_KEYS=');
    expect(message).toContain('(missing)');
    expect(message).toContain('openssl rand -hex 32');
    expect(message).not.toMatch(/admin\.token|cluster\.key|secondLife\.masterKey/);
  });

  it('secrets - the dev token key is refused, alone or listed next to a key of our own', () => {
    for (const keys of [[DEV_TOKEN_KEY], [{ kid: 'k1', secret: secret() }, { kid: 'old', secret: DEV_TOKEN_KEY.secret }]]) {
      const message = refusal({ env: ownSecrets(), overrides: { ...PRODUCTION, tokens: { keys } } });
      expect(message).toContain('tokens.keys or RINGSTATE_TOKENS_KEYS=');
      expect(message).toContain('(the public dev value)');
    }
  });

  it('secrets - a missing admin token is refused', () => {
    const message = refusal({ env: without(ownSecrets(), 'RINGSTATE_ADMIN_TOKEN'), overrides: PRODUCTION });
    expect(message).toContain('admin.token or RINGSTATE_ADMIN_TOKEN=<secret> (missing)');
  });

  it('secrets - the cluster key: refused missing or dev in a cluster, not needed alone', () => {
    const missing = refusal({ env: without(ownSecrets(), 'RINGSTATE_CLUSTER_KEY'), overrides: PRODUCTION });
    expect(missing).toContain('cluster.key or RINGSTATE_CLUSTER_KEY=<secret> (missing)');
    const dev = refusal({ env: { ...ownSecrets(), RINGSTATE_CLUSTER_KEY: DEV_CLUSTER_KEY }, overrides: PRODUCTION });
    expect(dev).toContain('cluster.key or RINGSTATE_CLUSTER_KEY=<secret> (the public dev value)');
    expect(loadConfig({ env: without(ownSecrets(), 'RINGSTATE_CLUSTER_KEY'), overrides: { secondLife: { enabled: true } } }).cluster.enabled).toBe(false);
  });

  it('secrets - the Second Life master key: refused missing or dev while the API is on, not needed off', () => {
    const missing = refusal({ env: without(ownSecrets(), 'RINGSTATE_SECOND_LIFE_MASTER_KEY'), overrides: PRODUCTION });
    expect(missing).toContain('secondLife.masterKey or RINGSTATE_SECOND_LIFE_MASTER_KEY=<secret> (missing)');
    const dev = refusal({ env: { ...ownSecrets(), RINGSTATE_SECOND_LIFE_MASTER_KEY: DEV_SECOND_LIFE_MASTER_KEY }, overrides: PRODUCTION });
    expect(dev).toContain('secondLife.masterKey or RINGSTATE_SECOND_LIFE_MASTER_KEY=<secret> (the public dev value)');
    expect(loadConfig({ env: without(ownSecrets(), 'RINGSTATE_SECOND_LIFE_MASTER_KEY'), overrides: { cluster: { enabled: true } } }).secondLife.enabled).toBe(false);
  });

  it('secrets - an admin token equal to a token-signing key, the cluster key or the Second Life master key is refused in one line naming both settings, never the value', () => {
    const env = ownSecrets();
    const shared = secret();
    const cases: Array<readonly [Record<string, string>, string]> = [
      [{ RINGSTATE_TOKENS_KEYS: JSON.stringify([{ kid: 'k1', secret: secret() }, { kid: 'k2', secret: shared }]) }, 'tokens.keys (kid k2)'],
      [{ RINGSTATE_CLUSTER_KEY: shared }, 'cluster.key'],
      [{ RINGSTATE_SECOND_LIFE_MASTER_KEY: `${shared}\n` }, 'secondLife.masterKey'],
    ];
    for (const [overrides, name] of cases) {
      const message = refusal({ env: { ...env, ...overrides, RINGSTATE_ADMIN_TOKEN: shared }, overrides: PRODUCTION });
      expect(message).toContain(`admin.token (RINGSTATE_ADMIN_TOKEN) is the same value as ${name}`);
      expect(message).toContain('openssl rand -hex 32');
      expect(message).not.toContain(shared);
    }
    // Dev mode too: reuse is never intended.
    expect(() => loadConfig({ overrides: { devMode: true, admin: { token: DEV_TOKEN_KEY.secret } } })).toThrow(/admin\.token .* is the same value as tokens\.keys \(kid /);
    // A secret only equal to a setting that is off (no cluster) is not reuse of anything in use.
    expect(loadConfig({ env: { ...env, RINGSTATE_CLUSTER_KEY: shared, RINGSTATE_ADMIN_TOKEN: shared }, overrides: { secondLife: { enabled: true } } }).admin.token).toBe(shared);
  });

  it('secrets - with nothing set, one line names every missing secret', () => {
    const message = refusal({ overrides: PRODUCTION });
    for (const name of ['RINGSTATE_TOKENS_KEYS', 'RINGSTATE_ADMIN_TOKEN', 'RINGSTATE_CLUSTER_KEY', 'RINGSTATE_SECOND_LIFE_MASTER_KEY']) expect(message).toContain(name);
    expect(() => loadConfig()).toThrow(/tokens\.keys.*admin\.token/);
  });
});

describe('config - secrets copied from an example file', () => {
  /** The RINGSTATE_* lines of infra/systemd/ringstate.env.example, as an operator would copy them. */
  function exampleEnv(): Record<string, string> {
    const text = readFileSync(new URL('../../../infra/systemd/ringstate.env.example', import.meta.url), 'utf8');
    const env: Record<string, string> = {};
    for (const line of text.split('\n')) {
      const match = /^#?(RINGSTATE_[A-Z_]+)=(.*)$/.exec(line.trim());
      if (match !== null && /KEY|TOKEN/.test(match[1] as string)) env[match[1] as string] = match[2] as string;
    }
    return env;
  }

  it('secrets - every placeholder of the systemd example is refused as a placeholder, each setting named', () => {
    const env = exampleEnv();
    expect(Object.keys(env).sort()).toEqual(['RINGSTATE_ADMIN_TOKEN', 'RINGSTATE_CLUSTER_KEY', 'RINGSTATE_SECOND_LIFE_MASTER_KEY', 'RINGSTATE_TOKENS_KEYS']);
    const message = refusal({ env, overrides: PRODUCTION });
    for (const name of Object.keys(env)) expect(message).toContain(`${name}=`);
    expect(message.match(/a placeholder from an example/g)).toHaveLength(4);
  });

  it('secrets - one placeholder among real secrets is refused alone; a second token key that is a placeholder too', () => {
    expect(refusal({ env: { ...ownSecrets(), RINGSTATE_ADMIN_TOKEN: 'REPLACE-ME-with-at-least-32-random-characters' }, overrides: PRODUCTION })).toMatch(/^refusing to start outside dev mode: set admin\.token or RINGSTATE_ADMIN_TOKEN=<secret> \(a placeholder from an example\);/);
    const keys = JSON.stringify([{ kid: 'k1', secret: secret() }, { kid: 'k0', secret: 'change-me-please-change-me-please-change-me' }]);
    expect(refusal({ env: { ...ownSecrets(), RINGSTATE_TOKENS_KEYS: keys }, overrides: PRODUCTION })).toContain('tokens.keys');
  });
});

describe('config - a node built without loadConfig', () => {
  it('secrets - new GameNode with a config from configSchema.parse refuses the dev token key outside dev mode', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ringstate-secrets-'));
    try {
      const config = configSchema.parse({ dataDir, admin: { token: secret() } });
      expect(() => new GameNode({ config, aggregates: [], processMetrics: false })).toThrow(ConfigError);
      expect(() => new GameNode({ config, aggregates: [], processMetrics: false })).toThrow(/tokens\.keys/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('config - secrets in dev mode', () => {
  it('secrets - dev mode runs on the built-in values and reports which are in use', () => {
    const config = loadConfig({ overrides: { devMode: true, cluster: { enabled: true }, secondLife: { enabled: true, masterKey: DEV_SECOND_LIFE_MASTER_KEY } } });
    expect(config.tokens.keys).toEqual([DEV_TOKEN_KEY]);
    expect(config.cluster.key).toBe(DEV_CLUSTER_KEY);
    expect(config.admin.token).toBeUndefined();
    expect(devSecretsInUse(config)).toEqual(['tokens.keys', 'cluster.key', 'secondLife.masterKey']);
  });

  it('secrets - even in dev mode an enabled Second Life API needs a master key', () => {
    const message = refusal({ overrides: { devMode: true, secondLife: { enabled: true } } });
    expect(message).toMatch(/^refusing to start: set secondLife\.masterKey or RINGSTATE_SECOND_LIFE_MASTER_KEY=<secret> \(missing\)/);
  });
});

describe('config - token lifetime', () => {
  it('tokens - the dev token lifetime may not exceed tokens.lifetimeMaxMs', () => {
    expect(loadConfig({ overrides: { devMode: true } }).tokens.lifetimeMaxMs).toBe(24 * 60 * 60 * 1000);
    expect(() => loadConfig({ overrides: { devMode: true, tokens: { lifetimeMaxMs: 60_000 } } })).toThrow(/tokens\.devTokenTtlMs: must not exceed tokens\.lifetimeMaxMs/);
    expect(loadConfig({ overrides: { devMode: true, tokens: { lifetimeMaxMs: 60_000, devTokenTtlMs: 60_000 } } }).tokens.devTokenTtlMs).toBe(60_000);
  });
});
