// Errors of the filesystem model. A VfsError names the POSIX errno it stands for (by its code
// name, e.g. 'ENOTEMPTY'), so the FUSE adapter maps it without knowing why it happened; errors
// from the backend pass through the VFS untouched and are mapped by their `kind`.

export type ErrnoName =
  | 'EPERM'
  | 'ENOENT'
  | 'EIO'
  | 'EBADF'
  | 'EBUSY'
  | 'EACCES'
  | 'EEXIST'
  | 'EXDEV'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'EINVAL'
  | 'EFBIG'
  | 'ENOSPC'
  | 'EDQUOT'
  | 'EROFS'
  | 'ENAMETOOLONG'
  | 'ENOSYS'
  | 'ENOTEMPTY'
  | 'ENODATA'
  | 'EOPNOTSUPP'
  | 'ETIMEDOUT'
  | 'ELOOP'
  | 'ENOTCONN';

export class VfsError extends Error {
  readonly code: ErrnoName;
  constructor(code: ErrnoName, message: string, options?: { cause?: unknown }) {
    // an errno is an answer, not a fault of ours: no stack trace is captured (a negative lookup is
    // one of these, and capturing a trace took more of its time than the lookup itself)
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code}: ${message}`, options);
    Error.stackTraceLimit = limit;
    this.name = 'VfsError';
    this.code = code;
  }
}

export function vfsError(code: ErrnoName, message: string, cause?: unknown): VfsError {
  return new VfsError(code, message, cause === undefined ? undefined : { cause });
}
