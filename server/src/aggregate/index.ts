export {
  defineAggregate,
  reject,
  isRejection,
  type AggregateDefinition,
  type AggregateSpec,
  type AccessRequest,
  type CommandContext,
  type AggregateRef,
  type Decision,
  type DecideResult,
  type DeliveryRejection,
  type Send,
  type Timer,
  type PublicView,
  type Rejection,
  type Typed,
} from './definition.ts';
export type { StandardSchemaV1 } from './standard-schema.ts';
export { decideCommand, replayEvents, type CommandOutcome, type OutboxRequest } from './decide.ts';
export { aggregateTestKit, Expectation, type AcceptedOutcome, type AnyCommand, type ExpectedDecision, type ExpectedSend, type ExpectedTimer, type TestKitOptions } from './test-kit.ts';
export { testWorld, TestWorld, type TestWorldOptions, type WorldResult, type WorldEntry, type WorldDelivery, type PendingDelivery as WorldPendingDelivery } from './test-world.ts';
export { AggregateRegistry } from './registry.ts';
export { AggregateRuntime, DELIVERY_PLAYER, type CommandRequest, type DeliveryOutcome, type DeliverySender, type SettleRequest, type CommandResult, type Placement, type RuntimeSettings, type RuntimeDeps, type RuntimeHooks, type Subscriber, type SubscriptionStart } from './runtime.ts';
export { VIEW_MAP, newViewDoc, readView } from './view-doc.ts';
