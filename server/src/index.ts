/** Public surface of @ringstate/server for game developers and embedders. */
export { GameNode, type GameNodeOptions } from './game-node.ts';
export {
  defineAggregate,
  reject,
  aggregateTestKit,
  type AggregateDefinition,
  type AggregateSpec,
  type AccessRequest,
  type CommandContext,
  type PublicView,
  type Rejection,
  type StandardSchemaV1,
} from './aggregate/index.ts';
export { loadConfig, redactConfig, configSchema, type Config, type ConfigInput } from './config/index.ts';
