// THE errno map: every error that reaches the kernel goes through toErrno(). A VfsError names
// its errno; a BackendError is mapped by its kind alone; anything else is a bug, reported as EIO
// and logged. Decisions worth knowing (README-worthy):
//   NotFound            ENOENT  (read(2) of a file deleted under an open handle: EIO, see read/)
//   NoSuchBucket        EIO     the mount's bucket vanished: nothing in it is "not found", the mount is broken
//   AccessDenied,
//   InvalidCredentials  EACCES
//   Network, Server,
//   Throttled           EIO     after the backend's retries
//   PreconditionFailed  EIO     the object changed under an open handle; logged
//   Archived            EIO     GLACIER/DEEP_ARCHIVE object not restored: logged with "restore
//                               first" (ENODATA or EAGAIN would make applications wait or retry
//                               for hours; EACCES would suggest a permission problem)
//   TooLarge            EFBIG
//   InvalidName         ENAMETOOLONG when the key would be too long, EINVAL otherwise
//   Aborted             EINTR
//   Other               EIO
// A full or read-only cache disk (ENOSPC, EDQUOT, EROFS from the local file system, under
// whatever wrapped it) is that errno, as a local file system would say it, never EIO.
// And one that depends on the path (toPathErrno): "not found" for a path with a name longer
// than NAME_MAX (255 bytes) is ENAMETOOLONG, as on a local file system. Only when not found:
// an object whose key has such a name (S3 allows 1024 bytes) stays reachable.
import { BackendError, type BackendErrorKind } from '../backend/s3/backend-error.js';
import { VfsError, type ErrnoName } from '../vfs/errors.js';
import { NAME_MAX, isNameTooLong } from '../vfs/paths.js';
import { errnoInChain } from '../util/errors.js';

/** Linux errno numbers (positive); fuse-native wants them negated. */
export const ERRNO: Record<ErrnoName | 'EINTR', number> = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
  ENOTCONN: 107,
  EDQUOT: 122,
};

const BACKEND_ERRNO: Record<BackendErrorKind, ErrnoName | 'EINTR'> = {
  NotFound: 'ENOENT',
  NoSuchBucket: 'EIO',
  AccessDenied: 'EACCES',
  InvalidCredentials: 'EACCES',
  PreconditionFailed: 'EIO',
  Archived: 'EIO',
  TooLarge: 'EFBIG',
  InvalidName: 'EINVAL',
  Network: 'EIO',
  Throttled: 'EIO',
  Server: 'EIO',
  Aborted: 'EINTR',
  Other: 'EIO',
};

export interface MappedError {
  name: ErrnoName | 'EINTR';
  /** negative, as fuse-native callbacks take it */
  code: number;
  /** worth an ERROR log line (the user loses data or access), rather than a DEBUG one */
  serious: boolean;
}

/** toErrno, with ENOENT for a path that has a name over NAME_MAX bytes turned into ENAMETOOLONG */
export function toPathErrno(err: unknown, ...paths: string[]): MappedError {
  const m = toErrno(err);
  if (m.name !== 'ENOENT' || !paths.some(hasOverlongName)) return m;
  return { name: 'ENAMETOOLONG', code: -ERRNO.ENAMETOOLONG, serious: false };
}

function hasOverlongName(path: string): boolean {
  return path.length * 3 > NAME_MAX && path.split('/').some(isNameTooLong);
}

/** what the local disk said, under whatever wraps it: the application gets that, not EIO */
const LOCAL_DISK_ERRNOS = ['ENOSPC', 'EDQUOT', 'EROFS'] as const;

export function toErrno(err: unknown): MappedError {
  let name: ErrnoName | 'EINTR';
  let serious: boolean;
  const disk = err instanceof VfsError && err.code !== 'EIO' ? undefined : errnoInChain(err, LOCAL_DISK_ERRNOS);
  if (disk) {
    // the cache disk is full (or read-only): as a local file system would say it
    name = disk;
    serious = true;
  } else if (err instanceof VfsError) {
    name = err.code;
    serious = name === 'EIO';
  } else if (err instanceof BackendError) {
    name = BACKEND_ERRNO[err.kind] ?? 'EIO';
    if (err.kind === 'InvalidName' && /too long/i.test(err.message)) name = 'ENAMETOOLONG';
    serious = name === 'EIO' || name === 'EACCES' || name === 'EFBIG';
  } else {
    name = 'EIO';
    serious = true;
  }
  return { name, code: -ERRNO[name], serious };
}
