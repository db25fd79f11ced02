import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll } from 'vitest';

/** Shared set-up of test/mcp-docs-server.test.ts and test/mcp-docs-executable.test.ts (not a test file). */

export const repo = path.resolve(import.meta.dirname, '..');
export const bin = path.join(repo, 'bin', 'repartee-docs');

/** The fixture's temporary folder and the document root inside it, set by useDocsFixture() before the tests. */
export let base: string;
export let docs: string;

/** Writes the document fixture before the test file's tests and removes it after them. */
export function useDocsFixture(): void {
  beforeAll(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'repartee-mcp-docs-'));
    docs = path.join(base, 'docs');
    await mkdir(path.join(docs, 'reports'), { recursive: true });
    await writeFile(
      path.join(docs, 'plan.md'),
      '# Plan\n\n## Budget\nThe budget for May is 40 euros.\nSee [notes](notes.txt).\n',
    );
    await writeFile(path.join(docs, 'notes.txt'), 'Call the bank about the budget.\nBuy milk.\n');
    await writeFile(path.join(docs, 'reports', 'q1.md'), '# Q1\nRevenue grew. Costs fell.\n');
    await writeFile(path.join(docs, 'photo.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0, 0x10, 0x4a, 0x46]));
    await writeFile(path.join(docs, 'huge.txt'), 'budget '.repeat(200_000));
    await writeFile(path.join(base, 'secret.txt'), 'budget secret\n');
    await symlink(path.join(base, 'secret.txt'), path.join(docs, 'escape.txt'));
  });

  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });
}

export const textOf = (result: unknown) =>
  (result as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
