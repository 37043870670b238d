import type { AggregateDefinition } from './definition.ts';

/** The aggregate types a node serves, by name. Frozen once the node starts. */
export class AggregateRegistry {
  private readonly definitions = new Map<string, AggregateDefinition<any, any, any>>();

  constructor(definitions: ReadonlyArray<AggregateDefinition<any, any, any>> = []) {
    for (const definition of definitions) this.register(definition);
  }

  register(definition: AggregateDefinition<any, any, any>): this {
    if (this.definitions.has(definition.type)) throw new Error(`aggregate type ${definition.type} registered twice`);
    this.definitions.set(definition.type, definition);
    return this;
  }

  get(type: string): AggregateDefinition<unknown, any, any> | undefined {
    return this.definitions.get(type);
  }

  types(): string[] {
    return [...this.definitions.keys()];
  }
}
