import { constants, type Stats } from 'node:fs';
import { type FileHandle, lstat, open, readlink, stat } from 'node:fs/promises';
import path from 'node:path';
import { DocsError, fsError } from './errors.ts';

/**
 * Race-proof confinement to one folder, built on Linux descriptors. A path string is resolved by the kernel anew
 * on every call, so "check the real path, then open it" can be beaten by swapping a folder for a symlink in
 * between. Here every step works on a descriptor instead: a folder is opened component by component (a name is
 * looked up inside the already-opened parent as `/proc/self/fd/<parent>/<name>`, so the parent's own path is
 * never walked again), and each descriptor that could lead elsewhere (a followed link, the final folder, the
 * opened file) has its real location read back from `/proc/self/fd/<fd>` and is refused and closed unless it
 * lies inside the root.
 */

/** An opened folder inside the root. Close it when done. */
export interface OpenFolder {
  handle: FileHandle;
  /** `/proc/self/fd/<fd>`: names joined to it are looked up in this very folder, wherever it has moved. */
  proc: string;
  /** Where the folder really is, relative to the root ('.' for the root). */
  relative: string;
  /** Its identity, for locks that must hold however the folder is named. */
  id: string;
  close(): Promise<void>;
}

/** An opened regular file inside the root. */
export interface OpenFile {
  handle: FileHandle;
  info: Stats;
  /** Where the file really is, relative to the root (after any link). */
  relative: string;
  /** The name opened was a symbolic link (to `relative`). */
  viaLink: boolean;
}

// (libuv opens every descriptor with O_CLOEXEC already.)
const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY;
// O_NONBLOCK: opening a FIFO (swapped in after the lstat) returns at once instead of waiting for a writer.
const FILE_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

export class Confinement {
  constructor(readonly realRoot: string) {}

  /** True for the root itself and anything below it. */
  contains(absolute: string): boolean {
    return absolute === this.realRoot || absolute.startsWith(this.realRoot + path.sep);
  }

  relativeOf(absolute: string): string {
    return path.relative(this.realRoot, absolute).split(path.sep).join('/') || '.';
  }

  /**
   * Opens the folder `parts` (root-relative names, already free of `..` and empty parts). A symbolic link on the
   * way is followed only by opening it and checking where the descriptor landed; `followLinks: false` refuses
   * links instead (for a path that is already a real path).
   */
  async openFolder(
    parts: readonly string[],
    display: string,
    { followLinks = true } = {},
  ): Promise<OpenFolder> {
    let folder = await this.openRoot();
    try {
      for (let i = 0; i < parts.length; i++) {
        const name = parts.slice(0, i + 1).join('/');
        const next = await this.openChildFolder(folder, parts[i], name, followLinks);
        await folder.close();
        folder = next;
      }
      // The last folder is where files will be read or created: it must be inside now, whatever moved meanwhile.
      folder.relative = await this.verifiedRelative(folder.handle, display);
      return folder;
    } catch (error) {
      await folder.close();
      throw error;
    }
  }

  /**
   * Opens the regular file `name` in `folder`. Anything else (a FIFO, a device, a socket, a folder) is refused
   * before it is opened, and again from the opened descriptor in case it was swapped in between.
   */
  async openFile(folder: OpenFolder, name: string, display: string): Promise<OpenFile> {
    const entry = `${folder.proc}/${name}`;
    const own = await lstat(entry).catch((error) => {
      throw fsError(error, display);
    });
    const viaLink = own.isSymbolicLink();
    if (viaLink) {
      // Look at where the link points before opening it: a link to a device is never opened.
      const target = await stat(entry).catch((error) => {
        throw linkError(error, display);
      });
      if (!target.isFile()) throw notAFile(target, display);
    } else if (!own.isFile()) {
      throw notAFile(own, display);
    }
    const handle = await open(entry, viaLink ? FILE_FLAGS : FILE_FLAGS | constants.O_NOFOLLOW).catch(
      (error) => {
        throw viaLink ? linkError(error, display) : changedWhileOpening(error, display);
      },
    );
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw notAFile(info, display);
      const relative = await this.verifiedRelative(handle, display);
      return { handle, info, relative, viaLink };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Reads back where an opened descriptor really is; refuses anything outside the root. */
  async verifiedRelative(handle: FileHandle, display: string): Promise<string> {
    const real = await readlink(`/proc/self/fd/${handle.fd}`).catch((error) => {
      throw fsError(error, display);
    });
    if (!this.contains(real))
      throw new DocsError('outside_root', `${display} leads outside the document root`);
    return this.relativeOf(real);
  }

  private async openRoot(): Promise<OpenFolder> {
    const handle = await open(this.realRoot, DIRECTORY_FLAGS | constants.O_NOFOLLOW).catch((error) => {
      throw fsError(error, 'the document root');
    });
    try {
      const real = await readlink(`/proc/self/fd/${handle.fd}`);
      if (real !== this.realRoot)
        throw new DocsError('io', 'the document root has moved; restart the server');
      return await wrapFolder(handle, '.');
    } catch (error) {
      await handle.close();
      throw fsError(error, 'the document root');
    }
  }

  private async openChildFolder(
    parent: OpenFolder,
    part: string,
    display: string,
    followLinks: boolean,
  ): Promise<OpenFolder> {
    const entry = `${parent.proc}/${part}`;
    const own = await lstat(entry).catch((error) => {
      throw fsError(error, display);
    });
    if (own.isSymbolicLink()) {
      if (!followLinks)
        throw new DocsError('invalid', `${display} changed while it was being opened; try again`);
      const handle = await open(entry, DIRECTORY_FLAGS).catch((error) => {
        throw linkError(error, display, 'not_a_directory');
      });
      try {
        // A followed link may land anywhere: check the descriptor before looking inside it.
        const relative = await this.verifiedRelative(handle, display);
        return await wrapFolder(handle, relative);
      } catch (error) {
        await handle.close();
        throw error;
      }
    }
    if (!own.isDirectory()) throw new DocsError('not_a_directory', `${display} is not a folder`);
    const handle = await open(entry, DIRECTORY_FLAGS | constants.O_NOFOLLOW).catch((error) => {
      throw changedWhileOpening(error, display);
    });
    try {
      return await wrapFolder(handle, parent.relative === '.' ? part : `${parent.relative}/${part}`);
    } catch (error) {
      await handle.close();
      throw fsError(error, display);
    }
  }
}

async function wrapFolder(handle: FileHandle, relative: string): Promise<OpenFolder> {
  const info = await handle.stat();
  let closed = false;
  return {
    handle,
    proc: `/proc/self/fd/${handle.fd}`,
    relative,
    id: `${info.dev}:${info.ino}`,
    async close() {
      if (closed) return;
      closed = true;
      await handle.close().catch(() => undefined);
    },
  };
}

function notAFile(info: Stats, display: string): DocsError {
  if (info.isDirectory()) return new DocsError('not_a_file', `${display} is not a file`);
  const kind = info.isFIFO()
    ? 'a named pipe (FIFO)'
    : info.isSocket()
      ? 'a socket'
      : info.isCharacterDevice() || info.isBlockDevice()
        ? 'a device'
        : 'not a regular file';
  return new DocsError('not_a_file', `${display} is ${kind}, not a text document`);
}

/** A link whose target vanished, loops, or is not what was needed. */
function linkError(error: unknown, display: string, notThere: 'not_found' | 'not_a_directory' = 'not_found') {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new DocsError('outside_root', `${display} is a link that leads nowhere`);
  if (code === 'ENOTDIR' && notThere === 'not_a_directory')
    return new DocsError('not_a_directory', `${display} is not a folder`);
  return fsError(error, display);
}

/** The lstat saw a plain entry, the no-follow open found something else: it was swapped in between. */
function changedWhileOpening(error: unknown, display: string): DocsError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'ENXIO')
    return new DocsError('invalid', `${display} changed while it was being opened; try again`);
  return fsError(error, display);
}
