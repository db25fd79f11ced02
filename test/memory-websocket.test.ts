import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ConfigSchema } from '../src/config/config.ts';
import type { ProviderSet } from '../src/config/providers.ts';
import { createConfiguredSession } from '../src/config/session.ts';
import { MEMORY_HEADING } from '../src/context/memory.ts';
import { MonotonicClock } from '../src/metrics/clock.ts';
import { ScriptedLlm } from '../src/providers/llm/scripted.ts';
import { SimulatedStt } from '../src/providers/stt/simulated.ts';
import { SimulatedTts } from '../src/providers/tts/simulated.ts';
import { EnergyVad } from '../src/providers/vad/energy.ts';
import { type RunningServer, startServer } from '../src/server/server.ts';
import { SqliteStore } from '../src/store/sqlite.ts';

const FACT = 'My favourite colour is teal.';
let server: RunningServer | undefined;
let store: SqliteStore | undefined;
afterEach(async () => {
  await server?.close();
  await store?.close();
  server = undefined;
  store = undefined;
});

function providers(): ProviderSet {
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
          if (messages[0]?.content.startsWith('You keep notes')) return 'A call about colours.';
          return last.includes(MEMORY_HEADING) && last.includes(FACT) ? 'Teal, you said.' : 'I do not know.';
        },
      }),
    close: async () => {},
  };
}

/** A client on /ws (with `query`), whose replies are the assistant's conversation items. */
async function client(running: RunningServer, query: string) {
  const ws = new WebSocket(`${running.url.replace('http', 'ws')}/ws${query}`);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) messages.push(JSON.parse(data.toString()));
  });
  const failed = new Promise<string>((resolve) =>
    ws.once('unexpected-response', (_, res) => resolve(String(res.statusCode))),
  );
  const opened = await Promise.race([new Promise<string>((r) => ws.once('open', () => r('open'))), failed]);
  const replies = () =>
    messages.filter((m) => m.type === 'conversationItem' && m.role === 'assistant').map((m) => m.content);
  const waitFor = async (predicate: () => boolean) => {
    const until = Date.now() + 20_000;
    while (!predicate()) {
      if (Date.now() > until) throw new Error(`timed out; got ${JSON.stringify(messages)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const ask = async (text: string) => {
    const before = replies().length;
    ws.send(JSON.stringify({ type: 'text', text }));
    await waitFor(() => replies().length > before);
    return replies().at(-1);
  };
  return { ws, opened, messages, ask, waitFor };
}

describe('memory over the WebSocket (?user= and the config message)', () => {
  it('a user named by ?user= or by config is remembered across connections; a bad id is refused', async () => {
    store = new SqliteStore({ path: ':memory:', batchMs: 10 });
    const config = ConfigSchema.parse({ memory: { enabled: true } });
    const set = providers();
    const sessions: { memory?: { loaded: Promise<void> } }[] = [];
    const memoryStore = store;
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      webRoot: false,
      // As `repartee serve` does (src/cli/serve.ts): the request's user and the store.
      createSession: async (request) => {
        const session = await createConfiguredSession(
          config,
          set,
          undefined,
          [],
          {},
          {
            store: memoryStore,
            userId: request.userId,
          },
        );
        sessions.push(session as typeof session & { memory?: { loaded: Promise<void> } });
        return session;
      },
    });
    const first = await client(server, '?user=frank');
    expect(first.opened).toBe('open');
    expect(await first.ask(FACT)).toBe('I do not know.');
    first.ws.close();
    const stored = async () => (await memoryStore.listMemory('frank')).some((m) => m.kind === 'summary');
    for (let until = Date.now() + 20_000; !(await stored()); ) {
      if (Date.now() > until) throw new Error('the first call was not summarised');
      await new Promise((r) => setTimeout(r, 20));
    }

    // The same user named by the config message on a connection without ?user=.
    const second = await client(server, '');
    second.ws.send(JSON.stringify({ type: 'config', user: 'frank' }));
    second.ws.send(JSON.stringify({ type: 'config', user: 'not frank' }));
    await second.waitFor(() => second.messages.some((m) => m.type === 'error'));
    expect(second.messages.find((m) => m.type === 'error')?.message).toMatch(/^user id must be/);
    // Named late, the user's items load then (a reply never waits for them): wait here, as a test.
    await sessions.at(-1)?.memory?.loaded;
    expect(await second.ask('What is my favourite colour?')).toBe('Teal, you said.');
    second.ws.close();

    // Another user: nothing. A malformed ?user=: refused at the upgrade.
    const other = await client(server, '?user=grace');
    expect(await other.ask('What is my favourite colour?')).toBe('I do not know.');
    other.ws.close();
    expect((await client(server, '?user=a%20b')).opened).toBe('400');
  }, 60_000);
});
