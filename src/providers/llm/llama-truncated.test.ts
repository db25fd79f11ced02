import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { LlmChunk } from './contract.ts';
import { LlamaLlm } from './llama.ts';
import { unloadSharedModels } from './llama-models.ts';

const STORIES = fileURLToPath(new URL('../../../test/fixtures/models/stories260K.gguf', import.meta.url));

afterAll(() => unloadSharedModels());

async function usageOf(maxTokens: number): Promise<Extract<LlmChunk, { type: 'usage' }>> {
  const llm = new LlamaLlm({ modelPath: STORIES, threads: 1, temperature: 0, maxTokens });
  try {
    const chunks: LlmChunk[] = [];
    const request = {
      messages: [{ role: 'user' as const, content: 'Once upon a time' }],
      signal: new AbortController().signal,
    };
    for await (const chunk of llm.chat(request)) chunks.push(chunk);
    const usage = chunks.find((c) => c.type === 'usage');
    if (usage?.type !== 'usage') throw new Error('no usage chunk');
    return usage;
  } finally {
    await llm.close();
  }
}

describe('llama.cpp reply cut at the token limit', () => {
  it('says so on the usage chunk (the session then ends the reply at its last sentence)', async () => {
    const usage = await usageOf(6);
    expect(usage.completionTokens).toBe(6);
    expect(usage.truncated).toBe(true);
  }, 60_000);
});
