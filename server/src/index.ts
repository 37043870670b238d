/** Public surface of @ringstate/server for game developers and embedders. */
export { GameNode, type GameNodeOptions } from './game-node.ts';
export {
  defineAggregate,
  reject,
  aggregateTestKit,
  testWorld,
  type TestWorld,
  type AggregateDefinition,
  type AggregateRef,
  type Decision,
  type DeliveryRejection,
  type Send,
  type Timer,
  type AggregateSpec,
  type AccessRequest,
  type CommandContext,
  type PublicView,
  type Rejection,
  type StandardSchemaV1,
} from './aggregate/index.ts';
export { loadConfig, redactConfig, configSchema, type Config, type ConfigInput } from './config/index.ts';
