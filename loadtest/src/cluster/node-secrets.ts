/**
 * Fresh random secrets for the nodes a test or load run starts, so no launcher shares a value
 * with anyone (a node outside dev mode refuses the public dev values; dev-mode nodes get their
 * own too, so a stray process on the machine cannot join their cluster or open their admin API).
 */
import { randomBytes } from 'node:crypto';

export interface NodeSecrets {
  readonly tokenKey: { readonly kid: string; readonly secret: string };
  readonly adminToken: string;
  readonly clusterKey: string;
  readonly secondLifeMasterKey: string;
}

export function randomSecret(): string {
  return randomBytes(32).toString('hex');
}

export function randomNodeSecrets(): NodeSecrets {
  return { tokenKey: { kid: `test-${randomBytes(4).toString('hex')}`, secret: randomSecret() }, adminToken: randomSecret(), clusterKey: randomSecret(), secondLifeMasterKey: randomSecret() };
}

/** The secrets as settings, for a config file or loadConfig overrides. */
export function secretSettings(secrets: NodeSecrets): { tokens: { keys: Array<{ kid: string; secret: string }> }; admin: { token: string }; cluster: { key: string }; secondLife: { masterKey: string } } {
  return { tokens: { keys: [{ ...secrets.tokenKey }] }, admin: { token: secrets.adminToken }, cluster: { key: secrets.clusterKey }, secondLife: { masterKey: secrets.secondLifeMasterKey } };
}

/** The secrets as RINGSTATE_* environment variables, as a deployment passes them. */
export function secretEnv(secrets: NodeSecrets): Record<string, string> {
  return {
    RINGSTATE_TOKENS_KEYS: JSON.stringify([secrets.tokenKey]),
    RINGSTATE_ADMIN_TOKEN: secrets.adminToken,
    RINGSTATE_CLUSTER_KEY: secrets.clusterKey,
    RINGSTATE_SECOND_LIFE_MASTER_KEY: secrets.secondLifeMasterKey,
  };
}
