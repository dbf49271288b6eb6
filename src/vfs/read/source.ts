// One version of one object (path + pinned ETag) as seen by readers: the blocks downloaded so
// far and the downloads in flight. Every handle reading that version shares it, so two readers
// of one file share what is fetched, and re-opening a file finds its blocks still cached.
import type { S3BackendApi } from '../../backend/s3/types.js';
import { BackendError } from '../../backend/s3/backend-error.js';
import type { Logger } from '../../util/log.js';
import type { AccessPattern, ChunkSettings } from './chunk-policy.js';
import type { Block, BlockCache } from './block-cache.js';
import { Fetch, type FetchTarget } from './fetch.js';
import { vfsError } from '../errors.js';

/** How often one read retries a download that failed for a reason other than a changed object. */
const READ_RETRIES = 2;

export interface SourceDeps {
  backend: S3BackendApi;
  bucket: string;
  cache: BlockCache;
  settings: ChunkSettings;
  log: Logger;
  stats: { bytesDownloaded: number; gets: number };
}

export class ReadSource implements FetchTarget {
  /** blocks sorted by start; they may overlap a little (a random read racing a stream) */
  private readonly blocks: Block[] = [];
  private readonly fetches = new Set<Fetch>();
  /** open handles reading this version */
  refs = 0;
  /** set once the object is known to have changed: every later read of this version fails */
  failure: Error | undefined;
  /** the path was renamed by us: a 412 may just mean the copy got a new ETag (same bytes) */
  movedByUs = false;

  readonly backend: S3BackendApi;
  readonly bucket: string;
  readonly cache: BlockCache;
  readonly settings: ChunkSettings;
  readonly log: Logger;
  readonly stats: { bytesDownloaded: number; gets: number };

  constructor(
    deps: SourceDeps,
    public path: string,
    readonly etag: string,
    readonly size: number,
    /** called when the last block is evicted and no handle holds this version */
    private readonly onEmpty: (s: ReadSource) => void,
  ) {
    this.backend = deps.backend;
    this.bucket = deps.bucket;
    this.cache = deps.cache;
    this.settings = deps.settings;
    this.log = deps.log;
    this.stats = deps.stats;
  }

  key(): string {
    return this.path;
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  // --- the block index ------------------------------------------------------------------------

  addBlock(block: Block): void {
    // binary search for the insertion point (streams append, so this is usually the end)
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.blocks[mid]!.start <= block.start) lo = mid + 1;
      else hi = mid;
    }
    this.blocks.splice(lo, 0, block);
  }

  evicted(block: Block): void {
    const i = this.blocks.indexOf(block);
    if (i >= 0) this.blocks.splice(i, 1);
    if (this.blocks.length === 0 && this.refs === 0 && this.fetches.size === 0) this.onEmpty(this);
  }

  /** Copy the bytes available at `pos` (up to maxLen) into dst; returns how many (0 = not cached). */
  private copyAt(pos: number, dst: Buffer, dstOff: number, maxLen: number): number {
    // last block starting at or before pos
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.blocks[mid]!.start <= pos) lo = mid + 1;
      else hi = mid;
    }
    // overlapping blocks are rare; look back a few for one that reaches past pos
    for (let i = lo - 1; i >= 0 && i >= lo - 8; i--) {
      const b = this.blocks[i]!;
      if (b.end > pos) {
        const n = Math.min(maxLen, b.end - pos);
        b.buf.copy(dst, dstOff, pos - b.start, pos - b.start + n);
        this.cache.touch(b);
        return n;
      }
    }
    return 0;
  }

  /** The first cached byte at or after `pos` before `end` (so a random read fetches only the gap). */
  private nextCachedStart(pos: number, end: number): number {
    // first block starting after pos (blocks are sorted by start)
    let lo = 0;
    let hi = this.blocks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.blocks[mid]!.start <= pos) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.blocks.length; i++) {
      const b = this.blocks[i]!;
      if (b.start >= end) break;
      if (b.filled > 0) return b.start;
    }
    return end;
  }

  // --- reading --------------------------------------------------------------------------------

  /** Read [offset, offset+length) of this version into dst. Short only at the end of the file. */
  async read(pattern: AccessPattern, dst: Buffer, offset: number, length: number): Promise<number> {
    if (this.failure) throw this.failure;
    if (offset >= this.size || length <= 0) return 0;
    const end = Math.min(this.size, offset + length);
    const sequential = pattern.observe(offset, end - offset);
    let pos = offset;
    let retries = 0;
    let rounds = 0;
    while (pos < end) {
      if (this.failure) throw this.failure;
      const n = this.copyAt(pos, dst, pos - offset, end - pos);
      if (n > 0) {
        pos += n;
        continue;
      }
      // Each round from here waits for a download; only a memory budget far too small for the
      // readers (blocks dropped before they are copied) could keep a read from progressing.
      if (++rounds > 1000) throw vfsError('EIO', `${this.path}: read at ${pos} made no progress (is --vfs-memory-limit far too small?)`);
      let f = this.fetchCovering(pos);
      if (!f) {
        f = sequential
          ? this.startFetch(pos, this.size, true, pattern.runBytes)
          : this.startFetch(pos, this.blocks.length > 0 ? this.nextCachedStart(pos, end) : end, false, 0);
      }
      f.want(end);
      await f.waitFor(pos);
      if (f.pos <= pos && f.done) {
        // the fetch ended without the byte we wait for
        const err = f.error;
        if (isChanged(err)) throw this.changed(err);
        if (err === undefined && retries === 0) {
          retries++; // aborted (idle stream) just before we came: start another
          continue;
        }
        if (++retries > READ_RETRIES) throw err ?? vfsError('EIO', `download of ${this.path} stopped at ${pos}`);
        this.log.info(`${this.path}: retrying read at ${pos} after: ${(err as Error | undefined)?.message ?? 'stopped download'}`);
      }
    }
    return end - offset;
  }

  private fetchCovering(pos: number): Fetch | undefined {
    for (const f of this.fetches) if (f.covers(pos)) return f;
    return undefined;
  }

  private startFetch(start: number, end: number, streaming: boolean, runBytes: number): Fetch {
    const f = new Fetch(this, start, end, streaming, runBytes);
    this.fetches.add(f);
    void f.waitFor(Number.MAX_SAFE_INTEGER).then(() => {
      this.fetches.delete(f);
      if (isChanged(f.error)) this.changed(f.error);
      if (this.blocks.length === 0 && this.refs === 0 && this.fetches.size === 0) this.onEmpty(this);
    });
    return f;
  }

  /** The object changed on the server: this version can no longer be read, by anyone. */
  private changed(err: unknown): Error {
    if (!this.failure) {
      this.log.error(`${this.path}: changed on the server while open for reading (ETag ${this.etag} no longer matches); reads fail with EIO rather than mix two versions`);
      this.failure = vfsError('EIO', `${this.path} changed on the server while being read`, err);
      (this.failure as Error & { changed?: boolean }).changed = true;
      for (const f of this.fetches) f.abort();
    }
    return this.failure;
  }

  /** No handle reads this version any more: stop its downloads (cached blocks stay). */
  stopFetches(): void {
    for (const f of this.fetches) f.abort();
  }
}

export function isChanged(err: unknown): boolean {
  return err instanceof BackendError && err.kind === 'PreconditionFailed';
}

/** An error from ReadSource.read that means "this version no longer exists". */
export function isVersionGone(err: unknown): boolean {
  return isChanged(err) || (err instanceof Error && (err as Error & { changed?: boolean }).changed === true);
}
