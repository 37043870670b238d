export * from './error-codes.ts';
export * from './messages.ts';
export * from './codec.ts';
export * from './partitioning.ts';
