export {
  defineAggregate,
  reject,
  isRejection,
  type AggregateDefinition,
  type AggregateSpec,
  type AccessRequest,
  type CommandContext,
  type PublicView,
  type Rejection,
  type Typed,
} from './definition.ts';
export type { StandardSchemaV1 } from './standard-schema.ts';
export { decideCommand, replayEvents, type CommandOutcome } from './decide.ts';
export { aggregateTestKit, Expectation, type TestKitOptions } from './test-kit.ts';
export { AggregateRegistry } from './registry.ts';
export { AggregateRuntime, type CommandRequest, type CommandResult, type Placement, type RuntimeSettings, type RuntimeDeps, type RuntimeHooks, type Subscriber, type SubscriptionStart } from './runtime.ts';
export { VIEW_MAP, newViewDoc, readView } from './view-doc.ts';
