// The fuse-native operations table: argument translation between fuse-native's callbacks and
// the Vfs, and errors through the one errno map. Nothing else happens here, but counting: every
// answer passes through the Replier, which times it for `bucketfs stats` (op-stats.ts).
//
// Operations not in this table are answered ENOSYS by libfuse, which the kernel remembers:
// the extended-attribute calls (getxattr/setxattr/listxattr/removexattr) then fail with
// EOPNOTSUPP without ever reaching us again (S3 has no xattrs), fsyncdir becomes a no-op, and
// opendir/releasedir are handled by libfuse itself.
import type { FuseOps, FuseStat, FuseTime } from 'fuse-native';
import type { Logger } from '../util/log.js';
import type { Vfs, VfsAttr } from '../vfs/vfs.js';
import { ERRNO, toPathErrno } from './errno.js';
import { FuseOpStats } from './op-stats.js';

/** renameat2's flag (linux/fs.h) */
const RENAME_NOREPLACE = 1;

/** st_blksize: cp and friends size their buffers from it, and big_writes takes 1 MiB writes. */
const BLKSIZE = 1024 * 1024;

// Times go to the kernel to the nanosecond (mtimeNs; the millisecond fields are what an
// unpatched binding would read). The atime is the one stored (touch -a, cp -p), else the mtime;
// the ctime is the VFS's change time (the object's LastModified, or a change made since).
export function toFuseStat(a: VfsAttr): FuseStat {
  const ms = Number(a.mtimeNs / 1_000_000n);
  const atimeNs = a.posix?.atimeNs ?? a.mtimeNs;
  const ctimeNs = a.ctimeNs ?? a.mtimeNs;
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    // 1 for directories too: find(1) then knows not to trust the link count for leaf optimisation
    nlink: 1,
    blksize: BLKSIZE,
    blocks: Math.ceil(a.size / 512),
    atime: Number(atimeNs / 1_000_000n),
    mtime: ms,
    ctime: Number(ctimeNs / 1_000_000n),
    atimeNs,
    mtimeNs: a.mtimeNs,
    ctimeNs,
  };
}

/** UTIME_NOW: the current time (to the millisecond) */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

type Done = (code: number, ...values: unknown[]) => void;

/**
 * Runs one operation and answers the kernel: success → cb(0, ...values), failure → cb(-errno).
 * Each answer is counted and timed, from the call to the answer (performance.now(): a clock read,
 * twice per request).
 */
class Replier {
  constructor(
    private readonly log: Logger,
    private readonly stats: FuseOpStats,
  ) {}

  call<T>(op: string, path: string, cb: Done, work: () => Promise<T> | T, reply: (v: T) => unknown[] = () => []): void {
    const t0 = this.started();
    let p: Promise<T>;
    try {
      p = Promise.resolve(work());
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (v) => {
        this.answered(op, t0);
        cb(0, ...reply(v));
      },
      (err) => cb(this.fail(op, path, err, t0)),
    );
  }

  /** read/write answer with the byte count in the code position. */
  count(op: string, path: string, cb: Done, work: () => Promise<number>): void {
    const t0 = this.started();
    work().then(
      (n) => {
        this.answered(op, t0);
        cb(n);
      },
      (err) => cb(this.fail(op, path, err, t0)),
    );
  }

  /** An operation refused without any work (EROFS on a read-only mount, EPERM for hard links): counted too. */
  refuse(op: string, cb: Done, errno: keyof typeof ERRNO): void {
    this.answered(op, this.started(), errno);
    cb(-ERRNO[errno]);
  }

  private started(): number {
    this.stats.inFlight++;
    return performance.now();
  }

  private answered(op: string, t0: number, errno?: string): void {
    this.stats.inFlight--;
    this.stats.done(op, (performance.now() - t0) / 1000, errno);
  }

  private fail(op: string, path: string, err: unknown, t0: number): number {
    const m = toPathErrno(err, path);
    this.answered(op, t0, m.name);
    const msg = `${op} ${path}: ${m.name}: ${err instanceof Error ? err.message : String(err)}`;
    if (m.serious) this.log.error(msg);
    else if (this.log.enabled('DEBUG')) this.log.debug(msg);
    return m.code;
  }
}

/** The operations table over `vfs`; each answer is counted into `stats` (a new one when not given). */
export function createFuseOps(vfs: Vfs, log: Logger, stats: FuseOpStats = new FuseOpStats()): FuseOps {
  const r = new Replier(log, stats);
  return { ...attrOps(vfs, r), ...permissionOps(vfs, r), ...fileOps(vfs, r), ...nameOps(vfs, r), ...unsupportedOps(vfs, log, r) };
}

/** attributes and listings */
function attrOps(vfs: Vfs, r: Replier): FuseOps {
  return {
    statfs(path: string, cb: Done) {
      r.call(
        'statfs',
        path,
        cb,
        () => vfs.statfs(),
        (s) => [{ ...s, fsid: 0, flag: 0 }],
      );
    },
    getattr(path: string, cb: Done) {
      r.call(
        'getattr',
        path,
        cb,
        () => vfs.getattr(path),
        (a) => [toFuseStat(a)],
      );
    },
    fgetattr(path: string, fd: number, cb: Done) {
      r.call(
        'fgetattr',
        path,
        cb,
        () => vfs.fgetattr(path, fd),
        (a) => [toFuseStat(a)],
      );
    },
    access(path: string, mode: number, cb: Done) {
      r.call('access', path, cb, () => vfs.access(path, mode));
    },
    readdir(path: string, cb: Done) {
      r.call(
        'readdir',
        path,
        cb,
        () => vfs.readdir(path),
        (entries) => {
          // only the type of '.' and '..' matters to the kernel. Not as readdirplus entries:
          // libfuse would pass their st_ino (0) on as d_ino, and readdir(3) skips an entry whose
          // d_ino is 0 (`ls -a` showed neither); without plus they get libfuse's "unknown" inode
          const self = { ...toFuseStat(vfs.rootAttr()), plus: false };
          return [
            ['.', '..', ...entries.map((e) => e.name)],
            // an entry whose mtime only a HEAD knows goes without its attributes (no readdirplus):
            // the kernel then looks it up, and getattr answers with the real one
            [self, self, ...entries.map((e) => (e.exact ? toFuseStat(e.attr) : { ...toFuseStat(e.attr), plus: false }))],
          ];
        },
      );
    },
    // Nanoseconds, or UTIME_NOW / UTIME_OMIT (the patched binding with utimensNs, see
    // binding.ts); an omitted one is left as it is.
    utimens(path: string, atime: FuseTime, mtime: FuseTime, cb: Done) {
      const ns = (t: FuseTime) => (t === 'omit' ? null : t === 'now' ? nowNs() : t);
      r.call('utimens', path, cb, () => vfs.utimens(path, ns(mtime), ns(atime)));
    },
  };
}

/** chmod and chown */
function permissionOps(vfs: Vfs, r: Replier): FuseOps {
  const readOnly = vfs.opts.readOnly;
  return {
    // A file's mode and owners are stored with its object (Vfs.chmod/chown); a read-only mount
    // refuses them. (uid_t)-1 / (gid_t)-1 leave that one as it is.
    chmod(path: string, mode: number, cb: Done) {
      if (readOnly) return r.refuse('chmod', cb, 'EROFS');
      r.call('chmod', path, cb, () => vfs.setPosix(path, { perm: mode & 0o7777 }));
    },
    chown(path: string, uid: number, gid: number, cb: Done) {
      if (readOnly) return r.refuse('chown', cb, 'EROFS');
      const id = (n: number) => (n >= 0 && n < 0xffffffff ? n : undefined);
      const u = id(uid);
      const g = id(gid);
      r.call('chown', path, cb, () => vfs.setPosix(path, { ...(u !== undefined ? { uid: u } : {}), ...(g !== undefined ? { gid: g } : {}) }));
    },
  };
}

/** open files and their data */
function fileOps(vfs: Vfs, r: Replier): FuseOps {
  return {
    open(path: string, flags: number, cb: Done) {
      r.call(
        'open',
        path,
        cb,
        () => vfs.open(path, flags),
        (fh) => [fh],
      );
    },
    create(path: string, mode: number, cb: Done) {
      r.call(
        'create',
        path,
        cb,
        () => vfs.create(path, mode),
        (fh) => [fh],
      );
    },
    read(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Done) {
      r.count('read', path, cb, () => vfs.read(fd, buf, len, pos));
    },
    write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Done) {
      r.count('write', path, cb, () => vfs.write(fd, buf, len, pos));
    },
    flush(path: string, fd: number, cb: Done) {
      r.call('flush', path, cb, () => vfs.flush(fd));
    },
    fsync(path: string, _datasync: number, fd: number, cb: Done) {
      r.call('fsync', path, cb, () => vfs.fsync(fd));
    },
    release(path: string, fd: number, cb: Done) {
      r.call('release', path, cb, () => vfs.release(fd));
    },
    truncate(path: string, size: number, cb: Done) {
      r.call('truncate', path, cb, () => vfs.truncate(path, size));
    },
    ftruncate(path: string, fd: number, size: number, cb: Done) {
      r.call('ftruncate', path, cb, () => vfs.ftruncate(fd, size));
    },
  };
}

/** names: directories, unlink, rename */
function nameOps(vfs: Vfs, r: Replier): FuseOps {
  return {
    mkdir(path: string, _mode: number, cb: Done) {
      r.call('mkdir', path, cb, () => vfs.mkdir(path));
    },
    rmdir(path: string, cb: Done) {
      r.call('rmdir', path, cb, () => vfs.rmdir(path));
    },
    unlink(path: string, cb: Done) {
      r.call('unlink', path, cb, () => vfs.unlink(path));
    },
    rename(src: string, dest: string, cb: Done) {
      r.call('rename', `${src} → ${dest}`, cb, () => vfs.rename(src, dest));
    },
    // renameat2 with flags: RENAME_NOREPLACE (mv -n, …); RENAME_EXCHANGE cannot be had on S3
    rename2(src: string, dest: string, flags: number, cb: Done) {
      if (flags !== RENAME_NOREPLACE) return r.refuse('rename', cb, 'EINVAL');
      r.call('rename', `${src} → ${dest}`, cb, () => vfs.rename(src, dest, { noReplace: true }));
    },
    symlink(target: string, path: string, cb: Done) {
      r.call('symlink', path, cb, () => vfs.symlink(target, path));
    },
    readlink(path: string, cb: Done) {
      r.call(
        'readlink',
        path,
        cb,
        () => vfs.readlink(path),
        (target) => [target],
      );
    },
  };
}

// No hard links, and no device nodes/FIFOs in a bucket: EPERM, which is what POSIX specifies
// for "the file system does not support" these (link(2), mknod(2)); mkfifo(3) is a mknod.
function unsupportedOps(vfs: Vfs, log: Logger, r: Replier): FuseOps {
  const refuse = (op: string, path: string, what: string, cb: Done) => {
    if (vfs.opts.readOnly) return r.refuse(op, cb, 'EROFS');
    log.debug(`${op} ${path}: EPERM (${what} are not supported)`);
    r.refuse(op, cb, 'EPERM');
  };
  return {
    link(_src: string, path: string, cb: Done) {
      refuse('link', path, 'hard links', cb);
    },
    mknod(path: string, _mode: number, _dev: number, cb: Done) {
      refuse('mknod', path, 'special files', cb);
    },
  };
}
