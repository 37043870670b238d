/**
 * The simulated workflows (issue 15): an account aggregate written with `defineAggregate`, as a
 * game developer would, whose commands send commands to other accounts and set timers, so the
 * production outbox (runtime, stores, courier, router) runs under the simulator's faults.
 *
 * Each account `account/a<n>` starts with INITIAL_BALANCE. Client commands:
 *   transfer {to, amount, delayMs?}  debits now; a `credit` reaches `to` by a send (or, with
 *                                     `delayMs`, by a timer to `to` under a key of its own),
 *                                     with `refund` as onRejected: the saga's compensation;
 *   arm {key, afterMs}               a timer to itself (`tick`); arming a key again replaces it;
 *   poke {to, key, afterMs}          a timer to another account (`ping`), replaceable by key;
 *   disarm {key}                     cancels the pending timer of that key, if any.
 * Closed accounts (every third) refuse credits, so compensations happen. Money only moves in
 * transfers and refunds, whose keys are never cancelled or replaced, so the sum over accounts
 * is conserved once nothing is pending (checked by workflow-checker.ts).
 *
 * Events record the node that decided them, as the list-append events do (S2).
 */
import { type AggregateDefinition, defineAggregate, reject, type Decision, type StandardSchemaV1 } from '../aggregate/index.ts';

export const ACCOUNT_TYPE = 'account';
export const INITIAL_BALANCE = 100;

export type AccountCommand =
  | { readonly type: 'transfer'; readonly to: string; readonly amount: number; readonly delayMs?: number }
  | { readonly type: 'arm'; readonly key: string; readonly afterMs: number }
  | { readonly type: 'poke'; readonly to: string; readonly key: string; readonly afterMs: number }
  | { readonly type: 'disarm'; readonly key: string }
  | { readonly type: 'credit'; readonly amount: number }
  | { readonly type: 'refund'; readonly amount: number }
  | { readonly type: 'tick'; readonly key: string }
  | { readonly type: 'ping'; readonly key: string };

export type AccountEvent =
  | { readonly type: 'debited'; readonly amount: number; readonly to: string; readonly by: string }
  | { readonly type: 'credited'; readonly amount: number; readonly from: string; readonly by: string }
  | { readonly type: 'refunded'; readonly amount: number; readonly by: string }
  | { readonly type: 'armed' | 'disarmed' | 'ticked' | 'pinged' | 'poked'; readonly key: string; readonly by: string };

export interface AccountState {
  readonly balance: number;
}

const PLAYER_COMMANDS: ReadonlySet<string> = new Set(['transfer', 'arm', 'poke', 'disarm']);
const COMMAND_TYPES: ReadonlySet<string> = new Set([...PLAYER_COMMANDS, 'credit', 'refund', 'tick', 'ping']);

const accountSchema: StandardSchemaV1<unknown, AccountCommand> = {
  '~standard': {
    version: 1,
    vendor: 'ringstate-simulation',
    validate: (value) => {
      const command = value as { type?: unknown } | null;
      if (typeof command?.type === 'string' && COMMAND_TYPES.has(command.type)) return { value: command as AccountCommand };
      return { issues: [{ message: 'expected an account command' }] };
    },
  },
};

/** The id of the n-th account. */
export function accountId(index: number): string {
  return `a${index}`;
}

/** Closed accounts refuse every credit (REJECTED "closed"), so the sender refunds. */
export function isClosed(id: string): boolean {
  return Number(id.slice(1)) % 3 === 2;
}

export function accountAggregate(nodeId: string): AggregateDefinition<AccountState, AccountCommand, AccountEvent> {
  return defineAggregate<AccountState, AccountCommand, AccountEvent>({
    type: ACCOUNT_TYPE,
    initialState: () => ({ balance: INITIAL_BALANCE }),
    commandSchema: accountSchema,
    decide: (state, command, context) => {
      const self = context.aggregateId;
      const by = nodeId;
      switch (command.type) {
        case 'transfer': {
          if (command.to === self || !(command.amount > 0)) return reject('invalid', 'transfer to another account, a positive amount');
          if (state.balance < command.amount) return reject('insufficient', `balance ${state.balance} < ${command.amount}`);
          const to = { type: ACCOUNT_TYPE, id: command.to };
          const credit = { type: 'credit', amount: command.amount };
          const refund = { type: 'refund', amount: command.amount };
          const events = [{ type: 'debited', amount: command.amount, to: command.to, by } as const];
          if (command.delayMs === undefined) return { events, send: [{ to, command: credit, onRejected: refund }] };
          // A key of its own (the command id): a delayed credit is never replaced or cancelled.
          return { events, schedule: [{ key: `pay:${context.commandId}`, afterMs: command.delayMs, to, command: credit, onRejected: refund }] };
        }
        case 'arm': {
          const tick = { type: 'tick', key: command.key };
          return { events: [{ type: 'armed', key: command.key, by }], schedule: [{ key: command.key, afterMs: command.afterMs, command: tick }] };
        }
        case 'poke': {
          if (command.to === self) return reject('invalid', 'poke another account');
          const ping = { type: 'ping', key: command.key };
          return {
            events: [{ type: 'poked', key: command.key, by }],
            schedule: [{ key: command.key, afterMs: command.afterMs, to: { type: ACCOUNT_TYPE, id: command.to }, command: ping }],
          } satisfies Decision<AccountEvent>;
        }
        case 'disarm':
          return { events: [{ type: 'disarmed', key: command.key, by }], cancel: [command.key] };
        case 'credit':
          if (context.sender?.type !== ACCOUNT_TYPE) return reject('forbidden', 'credits come from accounts');
          if (isClosed(self)) return reject('closed', `account ${self} is closed`);
          return { type: 'credited', amount: command.amount, from: context.sender.id, by };
        case 'refund':
          // Only as the compensation of a refused credit (an onRejected command).
          if (context.rejection === undefined) return reject('forbidden', 'refunds compensate refused credits');
          return { type: 'refunded', amount: command.amount, by };
        case 'tick':
          if (context.sender?.type !== ACCOUNT_TYPE || context.sender.id !== self) return reject('forbidden', 'ticks come from this account');
          return { type: 'ticked', key: command.key, by };
        case 'ping':
          if (context.sender?.type !== ACCOUNT_TYPE) return reject('forbidden', 'pings come from accounts');
          return { type: 'pinged', key: command.key, by };
      }
    },
    evolve: (state, event) => {
      switch (event.type) {
        case 'debited':
          return { balance: state.balance - event.amount };
        case 'credited':
        case 'refunded':
          return { balance: state.balance + event.amount };
        default:
          return state;
      }
    },
    // Players may send the player commands to any account; what aggregates send skips this.
    authorize: (request) => request.action === 'read' || PLAYER_COMMANDS.has(request.command.type),
    view: (state) => ({ balance: state.balance }),
  });
}

/** How an account event changes the balance. */
export function balanceChange(event: AccountEvent): number {
  if (event.type === 'debited') return -event.amount;
  if (event.type === 'credited' || event.type === 'refunded') return event.amount;
  return 0;
}
