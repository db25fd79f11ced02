import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DocsError, DocumentRoot } from './root.ts';
import { contentVersion } from './versions.ts';

let base: string;
let rootDir: string;
let outside: string;
let root: DocumentRoot;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'repartee-docs-root-'));
  rootDir = path.join(base, 'root');
  outside = path.join(base, 'outside');
  await mkdir(path.join(rootDir, 'notes'), { recursive: true });
  await mkdir(outside);
  await writeFile(path.join(rootDir, 'readme.md'), '# Readme\nhello\n');
  await writeFile(path.join(rootDir, 'notes', 'a.txt'), 'alpha\n');
  await writeFile(path.join(outside, 'secret.txt'), 'top secret\n');
  root = await DocumentRoot.open(rootDir, { maxFileBytes: 1000 });
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DocsError);
  return error as DocsError;
};

describe('DocumentRoot', () => {
  it('reads documents by relative path', async () => {
    expect((await root.readText('readme.md')).text).toBe('# Readme\nhello\n');
    expect((await root.readText('./notes//a.txt')).path).toBe('notes/a.txt');
  });

  it('refuses .., absolute paths and NUL bytes before touching the disk', async () => {
    for (const bad of ['../outside/secret.txt', 'notes/../../outside/secret.txt', 'notes\\..\\..\\x', '..']) {
      expect((await refusal(root.readText(bad))).code).toBe('outside_root');
    }
    expect((await refusal(root.readText(path.join(outside, 'secret.txt')))).code).toBe('outside_root');
    expect((await refusal(root.readText('/etc/passwd'))).code).toBe('outside_root');
    expect((await refusal(root.readText('C:\\Windows\\win.ini'))).code).toBe('outside_root');
    expect((await refusal(root.readText('readme.md\0.txt'))).code).toBe('invalid');
    expect((await refusal(root.writeText('../escape.txt', 'x'))).code).toBe('outside_root');
    expect(await readdir(base)).toEqual(['outside', 'root']);
  });

  it('refuses symlinks that lead out, for files and folders, for reading and writing', async () => {
    await symlink(path.join(outside, 'secret.txt'), path.join(rootDir, 'link.txt'));
    await symlink(outside, path.join(rootDir, 'linkdir'));
    expect((await refusal(root.readText('link.txt'))).code).toBe('outside_root');
    expect((await refusal(root.readText('linkdir/secret.txt'))).code).toBe('outside_root');
    expect((await refusal(root.writeText('link.txt', 'pwned'))).code).toBe('outside_root');
    expect((await refusal(root.writeText('linkdir/new.txt', 'pwned'))).code).toBe('outside_root');
    expect((await refusal(root.list('linkdir'))).code).toBe('outside_root');
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
    expect(await readdir(outside)).toEqual(['secret.txt']);
    // Listings leave links out that lead outside; links that stay inside are fine.
    await symlink(path.join(rootDir, 'readme.md'), path.join(rootDir, 'inside-link.md'));
    const { entries } = await root.list('.', { recursive: true });
    expect(entries.map((e) => e.path).sort()).toEqual([
      'inside-link.md',
      'notes',
      'notes/a.txt',
      'readme.md',
    ]);
    expect((await root.readText('inside-link.md')).text).toContain('hello');
  });

  it('refuses to create a file through a dangling link', async () => {
    await symlink(path.join(outside, 'not-yet.txt'), path.join(rootDir, 'dangling.txt'));
    expect((await refusal(root.writeText('dangling.txt', 'x'))).code).toBe('outside_root');
    expect(await readdir(outside)).toEqual(['secret.txt']);
  });

  it('refuses oversized, binary and non-UTF-8 files, and folders as files', async () => {
    await writeFile(path.join(rootDir, 'big.txt'), 'x'.repeat(1001));
    await writeFile(path.join(rootDir, 'image.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]));
    await writeFile(path.join(rootDir, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9]));
    expect((await refusal(root.readText('big.txt'))).code).toBe('too_large');
    expect((await refusal(root.readText('image.png'))).code).toBe('binary');
    expect((await refusal(root.readText('latin1.txt'))).code).toBe('binary');
    expect((await refusal(root.readText('notes'))).code).toBe('not_a_file');
    expect((await refusal(root.readText('missing.md'))).code).toBe('not_found');
    expect((await refusal(root.writeText('readme.md', 'y'.repeat(1001)))).code).toBe('too_large');
    expect((await refusal(root.writeText('notes', 'text'))).code).toBe('not_a_file');
  });

  it('writes atomically, keeps a backup and leaves no temporary files', async () => {
    const { version } = await root.readText('readme.md');
    const written = await root.writeText('readme.md', '# Readme\nchanged\n', { baseVersion: version });
    expect(written).toEqual({
      path: 'readme.md',
      created: false,
      backup: 'readme.md.bak',
      version: contentVersion(Buffer.from('# Readme\nchanged\n')),
      mergedBytes: 0,
    });
    expect(await readFile(path.join(rootDir, 'readme.md'), 'utf8')).toBe('# Readme\nchanged\n');
    expect(await readFile(path.join(rootDir, 'readme.md.bak'), 'utf8')).toBe('# Readme\nhello\n');
    expect(await root.writeText('notes/new.md', 'new')).toEqual({
      path: 'notes/new.md',
      created: true,
      version: contentVersion(Buffer.from('new')),
      mergedBytes: 0,
    });
    expect((await readdir(rootDir)).sort()).toEqual(['notes', 'readme.md', 'readme.md.bak']);
    expect((await readdir(path.join(rootDir, 'notes'))).sort()).toEqual(['a.txt', 'new.md']);
    // A backup name that is a link out is replaced as a name, never written through.
    await symlink(path.join(outside, 'secret.txt'), path.join(rootDir, 'notes', 'a.txt.bak'));
    await root.writeText('notes/a.txt', 'beta\n', { baseVersion: contentVersion(Buffer.from('alpha\n')) });
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('top secret\n');
    expect(await readFile(path.join(rootDir, 'notes', 'a.txt.bak'), 'utf8')).toBe('alpha\n');
  });

  it('writes only on the version read: no base, a stale base or a vanished file is a conflict', async () => {
    const { version } = await root.readText('readme.md');
    expect((await refusal(root.writeText('readme.md', 'x'))).message).toBe(
      `readme.md already exists (version ${version}); read it, then pass that version as baseVersion`,
    );
    const next = await root.writeText('readme.md', 'second\n', { baseVersion: version });
    const stale = await refusal(root.writeText('readme.md', 'third\n', { baseVersion: version }));
    expect(stale.code).toBe('conflict');
    expect(stale.message).toContain(`changed since version ${version} (current version ${next.version})`);
    expect((await refusal(root.writeText('readme.md', 'x', { baseVersion: 'not a version' }))).code).toBe(
      'invalid',
    );
    expect((await refusal(root.writeText('gone.md', 'x', { baseVersion: version }))).message).toMatch(
      /no longer exists/,
    );
    expect(await readFile(path.join(rootDir, 'readme.md'), 'utf8')).toBe('second\n');
    // Concurrent writers in one process take turns: of ten based on the same version exactly one lands.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        root.writeText('readme.md', `writer ${i}\n`, { baseVersion: next.version }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(
      results.filter((r) => r.status === 'rejected' && (r.reason as DocsError).code === 'conflict'),
    ).toHaveLength(9);
    // Of ten creating one new file, exactly one creates it.
    const creations = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => root.writeText('fresh.md', `${i}`)),
    );
    expect(creations.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await readdir(rootDir)).filter((n) => n.startsWith('.repartee-docs-'))).toEqual([]);
  });

  it('does not open a root that is missing or a file', async () => {
    await expect(DocumentRoot.open(path.join(base, 'nope'))).rejects.toThrow(/does not exist/);
    await expect(DocumentRoot.open(path.join(rootDir, 'readme.md'))).rejects.toThrow(/not a folder/);
  });

  it('files() walks a folder without backups', async () => {
    await root.writeText('readme.md', 'changed', { baseVersion: (await root.readText('readme.md')).version });
    expect((await root.files('.')).map((f) => f.path)).toEqual(['readme.md', 'notes/a.txt']);
    expect((await root.files('notes/a.txt')).map((f) => f.path)).toEqual(['notes/a.txt']);
  });
});
