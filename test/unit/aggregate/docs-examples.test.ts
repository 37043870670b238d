/**
 * The worked examples in docs/game-developers.md are real code: each block that starts with
 * `// example: <name>` is written to test/.generated/<name>.ts (ignored by git), imported, and
 * run here in a test world, so the docs cannot drift from what compiles and works.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { testWorld, type AggregateDefinition } from '../../../server/src/aggregate/index.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Writes each example block of the guide to its own module and returns the module paths by name. */
function extractExamples(): Map<string, string> {
  const guide = readFileSync(join(root, 'docs', 'game-developers.md'), 'utf8');
  const out = join(root, 'test', '.generated');
  mkdirSync(out, { recursive: true });
  const examples = new Map<string, string>();
  for (const match of guide.matchAll(/```ts\n(\/\/ example: ([a-z-]+)\n[\s\S]*?)```/g)) {
    const [, code, name] = match as unknown as [string, string, string];
    const path = join(out, `${name}.ts`);
    writeFileSync(path, code);
    examples.set(name, path);
  }
  return examples;
}

describe('docs examples', () => {
  const examples = extractExamples();

  it('docs examples - the guide holds the gold transfer, in under 40 lines', () => {
    const path = examples.get('gold-transfer');
    expect(path).toBeDefined();
    const lines = readFileSync(path as string, 'utf8').split('\n').filter((line) => line.trim() !== '');
    expect(lines.length).toBeLessThan(40);
  });

  it('docs examples - gold transfer: moved exactly once, refunded when the target refuses', async () => {
    const { purse } = (await import(examples.get('gold-transfer') as string)) as { purse: AggregateDefinition<{ gold: number }, any, any> };
    const world = testWorld([purse]);
    expect(world.command(purse, 'ann', { type: 'give', to: 'bob', amount: 30 })).toMatchObject({ kind: 'accepted' });
    expect(world.state(purse, 'ann').gold).toBe(70);
    expect(world.state(purse, 'bob').gold).toBe(130);
    // A retry of the same command id changes nothing.
    world.command(purse, 'ann', { type: 'give', to: 'bob', amount: 30 }, { commandId: 'g1' });
    world.command(purse, 'ann', { type: 'give', to: 'bob', amount: 30 }, { commandId: 'g1' });
    expect([world.state(purse, 'ann').gold, world.state(purse, 'bob').gold]).toEqual([40, 160]);
    // More than the purse holds is refused; a player cannot call receive on their own purse.
    expect(world.command(purse, 'ann', { type: 'give', to: 'bob', amount: 41 })).toMatchObject({ kind: 'refused', code: 'REJECTED' });
    expect(world.command(purse, 'bob', { type: 'receive', amount: 5 })).toMatchObject({ kind: 'refused', code: 'FORBIDDEN' });
    // A receive the target refuses (a full purse) is refunded to the giver.
    for (let n = 0; n < 8; n += 1) world.command(purse, `p${n}`, { type: 'give', to: 'bob', amount: 100 });
    world.command(purse, 'p8', { type: 'give', to: 'bob', amount: 40 });
    expect(world.state(purse, 'bob').gold).toBe(1_000);
    expect(world.command(purse, 'ann', { type: 'give', to: 'bob', amount: 10 })).toMatchObject({ kind: 'accepted' });
    expect([world.state(purse, 'ann').gold, world.state(purse, 'bob').gold]).toEqual([40, 1_000]);
    expect(world.events(purse, 'ann').map((event) => event.type)).toEqual(['given', 'given', 'given', 'refunded']);
  });
});
