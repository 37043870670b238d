export { configSchema, type Config, type ConfigInput } from './schema.ts';
export { loadConfig, redactConfig, settingPaths, unwrap, ConfigError, type ConfigSources } from './load.ts';
export { envName } from './env-name.ts';
export { DEV_CLUSTER_KEY, DEV_SECOND_LIFE_MASTER_KEY, DEV_TOKEN_KEY } from './dev-secrets.ts';
export { devSecretsInUse, secretsRefusal, SECRET_COMMAND } from './secrets.ts';
