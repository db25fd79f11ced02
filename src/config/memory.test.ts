import { describe, expect, it } from 'vitest';
import type { AgentSession } from '../agent/agent-api.ts';
import { PacedAudioOutput } from '../agent/paced-output.ts';
import { nameSessionUser } from '../agent/session-user.ts';
import { ResponseCache } from '../cache/response-cache.ts';
import { MEMORY_HEADING } from '../context/memory.ts';
import { MonotonicClock } from '../metrics/clock.ts';
import type { TurnMetrics } from '../metrics/schema.ts';
import { ScriptedLlm } from '../providers/llm/scripted.ts';
import { SimulatedStt } from '../providers/stt/simulated.ts';
import { SimulatedTts } from '../providers/tts/simulated.ts';
import { EnergyVad } from '../providers/vad/energy.ts';
import { SqliteStore } from '../store/sqlite.ts';
import type { ProcessCaches } from './cache.ts';
import { ConfigSchema } from './config.ts';
import type { ProviderSet } from './providers.ts';
import { createConfiguredSession } from './session.ts';

const FACT = 'I live in Lyon.';

/** Scripted providers whose LLM answers from the remembered city when its prompt carries it. */
function providers(prompts: string[]): ProviderSet {
  const clock = new MonotonicClock();
  return {
    vad: new EnergyVad(),
    stt: new SimulatedStt({ clock, utterances: [], finalDelay: 1 }),
    tts: new SimulatedTts({ clock, ttfb: 1, realTimeFactor: 0 }),
    llmSpec: 'scripted',
    createSessionLlm: async () =>
      new ScriptedLlm({
        clock,
        ttftMs: 1,
        reply: (messages) => {
          const last = messages.at(-1)?.content ?? '';
          prompts.push(last);
          if (messages[0]?.content.startsWith('You keep notes')) return 'A call about the weather.';
          return last.includes(MEMORY_HEADING) && last.includes(FACT) ? 'In Lyon, as you told me.' : 'Hello.';
        },
      }),
    close: async () => {},
  };
}

async function waitForLoad(session: AgentSession): Promise<void> {
  await (session as AgentSession & { memory?: { loaded: Promise<void> } }).memory?.loaded;
}

async function talk(session: AgentSession, texts: string[]): Promise<TurnMetrics[]> {
  const metrics: TurnMetrics[] = [];
  session.on('metrics', (m) => metrics.push(m));
  await session.start(new PacedAudioOutput({ clock: new MonotonicClock(), realTime: false }));
  for (const [i, text] of texts.entries()) {
    session.sendText(text);
    const until = Date.now() + 20_000;
    while (metrics.length <= i) {
      if (Date.now() > until) throw new Error(`no reply to ${text}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await session.close();
  return metrics;
}

describe('createConfiguredSession with memory.enabled', () => {
  it('remembers per user id from the request; no user id or memory off: no memory', async () => {
    const store = new SqliteStore({ path: ':memory:', batchMs: 10 });
    const prompts: string[] = [];
    const set = providers(prompts);
    const on = ConfigSchema.parse({ memory: { enabled: true } });
    try {
      const request = { store, userId: 'alice' };
      await talk(await createConfiguredSession(on, set, undefined, [], {}, request), [FACT]);
      expect((await store.listMemory('alice')).map((m) => m.kind)).toEqual(['fact', 'summary']);

      const second = await talk(await createConfiguredSession(on, set, undefined, [], {}, request), [
        'Where do I live?',
        'Please forget that.',
      ]);
      expect(second.map((m) => m.agentText)).toEqual([
        'In Lyon, as you told me.',
        "Okay, I've forgotten that.",
      ]);
      expect(second[0].memoryItems).toBe(1);
      expect((await store.listMemory('alice')).map((m) => m.text)).not.toContain(FACT);

      // No user id, or memory off: the same words get no memory, and "forget that" goes to the model.
      await store.addMemory({ userId: 'bob', kind: 'fact', text: FACT, sessionId: null, createdAt: 0 });
      const off = ConfigSchema.parse({});
      for (const [config, memoryRequest] of [
        [on, { store }],
        [off, { store, userId: 'bob' }],
      ] as const) {
        const turns = await talk(
          await createConfiguredSession(config, set, undefined, [], {}, memoryRequest),
          ['Where do I live?', 'Forget that.'],
        );
        expect(turns.map((m) => [m.agentText, m.memoryItems])).toEqual([
          ['Hello.', 0],
          ['Hello.', 0],
        ]);
      }
      expect(await store.listMemory('bob')).toHaveLength(1);
    } finally {
      await store.close();
    }
  }, 60_000);

  it("no response cache with memory: one user's remembered answer never reaches another", async () => {
    const store = new SqliteStore({ path: ':memory:', batchMs: 10 });
    const response = new ResponseCache({ mode: 'auto' });
    const set = { ...providers([]), caches: { response } as unknown as ProcessCaches };
    const on = ConfigSchema.parse({ memory: { enabled: true, summaries: false } });
    try {
      await store.addMemory({ userId: 'alice', kind: 'fact', text: FACT, sessionId: null, createdAt: 0 });
      for (const [user, expected] of [
        ['alice', 'In Lyon, as you told me.'],
        ['bob', 'Hello.'],
      ] as const) {
        const session = await createConfiguredSession(on, set, undefined, [], {}, { store, userId: user });
        expect((await talk(session, ['Where do I live?'])).map((m) => m.agentText)).toEqual([expected]);
      }
    } finally {
      await store.close();
    }
  }, 60_000);

  it('a user named after the session was made (the WebSocket config message): validated, then remembered', async () => {
    const store = new SqliteStore({ path: ':memory:', batchMs: 10 });
    const on = ConfigSchema.parse({ memory: { enabled: true } });
    const set = providers([]);
    try {
      await store.addMemory({ userId: 'dana', kind: 'fact', text: FACT, sessionId: null, createdAt: 0 });
      const session = await createConfiguredSession(on, set, undefined, [], {}, { store });
      expect(nameSessionUser(session, 'da na')).toMatch(/^user id must be/);
      expect(nameSessionUser(session, 'dana')).toBeUndefined();
      expect(nameSessionUser(session, 'dana')).toBeUndefined(); // the same again: fine
      expect(nameSessionUser(session, 'erin')).toBe('this session already has a user');
      await waitForLoad(session);
      const turns = await talk(session, ['Where do I live?', 'Forget that.']);
      expect(turns.map((m) => m.agentText)).toEqual([
        'In Lyon, as you told me.',
        "Okay, I've forgotten that.",
      ]);
      expect(await store.listMemory('dana')).toEqual([]);
      // Memory off: the client is told.
      const off = await createConfiguredSession(ConfigSchema.parse({}), set, undefined, [], {}, { store });
      expect(nameSessionUser(off, 'dana')).toBe(
        'this server does not keep memory for users (memory.enabled is off)',
      );
      await off.close();
    } finally {
      await store.close();
    }
  }, 60_000);
});
