export { configSchema, type Config, type ConfigInput } from './schema.ts';
export { loadConfig, redactConfig, settingPaths, unwrap, ConfigError, type ConfigSources } from './load.ts';
