import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDocsClient, textOf } from './docs-client.ts';

// Static escapes from the document root, and what the refusals say: never an absolute path, a descriptor path
// or a library's own wording, only names relative to the root.

let base: string;
let docs: string;
let client: Client;
let call: (tool: string, args: Record<string, unknown>) => Promise<CallToolResult>;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'repartee-docs-escape-'));
  docs = path.join(base, 'docs');
  await mkdir(path.join(docs, 'notes'), { recursive: true });
  await mkdir(path.join(base, 'outside'));
  await writeFile(path.join(docs, 'plan.md'), '# Plan\n');
  await writeFile(path.join(base, 'outside', 'secret.txt'), 'secret\n');
  await symlink(path.join(base, 'outside', 'secret.txt'), path.join(docs, 'link-out.txt'));
  await symlink(path.join(base, 'outside'), path.join(docs, 'dir-out'));
  await symlink('../outside/secret.txt', path.join(docs, 'relative-out.txt'));
  await symlink(path.join(base, 'outside', 'missing.txt'), path.join(docs, 'dangling.txt'));
  await symlink('loop-b', path.join(docs, 'loop-a'));
  await symlink('loop-a', path.join(docs, 'loop-b'));
  await symlink('.', path.join(docs, 'self'));
  ({ client, call } = await connectDocsClient(docs, 'escape'));
});

afterAll(async () => {
  await client?.close();
  await rm(base, { recursive: true, force: true });
});

const escapes = () => [
  '../outside/secret.txt',
  'notes/../../outside/secret.txt',
  'notes\\..\\..\\outside\\secret.txt',
  path.join(base, 'outside', 'secret.txt'),
  '/etc/passwd',
  'C:\\Windows\\win.ini',
  '%2e%2e/outside/secret.txt',
  '..%2foutside%2fsecret.txt',
  'link-out.txt',
  'relative-out.txt',
  'dir-out/secret.txt',
  'self/dir-out/secret.txt',
  'dangling.txt',
  'loop-a',
  'loop-a/x.txt',
  'plan.md/x.txt',
  'plan.md/',
  'notes/missing/deeper/x.txt',
  'plan.md\0.txt',
  `${'x'.repeat(300)}.md`,
  `${'deep/'.repeat(1200)}x.md`,
];

describe('static escapes from the document root', () => {
  it('are refused by read, edit, list, search, compare and analyze, naming only relative paths', async () => {
    const answers: string[] = [];
    for (const bad of escapes()) {
      const calls: [string, Record<string, unknown>][] = [
        ['read', { path: bad }],
        ['edit', { path: bad, content: 'pwned' }],
        ['edit', { path: bad, content: 'pwned', baseVersion: '0123456789abcdef' }],
        ['list', { path: bad }],
        ['search', { query: 'secret', path: bad }],
        ['compare', { a: 'plan.md', b: bad }],
        ['analyze', { path: bad }],
      ];
      for (const [name, args] of calls) {
        const result = await call(name, args);
        const text = textOf(result);
        answers.push(text);
        // Percent signs are plain characters in a file name: that one is a new document inside the root.
        const literalName = bad === '..%2foutside%2fsecret.txt';
        if (!literalName) expect(result.isError, `${name} ${bad.slice(0, 60)}: ${text}`).toBe(true);
        expect(text, `${name} ${bad.slice(0, 60)}`).not.toContain('secret\n');
        expect(text).not.toContain(base);
        expect(text).not.toContain(tmpdir());
        expect(text).not.toContain('/proc/self');
        expect(text).not.toMatch(/ENOENT|ELOOP|ENOTDIR|ENAMETOOLONG|EISDIR/);
      }
    }
    expect(await readdir(path.join(base, 'outside'))).toEqual(['secret.txt']);
    expect(await readFile(path.join(base, 'outside', 'secret.txt'), 'utf8')).toBe('secret\n');
    expect(await readFile(path.join(docs, '..%2foutside%2fsecret.txt'), 'utf8')).toBe('pwned');
    expect((await readdir(docs)).filter((n) => n.startsWith('.repartee'))).toEqual([]);
  }, 120_000);

  it('say what is wrong, in words a model can act on', async () => {
    const said = async (p: string) => textOf(await call('read', { path: p }));
    expect(await said('loop-a')).toBe('loop-a: too many symbolic links (a link loop?)');
    expect(await said('plan.md/x.txt')).toBe('plan.md is not a folder');
    expect(await said('link-out.txt')).toBe('link-out.txt leads outside the document root');
    expect(await said('dangling.txt')).toBe('dangling.txt is a link that leads nowhere');
    expect(await said('dir-out/secret.txt')).toBe('dir-out leads outside the document root');
    expect(await said('notes/missing/deeper/x.txt')).toBe('notes/missing does not exist');
    expect(await said('../outside/secret.txt')).toBe(
      '../outside/secret.txt: ".." is refused; use a path inside the root',
    );
    // A link inside the root that stays inside is fine.
    expect(await said('self/plan.md')).toContain('# Plan');
  });
});
