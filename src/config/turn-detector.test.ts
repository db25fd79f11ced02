import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { createConfiguredTurnDetector } from './turn-detector.ts';

const STORIES = fileURLToPath(new URL('../../test/fixtures/models/stories260K.gguf', import.meta.url));
const none = '/nonexistent/repartee.config.json';

describe('configured turn detector', () => {
  it('defaults to the combined detector, which needs no download', async () => {
    const config = await loadConfig({ file: none, env: {} });
    expect(config.turnDetector).toBe('combined');
    const warnings: string[] = [];
    const detector = await createConfiguredTurnDetector(config, null, (m) => warnings.push(m));
    expect(detector.name).toBe('combined');
    const p = await detector.endOfTurnProbability({ transcript: 'what time is it', history: [] });
    expect(p).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
  });

  it('takes the typed endpointing options and refuses a bad detector spec', async () => {
    const config = await loadConfig({
      file: none,
      env: {},
      overrides: { turnDetector: 'fixed:0.3', endpointing: { shape: 1.5, adaptToUser: false } },
    });
    expect(config.endpointing).toMatchObject({ shape: 1.5, adaptToUser: false });
    expect((await createConfiguredTurnDetector(config, null, () => {})).name).toBe('fixed');
    await expect(loadConfig({ file: none, env: {}, overrides: { turnDetector: 'magic' } })).rejects.toThrow(
      ConfigError,
    );
  });

  it('adds the LLM signal only with a local llama model, and says why not otherwise', async () => {
    const config = await loadConfig({ file: none, env: {}, overrides: { turnDetectorLlm: true } });
    const warnings: string[] = [];
    const cloud = await createConfiguredTurnDetector(config, 'openai:gpt-4o-mini', (m) => warnings.push(m));
    expect(warnings[0]).toMatch(/needs a local llama/);
    const local = await createConfiguredTurnDetector(
      { ...config, turnDetectorLlmBudgetMs: 5000, llmThreads: 1 },
      `llama:${STORIES}`,
      (m) => warnings.push(m),
    );
    const explained = await local.explain?.({ transcript: 'the dog ran home', history: [] });
    expect(explained?.signals.llm).toBeGreaterThanOrEqual(0);
    await local.close?.();
    await cloud.close?.();
  });
});
