import type { Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ChatCompletionsServer,
  type ParsedChatRequest,
} from '../src/providers/llm/testing/chat-completions-server.ts';
import {
  buildMicWav,
  hasChromium,
  launchChromium,
  startConversation,
  waitFor,
  withTempDir,
} from './browser/harness.ts';
import { ServeProcess } from './serve-process.ts';

/**
 * `repartee serve examples/booking/agent.ts` as a user runs it, with the talk page in headless Chromium: the
 * agent file's onEnter greets, and a typed question is answered through the agent's own tool. The LLM is a local
 * server speaking the Chat Completions wire protocol (the provider comes from the flags, as for any agent).
 */

let browser: Browser | undefined;
let serve: ServeProcess | undefined;
let chat: ChatCompletionsServer | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  await serve?.stop();
  serve = undefined;
  await chat?.close();
  chat = undefined;
});

/** Calls opening_hours for the question, then answers with what the tool returned. */
function bookingLlm(request: ParsedChatRequest) {
  const last = request.messages.at(-1);
  if (last?.role === 'tool')
    return { text: `We are open ${last.content.replace(/;.*$/, '').replace(/^Tuesday/, 'from Tuesday')}.` };
  if (last?.role === 'user' && /hours|open/i.test(last.content))
    return { toolCalls: [{ id: 'call_hours', name: 'opening_hours', arguments: '{}' }] };
  return { text: 'Sorry, could you say that again?' };
}

describe.skipIf(!hasChromium)('repartee serve with an agent file, in Chromium', () => {
  it('serves examples/booking/agent.ts: the page hears its greeting and gets an answer from its tool', async () => {
    await withTempDir(async (dir) => {
      chat = await ChatCompletionsServer.start({ script: (request) => bookingLlm(request) });
      serve = await ServeProcess.start({
        args: ['examples/booking/agent.ts', '--llm', `openai-compatible:${chat.baseURL}#booking-test`],
        env: { REPARTEE_LLM_API_KEY: 'test-key', REPARTEE_LOG_LEVEL: 'info' },
        startTimeoutMs: 180_000,
      });
      // The "listening" line can reach us before the log lines written with it: wait for them.
      const started = serve;
      await waitFor('the agent file logged at start', async () =>
        started.log().includes('"agentTools"') ? true : undefined,
      );
      const log = serve.log();
      expect(log).toContain('"agent":"host"');
      expect(log).toContain('"agentTools":["opening_hours","check_availability","start_booking"]');

      const mic = await buildMicWav(dir, 'quiet', [{ silenceS: 3 }]);
      browser = await launchChromium(mic);
      const page = await browser.newPage();
      await startConversation(page, serve.url, 'websocket');
      const agentSaid = () => page.locator('.message.assistant .body').allTextContents();
      const describe = async () => ({ agentSaid: await agentSaid(), log: serve?.log().slice(-3000) });

      await waitFor(
        "the agent's greeting (its onEnter)",
        async () => ((await agentSaid()).some((t) => t.includes('Trattoria Uno')) ? true : undefined),
        { timeoutMs: 90_000, describe },
      );

      await page.locator('#text-input').fill('What are your opening hours?');
      await page.locator('#text-send').click();
      const answer = await waitFor(
        'the answer from the opening_hours tool',
        async () => (await agentSaid()).find((t) => t.includes('from Tuesday to Sunday')),
        { timeoutMs: 90_000, describe },
      );
      expect(answer).toContain('12:00 to 14:30');

      // The served agent's instructions and tools reached the LLM; the tool ran in the server.
      const first = chat.requests[0].body;
      expect(first.messages[0]).toMatchObject({ role: 'system' });
      expect((first.messages[0] as { content: string }).content).toContain('Trattoria Uno');
      expect(first.tools?.map((t) => t.function.name)).toEqual([
        'opening_hours',
        'check_availability',
        'start_booking',
      ]);
      const followUp = chat.requests.find((r) => r.body.messages.at(-1)?.role === 'tool');
      expect(followUp?.body.messages.at(-1)).toMatchObject({
        content: expect.stringContaining('closed on Mondays'),
      });
    });
  }, 300_000);
});
