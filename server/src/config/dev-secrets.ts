/**
 * The built-in development secrets, in one place. They are public (anyone can read this file),
 * so they only serve dev mode: outside it, config validation (secrets.ts) compares every secret
 * a node needs against these and refuses to start on a match.
 */
export const DEV_TOKEN_KEY: Readonly<{ kid: string; secret: string }> = Object.freeze({ kid: 'dev', secret: 'dev-secret-change-me-dev-secret-change-me' });
export const DEV_CLUSTER_KEY = 'dev-cluster-key-change-me-dev-cluster-key';
export const DEV_SECOND_LIFE_MASTER_KEY = 'dev-second-life-master-key-change-me-0123456789';
