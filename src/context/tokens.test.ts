import { describe, expect, it } from 'vitest';
import type { LLM, TokenCounter } from '../providers/llm/contract.ts';
import { clipToTokens, encodingForModel, MessageTokens, tiktokenCounter, tokenCounterFor } from './tokens.ts';

describe('token counting', () => {
  it('picks the tiktoken encoding by the OpenAI model name', () => {
    expect(encodingForModel('openai:gpt-4o-mini')).toBe('o200k_base');
    expect(encodingForModel('openai-compatible:https://api.openai.com/v1#gpt-4.1-nano')).toBe('o200k_base');
    expect(encodingForModel('openai:gpt-5')).toBe('o200k_base');
    expect(encodingForModel('openai:o3-mini')).toBe('o200k_base');
    expect(encodingForModel('openai:gpt-4-turbo')).toBe('cl100k_base');
    expect(encodingForModel('openai:gpt-3.5-turbo')).toBe('cl100k_base');
    expect(encodingForModel('openai-compatible:http://127.0.0.1:11434/v1#qwen2.5')).toBe('cl100k_base');
    expect(encodingForModel('scripted')).toBe('cl100k_base');
    // A fallback chain with no tokenizer of its own counts as its first provider.
    expect(encodingForModel('openai:gpt-4o-mini > openai-compatible:http://127.0.0.1:11434/v1#qwen2.5')).toBe(
      'o200k_base',
    );
  });

  it('counts real BPE tokens, not characters', async () => {
    const cl100k = await tiktokenCounter('cl100k_base');
    const o200k = await tiktokenCounter('o200k_base');
    expect(cl100k.countTokens('hello world')).toBe(2);
    expect(cl100k.countTokens('')).toBe(0);
    // A long rare word takes several tokens; characters / 4 would say 7.
    expect(cl100k.countTokens('antidisestablishmentarianism')).toBeGreaterThan(3);
    expect(o200k.name).toBe('tiktoken:o200k_base');
    expect(o200k.countTokens('The quick brown fox jumps over the lazy dog.')).toBe(10);
  });

  it("prefers the LLM's own tokenizer", async () => {
    const own: TokenCounter = {
      name: 'own',
      countTokens: () => 7,
      messageOverheadTokens: 0,
      promptOverheadTokens: 0,
    };
    const llm = { name: 'x', chat: () => (async function* () {})(), tokenCounter: async () => own } as LLM;
    expect(await tokenCounterFor(llm)).toBe(own);
    expect((await tokenCounterFor({ name: 'openai:gpt-4o', chat: llm.chat })).name).toBe(
      'tiktoken:o200k_base',
    );
  });

  it('counts each message once and adds the format overheads and tool calls', () => {
    let calls = 0;
    const counter: TokenCounter = {
      name: 'chars',
      countTokens: (text) => {
        calls++;
        return text.length;
      },
      messageOverheadTokens: 4,
      promptOverheadTokens: 3,
    };
    const tokens = new MessageTokens(counter);
    const message = {
      role: 'assistant' as const,
      content: 'abc',
      toolCalls: [{ id: '1', name: 'tool', arguments: '{}' }],
    };
    expect(tokens.count(message)).toBe(4 + 3 + 4 + 4 + 2);
    const before = calls;
    expect(tokens.count(message)).toBe(17);
    expect(calls).toBe(before);
  });

  it('clips an overlong text to a token limit at a word boundary', async () => {
    const cl100k = await tiktokenCounter('cl100k_base');
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const clipped = clipToTokens(long, 50, cl100k);
    expect(cl100k.countTokens(clipped)).toBeLessThanOrEqual(50);
    expect(cl100k.countTokens(clipped)).toBeGreaterThan(40);
    expect(clipped).toMatch(/^word0 word1 .* word\d+…$/);
    expect(clipToTokens('short text', 50, cl100k)).toBe('short text');
  });
});
