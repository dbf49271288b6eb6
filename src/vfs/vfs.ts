// The filesystem model as the FUSE adapter sees it: one method per filesystem operation, taking
// mount paths ('/a/b') and handle numbers, returning plain values or throwing VfsError /
// BackendError. It knows nothing of FUSE; it only coordinates its three parts:
//   Namespace   what exists and its attributes (listings, HEADs, marker directories)
//   ReadCache   downloads of object versions for open read handles
//   WriteLayer  data written through the mount until it is in the bucket
import type { S3BackendApi } from '../backend/s3/types.js';
import type { Logger } from '../util/log.js';
import { Namespace, msToNs, type Attr } from './namespace.js';
import type { DirEntry } from './dir-cache.js';
import { MountRoot, baseName, fromFusePath, isSelfOrBelow, parentOf } from './paths.js';
import { FileReader, ReadCache } from './read/reader.js';
import { WriteBack } from './write/write-back.js';
import { baseReaders } from './write/base-reader.js';
import { MountedBucket } from './bucket.js';
import type { Clock } from './clock.js';
import type { RenamePlan, ServerVersion, WriteFile, WriteLayer } from './write/write-layer.js';
import { vfsError } from './errors.js';
import { formatMtime } from '../backend/s3/metadata.js';
import type { VfsOptions } from './options.js';
import { DEFAULT_TRANSFERS } from '../config/mount-options.js';

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
  /** `seq`: the local-change sequence number when the reader was (re)opened */
  | { kind: 'read'; rel: string; reader: FileReader; seq: number; attr: Attr }
  | { kind: 'write'; rel: string; file: WriteFile; readable: boolean; writable: boolean };

/** How uploads are cut into parts: the S3 options the write layer needs (defaults: rclone's). */
export interface UploadSettings {
  chunkSize: number;
  uploadConcurrency: number;
  maxUploadParts: number;
}

export interface VfsExtras {
  /** a write layer of its own (tests) */
  writes?: WriteLayer;
  /** the remote as named on the command line (cache directory and journals) */
  remote?: string;
  /** identifies the server behind the remote (endpoint, provider…) */
  remoteId?: string;
  upload?: UploadSettings;
  /** background uploads at a time (--transfers) */
  transfers?: number;
  /** first retry delay of a failed background upload */
  retryBaseMs?: number;
  /** the clock of the write-back timers and cache ages (tests drive their own) */
  clock?: Clock;
}

/** what a listing entry says about the object at a path, for the write layer */
function serverVersion(e: DirEntry | null): ServerVersion | null | undefined {
  if (!e) return null;
  if (e.kind !== 'file') return null;
  return e.etag ? { etag: e.etag, size: e.size, mtimeNs: null } : undefined;
}

/** remembered paths changed through the mount (to re-pin their readers) */
const MAX_LOCAL_CHANGES = 10_000;

export interface VfsStats {
  opens: number;
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
}

export class Vfs {
  readonly ns: Namespace;
  /** every object request by mount path (the one place that converts to bucket paths) */
  readonly bucket: MountedBucket;
  readonly reads: ReadCache;
  readonly writes: WriteLayer;
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;
  /** objects unlinked while open for reading: deleted on the server when their last reader closes */
  private readonly deferredDeletes = new Set<string>();
  /** rel → sequence number of the last change made through the mount (upload, unlink, rename) */
  private readonly localChanges = new Map<string, number>();
  private changeSeq = 0;
  readonly counters: VfsStats = { opens: 0, reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0 };

  constructor(
    readonly backend: S3BackendApi,
    readonly root: MountRoot,
    readonly opts: VfsOptions,
    private readonly log: Logger,
    extras: VfsExtras = {},
  ) {
    this.bucket = new MountedBucket(backend, root);
    this.ns = new Namespace(this.bucket, opts, log);
    this.reads = new ReadCache(
      this.bucket,
      { chunkSize: opts.readChunkSize, chunkSizeLimit: opts.readChunkSizeLimit, bufferSize: opts.bufferSize, readAhead: opts.readAhead },
      opts.memoryLimit,
      log,
    );
    const up = extras.upload ?? { chunkSize: 5 * 1024 * 1024, uploadConcurrency: 4, maxUploadParts: 10_000 };
    this.writes =
      extras.writes ??
      new WriteBack({
        bucket: this.bucket,
        log,
        cacheDir: opts.cacheDir,
        remote: extras.remote ?? 'remote',
        ...(extras.remoteId !== undefined ? { remoteId: extras.remoteId } : {}),
        cacheMode: opts.cacheMode,
        writeBackMs: opts.writeBackMs,
        noChecksum: opts.noChecksum,
        chunkSize: up.chunkSize,
        uploadConcurrency: up.uploadConcurrency,
        maxUploadParts: up.maxUploadParts,
        transfers: extras.transfers ?? DEFAULT_TRANSFERS,
        cacheMaxSize: opts.cacheMaxSize,
        cacheMaxAgeMs: opts.cacheMaxAgeMs,
        cachePollMs: opts.cachePollMs,
        ...(extras.retryBaseMs !== undefined ? { retryBaseMs: extras.retryBaseMs } : {}),
        ...(extras.clock ? { clock: extras.clock } : {}),
        openBase: baseReaders(this.reads, (rel) => this.pinnedVersion(rel), log),
        onUploaded: (rel, info, now) => {
          if (info) this.ns.noteFile(rel, info.size, info.mtimeNs ?? msToNs(info.lastModified.getTime()), info);
          else this.ns.noteFile(rel, now.size, now.mtimeNs);
          this.reads.forgetPath(rel);
          this.noteLocalChange(rel);
        },
        onDropped: (rel, server) => {
          if (server === null) this.ns.noteRemoved(rel);
          else this.ns.noteFile(rel, server === 'unknown' ? 0 : server.size, server === 'unknown' || server.mtimeNs === null ? 0n : BigInt(server.mtimeNs));
        },
      });
  }

  /** The current version at `rel` (a fresh HEAD), for a reader to follow. */
  private async pinnedVersion(rel: string): Promise<{ etag: string; size: number } | null> {
    const info = await this.ns.head(rel);
    return info ? { etag: info.etag, size: info.size } : null;
  }

  /** `rel` changed through the mount: read handles opened before follow it. */
  private noteLocalChange(rel: string): void {
    this.localChanges.delete(rel);
    this.localChanges.set(rel, ++this.changeSeq);
    if (this.localChanges.size > MAX_LOCAL_CHANGES) this.localChanges.delete(this.localChanges.keys().next().value!);
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
    if (this.deferredDeletes.has(rel)) throw vfsError('ENOENT', `no such file (unlinked): ${path}`);
    return this.withMode(await this.ns.stat(rel));
  }

  /** the mount-relative path a read handle reads now (it follows renames) */
  private readerRel(h: Extract<Handle, { kind: 'read' }>): string {
    return h.reader.path;
  }

  private hasReaders(rel: string): boolean {
    for (const h of this.handles.values()) if (h.kind === 'read' && this.readerRel(h) === rel) return true;
    return false;
  }

  /** The last reader of an unlinked object is gone: now it is deleted. */
  private async deferredDelete(rel: string): Promise<void> {
    if (!this.deferredDeletes.has(rel) || this.hasReaders(rel)) return;
    this.deferredDeletes.delete(rel);
    await this.bucket.delete([rel]).catch((err) => this.log.error(`/${rel}: could not delete the unlinked file: ${(err as Error).message}`));
  }

  /** fgetattr: the handle knows best (a file being written, or the version being read); the
   *  path is '' for an open file that was unlinked. */
  async fgetattr(path: string, fh: number): Promise<VfsAttr> {
    const h = this.handles.get(fh);
    if (h?.kind === 'write') return this.withMode(this.pendingAttr(h.file));
    if (h?.kind === 'read') {
      const rel = h.reader.path;
      const w = this.writes.get(rel);
      if (w) return this.withMode(this.pendingAttr(w));
      try {
        return await this.getattr('/' + rel);
      } catch {
        // gone since it was opened: what the handle reads
        return this.withMode({ ...h.attr, size: h.reader.size });
      }
    }
    return this.getattr(path);
  }

  async readdir(path: string): Promise<VfsDirEntry[]> {
    const dir = fromFusePath(path);
    const entries = await this.ns.readdir(dir);
    const out: VfsDirEntry[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      const rel = dir === '' ? e.name : `${dir}/${e.name}`;
      const w = e.kind === 'file' ? this.writes.get(rel) : undefined;
      if (!w && this.deferredDeletes.has(rel)) continue;
      seen.add(e.name);
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
    let server: ServerVersion | null | undefined;
    if (!pending) {
      const e = await this.existingFile(rel, path);
      if (writable) {
        this.requireWritable();
        if (truncate) server = serverVersion(e);
        else {
          // the content to start from (and to compare with after a crash)
          const a = await this.ns.stat(rel);
          server = { etag: a.etag ?? e.etag ?? '', size: a.size, mtimeNs: a.mtimeNs };
        }
      }
    }
    if (writable) this.requireWritable();
    if (writable || pending) {
      // being written (by this or another handle): all access goes through the write state
      const file = await this.writes.open(rel, { create: false, truncate, writable, readWrite: acc === O_RDWR, ...(server !== undefined || !pending ? { server } : {}) });
      if (truncate) this.ns.noteFile(rel, 0, file.mtimeNs);
      return this.addHandle({ kind: 'write', rel, file, readable: acc !== O_WRONLY, writable });
    }
    const attr = await this.ns.stat(rel);
    if (attr.etag && this.writes.openCached) {
      // a copy of this very version in the local cache (written here, or --vfs-cache-mode full)
      const cached = await this.writes.openCached(rel, { etag: attr.etag, size: attr.size, mtimeNs: attr.mtimeNs });
      if (cached) return this.addHandle({ kind: 'write', rel, file: cached, readable: true, writable: false });
    }
    return this.addHandle({ kind: 'read', rel, reader: await this.openReader(rel, attr), seq: this.changeSeq, attr });
  }

  private async openReader(rel: string, known?: Attr): Promise<FileReader> {
    const attr = known ?? (await this.ns.stat(rel));
    const source = this.reads.acquire(rel, { etag: attr.etag ?? '', size: attr.size });
    return new FileReader(this.reads, source, (r) => this.pinnedVersion(r), this.log);
  }

  async create(path: string): Promise<number> {
    this.requireWritable();
    const rel = fromFusePath(path);
    this.root.checkNewName(rel);
    let server: ServerVersion | null | undefined;
    if (!this.writes.get(rel)) {
      await this.ns.requireParentDir(rel);
      const e = await this.ns.lookup(rel);
      if (e?.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
      server = serverVersion(e);
      // a new file where an unlinked one is still being read: the old object is replaced by
      // the new one's upload, or deleted with it (the server is then "unknown" to the write state)
      if (this.deferredDeletes.delete(rel)) server = undefined;
    }
    const file = await this.writes.open(rel, { create: true, truncate: true, writable: true, readWrite: true, server });
    this.ns.noteFile(rel, 0, file.mtimeNs);
    return this.addHandle({ kind: 'write', rel, file, readable: true, writable: true });
  }

  async read(fh: number, buf: Buffer, length: number, offset: number): Promise<number> {
    const h = this.handle(fh);
    const dst = buf.length > length ? buf.subarray(0, length) : buf;
    let n: number;
    if (h.kind === 'read') {
      // a file written through the mount since this handle opened: the handle sees what was written
      const rel = h.reader.path;
      const w = this.writes.get(rel);
      if (w) n = await w.read(dst, offset, length);
      else {
        const changed = this.localChanges.get(rel);
        if (changed !== undefined && changed > h.seq) {
          h.seq = this.changeSeq;
          const next = await this.openReader(rel);
          h.reader.close();
          h.reader = next;
        }
        n = await h.reader.read(dst, offset, length);
      }
    } else {
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

  /** close(2) of one descriptor: the data is made safe (uploaded, or durable in the cache with
   *  write-back), so close reports a failed upload (EIO). A reader's close changes nothing. */
  async flush(fh: number): Promise<void> {
    const h = this.handle(fh);
    if (h.kind === 'write' && h.writable) await h.file.flush();
  }

  async fsync(fh: number): Promise<void> {
    const h = this.handle(fh);
    if (h.kind === 'write') await h.file.fsync();
  }

  async release(fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    if (h.kind === 'read') {
      h.reader.close();
      const rel = this.readerRel(h);
      if (this.deferredDeletes.has(rel)) await this.deferredDelete(rel);
    } else await this.writes.release(h.file);
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const h = this.handle(fh);
    if (h.kind !== 'write' || !h.writable) throw vfsError('EBADF', 'file not open for writing');
    await h.file.truncate(size);
  }

  /** The entry of a regular file on the server (open and truncate of a file with nothing pending);
   *  a file unlinked while still being read is gone for new opens. */
  private async existingFile(rel: string, path: string): Promise<DirEntry> {
    const e = this.deferredDeletes.has(rel) ? null : await this.ns.lookup(rel);
    if (!e) throw vfsError('ENOENT', `no such file: ${path}`);
    if (e.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    return e;
  }

  async truncate(path: string, size: number): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    const pending = this.writes.get(rel);
    let server: ServerVersion | null | undefined;
    if (!pending) {
      const e = await this.existingFile(rel, path);
      if (size === 0) server = serverVersion(e);
      else {
        const a = await this.ns.stat(rel);
        server = { etag: a.etag ?? e.etag ?? '', size: a.size, mtimeNs: a.mtimeNs };
      }
    }
    // through a write state of its own: a pending file is changed in place, a stored one is
    // rewritten (to zero: without downloading it; otherwise fetching only what is kept)
    const file = await this.writes.open(rel, { create: false, truncate: size === 0, writable: true, readWrite: true, ...(pending ? {} : { server }) });
    try {
      if (size !== 0 || file.size !== 0) await file.truncate(size);
      this.ns.noteFile(rel, file.size, file.mtimeNs);
      // truncate(2) returns with the change made safe, as close(2) would
      if (!pending) await file.flush();
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
    this.writes.invalidate?.(rel);
    const pending = this.writes.get(rel);
    if (pending) {
      // open handles keep writing into a file that no longer has a name: nothing is uploaded
      const serverHas = await this.writes.discard(rel);
      if (serverHas) await this.bucket.delete([rel]);
      this.ns.noteRemoved(rel);
    } else if (this.hasReaders(rel)) {
      // open for reading: gone from the namespace now, from the bucket when the last reader closes
      if (this.deferredDeletes.has(rel)) throw vfsError('ENOENT', `no such file: ${path}`);
      const e = await this.ns.lookup(rel);
      if (!e) throw vfsError('ENOENT', `no such file: ${path}`);
      if (e.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
      this.deferredDeletes.add(rel);
      this.ns.noteRemoved(rel);
      return;
    } else await this.ns.unlink(rel);
    this.reads.forgetPath(rel);
    this.noteLocalChange(rel);
  }

  async rename(fromPath: string, toPath: string): Promise<void> {
    this.requireWritable();
    const from = fromFusePath(fromPath);
    const to = fromFusePath(toPath);
    if (from === to) return;
    if (from === '' || to === '') throw vfsError('EINVAL', 'cannot rename the mount root');
    // an unlinked object still being read there: the rename replaces it, it must not be deleted later
    this.deferredDeletes.delete(to);
    this.writes.invalidate?.(from);
    this.writes.invalidate?.(to);
    // Pending files below `from` are settled first: a started stream is committed, and a
    // pending file whose content is all here can move without any request (the editor's
    // `write .x.swp, rename over x`): it is simply uploaded under its new name later.
    const plan = await this.writes.prepareRename(from, to);
    try {
      await this.renameSettled(from, to, fromPath, toPath, plan);
    } catch (err) {
      this.writes.renameFailed?.(from);
      throw err;
    }
  }

  private async renameSettled(from: string, to: string, fromPath: string, toPath: string, plan: RenamePlan): Promise<void> {
    const source = this.writes.get(from);
    // a file being written at the target is replaced: like an unlinked file, it is not uploaded
    const target = this.writes.get(to);
    if (plan.local && source) {
      this.root.checkNewName(to);
      await this.ns.requireParentDir(to);
      const dst = await this.ns.lookup(to);
      if (dst?.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${toPath}`);
      if (plan.serverHasSource) await this.bucket.delete([from]);
      if (target) await this.writes.discard(to);
      this.ns.noteRemoved(from);
      await this.writes.renamed(from, to, { local: true, server: serverVersion(dst) });
      this.ns.noteFile(to, source.size, source.mtimeNs);
      this.log.debug(`rename ${fromPath} → ${toPath}: pending file moved locally`);
    } else {
      await this.ns.rename(from, to, plan.mtimeNs !== undefined ? { mtimeNs: plan.mtimeNs } : {});
      if (target && !isSelfOrBelow(target.rel, from)) await this.writes.discard(to);
      await this.writes.renamed(from, to, { local: false, ...(plan.mtimeNs !== undefined ? { mtimeStored: plan.mtimeNs } : {}) });
    }
    this.reads.renamed(from, to);
    this.noteLocalChange(from);
    this.noteLocalChange(to);
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
    for (const rel of [...this.deferredDeletes.keys()]) await this.deferredDelete(rel);
    await this.writes.close();
  }

  /** Find uploads a previous run left in the cache and start them (before mounting). */
  async recover(): Promise<void> {
    await this.writes.recover?.();
  }
}
