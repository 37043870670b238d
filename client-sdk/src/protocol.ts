/**
 * `@ringstate/client-sdk/protocol`: the wire protocol, re-exported from its own package
 * (`@ringstate/protocol`, client-sdk/protocol/) so SDK users need one dependency.
 */
export * from '@ringstate/protocol';
