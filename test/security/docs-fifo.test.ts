import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocsClient, textOf } from './docs-client.ts';

// A FIFO in the document folder used to wedge every file tool (an open(2) of a FIFO waits for a writer). Each
// call here is bounded: a tool that blocks fails the test by its timeout instead of hanging the suite.

let base: string;
let docs: string;
let client: Client;
let call: (tool: string, args: Record<string, unknown>) => Promise<CallToolResult>;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'repartee-docs-fifo-'));
  docs = path.join(base, 'docs');
  await mkdir(path.join(docs, 'notes'), { recursive: true });
  await writeFile(path.join(docs, 'notes', 'plan.md'), '# Plan\nbudget review\n');
  await promisify(execFile)('mkfifo', [path.join(docs, 'notes', 'pipe.md'), path.join(base, 'outside-pipe')]);
  await symlink('pipe.md', path.join(docs, 'notes', 'pipe-link.md'));
  ({ client, call } = await connectDocsClient(docs, 'fifo', { timeoutMs: 10_000 }));
});

afterAll(async () => {
  await client?.close();
  await rm(base, { recursive: true, force: true });
});

describe('a FIFO in the document folder', () => {
  it('is refused by every tool, and the tools keep answering', async () => {
    for (let round = 0; round < 10; round++) {
      const read = await call('read', { path: 'notes/pipe.md' });
      expect(read.isError).toBe(true);
      expect(textOf(read)).toBe('notes/pipe.md is a named pipe (FIFO), not a text document');
      const viaLink = await call('read', { path: 'notes/pipe-link.md' });
      expect(viaLink.isError).toBe(true);
      expect(textOf(viaLink)).toMatch(/named pipe/);
      const write = await call('edit', { path: 'notes/pipe.md', content: 'x' });
      expect(write.isError).toBe(true);
      expect(textOf(write)).toMatch(/not a file|named pipe/);
      expect(textOf(await call('read', { path: 'notes/plan.md' }))).toContain('budget review');
    }
    const listed = textOf(await call('list', { path: 'notes' }));
    expect(listed).toContain('notes/plan.md');
    expect(listed).not.toContain('pipe');
    expect(textOf(await call('search', { query: 'budget' }))).toBe('notes/plan.md:2: budget review');
    expect(textOf(await call('analyze', { path: 'notes' }))).toMatch(/^1 document\(s\)/);
    expect(textOf(await call('compare', { a: 'notes/plan.md', b: 'notes/pipe.md' }))).toMatch(/named pipe/);
  }, 60_000);

  it('swapped in for a regular file mid-request (rename in a tight loop), it never wedges a read', async () => {
    await writeFile(path.join(docs, 'notes', 'swap.md'), 'regular text\n');
    await promisify(execFile)('mkfifo', [path.join(docs, 'notes', 'parked-fifo')]);
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const at = (n) => process.argv[1] + '/' + n;
         const end = Date.now() + 2000;
         while (Date.now() < end) {
           fs.renameSync(at('swap.md'), at('parked-file'));
           fs.renameSync(at('parked-fifo'), at('swap.md'));
           fs.renameSync(at('swap.md'), at('parked-fifo'));
           fs.renameSync(at('parked-file'), at('swap.md'));
         }`,
        path.join(docs, 'notes'),
      ],
      { stdio: 'inherit' },
    );
    let running = true;
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => {
        running = false;
        resolve(code);
      }),
    );
    const answers = { text: 0, refused: 0 };
    while (running) {
      const read = await call('read', { path: 'notes/swap.md' });
      if (read.isError) answers.refused++;
      else {
        expect(textOf(read)).toContain('regular text');
        answers.text++;
      }
    }
    expect(await exited).toBe(0);
    console.log(`fifo swap: ${answers.text} reads answered with the text, ${answers.refused} refused`);
    expect(answers.text + answers.refused).toBeGreaterThan(0);
    expect(await readdir(path.join(docs, 'notes'))).toContain('swap.md');
  }, 60_000);
});
