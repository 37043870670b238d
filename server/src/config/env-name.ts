/** Environment variable names of settings, shared by the loader, the secret check and the docs. */
export const ENV_PREFIX = 'RINGSTATE_';

/** The environment variable of a setting: `['limits', 'frameBytesMax']` is `RINGSTATE_LIMITS_FRAME_BYTES_MAX`. */
export function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map((key) => key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}
