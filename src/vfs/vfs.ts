// The filesystem model as the FUSE adapter sees it: one method per filesystem operation, taking
// mount paths ('/a/b') and handle numbers, returning plain values or throwing VfsError /
// BackendError. It knows nothing of FUSE; it only coordinates its three parts:
//   Namespace   what exists and its attributes (listings, HEADs, marker directories)
//   ReadCache   downloads of object versions for open read handles
//   WriteLayer  data written through the mount until it is in the bucket
import type { S3BackendApi } from '../backend/s3/types.js';
import type { Logger } from '../util/log.js';
import { Namespace, msToNs, shownCtime, type Attr } from './namespace.js';
import type { DirEntry } from './dir-cache.js';
import { MountRoot, baseName, fromFusePath, isFuseHiddenName, isSelfOrBelow, parentOf } from './paths.js';
import { FileReader, ReadCache } from './read/reader.js';
import { WriteBack } from './write/write-back.js';
import { baseReaders } from './write/base-reader.js';
import { MountedBucket } from './bucket.js';
import { serverVersion, type RenamePlan, type ServerVersion, type WriteFile, type WriteLayer, type WriteStats } from './write/write-layer.js';
import { vfsError } from './errors.js';
import { defaultPerm, statfs, withMode, type VfsAttr, type VfsDirEntry, type VfsStatfs } from './attrs.js';
import { OpenFiles, openMode, type Handle } from './open-files.js';
import { ChangePoller } from './change-poll.js';
import { FilesAhead } from './read/files-ahead.js';
import { MetaStore } from './meta-store.js';
import { remoteCachePath } from './cache-paths.js';
import { LINK_SUFFIX, linkNameOf } from './links.js';
import { formatMtime, type PosixMeta } from '../backend/s3/metadata.js';
import type { VfsExtras, VfsOptions } from './options.js';

import { DEFAULT_TRANSFERS } from '../config/defaults.js';
import { MemoryBudget } from './memory-budget.js';

export type { UploadSettings, VfsExtras } from './options.js';

/** access(2): W_OK */
const W_OK = 2;

export { S_IFDIR, S_IFREG, type VfsAttr, type VfsDirEntry, type VfsStatfs } from './attrs.js';

export interface VfsStats {
  opens: number;
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
}

/** Everything the VFS counts, in one piece, for `bucketfs stats` and the metrics endpoint. */
export interface VfsMetrics extends VfsStats {
  openHandles: number;
  dirCache: { directories: number; hits: number; misses: number };
  /** the mount's memory budget for file data (--vfs-memory-limit): its limit and what reads and upload buffers hold */
  memory: { limitBytes: number; bytes: number };
  /** downloaded file data kept in memory for readers: `limitBytes` is their share of the budget now */
  readCache: { bytes: number; limitBytes: number; gets: number; bytesDownloaded: number };
  /** the write layer's uploads and cache files (none: a write layer that does not count them) */
  writeBack?: WriteStats;
}

export class Vfs {
  readonly ns: Namespace;
  /** every object request by mount path (the one place that converts to bucket paths) */
  readonly bucket: MountedBucket;
  readonly reads: ReadCache;
  readonly writes: WriteLayer;
  /** --vfs-memory-limit: downloaded blocks and upload part buffers together */
  readonly memory: MemoryBudget;
  private readonly files = new OpenFiles();
  /** small files of a folder read one after the other: the next ones downloaded ahead */
  private readonly filesAhead: FilesAhead;
  /** what HEADs said, kept across mounts under --cache-dir */
  private readonly store: MetaStore;
  /** --poll-interval: used directories listed again (none when 0) */
  private readonly poller: ChangePoller | undefined;
  private readonly counters: Omit<VfsStats, 'opens'> = { reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0 };

  constructor(
    readonly backend: S3BackendApi,
    readonly root: MountRoot,
    readonly opts: VfsOptions,
    private readonly log: Logger,
    extras: VfsExtras = {},
  ) {
    this.bucket = new MountedBucket(backend, root);
    this.memory = new MemoryBudget(opts.memoryLimit);
    this.store = new MetaStore(remoteCachePath(opts.cacheDir, 'meta', extras.remote ?? 'remote', extras.remoteId, root.bucket, '.jsonl'), log);
    this.ns = new Namespace(
      this.bucket,
      opts,
      log,
      Date.now,
      this.store,
      {
        fetchWhole: (rel, etag, size) => this.filesAhead.download(rel, etag, size),
        readStart: (rel, bytes) => (this.writes.hasCachedCopy?.(rel) ? null : this.reads.readStart(rel, bytes)),
      },
      extras.filter,
    );
    this.reads = new ReadCache(
      this.bucket,
      { chunkSize: opts.readChunkSize, chunkSizeLimit: opts.readChunkSizeLimit, bufferSize: opts.bufferSize, readAhead: opts.readAhead },
      this.memory.blocks,
      log,
      (rel, info) => this.ns.learned(rel, info),
    );
    this.filesAhead = new FilesAhead(this.ns, this.reads, log);
    this.poller = opts.pollIntervalMs > 0 ? new ChangePoller(this.ns, opts.pollIntervalMs, log) : undefined;
    const up = extras.upload ?? { partSize: 5 * 1024 * 1024, uploadConcurrency: 4, maxUploadParts: 10_000 };
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
        conditionalWrites: opts.conditionalWrites,
        partSize: up.partSize,
        uploadConcurrency: up.uploadConcurrency,
        streamMemory: this.memory.streams,
        maxUploadParts: up.maxUploadParts,
        transfers: extras.transfers ?? DEFAULT_TRANSFERS,
        cacheMaxSize: opts.cacheMaxSize,
        cacheMinFreeSpace: opts.cacheMinFreeSpace,
        cacheMaxAgeMs: opts.cacheMaxAgeMs,
        cachePollMs: opts.cachePollMs,
        ...(extras.retryBaseMs !== undefined ? { retryBaseMs: extras.retryBaseMs } : {}),
        ...(extras.clock ? { clock: extras.clock } : {}),
        openBase: baseReaders(this.reads, (rel) => this.pinnedVersion(rel), log),
        onUploaded: (rel, info, now) => {
          if (info) this.ns.noteFile(rel, info.size, info.mtimeNs ?? msToNs(info.lastModified.getTime()), info);
          else this.ns.noteFile(rel, now.size, now.mtimeNs);
          this.reads.forgetPath(rel);
          this.files.noteChange(rel);
        },
        onConflict: (rel) => {
          // another client's version is what the name holds now: asked for again
          this.ns.forgetName(rel);
          this.reads.forgetPath(rel);
          this.files.noteChange(rel);
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

  /** what the stats line counts */
  get stats(): VfsStats {
    return { opens: this.files.opens, ...this.counters };
  }

  // ------------------------------------------------------------------------------------------
  // Attributes

  private withMode(a: Attr): VfsAttr {
    return withMode(a, this.opts);
  }

  private pendingAttr(w: WriteFile): Attr {
    const a: Attr = { kind: 'file', size: w.size, mtimeNs: w.mtimeNs, ctimeNs: shownCtime(w.ctimeNs, w.mtimeNs) };
    if (w.posix) a.posix = w.posix;
    return a;
  }

  /** attributes of the mount's root, without a lookup */
  rootAttr(): VfsAttr {
    return this.withMode(this.ns.dirAttr(undefined, ''));
  }

  async getattr(path: string): Promise<VfsAttr> {
    const rel = fromFusePath(path);
    const hidden = this.files.hiddenHandles(rel);
    if (hidden) return this.hiddenAttr(hidden, path);
    // libfuse looks for a free hidden name before it hides a file: no request for that
    if (isFuseHiddenName(baseName(rel))) throw vfsError('ENOENT', `no such file: ${path}`);
    const w = this.writes.get(rel);
    if (w) return this.withMode(this.pendingAttr(w));
    if (this.files.isUnlinked(rel)) throw vfsError('ENOENT', `no such file (unlinked): ${path}`);
    return this.withMode(await this.ns.stat(rel));
  }

  /** What fstat(2) of an open file that was unlinked shows: its open handle's file. */
  private hiddenAttr(handles: Handle[], path: string): VfsAttr {
    const h = handles[0];
    if (!h) throw vfsError('ENOENT', `no such file (closed): ${path}`);
    if (h.kind === 'write') return this.withMode(this.pendingAttr(h.file));
    return this.withMode({ ...h.attr, size: h.reader.size });
  }

  /**
   * libfuse's rename of an open file to a hidden name, in place of its unlink (the mount runs
   * without hard_remove, so that the file keeps a path and fstat(2) still reaches it): the
   * object goes as with unlink(2), and the name lives on in the open-file table until libfuse
   * unlinks it at the last close.
   */
  private async hide(fromPath: string, hiddenRel: string): Promise<void> {
    const from = fromFusePath(fromPath);
    const fhs = this.files.handlesAt(from);
    await this.unlink(fromPath);
    this.files.hide(hiddenRel, fhs);
    this.log.debug(`unlink ${fromPath} while open: its handles keep it as /${hiddenRel}`);
  }

  /** The last reader of an unlinked object is gone: now it is deleted. */
  private async deferredDelete(rel: string): Promise<void> {
    const gone = this.files.takeDeletable(rel);
    if (!gone) return;
    await this.ns
      .deleteVersion(rel, rel, gone.etag, 'not deleted after its last reader closed')
      .catch((err) => this.log.error(`/${rel}: could not delete the unlinked file: ${(err as Error).message}`));
  }

  /** fgetattr: the handle knows best (a file being written, or the version being read); the
   *  path is '' for an open file that was unlinked. */
  async fgetattr(path: string, fh: number): Promise<VfsAttr> {
    const h = this.files.find(fh);
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
      if (!w && this.files.isUnlinked(rel)) continue;
      seen.add(e.name);
      const known = w ? this.pendingAttr(w) : e.kind === 'dir' ? this.ns.knownDirAttr(rel, e) : this.ns.knownFileAttr(rel, e);
      const attr: Attr =
        known ?? (e.kind === 'dir' ? this.ns.dirAttr(e, rel) : { kind: e.kind, size: e.size, mtimeNs: msToNs(e.lastModified?.getTime() ?? 0) });
      out.push({ name: e.name, attr: this.withMode(attr), exact: known !== null });
    }
    // files being written that a listing refetched from the server does not show yet
    for (const w of this.writes.pendingBelow(dir)) {
      if (parentOf(w.rel) !== dir || seen.has(baseName(w.rel))) continue;
      out.push({ name: baseName(w.rel), attr: this.withMode(this.pendingAttr(w)), exact: true });
    }
    return out;
  }

  async access(path: string, mode: number): Promise<void> {
    const rel = fromFusePath(path);
    if (this.files.hiddenHandles(rel)) return;
    if (!this.writes.get(rel) && !(await this.ns.lookup(rel))) throw vfsError('ENOENT', `no such file or directory: ${path}`);
    if (mode & W_OK && this.opts.readOnly) throw vfsError('EROFS', 'read-only mount');
  }

  statfs(): VfsStatfs {
    return statfs();
  }

  // ------------------------------------------------------------------------------------------
  // Open files

  private requireWritable(): void {
    if (this.opts.readOnly) throw vfsError('EROFS', 'read-only mount');
  }

  async open(path: string, flags: number): Promise<number> {
    const rel = fromFusePath(path);
    const { readable, writable, readWrite, truncate } = openMode(flags);
    const pending = this.writes.get(rel);
    let server: ServerVersion | null | undefined;
    if (!pending) {
      if (!writable) await this.existingFile(rel, path);
      else {
        this.requireWritable();
        server = await this.serverBase(rel, path, truncate);
      }
    }
    if (writable) this.requireWritable();
    if (writable || pending) {
      // being written (by this or another handle): all access goes through the write state
      const file = await this.writes.open(rel, {
        create: false,
        truncate,
        writable,
        readWrite,
        ...(server !== undefined || !pending ? { server } : {}),
      });
      if (truncate) this.ns.noteFile(rel, 0, file.mtimeNs);
      return this.files.add({ kind: 'write', rel, file, readable, writable });
    }
    const attr = await this.ns.stat(rel);
    if (attr.etag && this.writes.openCached) {
      // a copy of this very version in the local cache (written here, or --vfs-cache-mode full)
      const cached = await this.writes.openCached(rel, { etag: attr.etag, size: attr.size, mtimeNs: attr.mtimeNs });
      if (cached) return this.files.add({ kind: 'write', rel, file: cached, readable: true, writable: false });
    }
    const reader = await this.openReader(rel, attr);
    this.ns.openedForRead(rel);
    this.filesAhead.opened(rel);
    return this.files.add({ kind: 'read', rel, reader, seq: this.files.seq, attr });
  }

  private async openReader(rel: string, known?: Attr): Promise<FileReader> {
    const attr = known ?? (await this.ns.stat(rel));
    const source = this.reads.acquire(rel, { etag: attr.etag ?? '', size: attr.size });
    return new FileReader(this.reads, source, (r) => this.pinnedVersion(r), this.log);
  }

  /** `mode`: what open(2) asked for, the umask applied (a mode other than the default is stored) */
  async create(path: string, mode?: number): Promise<number> {
    this.requireWritable();
    const rel = fromFusePath(path);
    this.root.checkNewName(rel);
    this.checkFileName(rel);
    let server: ServerVersion | null | undefined;
    if (!this.writes.get(rel)) {
      await this.ns.requireParentDir(rel);
      const e = await this.ns.lookup(rel);
      if (e?.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
      if (e?.kind === 'link') throw vfsError('EEXIST', `is a symbolic link: ${path}`);
      server = serverVersion(e);
      // a new file where an unlinked one is still being read: the old object is replaced by
      // the new one's upload, or deleted with it (the server is then "unknown" to the write state)
      if (this.files.forgetUnlinked(rel)) server = undefined;
    }
    const file = await this.writes.open(rel, { create: true, truncate: true, writable: true, readWrite: true, server });
    if (mode !== undefined && (mode & 0o7777) !== defaultPerm('file', this.opts)) file.setPosix({ perm: mode & 0o7777 });
    this.ns.noteFile(rel, 0, file.mtimeNs);
    return this.files.add({ kind: 'write', rel, file, readable: true, writable: true });
  }

  async read(fh: number, buf: Buffer, length: number, offset: number): Promise<number> {
    const h = this.files.get(fh);
    const dst = buf.length > length ? buf.subarray(0, length) : buf;
    let n: number;
    if (h.kind === 'read') {
      // a file written through the mount since this handle opened: the handle sees what was written
      const rel = h.reader.path;
      const w = this.writes.get(rel);
      if (w) n = await w.read(dst, offset, length);
      else {
        if (this.files.changedSince(rel, h.seq)) {
          h.seq = this.files.seq;
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
    const h = this.files.get(fh);
    if (h.kind !== 'write' || !h.writable) throw vfsError('EBADF', 'file not open for writing');
    const n = await h.file.write(length < buf.length ? buf.subarray(0, length) : buf, offset);
    this.counters.writes++;
    this.counters.bytesWritten += n;
    return n;
  }

  /** close(2) of one descriptor: the data is made safe (uploaded, or durable in the cache with
   *  write-back), so close reports a failed upload (EIO). A reader's close changes nothing. */
  async flush(fh: number): Promise<void> {
    const h = this.files.get(fh);
    if (h.kind === 'write' && h.writable) await h.file.flush();
  }

  async fsync(fh: number): Promise<void> {
    const h = this.files.get(fh);
    if (h.kind === 'write') await h.file.fsync();
  }

  async release(fh: number): Promise<void> {
    const h = this.files.take(fh);
    if (!h) return;
    if (h.kind === 'read') {
      h.reader.close();
      await this.deferredDelete(h.reader.path);
    } else await this.writes.release(h.file);
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const h = this.files.get(fh);
    if (h.kind !== 'write' || !h.writable) throw vfsError('EBADF', 'file not open for writing');
    await h.file.truncate(size);
  }

  /** The entry of a regular file on the server (open and truncate of a file with nothing pending);
   *  a file unlinked while still being read is gone for new opens. */
  private async existingFile(rel: string, path: string): Promise<DirEntry> {
    const e = this.files.isUnlinked(rel) ? null : await this.ns.lookup(rel);
    if (!e) throw vfsError('ENOENT', `no such file: ${path}`);
    if (e.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
    // the kernel follows links before it opens: only O_NOFOLLOW-like paths get here
    if (e.kind === 'link') throw vfsError('ELOOP', `is a symbolic link: ${path}`);
    return e;
  }

  /** The server version a write state starts from, for a file with nothing pending: truncated
   *  to zero, what the listing says is there (to notice a conflict); otherwise a fresh stat (the
   *  content to start from, and to compare with after a crash). */
  private async serverBase(rel: string, path: string, toZero: boolean): Promise<ServerVersion | null | undefined> {
    const e = await this.existingFile(rel, path);
    if (toZero) return serverVersion(e);
    const a = await this.ns.stat(rel);
    return { etag: a.etag ?? e.etag ?? '', size: a.size, mtimeNs: a.mtimeNs };
  }

  async truncate(path: string, size: number): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    const pending = this.writes.get(rel);
    let server: ServerVersion | null | undefined;
    if (!pending) server = await this.serverBase(rel, path, size === 0);
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

  /**
   * With links, a file's name must not end in .rclonelink: its object would read back as the
   * link of the name before it (links.ts). EINVAL, as for other names a bucket cannot hold.
   */
  private checkFileName(rel: string): void {
    if (this.opts.links && linkNameOf(baseName(rel)) !== null) {
      throw vfsError('EINVAL', `/${rel}: a file named *${LINK_SUFFIX} would read back as a symbolic link (--vfs-links): not created`);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Names

  /** symlink(2): an object holding the target (links.ts), uploaded before this returns */
  async symlink(target: string, path: string): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    if (!this.opts.links) throw vfsError('EPERM', `symlink ${path}: symbolic links are off (--vfs-links=false)`);
    if (this.writes.get(rel)) throw vfsError('EEXIST', `already exists: ${path}`);
    await this.ns.symlink(target, rel);
  }

  async readlink(path: string): Promise<string> {
    const rel = fromFusePath(path);
    if (this.writes.get(rel)) throw vfsError('EINVAL', `not a symbolic link: ${path}`);
    return this.ns.readlink(rel);
  }

  async mkdir(path: string): Promise<void> {
    this.requireWritable();
    await this.ns.mkdir(fromFusePath(path));
  }

  async rmdir(path: string): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    if (this.writes.pendingBelow(rel).some((w) => w.rel !== rel)) throw vfsError('ENOTEMPTY', `directory not empty: ${path}`);
    await this.ns.rmdir(rel, (p) => this.files.isUnlinked(p));
  }

  async unlink(path: string): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    // libfuse drops a hidden name after the last close: the object went when it was hidden
    if (this.files.unhide(rel)) return;
    this.writes.invalidate?.(rel);
    const pending = this.writes.get(rel);
    if (pending) {
      // open handles keep writing into a file that no longer has a name: nothing is uploaded
      const held = await this.writes.discard(rel);
      if (held && !(await this.ns.deleteVersion(rel, rel, held.etag, 'not deleted'))) return;
      this.ns.noteRemoved(rel);
    } else if (this.files.hasReaders(rel)) {
      // open for reading: gone from the namespace now, from the bucket when the last reader closes
      if (this.files.isUnlinked(rel)) throw vfsError('ENOENT', `no such file: ${path}`);
      const e = await this.ns.lookup(rel);
      if (!e) throw vfsError('ENOENT', `no such file: ${path}`);
      if (e.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${path}`);
      this.files.markUnlinked(rel, e.etag);
      this.ns.noteRemoved(rel);
      return;
    } else await this.ns.unlink(rel);
    this.reads.forgetPath(rel);
    this.files.noteChange(rel);
  }

  /**
   * noReplace (renameat2's RENAME_NOREPLACE, e.g. `mv -n`): EEXIST when the target exists in
   * this mount's view. Checked before the rename, so not atomic against another machine.
   */
  async rename(fromPath: string, toPath: string, opts: { noReplace?: boolean } = {}): Promise<void> {
    this.requireWritable();
    const from = fromFusePath(fromPath);
    const to = fromFusePath(toPath);
    if (isFuseHiddenName(baseName(to)) && parentOf(to) === parentOf(from)) return this.hide(fromPath, to);
    if (opts.noReplace && (this.writes.get(to) || (!this.files.isUnlinked(to) && (await this.ns.lookup(to))))) {
      throw vfsError('EEXIST', `exists: ${toPath}`);
    }
    if (from === to) return;
    if (from === '' || to === '') throw vfsError('EINVAL', 'cannot rename the mount root');
    // (a lookup only for a target named *.rclonelink: a file may not take such a name, a link may)
    if (this.opts.links && linkNameOf(baseName(to)) !== null && (this.writes.get(from) || (await this.ns.lookup(from))?.kind === 'file')) {
      this.checkFileName(to);
    }
    // an unlinked object still being read there: the rename replaces it, it must not be deleted later
    this.files.forgetUnlinked(to);
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
    // the name the file got: `to`, or beside it when another client stored `to` meanwhile
    let landed = to;
    if (plan.local && source) {
      this.root.checkNewName(to);
      await this.ns.requireParentDir(to);
      const dst = await this.ns.lookup(to);
      if (dst?.kind === 'dir') throw vfsError('EISDIR', `is a directory: ${toPath}`);
      // a link replaced by the file: its object is another key than the file's upload replaces
      if (dst?.kind === 'link') await this.ns.unlink(to);
      if (plan.source) await this.ns.deleteVersion(from, from, plan.source.etag, `moved to ${toPath}, but not deleted here`);
      if (target) await this.writes.discard(to);
      this.ns.noteRemoved(from);
      await this.writes.renamed(from, to, { local: true, server: dst?.kind === 'link' ? null : serverVersion(dst) });
      this.ns.noteFile(to, source.size, source.mtimeNs);
      this.log.debug(`rename ${fromPath} → ${toPath}: pending file moved locally`);
    } else {
      const moved = await this.ns.rename(from, to, {
        ...(plan.mtimeNs !== undefined ? { mtimeNs: plan.mtimeNs } : {}),
        ...(plan.metadata ? { metadata: plan.metadata } : {}),
      });
      landed = moved.to;
      if (target && !isSelfOrBelow(target.rel, from) && landed === to) await this.writes.discard(to);
      await this.writes.renamed(from, landed, {
        local: false,
        ...(moved.etag ? { copyEtag: moved.etag } : {}),
        ...(plan.mtimeNs !== undefined ? { mtimeStored: plan.mtimeNs } : {}),
        ...(plan.metadata ? { posixStored: true } : {}),
      });
    }
    this.reads.renamed(from, landed);
    this.files.noteChange(from);
    this.files.noteChange(to);
    if (landed !== to) {
      this.reads.forgetPath(to);
      this.files.noteChange(landed);
    }
  }

  /**
   * utimens: the mtime (nanoseconds since the epoch) goes into X-Amz-Meta-Mtime, the atime into
   * X-Amz-Meta-Atime (rclone's metadata form). null: that one stays as it is (UTIME_OMIT).
   * Reads never move the atime (as noatime): a read costs no write.
   */
  async utimens(path: string, mtimeNs: bigint | null, atimeNs: bigint | null = null): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    if (this.opts.noModtime || (mtimeNs === null && atimeNs === null) || this.files.hiddenHandles(rel)) return;
    if (this.log.enabled('DEBUG'))
      this.log.debug(`utimens ${path}: mtime ${mtimeNs === null ? 'kept' : formatMtime(mtimeNs)}, atime ${atimeNs === null ? 'kept' : formatMtime(atimeNs)}`);
    // an atime is stored only where it differs from what the file would show: the stored one,
    // else its mtime (touch -d sets both alike: nothing more to store)
    let atime: PosixMeta | null = null;
    let shownMtime: bigint | null = null;
    if (atimeNs !== null) {
      const shown = await this.getattr(path);
      shownMtime = shown.mtimeNs;
      if (shown.kind !== 'dir' && atimeNs !== (shown.posix?.atimeNs ?? mtimeNs ?? shown.mtimeNs)) atime = { atimeNs };
    }
    if (mtimeNs === null && atime === null) return;
    const pending = this.writes.get(rel);
    if (pending) {
      // both carried into the upload still to come, or neither (nothing pending: one copy below)
      const carried = mtimeNs !== null ? pending.setMtime(mtimeNs) : true;
      if (atime ? pending.setPosix(atime) && carried : carried) return;
    }
    const e = await this.ns.lookup(rel);
    if (!e && !pending) throw vfsError('ENOENT', `no such file or directory: ${path}`);
    if (!e) return;
    // a directory's: stored in its marker (dir-markers.ts)
    if (e.kind === 'dir') return mtimeNs !== null ? this.ns.setDirMtime(rel, mtimeNs) : undefined;
    // one server-side copy for both (keeping the mtime shown when only the atime changes)
    if (atime) await this.ns.setPosix(rel, atime, mtimeNs ?? shownMtime ?? undefined, e);
    else if (mtimeNs !== null) await this.ns.setMtime(rel, mtimeNs, e);
    // the copy may have a new ETag (same bytes): readers of the old one follow it
    this.reads.renamed(rel, rel);
  }

  /**
   * chmod/chown of a file: stored with its object (mode, uid, gid in rclone's metadata form).
   * What the file shows already costs nothing (cp -p, rsync -a, tar x of files with the mount's
   * default mode and owner); a pending file carries it into its upload; a stored one gets one
   * server-side copy. A directory's goes into its marker object.
   */
  async setPosix(path: string, p: PosixMeta): Promise<void> {
    this.requireWritable();
    const rel = fromFusePath(path);
    if (this.files.hiddenHandles(rel)) return;
    const pending = this.writes.get(rel);
    const shown = await this.getattr(path);
    const same =
      (p.perm === undefined || p.perm === (shown.mode & 0o7777)) &&
      (p.uid === undefined || p.uid === shown.uid) &&
      (p.gid === undefined || p.gid === shown.gid);
    if (same) return;
    const want: PosixMeta = { perm: shown.mode & 0o7777, uid: shown.uid, gid: shown.gid, ...p };
    // a directory's: stored in its marker (dir-markers.ts)
    if (shown.kind === 'dir') return this.ns.setDirPosix(rel, want);
    // a link's mode is always 0777 (lchown only): its owners are stored, its mode stays as it is
    if (shown.kind === 'link') delete want.perm;
    if (this.log.enabled('DEBUG')) this.log.debug(`chmod/chown ${path}: ${want.perm?.toString(8) ?? 'link'} ${want.uid}:${want.gid}`);
    if (pending && pending.setPosix(want)) return;
    const e = await this.ns.lookup(rel);
    await this.ns.setPosix(rel, want, this.opts.noModtime ? undefined : shown.mtimeNs, e ?? undefined);
    // the copy may have a new ETag (same bytes): readers of the old one follow it
    this.reads.renamed(rel, rel);
    this.files.noteChange(rel);
  }

  // ------------------------------------------------------------------------------------------
  // Lifecycle

  /** Forget every cached listing and HEAD result (SIGHUP). */
  forgetCaches(): void {
    this.ns.forgetAll();
    this.log.notice('directory cache cleared (SIGHUP)');
  }

  get openHandles(): number {
    return this.files.size;
  }

  metrics(): VfsMetrics {
    const blocks = this.reads.blocks;
    const w = this.writes.stats?.();
    return {
      ...this.stats,
      openHandles: this.openHandles,
      dirCache: { directories: this.ns.dirs.size, ...this.ns.dirs.stats },
      memory: { limitBytes: this.memory.limit, bytes: this.memory.bytes },
      readCache: { bytes: blocks.usedBytes, limitBytes: blocks.maxSize, ...this.reads.stats },
      ...(w ? { writeBack: w } : {}),
    };
  }

  /** Upload everything pending (unmount); rejects if anything could not be uploaded. */
  async flushAll(): Promise<void> {
    await this.writes.flushAll();
  }

  async close(): Promise<void> {
    this.poller?.stop();
    for (const h of this.files.takeAll()) if (h.kind === 'read') h.reader.close();
    for (const rel of this.files.unlinkedPaths()) await this.deferredDelete(rel);
    await this.writes.close();
    await this.store.close();
  }

  /** Before mounting: find uploads a previous run left in the cache and start them; load the metadata kept. */
  async recover(): Promise<void> {
    await Promise.all([this.writes.recover?.(), this.store.ready]);
  }
}
