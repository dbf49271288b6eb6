// The filesystem model as the FUSE adapter sees it: one method per filesystem operation, taking
// mount paths ('/a/b') and handle numbers, returning plain values or throwing VfsError /
// BackendError. It knows nothing of FUSE; it only coordinates its three parts:
//   Namespace   what exists and its attributes (listings, HEADs, marker directories)
//   ReadCache   downloads of object versions for open read handles
//   WriteLayer  data written through the mount until it is in the bucket
import type { S3BackendApi } from '../backend/s3/types.js';
import type { Logger } from '../util/log.js';
import { Namespace, msToNs, type Attr } from './namespace.js';
import { MountRoot, baseName, fromFusePath, isSelfOrBelow, parentOf } from './paths.js';
import { FileReader, ReadCache } from './read/reader.js';
import { StagedWrites } from './write/staged-writes.js';
import type { WriteFile, WriteLayer } from './write/write-layer.js';
import { vfsError } from './errors.js';
import { formatMtime } from '../backend/s3/metadata.js';
import type { VfsOptions } from './options.js';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

// open(2) flags (Linux)
const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_TRUNC = 0o1000;
const W_OK = 2;

export interface VfsAttr extends Attr {
  mode: number;
  uid: number;
  gid: number;
}

export interface VfsDirEntry {
  name: string;
  attr: VfsAttr;
}

export interface VfsStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

type Handle =
  | { kind: 'read'; rel: string; reader: FileReader }
  | { kind: 'write'; rel: string; file: WriteFile; readable: boolean; writable: boolean };

export interface VfsStats {
  opens: number;
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
}

export class Vfs {
  readonly ns: Namespace;
  readonly reads: ReadCache;
  readonly writes: WriteLayer;
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;
  readonly counters: VfsStats = { opens: 0, reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0 };

  constructor(
    readonly backend: S3BackendApi,
    readonly root: MountRoot,
    readonly opts: VfsOptions,
    private readonly log: Logger,
    writes?: WriteLayer,
  ) {
    this.ns = new Namespace(backend, root, opts, log);
    this.reads = new ReadCache(
      backend,
      root.bucket,
      { chunkSize: opts.readChunkSize, chunkSizeLimit: opts.readChunkSizeLimit, bufferSize: opts.bufferSize, readAhead: opts.readAhead },
      opts.memoryLimit,
      log,
    );
    this.writes =
      writes ??
      new StagedWrites({
        backend,
        root,
        cacheDir: opts.cacheDir,
        noChecksum: opts.noChecksum,
        log,
        onUploaded: (rel, info) => {
          this.ns.noteFile(rel, info.size, info.mtimeNs ?? msToNs(info.lastModified.getTime()), info);
          this.reads.forgetPath(root.toBackend(rel));
        },
      });
  }

  // ------------------------------------------------------------------------------------------
  // Attributes

  private withMode(a: Attr): VfsAttr {
    const perms = (a.kind === 'dir' ? this.opts.dirPerms : this.opts.filePerms) & ~this.opts.umask & 0o7777;
    return { ...a, mode: (a.kind === 'dir' ? S_IFDIR : S_IFREG) | perms, uid: this.opts.uid, gid: this.opts.gid };
  }

  private pendingAttr(w: WriteFile): Attr {
    return { kind: 'file', size: w.size, mtimeNs: w.mtimeNs };
  }

  /** attributes of a directory, without a lookup */
  dirAttr(): VfsAttr {
    return this.withMode(this.ns.dirAttr());
  }

  async getattr(path: string): Promise<VfsAttr> {
    const rel = fromFusePath(path);
    const w = this.writes.get(rel);
    if (w) return this.withMode(this.pendingAttr(w));
    return this.withMode(await this.ns.stat(rel));
  }

  /** fgetattr: the handle knows best (a file being written, or the version being read). */
  async fgetattr(path: string, fh: number): Promise<VfsAttr> {
    const h = this.handles.get(fh);
    if (h?.kind === 'write') return this.withMode(this.pendingAttr(h.file));
    return this.getattr(path);
  }

  async readdir(path: string): Promise<VfsDirEntry[]> {
    const dir = fromFusePath(path);
    const entries = await this.ns.readdir(dir);
    const out: VfsDirEntry[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      seen.add(e.name);
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      const w = e.kind === 'file' ? this.writes.get(rel) : undefined;
      const attr: Attr = w ? this.pendingAttr(w) : e.kind === 'dir' ? this.ns.dirAttr(e) : { kind: 'file', size: e.size, mtimeNs: msToNs(e.lastModified?.getTime() ?? 0) };
      out.push({ name: e.name, attr: this.withMode(attr) });
    }
    // files being written that a listing refetched from the server does not show yet
    for (const w of this.writes.pendingBelow(dir)) {
      if (parentOf(w.rel) !== dir || seen.has(baseName(w.rel))) continue;
      out.push({ name: baseName(w.rel), attr: this.withMode(this.pendingAttr(w)) });
    }
    return out;
  }

  async access(path: string, mode: number): Promise<void> {
    const rel = fromFusePath(path);
    if (!this.writes.get(rel) && !(await this.ns.lookup(rel))) throw vfsError('ENOENT', `no such file or directory: ${path}`);
    if (mode & W_OK && this.opts.readOnly) throw vfsError('EROFS', 'read-only mount');
  }

  statfs(): VfsStatfs {
    // S3 has no capacity: report 1 PiB total and free, as rclone does. f_blocks is counted in
    // f_frsize units and fuse-native passes 32-bit fields, so the unit is 1 MiB.
    const frsize = 1024 * 1024;
    const blocks = 2 ** 30;
    const files = 2 ** 32 - 1;
    return { bsize: 4096, frsize, blocks, bfree: blocks, bavail: blocks, files, ffree: files, favail: files, namemax: 255 };
  }

  // ------------------------------------------------------------------------------------------
  // Open files

  private addHandle(h: Handle): number {
    // fuse-native treats fh 0 as "none", and fh is 32-bit
    let fh = this.nextFh;
    while (fh === 0 || this.handles.has(fh)) fh = (fh + 1) >>> 0;
    this.nextFh = (fh + 1) >>> 0;
    this.handles.set(fh, h);
    this.counters.opens++;
    return fh;
  }

  private handle(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw vfsError('EBADF', `no open file with handle ${fh}`);
    return h;
  }

  private requireWritable(): void {
    if (this.opts.readOnly) throw vfsError('EROFS', 'read-only mount');
  }

  async open(path: string, flags: number): Promise<number> {
    const rel = fromFusePath(path);
    const acc = flags & O_ACCMODE;
    const writable = acc === O_WRONLY || acc === O_RDWR;
    // O_TRUNC without write access changes nothing here (Linux would truncate; POSIX leaves it open)
    const truncate = writable && (flags & O_TRUNC) !== 0;
    const pending = this.writes.get(rel);
    if (!pending) {
      const e = await this.ns.lookup(rel);
      if (!e) throw vfsError('ENOENT', `no such file: ${path}`);
      if (e.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    }
    if (writable) this.requireWritable();
    if (writable || pending) {
      // being written (by this or another handle): all access goes through the write state
      const file = await this.writes.open(rel, { create: false, truncate });
      if (truncate) this.ns.noteFile(rel, 0, file.mtimeNs);
      return this.addHandle({ kind: 'write', rel, file, readable: acc !== O_WRONLY, writable });
    }
    const attr = await this.ns.stat(rel);
    const source = this.reads.acquire(this.root.toBackend(rel), { etag: attr.etag ?? '', size: attr.size });
    const reader = new FileReader(
      this.reads,
      source,
      async (backendPath) => {
        const r = this.root.fromBackend(backendPath);
        const info = r === null ? null : await this.ns.head(r);
        return info ? { etag: info.etag, size: info.size } : null;
      },
      this.log,
    );
    return this.addHandle({ kind: 'read', rel, reader });
  }

  async create(path: string): Promise<number> {
    this.requireWritable();
    const rel = fromFusePath(path);
    this.root.checkNewName(rel);
    if (!this.writes.get(rel)) {
      await this.ns.requireParentDir(rel);
      const e = await this.ns.lookup(rel);
      if (e?.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    }
    const file = await this.writes.open(rel, { create: true, truncate: true });
    this.ns.noteFile(rel, 0, file.mtimeNs);
    return this.addHandle({ kind: 'write', rel, file, readable: true, writable: true });
  }

  async read(fh: number, buf: Buffer, length: number, offset: number): Promise<number> {
    const h = this.handle(fh);
    const dst = buf.length > length ? buf.subarray(0, length) : buf;
    let n: number;
    if (h.kind === 'read') n = await h.reader.read(dst, offset, length);
    else {
      if (!h.readable) throw vfsError('EBADF', 'file not open for reading');
      n = await h.file.read(dst, offset, length);
    }
    this.counters.reads++;
    this.counters.bytesRead += n;
    return n;
  }

  async write(fh: number, buf: Buffer, length: number, offset: number): Promise<number> {
    const h = this.handle(fh);
    if (h.kind !== 'write' || !h.writable) throw vfsError('EBADF', 'file not open for writing');
    const n = await h.file.write(length < buf.length ? buf.subarray(0, length) : buf, offset);
    this.counters.writes++;
    this.counters.bytesWritten += n;
    return n;
  }

  /** close(2) of one descriptor: upload what is pending so close reports a failed upload (EIO). */
  async flush(fh: number): Promise<void> {
    const h = this.handle(fh);
    if (h.kind === 'write') await h.file.flush();
  }

  async fsync(fh: number): Promise<void> {
    await this.flush(fh);
  }

  async release(fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    if (h.kind === 'read') h.reader.close();
    else await this.writes.release(h.file);
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const h = this.handle(fh);
    if (h.kind !== 'write' || !h.writable) throw vfsError('EBADF', 'file not open for writing');
    await h.file.truncate(size);
  }

  async truncate(path: string, size: number): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    const pending = this.writes.get(rel);
    if (!pending) {
      const e = await this.ns.lookup(rel);
      if (!e) throw vfsError('ENOENT', `no such file: ${path}`);
      if (e.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    }
    // through a write state of its own: a pending file is changed in place, a stored one is
    // rewritten (to zero: without downloading it)
    const file = await this.writes.open(rel, { create: false, truncate: size === 0 });
    try {
      if (size !== 0 || file.size !== 0) await file.truncate(size);
    } finally {
      await this.writes.release(file);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Names

  async mkdir(path: string): Promise<void> {
    this.requireWritable();
    await this.ns.mkdir(fromFusePath(path));
  }

  async rmdir(path: string): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    if (this.writes.pendingBelow(rel).some((w) => w.rel !== rel)) throw vfsError('ENOTEMPTY', `directory not empty: ${path}`);
    await this.ns.rmdir(rel);
  }

  async unlink(path: string): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    const pending = this.writes.get(rel);
    if (pending) {
      // open handles keep writing into a file that no longer has a name: nothing is uploaded
      this.writes.discard(rel);
      const e = await this.ns.lookup(rel);
      if (e?.kind === 'file') await this.ns.unlink(rel);
      else this.ns.noteRemoved(rel);
      return;
    }
    await this.ns.unlink(rel);
    this.reads.forgetPath(this.root.toBackend(rel));
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    this.requireWritable();
    const from = fromFusePath(fromPath);
    const to = fromFusePath(toPath);
    if (from === to) return;
    // pending data is uploaded first, so the server-side copy moves what was written
    const pending = this.writes.pendingBelow(from);
    if (pending.length > 0) {
      this.log.debug(`rename ${fromPath}: uploading ${pending.length} pending file(s) first`);
      await Promise.all(pending.map((w) => w.flush()));
    }
    // a file being written at the target is replaced: like an unlinked file, it is not uploaded
    const target = this.writes.get(to);
    await this.ns.rename(from, to);
    if (target && !isSelfOrBelow(target.rel, from)) this.writes.discard(to);
    this.writes.renamed(from, to);
    this.reads.renamed(this.root.toBackend(from), this.root.toBackend(to));
  }

  /**
   * utimens: atime is not stored (S3 has none); the mtime (nanoseconds since the epoch) goes
   * into X-Amz-Meta-Mtime. null: the mtime stays as it is (UTIME_OMIT).
   */
  async utimens(path: string, mtimeNs: bigint | null): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    if (this.opts.noModtime || mtimeNs === null) return;
    if (this.log.enabled('DEBUG')) this.log.debug(`utimens ${path}: mtime ${formatMtime(mtimeNs)}`);
    const pending = this.writes.get(rel);
    if (pending && pending.setMtime(mtimeNs)) return;
    const e = await this.ns.lookup(rel);
    if (!e && !pending) throw vfsError('ENOENT', `no such file or directory: ${path}`);
    // S3 directories have no time to set; accepted and ignored, as rclone does
    if (!e || e.kind === 'dir') return;
    await this.ns.setMtime(rel, mtimeNs);
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle

  /** Forget every cached listing and HEAD result (SIGHUP). */
  forgetCaches(): void {
    this.ns.forgetAll();
    this.log.notice('directory cache cleared (SIGHUP)');
  }

  get openHandles(): number {
    return this.handles.size;
  }

  /** Upload everything pending (unmount); rejects if anything could not be uploaded. */
  async flushAll(): Promise<void> {
    await this.writes.flushAll();
  }

  async close(): Promise<void> {
    for (const h of this.handles.values()) if (h.kind === 'read') h.reader.close();
    this.handles.clear();
    await this.writes.close();
  }
}
