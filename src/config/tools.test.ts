import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { connectConfiguredTools } from './tools.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

describe('connectConfiguredTools', () => {
  it('is null without servers', async () => {
    const config = await loadConfig({ file: '/nonexistent.json', env: {} });
    expect(await connectConfiguredTools(config)).toBeNull();
  });

  it('docsRoot starts the bundled repartee-docs server, whose prefixed tools a session can call', async () => {
    const root = await mkdtemp(join(tmpdir(), 'repartee-docs-config-'));
    await writeFile(join(root, 'plan.md'), '# Plan\n\nThe budget is 42 euros.\n');
    const config = await loadConfig({ file: '/nonexistent.json', env: {}, overrides: { docsRoot: root } });
    const toolset = await connectConfiguredTools(config);
    expect(toolset).not.toBeNull();
    if (!toolset) return;
    closers.push(() => toolset.close());
    const names = toolset.tools().map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['docs_list', 'docs_read', 'docs_search', 'docs_analyze']));
    const search = toolset.tools().find((tool) => tool.name === 'docs_search');
    const result = await search?.execute({ query: 'budget' }, { signal: new AbortController().signal });
    expect(JSON.stringify(result)).toContain('42 euros');
  }, 60_000);
});
