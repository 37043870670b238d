/**
 * The simulated game: a list-append aggregate (Jepsen/Elle style) written with
 * `defineAggregate`, as a game developer would, and run by the production AggregateRuntime.
 * Each key is an aggregate `list/<key>` holding a list; a command appends one unique value.
 * The list is the aggregate's history: the value at index i is its event of seq i + 1, and the
 * runtime's dedupe (part of the replicated state) must make a retried command take effect once.
 *
 * Each node defines the type with its own id: the event records which node decided it, so the
 * checker can tie every committed entry to the owner of its epoch (S2).
 */
import { type AggregateDefinition, defineAggregate, type StandardSchemaV1 } from '../aggregate/index.ts';
import type { LogEntry } from '../log/index.ts';

export const LIST_TYPE = 'list';

export interface ListState {
  readonly values: readonly number[];
}

export interface AppendCommand {
  readonly type: 'append';
  readonly value: number;
}

export interface AppendedEvent {
  readonly type: 'appended';
  readonly value: number;
  /** The node that decided it (the owner that proposed the entry). */
  readonly by: string;
}

const appendSchema: StandardSchemaV1<unknown, AppendCommand> = {
  '~standard': {
    version: 1,
    vendor: 'ringstate-simulation',
    validate: (value) => {
      const command = value as Partial<AppendCommand> | null;
      if (command?.type === 'append' && typeof command.value === 'number') return { value: command as AppendCommand };
      return { issues: [{ message: 'expected {type: "append", value: number}' }] };
    },
  },
};

export function listAppendAggregate(nodeId: string): AggregateDefinition<ListState, AppendCommand, AppendedEvent> {
  return defineAggregate<ListState, AppendCommand, AppendedEvent>({
    type: LIST_TYPE,
    initialState: () => ({ values: [] }),
    commandSchema: appendSchema,
    decide: (_state, command) => ({ type: 'appended', value: command.value, by: nodeId }),
    evolve: (state, event) => ({ values: [...state.values, event.value] }),
    authorize: () => true,
    view: (state) => ({ values: state.values }),
  });
}

/** What the checker needs of a committed list-append entry. */
export interface AppliedAppend {
  readonly position: number;
  readonly epoch: number;
  readonly key: string;
  readonly seq: number;
  readonly value: number;
  readonly commandId: string;
  readonly proposer: string;
}

export function appliedAppend(entry: LogEntry): AppliedAppend {
  const event = entry.events[0] as AppendedEvent | undefined;
  if (event === undefined || entry.events.length !== 1) throw new Error(`list-append entry ${entry.partition}/${entry.position} has ${entry.events.length} events`);
  return {
    position: entry.position,
    epoch: entry.epoch,
    key: entry.aggregate.slice(LIST_TYPE.length + 1),
    seq: entry.seq,
    value: event.value,
    commandId: entry.commandId,
    proposer: event.by,
  };
}
