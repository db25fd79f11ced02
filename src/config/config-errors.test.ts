import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('configuration errors name the file and the key', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const writeConfig = async (json: unknown) => {
    dir = await mkdtemp(join(tmpdir(), 'repartee-config-'));
    const file = join(dir, 'repartee.config.json');
    await writeFile(file, JSON.stringify(json));
    return file;
  };

  it('an unknown top-level key in an auto-loaded file names the key and the file, not "(root)"', async () => {
    const file = await writeConfig({ llmm: 'llama:x.gguf' });
    const error = await loadConfig({ file, env: {} }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toContain('unknown key "llmm"');
    expect(message).toContain(file);
    expect(message).not.toContain('(root)');
  });

  it('a nested unknown key says where it sits', async () => {
    const file = await writeConfig({ server: { prot: 1 } });
    const message = ((await loadConfig({ file, env: {} }).catch((e: Error) => e)) as Error).message;
    expect(message).toContain('unknown key "prot" (server)');
    expect(message).toContain(file);
  });

  it('a bad value given by a flag does not blame the file', async () => {
    const file = await writeConfig({});
    const message = (
      (await loadConfig({ file, env: {}, overrides: { vad: 42 } }).catch((e: Error) => e)) as Error
    ).message;
    expect(message).toContain('vad');
    expect(message).not.toContain(file);
  });
});
