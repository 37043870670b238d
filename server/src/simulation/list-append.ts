/**
 * The simulated application: a list-append state machine (Jepsen/Elle style). Each key is an
 * "aggregate" holding a list; a command appends one unique value to one key. The dedupe
 * table of command ids is part of the replicated state (and of snapshots), so a command
 * retried across a failover takes effect once. Each list is the key's gapless sequence:
 * the value at index i has sequence number i + 1.
 */
import type { Entry, NodeId } from '../replication/index.ts';

export interface AppendCommand {
  readonly key: string;
  readonly value: number;
  readonly commandId: string;
  /** The owner that proposed the entry (lets the checker tie commits to epochs). */
  readonly proposer: NodeId;
}

export function commandBytes(command: AppendCommand): number {
  return command.key.length + command.commandId.length + command.proposer.length + 8;
}

export type ApplyOutcome = 'applied' | 'duplicate' | 'other';

interface EncodedState {
  readonly applied: number;
  readonly lists: [string, number[]][];
  readonly commands: [string, number][];
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export class ListAppendMachine {
  applied = 0;
  private readonly lists = new Map<string, number[]>();
  /** Dedupe table: command id -> position of the entry that applied it. */
  private readonly commands = new Map<string, number>();

  static decode(data: Uint8Array): ListAppendMachine {
    const state = JSON.parse(textDecoder.decode(data)) as EncodedState;
    const machine = new ListAppendMachine();
    machine.applied = state.applied;
    for (const [key, values] of state.lists) machine.lists.set(key, values);
    for (const [commandId, position] of state.commands) machine.commands.set(commandId, position);
    return machine;
  }

  encode(): Uint8Array {
    const state: EncodedState = {
      applied: this.applied,
      lists: [...this.lists].map(([key, values]) => [key, [...values]]),
      commands: [...this.commands],
    };
    return textEncoder.encode(JSON.stringify(state));
  }

  apply(entry: Entry<AppendCommand>): ApplyOutcome {
    if (entry.position !== this.applied + 1) {
      throw new Error(`list-append: applying position ${entry.position} after ${this.applied}`);
    }
    this.applied = entry.position;
    if (entry.kind !== 'command') return 'other';
    const command = entry.payload;
    if (this.commands.has(command.commandId)) return 'duplicate';
    this.commands.set(command.commandId, entry.position);
    let list = this.lists.get(command.key);
    if (list === undefined) {
      list = [];
      this.lists.set(command.key, list);
    }
    list.push(command.value);
    return 'applied';
  }

  hasCommand(commandId: string): boolean {
    return this.commands.has(commandId);
  }

  read(key: string): readonly number[] {
    return [...(this.lists.get(key) ?? [])];
  }

  keys(): string[] {
    return [...this.lists.keys()].sort();
  }

  /** A canonical rendering of the whole state, for comparing replicas. */
  fingerprint(): string {
    const lists = [...this.lists].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const commands = [...this.commands].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify({ applied: this.applied, lists, commands });
  }
}
