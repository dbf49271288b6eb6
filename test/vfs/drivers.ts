// The two ways the VFS scenario suite (scenarios.ts) reaches a filesystem, rclone's vfstest
// pattern: the same scenarios directly against a Vfs in the test process (what the FUSE adapter
// would call, with the kernel's part — lookups before create, O_APPEND offsets, close = flush +
// release — done by the driver), and through a real kernel mount with node's fs calls. Both run
// over the same test server (moto) and report errors as errno names in `code`.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { S3Backend } from '../../src/backend/s3/backend.js';
import { S_IFDIR, type Vfs } from '../../src/vfs/vfs.js';
import { mount, type Mounted } from '../helpers/mount.js';
import { run } from '../helpers/run.js';
import type { TestS3 } from '../helpers/s3-server.js';
import { motoBackend, unmountVfs, vfsCacheDir, vfsInstance } from '../helpers/vfs-instance.js';

export type CacheMode = 'off' | 'minimal' | 'writes' | 'full';
export const CACHE_MODES: CacheMode[] = ['off', 'minimal', 'writes', 'full'];

/** open(2) flags as node names them: r r+ w w+ a a+ wx */
export type OpenFlags = 'r' | 'r+' | 'w' | 'w+' | 'a' | 'a+' | 'wx';

export interface DriverFile {
  /** at `pos`; null: at the end (an O_APPEND file) */
  write(data: Buffer | string, pos: number | null): Promise<void>;
  read(length: number, pos: number): Promise<Buffer>;
  truncate(size: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface DriverStat {
  size: number;
  mtimeMs: number;
  isDir: boolean;
}

export interface Driver {
  readonly kind: 'vfs' | 'mount';
  open(p: string, flags: OpenFlags): Promise<DriverFile>;
  stat(p: string): Promise<DriverStat>;
  /** names, sorted */
  readdir(p: string): Promise<string[]>;
  rename(from: string, to: string): Promise<void>;
  unlink(p: string): Promise<void>;
  truncate(p: string, size: number): Promise<void>;
  mkdir(p: string): Promise<void>;
  rmdir(p: string): Promise<void>;
  utimes(p: string, mtime: Date): Promise<void>;
  /** unmount (everything pending goes up) and mount again over the same bucket */
  remount(): Promise<void>;
  /** stop for good */
  close(): Promise<void>;
}

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_TRUNC = 0o1000;

function parseFlags(f: OpenFlags) {
  return {
    acc: f === 'r' ? O_RDONLY : f === 'w' || f === 'a' || f === 'wx' ? O_WRONLY : O_RDWR,
    create: f !== 'r' && f !== 'r+',
    truncate: f === 'w' || f === 'w+' || f === 'wx',
    exclusive: f === 'wx',
    append: f === 'a' || f === 'a+',
  };
}

const TRUNCATE_PY = `
import errno, os, sys
try:
    os.truncate(sys.argv[1], int(sys.argv[2]))
except OSError as e:
    sys.stderr.write(errno.errorcode.get(e.errno, 'EIO') + ' ' + str(e) + '\\n')
    sys.exit(1)
`;

function errno(code: string, msg: string): Error {
  return Object.assign(new Error(`${code}: ${msg}`), { code });
}

/** Straight into a Vfs, doing what the kernel would around each call. */
export class VfsDriver implements Driver {
  readonly kind = 'vfs';
  private vfs!: Vfs;
  private readonly cacheDir = vfsCacheDir('bucketfs-vfstest-');
  private readonly backend: S3Backend;

  private constructor(
    s3: TestS3,
    private readonly bucket: string,
    private readonly mode: CacheMode,
  ) {
    this.backend = motoBackend(s3);
  }

  static async start(s3: TestS3, bucket: string, mode: CacheMode): Promise<VfsDriver> {
    const d = new VfsDriver(s3, bucket, mode);
    await d.mountAgain();
    return d;
  }

  private async mountAgain(): Promise<void> {
    this.vfs = (await vfsInstance({ backend: this.backend, bucket: this.bucket, cacheDir: this.cacheDir, opts: { cacheMode: this.mode } })).vfs;
  }

  /** The kernel looks up every directory on the way to a name (unless it has it cached) before
   *  it sends the operation: a missing one is ENOENT without the filesystem seeing the rest. */
  private async walk(p: string): Promise<void> {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const a = await this.vfs.getattr('/' + parts.slice(0, i).join('/'));
      if ((a.mode & S_IFDIR) === 0) throw errno('ENOTDIR', p);
    }
  }

  private async exists(p: string): Promise<boolean> {
    await this.walk(p);
    try {
      await this.vfs.getattr(p);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return false;
      throw err;
    }
  }

  async open(p: string, flags: OpenFlags): Promise<DriverFile> {
    const f = parseFlags(flags);
    const vfs = this.vfs;
    let fh: number;
    if (await this.exists(p)) {
      if (f.exclusive) throw errno('EEXIST', p);
      fh = await vfs.open(p, f.acc | (f.truncate ? O_TRUNC : 0));
    } else if (f.create) fh = await vfs.create(p);
    else throw errno('ENOENT', p);
    return {
      async write(data, pos) {
        if (f.acc === O_RDONLY) throw errno('EBADF', 'not open for writing');
        const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
        // O_APPEND: the kernel writes at the size it knows
        const at = pos ?? (f.append ? (await vfs.fgetattr(p, fh)).size : 0);
        let done = 0;
        while (done < b.length) done += await vfs.write(fh, b.subarray(done), b.length - done, at + done);
      },
      async read(length, pos) {
        // the kernel refuses these before the filesystem sees them
        if (f.acc === O_WRONLY) throw errno('EBADF', 'not open for reading');
        const buf = Buffer.alloc(length);
        let n = 0;
        for (;;) {
          const r = await vfs.read(fh, buf.subarray(n), length - n, pos + n);
          if (r === 0) break;
          n += r;
          if (n === length) break;
        }
        return buf.subarray(0, n);
      },
      async truncate(size) {
        if (f.acc === O_RDONLY) throw errno('EINVAL', 'not open for writing');
        await vfs.ftruncate(fh, size);
      },
      sync: () => vfs.fsync(fh),
      async close() {
        try {
          await vfs.flush(fh);
        } finally {
          await vfs.release(fh);
        }
      },
    };
  }

  async stat(p: string): Promise<DriverStat> {
    await this.walk(p);
    const a = await this.vfs.getattr(p);
    return { size: a.size, mtimeMs: Number(a.mtimeNs / 1_000_000n), isDir: (a.mode & S_IFDIR) !== 0 };
  }
  async readdir(p: string): Promise<string[]> {
    await this.walk(p + '/.');
    return (await this.vfs.readdir(p)).map((e) => e.name).sort();
  }
  async rename(from: string, to: string): Promise<void> {
    await this.walk(from);
    await this.walk(to);
    return this.vfs.rename(from, to);
  }
  async unlink(p: string): Promise<void> {
    await this.walk(p);
    return this.vfs.unlink(p);
  }
  async truncate(p: string, size: number): Promise<void> {
    await this.walk(p);
    return this.vfs.truncate(p, size);
  }
  async mkdir(p: string): Promise<void> {
    await this.walk(p);
    return this.vfs.mkdir(p);
  }
  async rmdir(p: string): Promise<void> {
    await this.walk(p);
    return this.vfs.rmdir(p);
  }
  async utimes(p: string, mtime: Date): Promise<void> {
    await this.walk(p);
    await this.vfs.utimens(p, BigInt(mtime.getTime()) * 1_000_000n);
  }
  async remount(): Promise<void> {
    await unmountVfs(this.vfs);
    await this.mountAgain();
  }
  async close(): Promise<void> {
    await unmountVfs(this.vfs);
  }
}

/** Through a kernel mount (a `bucketfs mount` child), with node's fs calls. */
export class MountDriver implements Driver {
  readonly kind = 'mount';
  private m!: Mounted;

  private constructor(
    private readonly s3: TestS3,
    private readonly bucket: string,
    private readonly mode: CacheMode,
  ) {}

  static async start(s3: TestS3, bucket: string, mode: CacheMode): Promise<MountDriver> {
    const d = new MountDriver(s3, bucket, mode);
    d.m = await mount(s3, `moto:${bucket}`, { flags: ['--vfs-cache-mode', mode] });
    return d;
  }

  private at(p: string): string {
    return path.join(this.m.mnt, p);
  }

  async open(p: string, flags: OpenFlags): Promise<DriverFile> {
    const fh = await fs.open(this.at(p), flags);
    return {
      async write(data, pos) {
        const b = Buffer.isBuffer(data) ? data : Buffer.from(data);
        let done = 0;
        while (done < b.length) done += (await fh.write(b, done, b.length - done, pos === null ? null : pos + done)).bytesWritten;
      },
      async read(length, pos) {
        const buf = Buffer.alloc(length);
        let n = 0;
        for (;;) {
          const { bytesRead } = await fh.read(buf, n, length - n, pos + n);
          if (bytesRead === 0) break;
          n += bytesRead;
          if (n === length) break;
        }
        return buf.subarray(0, n);
      },
      truncate: (size) => fh.truncate(size),
      sync: () => fh.sync(),
      close: () => fh.close(),
    };
  }

  async stat(p: string): Promise<DriverStat> {
    const s = await fs.stat(this.at(p));
    return { size: s.size, mtimeMs: Math.floor(s.mtimeMs), isDir: s.isDirectory() };
  }
  async readdir(p: string): Promise<string[]> {
    return (await fs.readdir(this.at(p))).sort();
  }
  rename(from: string, to: string): Promise<void> {
    return fs.rename(this.at(from), this.at(to));
  }
  unlink(p: string): Promise<void> {
    return fs.unlink(this.at(p));
  }
  /** truncate(2) itself: node's fs.truncate opens the file O_RDWR and calls ftruncate */
  async truncate(p: string, size: number): Promise<void> {
    const r = await run('python3', ['-c', TRUNCATE_PY, this.at(p), String(size)], { timeoutMs: 30_000 });
    if (r.code !== 0) {
      const m = /^(E[A-Z]+)/m.exec(r.stderr);
      throw errno(m?.[1] ?? 'EIO', `truncate ${p}: ${r.stderr.trim()}`);
    }
  }
  mkdir(p: string): Promise<void> {
    return fs.mkdir(this.at(p));
  }
  rmdir(p: string): Promise<void> {
    return fs.rmdir(this.at(p));
  }
  utimes(p: string, mtime: Date): Promise<void> {
    return fs.utimes(this.at(p), mtime, mtime);
  }
  async remount(): Promise<void> {
    await this.m.unmount();
    this.m = await mount(this.s3, `moto:${this.bucket}`, { flags: ['--vfs-cache-mode', this.mode] });
  }
  async close(): Promise<void> {
    await this.m.unmount();
  }
}
