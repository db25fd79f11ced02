import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('layers defaults, file, environment and overrides', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repartee-config-'));
    const file = join(dir, 'repartee.config.json');
    await writeFile(
      file,
      JSON.stringify({ tts: 'flite', server: { port: 9000 }, endpointing: { minDelayMs: 300 } }),
    );
    const config = await loadConfig({
      file,
      env: { REPARTEE_LLM: 'openai:gpt-4o-mini, llama:./m.gguf', REPARTEE_HOST: '0.0.0.0' },
      overrides: { stt: 'pocketsphinx:accurate' },
    });
    expect(config).toMatchObject({
      vad: 'silero',
      stt: 'pocketsphinx:accurate',
      tts: 'flite',
      llm: ['openai:gpt-4o-mini', 'llama:./m.gguf'],
      server: { host: '0.0.0.0', port: 9000 },
      endpointing: { minDelayMs: 300 },
      preemptiveGeneration: true,
    });
  });

  it('rejects bad values and bad JSON with a clear message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repartee-config-'));
    const file = join(dir, 'c.json');
    await writeFile(file, '{ "server": { "port": "eighty" } }');
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(/server\.port/);
    await writeFile(file, '{ nope');
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(ConfigError);
    await writeFile(file, '{ "unknownKey": 1 }');
    await expect(loadConfig({ file, env: {} })).rejects.toThrow(/unknownKey/);
  });

  it('takes context, tool and transport settings, and rejects unknown keys inside them', async () => {
    const config = await loadConfig({
      file: '/nonexistent.json',
      env: { REPARTEE_DOCS_ROOT: '/srv/docs' },
      overrides: {
        context: { maxTokens: 4096, keepTurns: 3 },
        mcpServers: [{ name: 'files', transport: 'stdio', command: 'mcp-files' }],
        server: { webrtc: { sendAheadMs: 60 } },
      },
    });
    expect(config.context).toMatchObject({ maxTokens: 4096, keepTurns: 3 });
    expect(config.docsRoot).toBe('/srv/docs');
    expect(config.mcpServers[0]).toMatchObject({ name: 'files', args: [] });
    expect(config.toolTimeoutMs).toBe(60_000);
    expect(config.server.webrtc).toEqual({ sendAheadMs: 60 });
    await expect(
      loadConfig({ file: '/nonexistent.json', env: {}, overrides: { context: { maxTokenz: 1 } } }),
    ).rejects.toThrow(/context/);
    await expect(
      loadConfig({ file: '/nonexistent.json', env: {}, overrides: { server: { webrtc: { ice: 1 } } } }),
    ).rejects.toThrow(ConfigError);
  });

  it('a missing default file is fine; a missing explicit one is not', async () => {
    await expect(loadConfig({ file: '/nonexistent/repartee.config.json', env: {} })).resolves.toMatchObject({
      vad: 'silero',
    });
    await expect(loadConfig({ file: '/nonexistent/x.json', fileRequired: true, env: {} })).rejects.toThrow(
      ConfigError,
    );
  });

  it('takes provider fallback lists and budgets from the environment', async () => {
    const config = await loadConfig({
      file: '/nonexistent/repartee.config.json',
      env: {
        REPARTEE_TTS: 'elevenlabs, local',
        REPARTEE_STT: 'deepgram:nova-3,local',
        REPARTEE_LLM_FALLBACK_BUDGET_MS: '1500',
        REPARTEE_TTS_FALLBACK_BUDGET_MS: '800',
      },
    });
    expect(config).toMatchObject({
      tts: ['elevenlabs', 'local'],
      stt: ['deepgram:nova-3', 'local'],
      llmFallbackBudgetMs: 1500,
      ttsFallbackBudgetMs: 800,
      fallbackRetryPrimaryAfterMs: 60_000,
    });
    expect(config.llm).toBeUndefined();
    await expect(
      loadConfig({ file: '/nonexistent/x.json', env: { REPARTEE_LLM_FALLBACK_BUDGET_MS: 'soon' } }),
    ).rejects.toThrow(/llmFallbackBudgetMs/);
    await expect(
      loadConfig({ file: '/nonexistent/x.json', env: {}, overrides: { tts: [] } }),
    ).rejects.toThrow(/tts/);
  });
});
