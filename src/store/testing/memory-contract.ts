import { expect, it } from 'vitest';
import type { NewDatabase } from './contract.ts';

type Context = { skip(): void };

/** The memory checks every ConversationStore backend passes (registered by storeContract). */
export function memoryContract(newDatabase: NewDatabase): void {
  it('keeps memory per user across a reopen: add, list, search, delete one, delete all', async (context: Context) => {
    const open = await newDatabase();
    if (!open) return context.skip();
    const store = open();
    const fact = (userId: string, text: string, kind: 'fact' | 'summary' = 'fact') =>
      store.addMemory({ userId, kind, text, sessionId: 's1', createdAt: 1_700_000_000_000 });
    const budget = await fact('alice', 'My budget is 40 thousand euros.');
    await fact('alice', 'I live in Lyon (100% sure_ly).');
    await fact('alice', 'We talked about the kitchen quote.', 'summary');
    await fact('bob', 'My budget is 5 euros.');
    expect(budget).toMatchObject({ userId: 'alice', kind: 'fact', sessionId: 's1' });
    expect(typeof budget.id).toBe('number');
    await store.close();

    const again = open();
    const alice = await again.listMemory('alice');
    expect(alice.map((m) => m.text)).toEqual([
      'My budget is 40 thousand euros.',
      'I live in Lyon (100% sure_ly).',
      'We talked about the kitchen quote.',
    ]);
    expect(alice[0]).toEqual(budget);
    expect((await again.listMemory('alice', { kind: 'summary' })).map((m) => m.kind)).toEqual(['summary']);
    expect((await again.listMemory('alice', { limit: 1 })).map((m) => m.kind)).toEqual(['summary']);
    // Case-insensitive; % and _ are matched as themselves.
    expect((await again.searchMemory('alice', 'BUDGET')).map((m) => m.id)).toEqual([budget.id]);
    expect((await again.searchMemory('alice', '100% sure_')).length).toBe(1);
    expect(await again.searchMemory('alice', '1%e')).toEqual([]);
    // Another user's item is not alice's to delete.
    const [bobs] = await again.listMemory('bob');
    expect(await again.deleteMemory('alice', bobs.id)).toBe(false);
    expect(await again.deleteMemory('alice', budget.id)).toBe(true);
    expect(await again.deleteMemory('alice', budget.id)).toBe(false);
    expect((await again.listMemory('alice')).length).toBe(2);
    expect(await again.deleteUserMemory('alice')).toBe(2);
    expect(await again.listMemory('alice')).toEqual([]);
    expect((await again.listMemory('bob')).map((m) => m.text)).toEqual(['My budget is 5 euros.']);
  });
}
