/**
 * Loads, validates and freezes the configuration.
 *
 * Sources, later ones win: defaults < config file (JSON) < environment (`RINGSTATE_*`) < overrides
 * (from CLI flags). Environment names are the setting path in upper snake case, e.g.
 * `RINGSTATE_PORT`, `RINGSTATE_LIMITS_FRAME_BYTES_MAX`. Values in env are parsed as JSON when they
 * look like JSON (numbers, booleans, arrays, objects) and taken as strings otherwise.
 *
 * Outside dev mode the secrets a node needs must be set and differ from the built-in dev values
 * (secrets.ts); a ConfigError says in one line which ones to set.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envName } from './env-name.ts';
import { configSchema, type Config } from './schema.ts';
import { secretsRefusal } from './secrets.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
}

export interface ConfigSources {
  file?: string;
  env?: Record<string, string | undefined>;
  overrides?: Record<string, unknown>;
}

export function loadConfig(sources: ConfigSources = {}): Readonly<Config> {
  let merged: Record<string, unknown> = {};
  if (sources.file !== undefined) merged = deepMerge(merged, readConfigFile(sources.file));
  if (sources.env !== undefined) merged = deepMerge(merged, fromEnv(sources.env));
  if (sources.overrides !== undefined) merged = deepMerge(merged, sources.overrides);
  merged = renamedSettings(merged);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  // Once, at boot, for every node: outside dev mode no public secret (secrets.ts).
  const refusal = secretsRefusal(parsed.data, merged);
  if (refusal !== undefined) throw new ConfigError(refusal);
  return deepFreeze(parsed.data);
}

/**
 * Settings renamed since an earlier release, old path -> new path. The old name still works
 * (the new one wins when both are set), so existing config files and environments keep
 * starting; docs/configuration.md lists the new names only.
 */
export const RENAMED: ReadonlyArray<readonly [readonly string[], readonly string[]]> = [[['cluster', 'snapshotEntries'], ['cluster', 'compactEveryEntries']]];

function renamedSettings(merged: Record<string, unknown>): Record<string, unknown> {
  let result = merged;
  for (const [from, to] of RENAMED) {
    const parentFrom = from.slice(0, -1).reduce<unknown>((at, key) => (isPlainObject(at) ? at[key] : undefined), result);
    const oldKey = from.at(-1) as string;
    if (!isPlainObject(parentFrom) || !(oldKey in parentFrom)) continue;
    const { [oldKey]: value, ...rest } = parentFrom;
    const moved: Record<string, unknown> = {};
    let cursor = moved;
    for (const key of to.slice(0, -1)) cursor = cursor[key] = {} as Record<string, unknown>;
    cursor[to.at(-1) as string] = value;
    // The new name wins over the old one: merge the old value under whatever is already set.
    const withoutOld = setAt(result, from.slice(0, -1), rest);
    result = deepMerge(moved, withoutOld);
  }
  return result;
}

function setAt(root: Record<string, unknown>, path: readonly string[], value: Record<string, unknown>): Record<string, unknown> {
  if (path.length === 0) return value;
  const [head, ...tail] = path as [string, ...string[]];
  const child = isPlainObject(root[head]) ? (root[head] as Record<string, unknown>) : {};
  return { ...root, [head]: setAt(child, tail, value) };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!isPlainObject(value)) throw new Error('top level must be an object');
    return value;
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Maps `RINGSTATE_LIMITS_FRAME_BYTES_MAX` onto `limits.frameBytesMax` using the schema's own keys. */
function fromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [path, leaf] of settingPaths(configSchema, [])) {
    const raw = env[envName(path)];
    if (raw === undefined) continue;
    setPath(result, path, parseEnvValue(raw, leaf));
  }
  // A renamed setting's old variable still works (renamedSettings moves it to its new path).
  for (const [from] of RENAMED) {
    const raw = env[envName([...from])];
    if (raw !== undefined) setPath(result, [...from], parseEnvValue(raw, z.unknown()));
  }
  return result;
}

function parseEnvValue(raw: string, leaf: z.ZodType): unknown {
  if (unwrap(leaf) instanceof z.ZodString || unwrap(leaf) instanceof z.ZodEnum) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Every leaf setting of the schema with its path; used for env mapping and the docs. */
export function settingPaths(schema: z.ZodType, prefix: string[]): Array<[string[], z.ZodType]> {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    const out: Array<[string[], z.ZodType]> = [];
    for (const [key, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
      out.push(...settingPaths(child, [...prefix, key]));
    }
    return out;
  }
  return [[prefix, schema]];
}

export function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional) {
      current = current.unwrap() as z.ZodType;
    } else {
      return current;
    }
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let cursor = target;
  for (const key of path.slice(0, -1)) {
    const next = cursor[key];
    if (!isPlainObject(next)) cursor[key] = {};
    cursor = cursor[key] as Record<string, unknown>;
  }
  const last = path.at(-1);
  if (last !== undefined) cursor[last] = value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const prior = out[key];
    out[key] = isPlainObject(prior) && isPlainObject(value) ? deepMerge(prior, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): Readonly<T> {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The config as JSON with secrets redacted, for `--print-config` and the admin API. */
export function redactConfig(config: Readonly<Config>): Record<string, unknown> {
  return {
    ...config,
    tokens: { ...config.tokens, keys: config.tokens.keys.map((key) => ({ kid: key.kid, secret: '<redacted>' })) },
    cluster: { ...config.cluster, key: '<redacted>' },
    admin: { ...config.admin, ...(config.admin.token === undefined ? {} : { token: '<redacted>' }) },
    secondLife: { ...config.secondLife, ...(config.secondLife.masterKey === undefined ? {} : { masterKey: '<redacted>' }) },
  };
}
