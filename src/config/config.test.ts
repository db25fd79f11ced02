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

  it('a missing default file is fine; a missing explicit one is not', async () => {
    await expect(loadConfig({ file: '/nonexistent/repartee.config.json', env: {} })).resolves.toMatchObject({
      vad: 'silero',
    });
    await expect(loadConfig({ file: '/nonexistent/x.json', fileRequired: true, env: {} })).rejects.toThrow(
      ConfigError,
    );
  });
});
