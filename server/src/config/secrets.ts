/**
 * Fail closed on secrets (DESIGN.md F1): outside dev mode a node refuses to start while a secret
 * it needs is missing or equal to a built-in dev value (dev-secrets.ts), because the dev values
 * are public and would let anyone forge player tokens, join the cluster, open the admin API or
 * sign as any Second Life object.
 *
 * Checked by loadConfig on the merged and parsed settings, and again by GameNode's constructor
 * (an embedder may build its config with configSchema.parse and never call loadConfig). The
 * refusal is one line an operator can act on: which settings to set, as config paths and
 * environment variables, and how to make a value. A value copied from an example file (it
 * still says replace-me or change-me) is refused like a dev value.
 */
import { DEV_CLUSTER_KEY, DEV_SECOND_LIFE_MASTER_KEY, DEV_TOKEN_KEY } from './dev-secrets.ts';
import { envName } from './env-name.ts';
import type { Config } from './schema.ts';

/** How to make a value good for every secret (64 hex characters, over every minimum length). */
export const SECRET_COMMAND = 'openssl rand -hex 32';

interface Requirement {
  readonly path: readonly string[];
  /** What to write after the variable's `=`; `<secret>` stands for a generated value. */
  readonly valueForm: string;
  /** undefined: nothing wrong with this secret. */
  readonly problem: Problem | undefined;
}

type Problem = 'missing' | 'the public dev value' | 'a placeholder from an example';

/**
 * The example files (infra/systemd/ringstate.env.example, infra/k8s/secret.example.yaml) and the
 * dev values mark their secrets with these words; a value that still holds one was copied, not
 * generated, and is as public as the file it came from.
 */
const PLACEHOLDER = /replace-me|change-me/i;

export function isPlaceholderSecret(value: string): boolean {
  return PLACEHOLDER.test(value);
}

/**
 * The one-line refusal for `config` (undefined when it may start). `input` is the merged input
 * before defaults, to tell a secret left out from one set to the dev value.
 */
export function secretsRefusal(config: Readonly<Config>, input: Readonly<Record<string, unknown>>): string | undefined {
  const failing = requirements(config, input).filter((requirement) => requirement.problem !== undefined);
  if (failing.length === 0) return adminTokenReuseRefusal(config);
  const settings = failing.map((requirement) => `${requirement.path.join('.')} or ${envName(requirement.path)}=${requirement.valueForm} (${requirement.problem})`);
  const where = config.devMode ? 'refusing to start' : 'refusing to start outside dev mode';
  return `${where}: set ${settings.join(', ')}; make each <secret> with \`${SECRET_COMMAND}\` (docs/operations.md, "Secrets")`;
}

/**
 * The admin token must be a secret of its own, in every mode: one equal to a token-signing key
 * would let whoever holds either forge the other (an operator's admin token signs player tokens
 * for any player; a leaked signing key opens the admin API), and one equal to the cluster key or
 * the Second Life master key joins two trust levels the same way. Only the settings' names are
 * printed, never a value.
 */
function adminTokenReuseRefusal(config: Readonly<Config>): string | undefined {
  const admin = config.admin.token?.trim();
  if (admin === undefined || admin === '') return undefined;
  const others: Array<readonly [string, string | undefined]> = [
    ...config.tokens.keys.map((key) => [`tokens.keys (kid ${key.kid})`, key.secret] as const),
    ['cluster.key', config.cluster.enabled ? config.cluster.key : undefined],
    ['secondLife.masterKey', config.secondLife.enabled ? config.secondLife.masterKey : undefined],
  ];
  const equal = others.filter(([, value]) => value !== undefined && value.trim() === admin).map(([name]) => name);
  if (equal.length === 0) return undefined;
  return `refusing to start: admin.token (${envName(['admin', 'token'])}) is the same value as ${equal.join(' and ')}; every secret must be its own: make a new admin token with \`${SECRET_COMMAND}\` (docs/security.md, "Secrets")`;
}

/**
 * The peer layer trims the cluster key before deriving the network key (peer/cluster-key.ts),
 * so the dev key with whitespace around it is the dev key.
 */
function isDevClusterKey(key: string): boolean {
  return key.trim() === DEV_CLUSTER_KEY.trim();
}

/** The settings of `config` that still hold a public dev value; dev mode logs them as a warning. */
export function devSecretsInUse(config: Readonly<Config>): string[] {
  const inUse: string[] = [];
  if (config.tokens.keys.some((key) => key.secret === DEV_TOKEN_KEY.secret)) inUse.push('tokens.keys');
  if (config.cluster.enabled && isDevClusterKey(config.cluster.key)) inUse.push('cluster.key');
  if (config.secondLife.enabled && config.secondLife.masterKey === DEV_SECOND_LIFE_MASTER_KEY) inUse.push('secondLife.masterKey');
  return inUse;
}

function requirements(config: Readonly<Config>, input: Readonly<Record<string, unknown>>): Requirement[] {
  const production = !config.devMode;
  const check = (path: readonly string[], values: readonly string[], isDev: boolean): Problem | undefined => {
    if (!production) return undefined;
    if (isDev) return provided(input, path) ? 'the public dev value' : 'missing';
    return values.some(isPlaceholderSecret) ? 'a placeholder from an example' : undefined;
  };
  const tokenSecrets = config.tokens.keys.map((key) => key.secret);
  return [
    {
      path: ['tokens', 'keys'],
      valueForm: `'[{"kid":"k1","secret":"<secret>"}]'`,
      problem: check(['tokens', 'keys'], tokenSecrets, tokenSecrets.includes(DEV_TOKEN_KEY.secret)),
    },
    {
      path: ['admin', 'token'],
      valueForm: '<secret>',
      problem: config.admin.token === undefined ? (production ? 'missing' : undefined) : check(['admin', 'token'], [config.admin.token], false),
    },
    { path: ['cluster', 'key'], valueForm: '<secret>', problem: config.cluster.enabled ? check(['cluster', 'key'], [config.cluster.key], isDevClusterKey(config.cluster.key)) : undefined },
    {
      path: ['secondLife', 'masterKey'],
      valueForm: '<secret>',
      // Required in every mode while the API is on: there is no default to fall back to.
      problem: !config.secondLife.enabled
        ? undefined
        : config.secondLife.masterKey === undefined
          ? 'missing'
          : check(['secondLife', 'masterKey'], [config.secondLife.masterKey], config.secondLife.masterKey === DEV_SECOND_LIFE_MASTER_KEY),
    },
  ];
}

function provided(input: Readonly<Record<string, unknown>>, path: readonly string[]): boolean {
  let cursor: unknown = input;
  for (const key of path) {
    if (typeof cursor !== 'object' || cursor === null) return false;
    cursor = (cursor as Record<string, unknown>)[key];
  }
  return cursor !== undefined;
}
