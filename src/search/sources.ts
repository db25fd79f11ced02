import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';

/** A document the index may read: its path relative to the root and a stamp that changes when it does. */
export interface SourceEntry {
  /** Relative to the root, with forward slashes. */
  path: string;
  /** Changes when the file does (mtime and size; size alone where the mtime is not offered). */
  stamp: string;
  size: number;
}

/**
 * Where the docs index reads documents from: the plain file system (retrieval before the LLM call), or the docs
 * server's confined DocumentRoot (no link out of the root, no FIFO, no swap race) for its search tool.
 */
export interface DocumentSource {
  /** The folder watched for changes (an absolute path). */
  readonly root: string;
  list(): Promise<SourceEntry[]>;
  /** The text, or undefined for what is not a readable text document (binary, vanished, refused). */
  read(path: string): Promise<string | undefined>;
}

export const TEXT_EXTENSIONS = ['.md', '.markdown', '.txt'] as const;

/** Markdown and plain-text files under `root` (dot files and node_modules left out), read from the file system. */
export function fileSystemSource(
  root: string,
  extensions: readonly string[] = TEXT_EXTENSIONS,
): DocumentSource {
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await walk(path)));
      else if (entry.isFile() && extensions.includes(extname(entry.name).toLowerCase())) out.push(path);
    }
    return out;
  };
  return {
    root,
    async list() {
      await stat(root); // a missing root is an error, not an empty index
      const entries: SourceEntry[] = [];
      for (const path of await walk(root)) {
        const info = await stat(path).catch(() => undefined); // removed while we looked
        if (!info?.isFile()) continue;
        const source = relative(root, path).split(sep).join('/');
        entries.push({ path: source, size: info.size, stamp: `${info.mtimeMs}:${info.size}` });
      }
      return entries;
    },
    async read(path) {
      const text = await readFile(join(root, path), 'utf8').catch(() => undefined);
      return text === undefined || text.includes('\u0000') ? undefined : text;
    },
  };
}
