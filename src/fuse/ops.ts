// The fuse-native operations table: argument translation between fuse-native's callbacks and
// the Vfs, and errors through the one errno map. Nothing else happens here.
//
// Operations not in this table are answered ENOSYS by libfuse, which the kernel remembers:
// the extended-attribute calls (getxattr/setxattr/listxattr/removexattr) then fail with
// EOPNOTSUPP without ever reaching us again (S3 has no xattrs), fsyncdir becomes a no-op, and
// opendir/releasedir are handled by libfuse itself.
import type { FuseOps, FuseStat, FuseTime } from 'fuse-native';
import type { Logger } from '../util/log.js';
import type { Vfs, VfsAttr } from '../vfs/vfs.js';
import { ERRNO, toErrno } from './errno.js';

/** st_blksize: cp and friends size their buffers from it, and big_writes takes 1 MiB writes. */
const BLKSIZE = 1024 * 1024;

// Times go to the kernel to the nanosecond (mtimeNs; the millisecond fields are what an
// unpatched binding would read). S3 keeps one time: atime and ctime show the mtime.
export function toFuseStat(a: VfsAttr): FuseStat {
  const ms = Number(a.mtimeNs / 1_000_000n);
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    // 1 for directories too: find(1) then knows not to trust the link count for leaf optimisation
    nlink: 1,
    blksize: BLKSIZE,
    blocks: Math.ceil(a.size / 512),
    atime: ms,
    mtime: ms,
    ctime: ms,
    atimeNs: a.mtimeNs,
    mtimeNs: a.mtimeNs,
    ctimeNs: a.mtimeNs,
  };
}

/** UTIME_NOW: the current time (to the millisecond) */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

type Done = (code: number, ...values: unknown[]) => void;

export function createFuseOps(vfs: Vfs, log: Logger): FuseOps {
  const readOnly = vfs.opts.readOnly;

  /** Run one operation; success → cb(0, ...values), failure → cb(-errno). */
  function call<T>(op: string, path: string, cb: Done, work: () => Promise<T> | T, reply: (v: T) => unknown[] = () => []): void {
    let p: Promise<T>;
    try {
      p = Promise.resolve(work());
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (v) => cb(0, ...reply(v)),
      (err) => cb(fail(op, path, err)),
    );
  }

  /** read/write answer with the byte count in the code position. */
  function count(op: string, path: string, cb: Done, work: () => Promise<number>): void {
    work().then(
      (n) => cb(n),
      (err) => cb(fail(op, path, err)),
    );
  }

  function fail(op: string, path: string, err: unknown): number {
    const m = toErrno(err);
    const msg = `${op} ${path}: ${m.name}: ${err instanceof Error ? err.message : String(err)}`;
    if (m.serious) log.error(msg);
    else if (log.enabled('DEBUG')) log.debug(msg);
    return m.code;
  }

  const rofs = (cb: Done) => cb(-ERRNO.EROFS);

  return {
    statfs(path: string, cb: Done) {
      call('statfs', path, cb, () => vfs.statfs(), (s) => [{ ...s, fsid: 0, flag: 0 }]);
    },
    getattr(path: string, cb: Done) {
      call('getattr', path, cb, () => vfs.getattr(path), (a) => [toFuseStat(a)]);
    },
    fgetattr(path: string, fd: number, cb: Done) {
      call('fgetattr', path, cb, () => vfs.fgetattr(path, fd), (a) => [toFuseStat(a)]);
    },
    access(path: string, mode: number, cb: Done) {
      call('access', path, cb, () => vfs.access(path, mode));
    },
    readdir(path: string, cb: Done) {
      call(
        'readdir',
        path,
        cb,
        () => vfs.readdir(path),
        (entries) => {
          // only the type of '.' and '..' matters to the kernel
          const self = vfs.dirAttr();
          const names = ['.', '..'];
          const stats = [toFuseStat(self), toFuseStat(self)];
          for (const e of entries) {
            names.push(e.name);
            stats.push(toFuseStat(e.attr));
          }
          return [names, stats];
        },
      );
    },
    open(path: string, flags: number, cb: Done) {
      call('open', path, cb, () => vfs.open(path, flags), (fh) => [fh]);
    },
    create(path: string, _mode: number, cb: Done) {
      call('create', path, cb, () => vfs.create(path), (fh) => [fh]);
    },
    read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Done) {
      count('read', path, cb, () => vfs.read(fd, buf, len, pos));
    },
    write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Done) {
      count('write', path, cb, () => vfs.write(fd, buf, len, pos));
    },
    flush(path: string, fd: number, cb: Done) {
      call('flush', path, cb, () => vfs.flush(fd));
    },
    fsync(path: string, _datasync: number, fd: number, cb: Done) {
      call('fsync', path, cb, () => vfs.fsync(fd));
    },
    release(path: string, fd: number, cb: Done) {
      call('release', path, cb, () => vfs.release(fd));
    },
    truncate(path: string, size: number, cb: Done) {
      call('truncate', path, cb, () => vfs.truncate(path, size));
    },
    ftruncate(path: string, fd: number, size: number, cb: Done) {
      call('ftruncate', path, cb, () => vfs.ftruncate(fd, size));
    },
    mkdir(path: string, _mode: number, cb: Done) {
      call('mkdir', path, cb, () => vfs.mkdir(path));
    },
    rmdir(path: string, cb: Done) {
      call('rmdir', path, cb, () => vfs.rmdir(path));
    },
    unlink(path: string, cb: Done) {
      call('unlink', path, cb, () => vfs.unlink(path));
    },
    rename(src: string, dest: string, cb: Done) {
      call('rename', `${src} → ${dest}`, cb, () => vfs.rename(src, dest));
    },
    // Nanoseconds, or UTIME_NOW / UTIME_OMIT (the patched binding with utimensNs, see
    // binding.ts). S3 keeps no atime; an omitted mtime (touch -a) is left as it is.
    utimens(path: string, _atime: FuseTime, mtime: FuseTime, cb: Done) {
      const ns = mtime === 'omit' ? null : mtime === 'now' ? nowNs() : mtime;
      call('utimens', path, cb, () => vfs.utimens(path, ns));
    },
    // Permissions and owners are fixed by --file-perms/--dir-perms/--umask/--uid/--gid, as in
    // rclone mount: chmod and chown succeed and change nothing (cp -a, rsync -a, tar x would
    // otherwise fail on every file). A read-only mount refuses them.
    chmod(path: string, _mode: number, cb: Done) {
      if (readOnly) return rofs(cb);
      call('chmod', path, cb, () => vfs.getattr(path).then(() => undefined));
    },
    chown(path: string, _uid: number, _gid: number, cb: Done) {
      if (readOnly) return rofs(cb);
      call('chown', path, cb, () => vfs.getattr(path).then(() => undefined));
    },
    // No symbolic or hard links, and no device nodes/FIFOs in a bucket: EPERM, which is what
    // POSIX specifies for "the file system does not support" these (symlink(2), link(2), mknod(2)).
    symlink(_target: string, path: string, cb: Done) {
      if (readOnly) return rofs(cb);
      log.debug(`symlink ${path}: EPERM (symbolic links are not supported)`);
      cb(-ERRNO.EPERM);
    },
    link(_src: string, path: string, cb: Done) {
      if (readOnly) return rofs(cb);
      log.debug(`link ${path}: EPERM (hard links are not supported)`);
      cb(-ERRNO.EPERM);
    },
    mknod(path: string, _mode: number, _dev: number, cb: Done) {
      if (readOnly) return rofs(cb);
      log.debug(`mknod ${path}: EPERM (special files are not supported)`);
      cb(-ERRNO.EPERM);
    },
    readlink(path: string, cb: Done) {
      // nothing in the mount is a symbolic link
      log.debug(`readlink ${path}: EINVAL`);
      cb(-ERRNO.EINVAL);
    },
  };
}
