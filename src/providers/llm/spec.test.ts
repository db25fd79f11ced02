import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LlmError } from './errors.ts';
import { FallbackLlm } from './fallback.ts';
import { LlamaLlm } from './llama.ts';
import { OpenAiCompatibleLlm } from './openai-compatible.ts';
import { createLlm, parseLlmSpec } from './spec.ts';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/models/', import.meta.url));

describe('parseLlmSpec', () => {
  it('parses the three forms', () => {
    expect(parseLlmSpec('llama:./models/m.gguf')).toEqual({ kind: 'llama', modelPath: './models/m.gguf' });
    expect(parseLlmSpec('openai-compatible:http://127.0.0.1:11434/v1#qwen2.5:0.5b')).toEqual({
      kind: 'openai-compatible',
      baseURL: 'http://127.0.0.1:11434/v1',
      model: 'qwen2.5:0.5b',
    });
    expect(parseLlmSpec('openai:gpt-4o-mini')).toEqual({ kind: 'openai', model: 'gpt-4o-mini' });
  });

  it.each([
    ['', 'no provider prefix'],
    ['gpt-4o', 'no provider prefix'],
    ['claude:x', 'unknown provider "claude"'],
    ['llama:', 'missing the path'],
    ['llama:model.bin', 'not a .gguf file'],
    ['openai-compatible:http://127.0.0.1:8080/v1', 'missing "#<model>"'],
    ['openai-compatible:http://127.0.0.1:8080/v1#', 'empty model name'],
    ['openai-compatible:ftp://host/v1#m', 'not an http(s) URL'],
    ['openai-compatible:localhost:8080/v1#m', 'not an http(s) URL'],
    ['openai-compatible:not a url#m', 'not a URL'],
    ['openai:', 'missing the model name'],
  ])('rejects %j clearly', (spec, why) => {
    let error: unknown;
    try {
      parseLlmSpec(spec);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LlmError);
    expect((error as LlmError).code).toBe('bad-spec');
    expect((error as LlmError).message).toContain(why);
    expect((error as LlmError).message).toContain('llama:./models/model.gguf');
  });
});

describe('createLlm', () => {
  it('builds a llama LLM for an existing file, resolving relative paths', async () => {
    const llm = await createLlm('llama:stories260K.gguf', { cwd: FIXTURES, llama: { threads: 1 } });
    expect(llm).toBeInstanceOf(LlamaLlm);
    expect(llm.name).toBe('llama:stories260K.gguf');
  });

  it('says how to get a model when the file is missing', async () => {
    const error = await createLlm('llama:./models/nope.gguf', { cwd: '/tmp' }).catch((e) => e);
    expect(error).toBeInstanceOf(LlmError);
    expect(error.code).toBe('model-missing');
    expect(error.message).toContain('/tmp/models/nope.gguf');
    expect(error.message).toContain('repartee models pull');
  });

  it('builds OpenAI clients, taking the key from the environment only', async () => {
    const compatible = await createLlm('openai-compatible:http://127.0.0.1:9/v1#m', { env: {} });
    expect(compatible).toBeInstanceOf(OpenAiCompatibleLlm);
    expect(compatible.name).toBe('openai-compatible:http://127.0.0.1:9/v1#m');

    const missing = await createLlm('openai:gpt-4o-mini', { env: {} }).catch((e) => e);
    expect(missing).toBeInstanceOf(LlmError);
    expect(missing.code).toBe('missing-api-key');
    expect(missing.message).toContain('OPENAI_API_KEY');
    expect(await createLlm('openai:gpt-4o-mini', { env: { OPENAI_API_KEY: 'sk-test' } })).toBeInstanceOf(
      OpenAiCompatibleLlm,
    );
  });

  it('builds a fallback chain from a list, checking every entry', async () => {
    const chain = await createLlm(['openai-compatible:http://127.0.0.1:9/v1#m', 'llama:stories260K.gguf'], {
      cwd: FIXTURES,
      env: {},
      llama: { threads: 1 },
    });
    expect(chain).toBeInstanceOf(FallbackLlm);
    expect((chain as FallbackLlm).activeProvider).toBe('openai-compatible:http://127.0.0.1:9/v1#m');
    expect(chain.name).toBe('openai-compatible:http://127.0.0.1:9/v1#m > llama:stories260K.gguf');
    const single = await createLlm(['openai-compatible:http://127.0.0.1:9/v1#m'], { env: {} });
    expect(single).toBeInstanceOf(OpenAiCompatibleLlm);

    const typo = await createLlm(['openai:gpt-4o-mini', 'llama:nope.gguf'], {
      cwd: FIXTURES,
      env: { OPENAI_API_KEY: 'sk-test' },
    }).catch((e) => e);
    expect(typo.code).toBe('model-missing');
    await expect(createLlm([])).rejects.toThrow(/at least one/);
  });
});
