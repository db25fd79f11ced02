import { constants, type Stats } from 'node:fs';
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { Confinement, type OpenFolder } from './descriptors.ts';
import { DocsError, fsError } from './errors.ts';
import { KeyedQueue } from './file-lock.ts';
import { BACKUP_SUFFIX, replaceInFolder, TEMP_PREFIX } from './replace.ts';
import { contentVersion, normaliseVersion, readAllAt } from './versions.ts';

export { DocsError, type DocsErrorCode } from './errors.ts';
export { BACKUP_SUFFIX } from './replace.ts';

export interface DocumentRootOptions {
  /** Largest document read or written, in bytes. */
  maxFileBytes?: number;
  /**
   * After replacing a file, how long to watch the replaced file for a write by an outside program that opened it
   * just before the rename (such bytes are appended to the new file, other changes undo the edit). Default 5 ms.
   */
  outsideWriteSettleMs?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;
const DEFAULT_SETTLE_MS = 5;

export interface DirectoryEntry {
  path: string;
  type: 'file' | 'directory';
  size: number;
  /** Content version of a file within the size limit (when asked for). */
  version?: string;
}

export interface TextDocument {
  path: string;
  text: string;
  size: number;
  /** Pass it back as the base version of an edit. */
  version: string;
}

export interface WriteResult {
  path: string;
  created: boolean;
  backup?: string;
  /** Version of the document as written (the base for the next edit). */
  version: string;
  /** Bytes an outside program appended while the file was being replaced; they were kept at the end. */
  mergedBytes: number;
}

/**
 * One folder the documents live in. Paths are checked lexically first (absolute paths, `..` and NUL refused
 * before touching the disk), then every file and folder is reached through descriptors whose real location is
 * verified (see descriptors.ts), so a folder swapped for a link mid-request cannot lead outside. Writes are
 * checked against the version the client based them on, one at a time per file.
 */
export class DocumentRoot {
  readonly maxFileBytes: number;
  private readonly settleMs: number;
  private readonly confinement: Confinement;
  /** In-process writers of one file take turns: the check-and-replace of one never interleaves another's. */
  private readonly writers = new KeyedQueue();

  private constructor(
    readonly realRoot: string,
    options: DocumentRootOptions,
  ) {
    this.maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    this.settleMs = options.outsideWriteSettleMs ?? DEFAULT_SETTLE_MS;
    this.confinement = new Confinement(realRoot);
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

  /** Reads a UTF-8 text document; binary, oversized and non-regular files (FIFOs, devices) are refused. */
  async readText(input: string): Promise<TextDocument> {
    const { parents, name, display, folderOnly } = this.parse(input);
    if (name === undefined || folderOnly)
      throw new DocsError('not_a_file', `${input.trim()} names a folder, not a file`);
    const folder = await this.confinement.openFolder(parents, display);
    try {
      const file = await this.confinement.openFile(folder, name, display);
      try {
        if (file.info.size > this.maxFileBytes) {
          throw new DocsError(
            'too_large',
            `${file.relative} is ${file.info.size} bytes; the limit is ${this.maxFileBytes} bytes`,
          );
        }
        const bytes = await readAllAt(file.handle, this.maxFileBytes, file.relative).catch((error) => {
          throw fsError(error, file.relative);
        });
        const text = decodeText(bytes, file.relative);
        return { path: file.relative, text, size: bytes.length, version: contentVersion(bytes) };
      } finally {
        await file.handle.close();
      }
    } finally {
      await folder.close();
    }
  }

  /**
   * Replaces (or creates) a document atomically: the new text goes to a temporary file in the same folder which
   * is renamed over the old one if, right before the rename, the old one is still `baseVersion`. An existing
   * document needs its base version; without one only a new document is created. The replaced version is kept
   * as `<name>.bak`.
   */
  async writeText(
    input: string,
    text: string,
    { baseVersion }: { baseVersion?: string } = {},
  ): Promise<WriteResult> {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > this.maxFileBytes) {
      throw new DocsError(
        'too_large',
        `the new text is ${bytes.length} bytes; the limit is ${this.maxFileBytes}`,
      );
    }
    const base = baseVersion === undefined ? undefined : normaliseVersion(baseVersion);
    let { parents, name, display, folderOnly } = this.parse(input);
    if (name === undefined || folderOnly)
      throw new DocsError('not_a_file', `${input.trim()} names a folder, not a file`);
    let folder = await this.confinement.openFolder(parents, display);
    try {
      const own = await lstat(`${folder.proc}/${name}`).catch((error) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw fsError(error, display);
      });
      if (own?.isSymbolicLink()) {
        // Writing through a link replaces the file it leads to (inside the root), never the link.
        const file = await this.confinement.openFile(folder, name, display);
        await file.handle.close();
        await folder.close();
        ({ parents, name, display } = this.parse(file.relative));
        folder = await this.confinement.openFolder(parents, display, { followLinks: false });
      } else if (own && !own.isFile()) {
        throw new DocsError('not_a_file', `${display} is not a file`);
      }
      const target = name as string;
      if (target.startsWith(TEMP_PREFIX)) throw new DocsError('invalid', 'reserved file name');
      const relative = folder.relative === '.' ? target : `${folder.relative}/${target}`;
      const opened = folder;
      const result = await this.writers.run(`${opened.id}/${target}`, () =>
        replaceInFolder(this.confinement, {
          folder: opened,
          name: target,
          display: relative,
          bytes,
          baseVersion: base,
          maxFileBytes: this.maxFileBytes,
          settleMs: this.settleMs,
        }),
      );
      return { path: relative, ...result };
    } finally {
      await folder.close();
    }
  }

  /** Lists a folder (recursively: at most `limit` entries). Links are listed only when they stay inside. */
  async list(
    input: string,
    { recursive = false, limit = 500, versions = false } = {},
  ): Promise<{ entries: DirectoryEntry[]; truncated: boolean }> {
    const { parents, name, display } = this.parse(input);
    const queue: string[][] = [name === undefined ? parents : [...parents, name]];
    const entries: DirectoryEntry[] = [];
    let first = true;
    while (queue.length > 0) {
      const parts = queue.shift() as string[];
      const folder = await this.confinement
        .openFolder(parts, first ? display : parts.join('/'))
        .catch((error: unknown) => {
          if (first) throw error;
          return undefined; // a subfolder that vanished or moved out since it was listed
        });
      first = false;
      if (!folder) continue;
      try {
        const names = (
          await readdir(folder.proc).catch((error) => {
            throw fsError(error, folder.relative);
          })
        ).sort();
        for (const child of names) {
          if (child.startsWith(TEMP_PREFIX)) continue;
          const described = await this.describe(folder, child, versions);
          if (!described) continue;
          if (entries.length >= limit) return { entries, truncated: true };
          entries.push(described.entry);
          if (recursive && described.entry.type === 'directory' && !described.viaLink)
            queue.push(described.entry.path.split('/'));
        }
      } finally {
        await folder.close();
      }
    }
    return { entries, truncated: false };
  }

  /** Every document under a folder (backups left out), or the one file, in a stable order. */
  async files(input: string, limit = 10_000): Promise<DirectoryEntry[]> {
    const { parents, name, display, folderOnly } = this.parse(input);
    if (name !== undefined) {
      const folder = await this.confinement.openFolder(parents, display);
      try {
        const target = await stat(`${folder.proc}/${name}`).catch((error) => {
          throw fsError(error, display);
        });
        if (!target.isDirectory()) {
          if (folderOnly) throw new DocsError('not_a_directory', `${display} is not a folder`);
          const file = await this.confinement.openFile(folder, name, display);
          await file.handle.close();
          return [{ path: file.relative, type: 'file', size: file.info.size }];
        }
      } finally {
        await folder.close();
      }
    }
    const { entries } = await this.list(input, { recursive: true, limit });
    // Backups would repeat every match of the document they back up.
    return entries.filter((e) => e.type === 'file' && !e.path.endsWith(BACKUP_SUFFIX));
  }

  /** One entry of an opened folder; undefined for what is not listed (links out, FIFOs, vanished names). */
  private async describe(
    folder: OpenFolder,
    name: string,
    withVersion: boolean,
  ): Promise<{ entry: DirectoryEntry; viaLink: boolean } | undefined> {
    const entry = `${folder.proc}/${name}`;
    const path = folder.relative === '.' ? name : `${folder.relative}/${name}`;
    const own = await lstat(entry).catch(() => undefined);
    if (!own) return undefined;
    const viaLink = own.isSymbolicLink();
    let info: Stats = own;
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      if (viaLink || (own.isFile() && withVersion)) {
        // Opened, not stat'ed by name: only the descriptor says for sure where a link leads.
        const flags = constants.O_RDONLY | constants.O_NONBLOCK;
        handle = await open(entry, viaLink ? flags : flags | constants.O_NOFOLLOW).catch(() => undefined);
        if (!handle) return undefined;
        const inside = await this.confinement.verifiedRelative(handle, path).then(
          () => true,
          () => false,
        );
        if (!inside) return undefined;
        info = await handle.stat();
      }
      const type = info.isDirectory() ? 'directory' : info.isFile() ? 'file' : undefined;
      if (!type) return undefined;
      const listed: DirectoryEntry = { path, type, size: type === 'file' ? info.size : 0 };
      if (type === 'file' && withVersion && handle && info.size <= this.maxFileBytes) {
        const bytes = await readAllAt(handle, this.maxFileBytes, path).catch(() => undefined);
        if (bytes) listed.version = contentVersion(bytes);
      }
      return { entry: listed, viaLink };
    } finally {
      await handle?.close();
    }
  }

  /** Splits a client path into root-relative names, refusing what could leave the root before any disk access. */
  private parse(input: string): {
    parents: string[];
    name: string | undefined;
    display: string;
    folderOnly: boolean;
  } {
    if (typeof input !== 'string') throw new DocsError('invalid', 'a path must be a string');
    const trimmed = input.trim() || '.';
    if (trimmed.includes('\0')) throw new DocsError('invalid', 'a path must not contain NUL characters');
    if (trimmed.startsWith('/') || /^[a-zA-Z]:/.test(trimmed) || trimmed.startsWith('\\')) {
      // Not echoed: an absolute path may name a place the answer should not repeat.
      throw new DocsError('outside_root', 'absolute paths are refused; use a path inside the root');
    }
    if (trimmed.split(/[\\/]+/).includes('..')) {
      throw new DocsError('outside_root', `${trimmed}: ".." is refused; use a path inside the root`);
    }
    const parts = trimmed.split('/').filter((part) => part !== '' && part !== '.');
    const display = parts.join('/') || '.';
    // A final "/" names a folder, as in POSIX: "plan.md/" is not the file plan.md.
    const folderOnly = /[\\/]$/.test(trimmed);
    if (parts.length === 0) return { parents: [], name: undefined, display, folderOnly: true };
    return { parents: parts.slice(0, -1), name: parts.at(-1), display, folderOnly };
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
