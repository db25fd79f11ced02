import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgentTest } from 'repartee/testing';
import { describe, expect, it } from 'vitest';
import assistant, { createDocsAssistant } from './agent.ts';

describe('examples/docs-assistant', () => {
  it('searches and reads the bundled docs server, then answers from what it read', async () => {
    // The real repartee-docs MCP server over stdio, on Repartee's docs/ folder: real time, not the virtual clock.
    const test = await startAgentTest(assistant, {
      clock: 'real',
      llm: [
        { tool: 'docs_search', args: { query: 'Retry-After' } },
        (messages) => {
          const found = messages.at(-1)?.content ?? '';
          const path = /^([\w./-]+\.md):\d+:/m.exec(found)?.[1];
          return path
            ? { toolCalls: [{ id: 'read', name: 'docs_read', arguments: JSON.stringify({ path }) }] }
            : 'I could not find it in the documents.';
        },
        (messages) =>
          /503/.test(messages.at(-1)?.content ?? '')
            ? 'A full server answers 503 with Retry-After, says protocol.md.'
            : 'The document did not say.',
      ],
    });
    const turn = await test.user('What happens when the server is full?');
    expect(turn.toolCalls.map((c) => [c.name, c.isError])).toEqual([
      ['docs_search', false],
      ['docs_read', false],
    ]);
    expect(turn.toolCalls[0].result).toContain('protocol.md');
    expect(turn.toolCalls[1].args).toEqual({ path: 'protocol.md' });
    expect(turn.said).toBe('A full server answers 503 with Retry-After, says protocol.md.');
    await test.close();
  }, 60_000);

  it('is read-only: the docs server edit tools are not offered', async () => {
    const test = await startAgentTest(assistant, {
      clock: 'real',
      llm: [{ tool: 'docs_edit', args: {} }, 'I cannot edit documents.'],
    });
    const turn = await test.user('Delete the protocol document');
    expect(turn.toolCalls[0]).toMatchObject({ name: 'docs_edit', isError: true });
    expect(turn.toolCalls[0].result).toMatch(/no tool named "docs_edit"/);
    await test.close();
  }, 60_000);

  it('serves another folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'repartee-docs-'));
    await writeFile(join(dir, 'menu.md'), '# Menu\n\nThe soup of the day is minestrone.\n');
    try {
      const test = await startAgentTest(createDocsAssistant(dir), {
        clock: 'real',
        llm: [{ tool: 'docs_search', args: { query: 'soup' } }, 'Minestrone.'],
      });
      const turn = await test.user('What is the soup today?');
      expect(turn.toolCalls[0].result).toContain('menu.md:3: The soup of the day is minestrone.');
      await test.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
