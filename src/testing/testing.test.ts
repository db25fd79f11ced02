import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, defineTool } from '../agent/definition.ts';
import { loadConfig } from '../config/config.ts';
import { createProviders, type ProviderSet } from '../config/providers.ts';
import type { ChatMessage } from '../providers/llm/contract.ts';
import { judge, scriptedLlm, startAgentTest } from './index.ts';

const hours = defineTool({
  name: 'opening_hours',
  description: 'The opening hours',
  parameters: z.object({}),
  execute: async () => 'noon to ten at night',
});
const agent = defineAgent({ name: 'front-desk', instructions: 'Answer briefly.', tools: [hours] });

let providers: ProviderSet | undefined;
afterAll(async () => {
  await providers?.close();
});

describe('repartee/testing', () => {
  it('a spoken turn: the text is synthesized, heard by the real VAD and STT, and answered', async () => {
    const config = await loadConfig({
      file: '/nonexistent/repartee.config.json',
      env: {},
      overrides: { vad: 'silero', stt: 'local', tts: 'flite' },
    });
    providers = await createProviders(config);
    const test = await startAgentTest(agent, {
      clock: 'real',
      vad: providers.vad,
      stt: providers.stt,
      // A pause can split the spoken question into two turns under load: every request is answered by its content.
      llm: Array.from({ length: 6 }, () => (messages: readonly ChatMessage[]) => {
        const last = messages.at(-1);
        if (last?.role === 'tool') return 'We are open from noon to ten at night.';
        return /hour|open/i.test(last?.content ?? '')
          ? { toolCalls: [{ id: 'h', name: 'opening_hours', arguments: '{}' }] }
          : 'Go on.';
      }),
    });
    // The user's voice: the local TTS, through Silero and pocketsphinx as a microphone's audio would go.
    const turn = await test.userSpeech('What are your opening hours?', { tts: providers.tts });
    expect(
      turn.transcript.toLowerCase(),
      JSON.stringify({ said: turn.said, errors: turn.errors.map(String) }),
    ).toMatch(/hour|open/);
    expect(turn.toolCalls.map((c) => c.name)).toEqual(['opening_hours']);
    expect(turn.replies.at(-1)).toBe('We are open from noon to ten at night.');
    expect(turn.metrics[0].eouDelayMs).toBeGreaterThan(0);
    await test.close();
  }, 120_000);

  it('an LLM-judged assertion is skipped without a judge LLM, and reads PASS or FAIL from one', async () => {
    expect(await judge({ reply: 'Booked for 7.', criterion: 'confirms the time' })).toEqual({
      pass: undefined,
      skipped: true,
      explanation: 'no judge LLM configured',
    });
    const llm = scriptedLlm(['PASS it names the time.', 'FAIL no time is given.'], { ttftMs: 0 });
    const verdicts = [];
    for (const reply of ['Booked for 7 pm.', 'Booked.'])
      verdicts.push(await judge({ llm, reply, criterion: 'the reply confirms the booking time' }));
    expect(verdicts.map((v) => v.pass)).toEqual([true, false]);
    expect(verdicts[1].explanation).toBe('FAIL no time is given.');
    expect(llm.requests[0].messages.at(-1)?.content).toContain(
      'Criterion: the reply confirms the booking time',
    );
  });

  it('a script that runs out is an error the turn reports', async () => {
    const test = await startAgentTest(agent, { llm: ['Only one answer.'] });
    expect((await test.user('One')).said).toBe('Only one answer.');
    const second = await test.user('Two');
    expect(second.errors.map((e) => e.message).join()).toMatch(
      /scripted LLM: request 2 but the script has 1 steps/,
    );
    await test.close();
  });
});
