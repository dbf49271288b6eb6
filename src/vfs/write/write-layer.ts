// The contract between the VFS and whatever keeps data written through the mount until it is
// in the bucket. The implementation is write-back.ts (streaming multipart uploads for
// sequential writes, local cache files for everything else, a journal for crash recovery).
import type { ObjectInfo } from '../../backend/s3/types.js';
import type { PosixMeta } from '../../backend/s3/metadata.js';
import type { DirEntry } from '../dir-cache.js';

/** The written state of one path, shared by every handle that has it open. */
export interface WriteFile {
  /** mount-relative path (follows renames) */
  readonly rel: string;
  /** current size including unflushed writes */
  readonly size: number;
  /** modification time to show and to store (last write, or a utimens while pending) */
  readonly mtimeNs: bigint;
  /** change time: the last write, truncate, utimens, chmod or chown made here */
  readonly ctimeNs: bigint;
  /** true when written data has not reached the bucket yet */
  readonly dirty: boolean;
  write(data: Buffer, offset: number): Promise<number>;
  /** read-your-writes: the bytes as written, uploaded or not */
  read(dst: Buffer, offset: number, length: number): Promise<number>;
  truncate(size: number): Promise<void>;
  /** utimens while data is pending: stored with the upload instead of a separate copy.
   *  false when nothing is pending (the caller then sets the stored object's mtime). */
  setMtime(mtimeNs: bigint): boolean;
  /** permission bits and owners set by chmod/chown through this file (none: never set) */
  readonly posix: PosixMeta | undefined;
  /** chmod/chown while data is pending: stored with the upload (true), or false when nothing is
   *  pending (the caller then copies the stored object with the new metadata) */
  setPosix(p: PosixMeta): boolean;
  /** close(2): make the data safe — uploaded, or durable in the local cache with write-back;
   *  rejects (EIO, EFBIG) when it is not */
  flush(): Promise<void>;
  /** fsync(2): as flush */
  fsync(): Promise<void>;
}

/** An object on the server, as the namespace knows it. */
export interface ServerVersion {
  etag: string;
  size: number;
  mtimeNs: bigint | null;
}

/** What a listing entry says of the object at its path: a version, nothing there, or unknown (no ETag). */
export function serverVersion(e: DirEntry | null): ServerVersion | null | undefined {
  if (!e || e.kind !== 'file') return null;
  return e.etag ? { etag: e.etag, size: e.size, mtimeNs: null } : undefined;
}

export interface OpenWriteOptions {
  /** the file is new (create(2)): starts empty and is uploaded even if nothing is written */
  create: boolean;
  /** O_TRUNC: start empty */
  truncate: boolean;
  /** opened for writing (not only to read a file that has a write state) */
  writable?: boolean;
  /** opened O_RDWR (--vfs-cache-mode minimal gives these a cache file) */
  readWrite?: boolean;
  /**
   * What the server holds at the path now: the content of a file opened without O_TRUNC, and
   * what a crash recovery expects to find there. null: nothing; undefined: not known.
   */
  server?: ServerVersion | null;
}

/** What the server may hold at a path: nothing (null), or an object, of this version when known
 *  (a delete of it is conditional on that ETag: a version another client stored stays). */
export type ServerHeld = null | { etag: string | undefined };

export interface RenamePlan {
  /** a single pending file whose content is all local: it moves without any request */
  local: boolean;
  /** what the server may hold at the old name (to delete after a local move) */
  source: ServerHeld;
  /** a server-side move should store this mtime with its copy (set while it was pending) */
  mtimeNs?: bigint;
  /** and this user metadata (mode, owners set while it was pending) */
  metadata?: Record<string, string>;
}

export interface WriteLayer {
  /** the write state of `rel`, if it is open or has data not yet uploaded */
  get(rel: string): WriteFile | undefined;
  /** open (or share) the write state of `rel`; each open is matched by one release */
  open(rel: string, opts: OpenWriteOptions): Promise<WriteFile>;
  /** one handle closed; the last one uploads what is pending (now, or after --vfs-write-back) */
  release(file: WriteFile): Promise<void>;
  /** `rel` was unlinked: nothing pending for it may be uploaded; resolves once no upload of it runs.
   *  Returns what the server may hold at `rel` (null: no delete needed). */
  discard(rel: string): Promise<ServerHeld>;
  /** before renaming `from`: settle its state (and that of everything below it) */
  prepareRename(from: string, to: string): Promise<RenamePlan>;
  /** `from` (a file or a directory) was renamed to `to`: pending files follow.
   *  `server`: what the server holds at `to` now (for a local move: the replaced object). */
  renamed(
    from: string,
    to: string,
    how: { local: boolean; server?: ServerVersion | null; mtimeStored?: bigint; posixStored?: boolean; copyEtag?: string },
  ): Promise<void>;
  /** a read-only open: the cached copy of this version of `rel`, if the cache has one (or
   *  always with --vfs-cache-mode full); undefined: read from the bucket */
  openCached?(rel: string, server: ServerVersion): Promise<WriteFile | undefined>;
  /** the cache keeps a copy of some version of `rel` (a lookup then need not fetch its bytes) */
  hasCachedCopy?(rel: string): boolean;
  /** `rel` (a file or a directory) was removed or replaced: cached copies of it go */
  invalidate?(rel: string): void;
  /** the rename prepared by prepareRename failed: pending uploads below `from` are scheduled again */
  renameFailed?(from: string): void;
  /** every write state below `dir` ('' = all) */
  pendingBelow(dir: string): WriteFile[];
  /** upload everything pending (unmount, SIGTERM); rejects if any upload failed */
  flushAll(): Promise<void>;
  /** stop timers, close files; what is not uploaded stays in the cache for the next mount */
  close(): Promise<void>;
  /** find uploads a previous run left pending in the cache, and start them */
  recover?(): Promise<void>;
  /** for --stats */
  stats?(): WriteStats;
}

export interface WriteStats {
  /** files open for writing */
  open: number;
  /** closed files whose data is not in the bucket yet (waiting for --vfs-write-back, or uploading) */
  pending: number;
  /** uploads running or waiting for a --transfers slot */
  uploading: number;
  /** files whose last upload attempt failed: tried again after a backoff */
  failing: number;
  streamMemory: number;
  uploads: number;
  bytesUploaded: number;
  /** failed upload attempts */
  failures: number;
  /** bytes in the cache files of files open or not uploaded yet (on the cache disk) */
  pendingBytes: number;
  /** clean cached copies kept for reuse, and their local bytes */
  cached: number;
  cachedBytes: number;
}

/** What a write layer calls when an upload lands, so listings show the new object at once.
 *  info null: the content is as before but the stored mtime changed (the ETag is unknown). */
export type UploadedHook = (rel: string, info: ObjectInfo | null, sizeNs: { size: number; mtimeNs: bigint }) => void;
