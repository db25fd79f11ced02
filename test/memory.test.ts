import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timeline } from '../src/agent/timeline.testkit.ts';
import { attachMemory, memoryLlm } from '../src/config/memory.ts';
import { MemoryConfigSchema } from '../src/config/memory-schema.ts';
import { MEMORY_HEADING, type MemoryBackend } from '../src/context/memory.ts';
import type { TurnMetrics } from '../src/metrics/schema.ts';
import type { ChatMessage } from '../src/providers/llm/contract.ts';
import { PostgresStore } from '../src/store/postgres.ts';
import { SqliteStore } from '../src/store/sqlite.ts';
import { type LocalPostgres, startLocalPostgres } from '../src/store/testing/postgres-server.ts';
import type { ConversationStore } from '../src/store/types.ts';

const FACT = 'My budget is 40 thousand euros.';
const QUESTION = 'What was my budget again?';
const CONFIG = MemoryConfigSchema.parse({ enabled: true, tokens: 200 });

/** The scripted model: answers from the remembered budget when its prompt carries it; writes call summaries. */
function reply(messages: readonly ChatMessage[]): string {
  const system = messages[0]?.content ?? '';
  const last = messages.at(-1)?.content ?? '';
  if (system.includes('list the facts the user states')) {
    return /moved to Porto/.test(last) ? '- I live in Porto now\n- NONE of the rest' : 'NONE';
  }
  if (system.startsWith('You keep notes about a caller')) {
    return /40 thousand/.test(last) ? 'The user said their budget is 40 thousand euros.' : 'A short call.';
  }
  if (last.includes(MEMORY_HEADING) && /budget is 40 thousand euros/.test(last))
    return 'You told me your budget is 40 thousand euros.';
  return 'I do not know your budget.';
}

interface Conversation {
  prompts: string[];
  metrics: TurnMetrics[];
  replies: string[];
}

/** One conversation of `userId` over the local session test kit: each text typed, its reply awaited. */
async function converse(
  store: MemoryBackend,
  userId: string,
  sessionId: string,
  texts: string[],
  config = CONFIG,
  expectErrors = false,
): Promise<Conversation & { memoryErrors: Error[] }> {
  const prompts: string[] = [];
  const t = timeline({
    user: [],
    reply: (messages) => {
      prompts.push(messages.at(-1)?.content ?? '');
      return reply(messages);
    },
    session: { sessionId },
    wrapLlm: (llm) => memoryLlm(llm),
  });
  const errors: Error[] = [];
  const memory = attachMemory(t.session, config, { store, userId }, t.llm, (e) => errors.push(e));
  await memory.loaded;
  await t.start();
  for (const [i, text] of texts.entries()) {
    t.session.sendText(text);
    while (t.metrics.length <= i) await t.clock.advance(50);
  }
  await t.session.close();
  // The call summary is written on the virtual clock: keep it moving until the memory is done.
  let finished = false;
  const done = memory.finish().then(() => {
    finished = true;
  });
  while (!finished) await t.clock.advance(50);
  await done;
  expect(t.errors).toEqual([]);
  if (!expectErrors) expect(errors).toEqual([]);
  return { prompts, metrics: t.metrics, replies: t.metrics.map((m) => m.agentText), memoryErrors: errors };
}

/** The done-when of issue 24's memory, on one store. */
async function rememberAndForget(open: () => ConversationStore): Promise<void> {
  const store = open();
  try {
    // Conversation 1: alice states a fact.
    await converse(store, 'alice', 'conversation-1', [FACT]);
    const stored = await store.listMemory('alice');
    expect(stored.map((m) => [m.kind, m.text, m.sessionId])).toEqual([
      ['fact', FACT, 'conversation-1'],
      ['summary', 'The user said their budget is 40 thousand euros.', 'conversation-1'],
    ]);

    // Conversation 2, same user: the fact is in the prompt, marked as from earlier conversations; the reply uses it.
    const second = await converse(store, 'alice', 'conversation-2', [QUESTION, 'Forget that.']);
    expect(second.prompts[0]).toContain(MEMORY_HEADING);
    expect(second.prompts[0]).toContain(FACT);
    expect(second.prompts[0].endsWith(QUESTION)).toBe(true);
    expect(second.replies[0]).toContain('your budget is 40 thousand euros');
    expect(second.metrics[0].memoryItems).toBeGreaterThan(0);
    expect(second.metrics[0].memoryTokens).toBeGreaterThan(0);
    // "Forget that": confirmed in fixed words, without the model; the fact and the summary telling it are gone.
    expect(second.replies[1]).toBe("Okay, I've forgotten that.");
    // Only the question reached the model: not the forget turn, nor a call summary (nothing followed the forget).
    expect(second.prompts).toHaveLength(1);
    const left = await store.listMemory('alice');
    expect(left.map((m) => m.text).join('\n')).not.toMatch(/40 thousand/);

    // Another user never sees alice's memory.
    const bob = await converse(store, 'bob', 'conversation-b', [QUESTION]);
    expect(bob.prompts[0]).not.toContain(MEMORY_HEADING);
    expect(bob.replies[0]).toBe('I do not know your budget.');
    expect(bob.metrics[0].memoryItems).toBe(0);

    // Conversation 3, alice again (a new store connection, as after a restart): nothing about the budget.
    await store.close();
    const again = open();
    try {
      const third = await converse(again, 'alice', 'conversation-3', [QUESTION]);
      expect(third.prompts[0]).not.toMatch(/40 thousand/);
      expect(third.replies[0]).toBe('I do not know your budget.');
    } finally {
      await again.close();
    }
  } finally {
    await store.close();
  }
}

describe('memory across conversations (issue 24)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'repartee-memory-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('SQLite: conversation 2 gets the fact, another user does not, "forget that" deletes it for conversation 3', async () => {
    const path = join(dir, 'memory.db');
    await rememberAndForget(() => new SqliteStore({ path, batchMs: 20 }));
  }, 120_000);

  it('a failing store never breaks the session: the reply comes, the failure is reported', async () => {
    const failing: MemoryBackend = {
      addMemory: () => Promise.reject(new Error('disk on fire')),
      listMemory: () => Promise.reject(new Error('disk on fire')),
      deleteMemory: () => Promise.reject(new Error('disk on fire')),
      deleteUserMemory: () => Promise.reject(new Error('disk on fire')),
    };
    const run = await converse(
      failing,
      'alice',
      'conversation-f',
      [FACT, QUESTION, 'Forget that.'],
      CONFIG,
      true,
    );
    expect(run.replies).toEqual([
      'I do not know your budget.',
      'I do not know your budget.',
      "Okay, I've forgotten that.",
    ]);
    expect(run.memoryErrors.map((e) => e.message)).toContain(
      'memory: could not load the user’s memory: disk on fire',
    );
    expect(run.memoryErrors.map((e) => e.message)).toContain('memory: could not store an item: disk on fire');
  }, 60_000);

  it('extract: llm — facts found by the session LLM in the background, after the reply', async () => {
    const path = join(dir, 'extract.db');
    const store = new SqliteStore({ path, batchMs: 20 });
    try {
      const config = MemoryConfigSchema.parse({ enabled: true, extract: 'llm', summaries: false });
      await converse(
        store,
        'carol',
        'conversation-x',
        ['Hello. We just moved to Porto, it is lovely.'],
        config,
      );
      // The rule alone finds nothing in these words; the LLM's answer, NONE line out, is remembered.
      expect((await store.listMemory('carol')).map((m) => [m.kind, m.text])).toEqual([
        ['fact', 'I live in Porto now'],
      ]);
    } finally {
      await store.close();
    }
  }, 60_000);

  describe('PostgreSQL', () => {
    let server: LocalPostgres | undefined;
    let unavailable: string | undefined;
    beforeAll(async () => {
      const started = await startLocalPostgres();
      if ('unavailable' in started) unavailable = started.unavailable;
      else server = started.server;
    }, 180_000);
    afterAll(() => server?.destroy(), 120_000);

    it('the same on PostgreSQL', async (context) => {
      if (!server) {
        console.warn(`postgres memory test skipped: ${unavailable}`);
        return context.skip();
      }
      const url = await server.createDatabase('memory_issue24');
      await rememberAndForget(() => new PostgresStore({ url, batchMs: 20, retryMs: 100, timeoutMs: 2_000 }));
    }, 180_000);
  });
});
