import { describe, expect, it } from 'vitest';
import type { AgentSessionOptions } from './options.ts';
import { prewarmProviders } from './prewarm.ts';

type Providers = Pick<AgentSessionOptions, 'llm' | 'tts' | 'stt'>;

function providers(llmPrewarm: () => Promise<void>): Providers {
  return {
    llm: { prewarm: llmPrewarm },
    tts: { prewarm: async () => undefined },
    stt: {},
  } as unknown as Providers;
}

describe('prewarmProviders', () => {
  it('reports a provider whose warm-up fails while the session is open', async () => {
    const reports: string[] = [];
    await prewarmProviders(
      providers(() => Promise.reject(new Error('refused'))),
      (source, error) => reports.push(`${source}: ${(error as Error).message}`),
      () => false,
    );
    expect(reports).toEqual(['llm: refused']);
  });

  it('says nothing of a warm-up cut short because the session closed', async () => {
    let closed = false;
    const reports: string[] = [];
    await prewarmProviders(
      providers(async () => {
        closed = true; // the session closes while the connection opens, and its close resets it
        throw new Error('Connection error. (ECONNRESET)');
      }),
      (source) => reports.push(source),
      () => closed,
    );
    expect(reports).toEqual([]);
  });
});
