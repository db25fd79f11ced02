export type DocsErrorCode =
  | 'outside_root'
  | 'not_found'
  | 'not_a_file'
  | 'not_a_directory'
  | 'too_large'
  | 'binary'
  | 'invalid'
  /** The document changed since the version the request was based on: read it again and redo the change. */
  | 'conflict'
  /** The file system refused in a way the client cannot fix by choosing another path. */
  | 'io';

/**
 * A refusal the client can read; the server answers it as a tool error and carries on. Its message names paths
 * only relative to the document root: absolute paths, descriptor paths and library wording never reach a client.
 */
export class DocsError extends Error {
  constructor(
    readonly code: DocsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DocsError';
  }
}

/**
 * Turns a file-system error into a DocsError about `name` (a root-relative name). Node's own messages carry the
 * absolute path that failed, so only the errno code is looked at, never the message.
 */
export function fsError(error: unknown, name: string): DocsError {
  if (error instanceof DocsError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new DocsError('not_found', `${name} does not exist`);
    case 'ENOTDIR':
      return new DocsError('not_a_directory', `${name}: a part of this path is not a folder`);
    case 'EISDIR':
      return new DocsError('not_a_file', `${name} is a folder, not a file`);
    case 'ELOOP':
      return new DocsError('outside_root', `${name}: too many symbolic links (a link loop?)`);
    case 'ENAMETOOLONG':
      return new DocsError('invalid', `${name}: the path or a name in it is too long`);
    case 'EACCES':
    case 'EPERM':
      return new DocsError('io', `${name}: permission denied`);
    case 'EEXIST':
      return new DocsError('conflict', `${name} already exists`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new DocsError('io', `${name}: no space left on the disk`);
    case 'EROFS':
      return new DocsError('io', `${name}: the file system is read-only`);
    default:
      return new DocsError('io', `${name}: the file system refused (${code ?? 'unknown error'})`);
  }
}
