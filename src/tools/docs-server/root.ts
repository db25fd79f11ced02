import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export type DocsErrorCode =
  | 'outside_root'
  | 'not_found'
  | 'not_a_file'
  | 'not_a_directory'
  | 'too_large'
  | 'binary'
  | 'invalid';

/** A refusal the client can read; the server answers it as a tool error and carries on. */
export class DocsError extends Error {
  constructor(
    readonly code: DocsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DocsError';
  }
}

export interface DocumentRootOptions {
  /** Largest document read or written, in bytes. */
  maxFileBytes?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
export const BACKUP_SUFFIX = '.bak';
const TEMP_PREFIX = '.repartee-docs-';

export interface ResolvedPath {
  /** Real absolute path (symlinks resolved), always inside the root. */
  absolute: string;
  /** Path relative to the root, with forward slashes ('.' for the root). */
  relative: string;
}

export interface DirectoryEntry {
  path: string;
  type: 'file' | 'directory';
  size: number;
}

/**
 * One folder the documents live in. Every path is checked against it: absolute paths and `..` are refused
 * before touching the disk, and a path whose real location (after symlinks) is outside is refused too.
 */
export class DocumentRoot {
  readonly maxFileBytes: number;

  private constructor(
    readonly realRoot: string,
    options: DocumentRootOptions,
  ) {
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  }

  static async open(root: string, options: DocumentRootOptions = {}): Promise<DocumentRoot> {
    let real: string;
    try {
      real = await realpath(root);
    } catch {
      throw new DocsError('not_found', `document root ${root} does not exist`);
    }
    if (!(await stat(real)).isDirectory()) throw new DocsError('not_a_directory', `${root} is not a folder`);
    return new DocumentRoot(real, options);
  }

  /** Resolves a client path; `mustExist: false` allows a new file in an existing folder. */
  async resolve(input: string, { mustExist = true } = {}): Promise<ResolvedPath> {
    const lexical = this.lexicalPath(input);
    let real: string;
    try {
      real = await realpath(lexical);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (mustExist) throw new DocsError('not_found', `${input} does not exist`);
      // A new file: its folder must exist and really be inside; the name itself must not be a dangling link.
      const parent = await this.resolve(path.dirname(path.relative(this.realRoot, lexical)) || '.');
      const candidate = path.join(parent.absolute, path.basename(lexical));
      const existing = await lstat(candidate).catch(() => undefined);
      if (existing?.isSymbolicLink())
        throw new DocsError('outside_root', `${input} is a link that leads nowhere`);
      return { absolute: candidate, relative: this.relativeOf(candidate) };
    }
    if (!this.contains(real)) throw new DocsError('outside_root', `${input} leads outside the document root`);
    return { absolute: real, relative: this.relativeOf(real) };
  }

  /** Reads a UTF-8 text document; binary and oversized files are refused. */
  async readText(input: string): Promise<{ path: string; text: string; size: number }> {
    const { absolute, relative } = await this.resolve(input);
    // O_NOFOLLOW: the real path was checked; a link swapped in since then is refused rather than followed.
    const handle = await open(absolute, constants.O_RDONLY | constants.O_NOFOLLOW).catch((error) => {
      throw new DocsError('invalid', `${input} cannot be opened: ${(error as Error).message}`);
    });
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new DocsError('not_a_file', `${relative} is not a file`);
      if (info.size > this.maxFileBytes) {
        throw new DocsError(
          'too_large',
          `${relative} is ${info.size} bytes; the limit is ${this.maxFileBytes} bytes`,
        );
      }
      const bytes = await handle.readFile();
      return { path: relative, text: decodeText(bytes, relative), size: info.size };
    } finally {
      await handle.close();
    }
  }

  /**
   * Replaces (or creates) a document atomically: the new text goes to a temporary file in the same folder
   * which is then renamed over the old one. The previous version is kept as `<name>.bak`.
   */
  async writeText(input: string, text: string): Promise<{ path: string; created: boolean; backup?: string }> {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > this.maxFileBytes) {
      throw new DocsError(
        'too_large',
        `the new text is ${bytes.length} bytes; the limit is ${this.maxFileBytes}`,
      );
    }
    const { absolute, relative } = await this.resolve(input, { mustExist: false });
    if (path.basename(absolute).startsWith(TEMP_PREFIX)) throw new DocsError('invalid', 'reserved file name');
    const existing = await stat(absolute).catch(() => undefined);
    if (existing && !existing.isFile()) throw new DocsError('not_a_file', `${relative} is not a file`);
    let backup: string | undefined;
    if (existing) {
      const { text: previous } = await this.readText(relative);
      backup = `${absolute}${BACKUP_SUFFIX}`;
      await atomicWrite(backup, Buffer.from(previous, 'utf8'), existing);
    }
    await atomicWrite(absolute, bytes, existing);
    return { path: relative, created: !existing, ...(backup ? { backup: this.relativeOf(backup) } : {}) };
  }

  /** Lists a folder (recursively: at most `limit` entries). Links are listed only when they stay inside. */
  async list(
    input: string,
    { recursive = false, limit = 500 } = {},
  ): Promise<{
    entries: DirectoryEntry[];
    truncated: boolean;
  }> {
    const start = await this.resolve(input);
    if (!(await stat(start.absolute)).isDirectory()) {
      throw new DocsError('not_a_directory', `${start.relative} is not a folder`);
    }
    const entries: DirectoryEntry[] = [];
    const queue = [start.absolute];
    let truncated = false;
    while (queue.length > 0) {
      const folder = queue.shift()!;
      const names = (await readdir(folder)).sort();
      for (const name of names) {
        if (name.startsWith(TEMP_PREFIX)) continue;
        const entry = await this.describe(path.join(folder, name));
        if (!entry) continue;
        if (entries.length >= limit) {
          truncated = true;
          break;
        }
        entries.push(entry.entry);
        if (recursive && entry.entry.type === 'directory' && !entry.viaLink) queue.push(entry.real);
      }
      if (truncated) break;
    }
    return { entries, truncated };
  }

  /** Every document under a folder (backups left out), or the one file, in a stable order. */
  async files(input: string, limit = 10_000): Promise<DirectoryEntry[]> {
    const start = await this.resolve(input);
    const info = await stat(start.absolute);
    if (info.isFile()) return [{ path: start.relative, type: 'file', size: info.size }];
    const { entries } = await this.list(start.relative, { recursive: true, limit });
    // Backups would repeat every match of the document they back up.
    return entries.filter((e) => e.type === 'file' && !e.path.endsWith(BACKUP_SUFFIX));
  }

  private async describe(
    absolute: string,
  ): Promise<{ entry: DirectoryEntry; real: string; viaLink: boolean } | undefined> {
    let info: Stats;
    let real = absolute;
    const own = await lstat(absolute).catch(() => undefined);
    if (!own) return undefined;
    if (own.isSymbolicLink()) {
      real = await realpath(absolute).catch(() => '');
      if (!real || !this.contains(real)) return undefined;
      info = await stat(real);
    } else {
      info = own;
    }
    const type = info.isDirectory() ? 'directory' : info.isFile() ? 'file' : undefined;
    if (!type) return undefined;
    return {
      entry: { path: this.relativeOf(absolute), type, size: type === 'file' ? info.size : 0 },
      real,
      viaLink: own.isSymbolicLink(),
    };
  }

  private lexicalPath(input: string): string {
    if (typeof input !== 'string') throw new DocsError('invalid', 'a path must be a string');
    const trimmed = input.trim() || '.';
    if (trimmed.includes('\0')) throw new DocsError('invalid', 'a path must not contain NUL characters');
    if (path.isAbsolute(trimmed) || /^[a-zA-Z]:/.test(trimmed) || trimmed.startsWith('\\')) {
      throw new DocsError(
        'outside_root',
        `${trimmed}: absolute paths are refused; use a path inside the root`,
      );
    }
    if (trimmed.split(/[\\/]+/).includes('..')) {
      throw new DocsError('outside_root', `${trimmed}: ".." is refused; use a path inside the root`);
    }
    const resolved = path.resolve(this.realRoot, trimmed);
    if (!this.contains(resolved))
      throw new DocsError('outside_root', `${trimmed} is outside the document root`);
    return resolved;
  }

  private contains(absolute: string): boolean {
    return absolute === this.realRoot || absolute.startsWith(this.realRoot + path.sep);
  }

  private relativeOf(absolute: string): string {
    return path.relative(this.realRoot, absolute).split(path.sep).join('/') || '.';
  }
}

/** UTF-8 text, or a DocsError for binary content (NUL bytes or invalid UTF-8). */
export function decodeText(bytes: Uint8Array, name: string): string {
  if (bytes.includes(0)) throw new DocsError('binary', `${name} is a binary file, not a text document`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DocsError('binary', `${name} is not UTF-8 text`);
  }
}

async function atomicWrite(target: string, bytes: Uint8Array, previous: Stats | undefined): Promise<void> {
  const temp = path.join(path.dirname(target), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.tmp`);
  // 'wx' (O_EXCL) never follows or reuses an existing name; rename then swaps the directory entry itself.
  const handle = await open(temp, 'wx', previous ? previous.mode & 0o777 : 0o644);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, target);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
