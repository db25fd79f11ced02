import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, link, lstat, open, rename, unlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Confinement, OpenFolder } from './descriptors.ts';
import { DocsError, fsError } from './errors.ts';
import { lockExclusive } from './flock.ts';
import { contentVersion, readAllAt } from './versions.ts';

export const TEMP_PREFIX = '.repartee-docs-';
export const BACKUP_SUFFIX = '.bak';

export interface ReplaceRequest {
  folder: OpenFolder;
  name: string;
  /** Root-relative name for messages. */
  display: string;
  bytes: Uint8Array;
  /** The version the new text was based on; undefined: the file must not exist yet. */
  baseVersion: string | undefined;
  maxFileBytes: number;
  /** How long to watch the replaced file for a late outside write before the replacement counts as done. */
  settleMs: number;
}

export interface ReplaceResult {
  created: boolean;
  /** Version of the document as it now is. */
  version: string;
  /** Root-relative name of the backup (the replaced version). */
  backup?: string;
  /** Bytes an outside program appended to the old file while it was being replaced, kept at the end. */
  mergedBytes: number;
}

const SETTLE_ROUNDS = 20;

/**
 * Replaces `name` in an opened, verified folder, or creates it. Callers hold the file's in-process lock, so the
 * only other writers are outside programs; against them:
 * - the current content is hashed and compared with `baseVersion` right before the rename (a change since the
 *   client's read is a conflict, nothing is written);
 * - the replaced file stays linked under a temporary name until the replacement has settled, and its descriptor
 *   stays open: bytes an outside program appended to it after the check are appended to the new file, and any
 *   other change to it undoes the replacement and answers a conflict. Its content finally becomes `<name>.bak`.
 * The temporary file is created with O_EXCL inside the verified folder and every name is looked up through that
 * folder's descriptor, whose real path is checked again right before each rename.
 */
export async function replaceInFolder(
  confinement: Confinement,
  request: ReplaceRequest,
): Promise<ReplaceResult> {
  const { folder, name, display } = request;
  const at = (entry: string) => `${folder.proc}/${entry}`;
  const current = await openLockedCurrent(at(name), display);
  const temp = `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeTemp(at(temp), request.bytes, current ? current.info.mode & 0o777 : 0o644, display);
    if (!current) {
      if (request.baseVersion !== undefined)
        throw new DocsError(
          'conflict',
          `${display} no longer exists (it was removed since version ${request.baseVersion})`,
        );
      await confinement.verifiedRelative(folder.handle, display);
      // link(2) fails if the name exists: a file an outside program created meanwhile is never overwritten.
      await link(at(temp), at(name)).catch((error) => {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST')
          throw new DocsError(
            'conflict',
            `${display} was just created by someone else; read it and redo the change`,
          );
        throw fsError(error, display);
      });
      return { created: true, version: contentVersion(request.bytes), mergedBytes: 0 };
    }
    return await replaceExisting(confinement, request, current.handle, temp);
  } finally {
    await unlink(at(temp)).catch(() => undefined);
    await current?.handle.close();
  }
}

async function replaceExisting(
  confinement: Confinement,
  { folder, name, display, bytes, baseVersion, maxFileBytes, settleMs }: ReplaceRequest,
  old: FileHandle,
  temp: string,
): Promise<ReplaceResult> {
  const at = (entry: string) => `${folder.proc}/${entry}`;
  const checked = await readAllAt(old, maxFileBytes, display);
  const currentVersion = contentVersion(checked);
  if (baseVersion === undefined) {
    throw new DocsError(
      'conflict',
      `${display} already exists (version ${currentVersion}); read it, then pass that version as baseVersion`,
    );
  }
  if (currentVersion !== baseVersion) throw conflict(display, baseVersion, currentVersion);
  // Keep the replaced file reachable, and make sure the name still is the file whose content was checked.
  const kept = `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.old`;
  await link(at(name), at(kept)).catch((error) => {
    throw fsError(error, display);
  });
  let keptInUse = true;
  let replaced = false;
  try {
    const [keptInfo, oldInfo] = await Promise.all([lstat(at(kept)), old.stat()]);
    if (keptInfo.ino !== oldInfo.ino || keptInfo.dev !== oldInfo.dev)
      throw new DocsError(
        'conflict',
        `${display} was replaced by someone else; read it again and redo the change`,
      );
    // The last look before the rename: an outside write since the first hash is a conflict too.
    let seen = await readAllAt(old, maxFileBytes, display);
    if (!seen.equals(checked)) throw conflict(display, baseVersion, contentVersion(seen));
    await confinement.verifiedRelative(folder.handle, display);
    // And the name must still be that file: another program may have renamed its own version over it.
    const named = await lstat(at(name)).catch(() => undefined);
    if (!named || named.ino !== oldInfo.ino || named.dev !== oldInfo.dev)
      throw new DocsError(
        'conflict',
        `${display} was replaced by someone else; read it again and redo the change`,
      );
    await rename(at(temp), at(name)).catch((error) => {
      throw fsError(error, display);
    });
    replaced = true;
    // A program that opened the old file just before the rename may still write to it: watch it settle.
    let merged = 0;
    for (let round = 0; round < SETTLE_ROUNDS; round++) {
      await delay(settleMs);
      // Past the size limit is fine here: what another program wrote must not be dropped for being long.
      const now = await readAllAt(old, Number.MAX_SAFE_INTEGER, display);
      if (now.equals(seen)) break;
      if (now.length > seen.length && now.subarray(0, seen.length).equals(seen)) {
        merged += await appendToLive(at(name), now.subarray(seen.length), display);
        seen = now;
        continue;
      }
      if (await undo(confinement, folder, name, kept, bytes, display)) {
        keptInUse = false;
        throw new DocsError(
          'conflict',
          `${display} was changed by another program while being saved; the change was undone ` +
            `(current version ${contentVersion(now)}); read it again and redo the change`,
        );
      }
      // The live file changed too: the other program's version becomes the backup (in finally).
      throw new DocsError(
        'conflict',
        `${display} was changed by other programs while being saved; their earlier version is in ` +
          `${backupName(folder, name)}; read both and redo the change`,
      );
    }
    const backup = `${name}${BACKUP_SUFFIX}`;
    await confinement.verifiedRelative(folder.handle, display);
    const backedUp = await rename(at(kept), at(backup)).then(
      () => true,
      () => false,
    );
    keptInUse = false;
    // No backup possible (say, <name>.bak is a folder): the settled old file holds nothing of anyone else's.
    if (!backedUp) await unlink(at(kept)).catch(() => undefined);
    const version = merged > 0 ? await liveVersion(at(name), maxFileBytes, display) : contentVersion(bytes);
    return {
      created: false,
      version,
      mergedBytes: merged,
      ...(backedUp ? { backup: backupName(folder, name) } : {}),
    };
  } finally {
    // Once replaced, the old file may hold another program's bytes: it becomes the backup, never deleted.
    if (keptInUse && replaced) await rename(at(kept), at(`${name}${BACKUP_SUFFIX}`)).catch(() => undefined);
    else if (keptInUse) await unlink(at(kept)).catch(() => undefined);
  }
}

function backupName(folder: OpenFolder, name: string): string {
  return `${folder.relative === '.' ? '' : `${folder.relative}/`}${name}${BACKUP_SUFFIX}`;
}

function conflict(display: string, baseVersion: string, currentVersion: string): DocsError {
  return new DocsError(
    'conflict',
    `${display} changed since version ${baseVersion} (current version ${currentVersion}); nothing was written. ` +
      'Read it again and redo the change on the current text.',
  );
}

const LOCK_TIMEOUT_MS = 5000;

/**
 * The current file, locked against other repartee-docs processes (flock). A lock waited for may be on a file
 * another process has just replaced: then the name no longer leads to it, and the new one is locked instead.
 */
async function openLockedCurrent(entry: string, display: string) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await openCurrent(entry, display);
    if (!current) return undefined;
    if (!(await lockExclusive(current.handle.fd, { timeoutMs: LOCK_TIMEOUT_MS }))) {
      await current.handle.close();
      throw new DocsError('conflict', `${display} is being saved by another program; try again in a moment`);
    }
    const named = await lstat(entry).catch(() => undefined);
    if (named && named.ino === current.info.ino && named.dev === current.info.dev) return current;
    await current.handle.close();
  }
  throw new DocsError(
    'conflict',
    `${display} keeps being replaced by another program; try again in a moment`,
  );
}

async function openCurrent(entry: string, display: string) {
  const handle = await open(entry, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
    (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ELOOP')
        throw new DocsError('conflict', `${display} became a link while being saved; read it and try again`);
      throw fsError(error, display);
    },
  );
  if (!handle) return undefined;
  const info = await handle.stat();
  if (!info.isFile()) {
    await handle.close();
    throw new DocsError('not_a_file', `${display} is not a file`);
  }
  return { handle, info };
}

async function writeTemp(entry: string, bytes: Uint8Array, mode: number, display: string): Promise<void> {
  // O_EXCL|O_NOFOLLOW: never reuses or follows an existing name.
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(entry, flags, mode).catch((error) => {
    throw fsError(error, display);
  });
  try {
    await handle.writeFile(bytes);
    await handle.chmod(mode);
    await handle.sync();
  } catch (error) {
    throw fsError(error, display);
  } finally {
    await handle.close();
  }
}

/** O_APPEND write: atomic with respect to other appenders of the live file. */
async function appendToLive(entry: string, tail: Uint8Array, display: string): Promise<number> {
  const handle = await open(entry, constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW).catch(
    (error) => {
      throw fsError(error, display);
    },
  );
  try {
    await handle.write(tail);
    return tail.length;
  } finally {
    await handle.close();
  }
}

/** Puts the replaced file back (true), if the live file is still exactly what this replacement wrote. */
async function undo(
  confinement: Confinement,
  folder: OpenFolder,
  name: string,
  kept: string,
  written: Uint8Array,
  display: string,
): Promise<boolean> {
  const at = (entry: string) => `${folder.proc}/${entry}`;
  const live = await openCurrent(at(name), display).catch(() => undefined);
  if (!live) return false;
  try {
    const bytes = await readAllAt(live.handle, Number.MAX_SAFE_INTEGER, display);
    if (!Buffer.from(written).equals(bytes)) return false;
    await confinement.verifiedRelative(folder.handle, display);
    return await rename(at(kept), at(name)).then(
      () => true,
      () => false,
    );
  } finally {
    await live.handle.close();
  }
}

async function liveVersion(entry: string, maxFileBytes: number, display: string): Promise<string> {
  const live = await openCurrent(entry, display);
  if (!live) throw new DocsError('conflict', `${display} was removed while being saved`);
  try {
    return contentVersion(await readAllAt(live.handle, maxFileBytes * 2, display));
  } finally {
    await live.handle.close();
  }
}
