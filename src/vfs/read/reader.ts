// The read side of open files: ReadCache holds one ReadSource per object version (path + ETag)
// and FileReader is what one open handle reads through.
//
// The ETag is pinned when the handle opens, and every download asks for exactly that version.
// If the pinned ETag is already stale before the handle returned any byte (the listing we
// opened from was older than the object), the handle quietly re-pins to the current version:
// nothing of the old one was seen. Once bytes were returned, a change is EIO (with a log line)
// for every later read of that handle: never a mix of two versions.
import type { MountedBucket } from '../bucket.js';
import type { ObjectInfo } from '../../backend/s3/types.js';
import { BackendError } from '../../backend/s3/backend-error.js';
import type { Logger } from '../../util/log.js';
import { BlockCache } from './block-cache.js';
import { AccessPattern, type ChunkSettings } from './chunk-policy.js';
import { ReadSource, isVersionGone } from './source.js';
import { isSelfOrBelow, rebase } from '../paths.js';
import { vfsError } from '../errors.js';

export interface PinnedVersion {
  etag: string;
  size: number;
}

export class ReadCache {
  private readonly sources = new Map<string, ReadSource>();
  readonly stats = { bytesDownloaded: 0, gets: 0 };

  constructor(
    private readonly bucket: MountedBucket,
    private readonly settings: ChunkSettings,
    /** the mount's downloaded blocks (its memory budget's read share: memory-budget.ts) */
    readonly blocks: BlockCache,
    private readonly log: Logger,
    /** what each GET's response said about its object (for the namespace's caches) */
    private readonly onInfo?: (path: string, info: ObjectInfo) => void,
  ) {}

  private static id(path: string, etag: string, size: number): string {
    return `${path}\0${etag}\0${size}`;
  }

  /** The shared source of one version (`path` is a mount path). */
  acquire(path: string, v: PinnedVersion): ReadSource {
    const id = ReadCache.id(path, v.etag, v.size);
    let s = this.sources.get(id);
    if (!s || s.failure) {
      s = new ReadSource(
        { bucket: this.bucket, cache: this.blocks, settings: this.settings, log: this.log, stats: this.stats, ...(this.onInfo ? { onInfo: this.onInfo } : {}) },
        path,
        v.etag,
        v.size,
        (gone) => {
          if (this.sources.get(ReadCache.id(gone.path, gone.etag, gone.size)) === gone) this.sources.delete(ReadCache.id(gone.path, gone.etag, gone.size));
        },
      );
      this.sources.set(id, s);
    }
    s.refs++;
    return s;
  }

  release(s: ReadSource): void {
    s.refs = Math.max(0, s.refs - 1);
    if (s.refs === 0) {
      s.stopFetches();
      if (s.failure || s.blockCount === 0) {
        if (this.sources.get(ReadCache.id(s.path, s.etag, s.size)) === s) this.sources.delete(ReadCache.id(s.path, s.etag, s.size));
      }
    }
  }

  /**
   * The first `bytes` of the version `path` has now, by one GET: its response says all a HEAD
   * would (a lookup that needs one asks this instead), and a file that small is then read
   * without another request. Throws the backend's error (not found: a 404 BackendError).
   */
  async readStart(path: string, bytes: number): Promise<ObjectInfo> {
    const { body, info } = await this.bucket.read(path, { offset: 0, count: bytes });
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    const data = Buffer.concat(chunks);
    this.stats.gets++;
    this.stats.bytesDownloaded += data.length;
    if (info.etag && data.length > 0 && data.length <= info.size) {
      const s = this.acquire(path, { etag: info.etag, size: info.size });
      s.adopt(0, data);
      this.release(s);
    }
    return info;
  }

  /** We renamed `from` (a file or a directory) to `to`: open readers follow their file. */
  renamed(from: string, to: string): void {
    for (const [id, s] of [...this.sources]) {
      if (!isSelfOrBelow(s.path, from)) continue;
      this.sources.delete(id);
      s.path = rebase(s.path, from, to);
      s.movedByUs = true;
      this.sources.set(ReadCache.id(s.path, s.etag, s.size), s);
    }
  }

  /** Versions of `path` that we replaced (upload, delete): drop them so no new reader uses them. */
  forgetPath(path: string): void {
    for (const [id, s] of [...this.sources]) {
      if (s.path === path && s.refs === 0) {
        this.sources.delete(id);
        // nobody can open this version again: its cached data only takes memory from others
        s.stopFetches();
        s.dropBlocks();
      }
    }
  }

  get sourceCount(): number {
    return this.sources.size;
  }
}

export interface FileReaderOptions {
  /**
   * Follow a changed object only after our own rename (a copy: a new ETag, the same bytes), never
   * to another version, even before any byte was read: what a cache file filling from its base
   * object needs (its writes are relative to exactly that version).
   */
  onlyOwnMoves?: boolean;
  /** the version was moved by a rename of ours since it was pinned */
  movedByUs?: boolean;
}

export class FileReader {
  private readonly pattern = new AccessPattern();
  private delivered = false;
  private closed = false;
  private readonly onlyOwnMoves: boolean;

  constructor(
    private readonly cache: ReadCache,
    private source: ReadSource,
    /** a fresh HEAD of the file's current path; null when it no longer exists */
    private readonly refresh: (path: string) => Promise<PinnedVersion | null>,
    private readonly log: Logger,
    opts: FileReaderOptions = {},
  ) {
    this.onlyOwnMoves = opts.onlyOwnMoves ?? false;
    if (opts.movedByUs) source.movedByUs = true;
  }

  /** the ETag of the version read now */
  get etag(): string {
    return this.source.etag;
  }

  get size(): number {
    return this.source.size;
  }

  get path(): string {
    return this.source.path;
  }

  /** `limit`: no download goes past this byte (default: the end of the object) */
  async read(dst: Buffer, offset: number, length: number, limit?: number): Promise<number> {
    if (this.closed) throw vfsError('EBADF', 'read after release');
    try {
      const n = await this.source.read(this.pattern, dst, offset, length, limit);
      if (n > 0) this.delivered = true;
      return n;
    } catch (err) {
      const mayFollow = this.source.movedByUs || (!this.delivered && !this.onlyOwnMoves);
      if (isVersionGone(err) && mayFollow && (await this.repin())) {
        const n = await this.source.read(this.pattern, dst, offset, length, limit);
        if (n > 0) this.delivered = true;
        return n;
      }
      throw asReadError(err, this.source.path);
    }
  }

  /** Switch to the current version, when that cannot mix versions. True when switched. */
  private async repin(): Promise<boolean> {
    const old = this.source;
    const current = await this.refresh(old.path);
    if (!current) return false;
    // After our own rename the bytes are the same; only a different size would prove otherwise.
    if ((this.delivered || this.onlyOwnMoves) && current.size !== old.size) return false;
    if (current.etag === old.etag && current.size === old.size) return false;
    this.log.info(`${old.path}: re-pinned to the current version (ETag ${current.etag}) before any byte was read`);
    const next = this.cache.acquire(old.path, current);
    this.cache.release(old);
    this.source = next;
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.release(this.source);
  }
}

/** An error of FileReader.read that means the pinned version no longer exists (changed or deleted). */
export function isGoneError(err: unknown): boolean {
  if (isVersionGone(err)) return true;
  const cause = err instanceof Error ? err.cause : undefined;
  return cause instanceof BackendError && (cause.kind === 'NotFound' || cause.kind === 'PreconditionFailed');
}

/** read(2) cannot say ENOENT: a file deleted or changed under an open handle is EIO. */
function asReadError(err: unknown, path: string): unknown {
  if (err instanceof BackendError && err.kind === 'NotFound') return vfsError('EIO', `${path} was deleted on the server while open`, err);
  return err;
}
