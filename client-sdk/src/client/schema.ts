/**
 * Typing a client for a game: a schema maps each aggregate type to its command union and its
 * public view, e.g.
 *
 *   interface GameSchema {
 *     player: { command: { type: 'move'; x: number; y: number } | { type: 'rename'; name: string };
 *               view: { name: string; x: number; y: number } };
 *   }
 *   const client = new RingstateClient<GameSchema>({ ... });
 *
 * The constraint is written as a mapped type over the schema's own keys so that interfaces
 * (which have no index signature) are accepted, not only type aliases.
 */
export interface AggregateSchema {
  readonly command: { readonly type: string };
  readonly view: unknown;
}

export type SchemaShape<S> = { readonly [K in keyof S]: AggregateSchema };

/** The default: any aggregate type, any command with a `type`, views as plain records. */
export type LooseSchema = Record<
  string,
  { command: { type: string; [field: string]: unknown }; view: Record<string, unknown> }
>;

export type AggregateTypeOf<S> = keyof S & string;
export type CommandOf<S extends SchemaShape<S>, A extends keyof S> = S[A]['command'];
export type ViewOf<S extends SchemaShape<S>, A extends keyof S> = S[A]['view'];
