// One version of one object (path + pinned ETag) as seen by readers: the blocks downloaded so
// far and the downloads in flight. Every handle reading that version shares it, so two readers
// of one file share what is fetched, and re-opening a file finds its blocks still cached.
import type { MountedBucket } from '../bucket.js';
import type { ObjectInfo } from '../../backend/s3/types.js';
import { BackendError } from '../../backend/s3/backend-error.js';
import type { Logger } from '../../util/log.js';
import { MIN_STREAM_GET, aheadLimit, alignRandom, type AccessPattern, type ChunkSettings } from './chunk-policy.js';
import type { Block, BlockCache } from './block-cache.js';
import { BLOCK_SIZE, Fetch, type FetchTarget } from './fetch.js';
import { vfsError } from '../errors.js';
import { firstIndex } from '../../util/search.js';

/** How often one read retries a download that failed for a reason other than a changed object. */
const READ_RETRIES = 2;

export interface SourceDeps {
  bucket: MountedBucket;
  cache: BlockCache;
  settings: ChunkSettings;
  log: Logger;
  stats: { bytesDownloaded: number; gets: number };
  /** what a GET's response said about the object (the namespace keeps it: no HEAD needed) */
  onInfo?: (path: string, info: ObjectInfo) => void;
}

export class ReadSource implements FetchTarget {
  /** blocks sorted by start; they may overlap a little (a random read racing a stream) */
  private readonly blocks: Block[] = [];
  private readonly fetches = new Set<Fetch>();
  /** open handles reading this version */
  refs = 0;
  /** of those, downloads ahead of any reader (files-ahead.ts): a change found by one alone is no reader's error */
  aheadRefs = 0;
  /** set once the object is known to have changed: every later read of this version fails */
  failure: Error | undefined;
  /** the path was renamed by us: a 412 may just mean the copy got a new ETag (same bytes) */
  movedByUs = false;
  /** GETs at once of the last stream (see fetch.ts): a reader that starved keeps its lanes */
  streamLanes = 1;

  readonly bucket: MountedBucket;
  readonly cache: BlockCache;
  readonly settings: ChunkSettings;
  readonly log: Logger;
  readonly stats: { bytesDownloaded: number; gets: number };
  private readonly onInfo: SourceDeps['onInfo'];

  constructor(
    deps: SourceDeps,
    public path: string,
    readonly etag: string,
    readonly size: number,
    /** called when the last block is evicted and no handle holds this version */
    private readonly onEmpty: (s: ReadSource) => void,
  ) {
    this.bucket = deps.bucket;
    this.cache = deps.cache;
    this.settings = deps.settings;
    this.log = deps.log;
    this.stats = deps.stats;
    this.onInfo = deps.onInfo;
  }

  key(): string {
    return this.path;
  }

  seen(info: ObjectInfo): void {
    this.onInfo?.(this.path, info);
  }

  get blockCount(): number {
    return this.blocks.length;
  }

  // --- the block index ------------------------------------------------------------------------

  addBlock(block: Block): void {
    // after the blocks starting at or before it (streams append, so this is usually the end)
    this.blocks.splice(this.firstAfter(block.start), 0, block);
  }

  evicted(block: Block): void {
    // blocks are sorted by start: search back from the last one starting at block.start
    for (let i = this.firstAfter(block.start) - 1; i >= 0; i--) {
      const b = this.blocks[i]!;
      if (b === block) {
        this.blocks.splice(i, 1);
        break;
      }
      if (b.start < block.start) break;
    }
    if (this.blocks.length === 0 && this.refs === 0 && this.fetches.size === 0) this.onEmpty(this);
  }

  /** index of the first block starting after `pos` (blocks are sorted by start) */
  private firstAfter(pos: number): number {
    return firstIndex(this.blocks.length, (i) => this.blocks[i]!.start > pos);
  }

  /** Index of the cached block holding byte `pos`, or -1. */
  private blockIndexAt(pos: number): number {
    const lo = this.firstAfter(pos);
    // overlapping blocks are rare; look back a few for one that reaches past pos
    for (let i = lo - 1; i >= 0 && i >= lo - 16; i--) {
      if (this.blocks[i]!.end > pos) return i;
    }
    return -1;
  }

  /** The cached block holding byte `pos`, if any. */
  private blockAt(pos: number): Block | undefined {
    const i = this.blockIndexAt(pos);
    return i < 0 ? undefined : this.blocks[i];
  }

  /**
   * Copy the bytes available at `pos` (up to maxLen) into dst; returns how many (0 = not cached).
   * `scan`: the read is part of a sequential run: a block it has read past is "consumed" (see
   * block-cache.ts), when the read reaches the block's end or starts the block after it.
   */
  private copyAt(pos: number, dst: Buffer, dstOff: number, maxLen: number, scan: boolean): number {
    const i = this.blockIndexAt(pos);
    if (i < 0) return 0;
    const b = this.blocks[i]!;
    const n = b.copyTo(pos, dst, dstOff, Math.min(maxLen, b.end - pos));
    if (scan) {
      if (pos === b.start && i > 0) {
        const prev = this.blocks[i - 1]!;
        if (prev.end === pos && !prev.filling) this.cache.consumed(prev);
      }
      if (pos + n >= b.end && !b.filling) this.cache.consumed(b);
      else this.cache.touch(b);
    } else this.cache.touch(b);
    return n;
  }

  /** The first byte at or after `pos` before `end` that is cached or that a fetch in flight will bring. */
  private nextCachedStart(pos: number, end: number): number {
    for (let i = this.firstAfter(pos); i < this.blocks.length; i++) {
      const b = this.blocks[i]!;
      if (b.start >= end) break;
      if (b.filled > 0) {
        end = b.start;
        break;
      }
    }
    for (const f of this.fetches) if (f.pos > pos && f.pos < end && !f.done) end = f.pos;
    return end;
  }

  /** index of the first block starting at or after `pos` */
  private firstAtOrAfter(pos: number): number {
    return firstIndex(this.blocks.length, (i) => this.blocks[i]!.start >= pos);
  }

  /**
   * Where a stream starting at `pos` should stop: at the first cached stretch of at least
   * BLOCK_SIZE bytes, or where another stream starts. Small cached pieces (pages of random reads)
   * do not stop it: it downloads through them (they are superseded, see below), so a sequential
   * read after random ones is still a few large GETs.
   */
  private streamEnd(pos: number): number {
    let end = this.size;
    for (const f of this.fetches) {
      if (!f.streaming || f.done) continue;
      const at = f.start > pos ? f.start : f.pos;
      if (at > pos && at < end) end = at;
    }
    let runStart = -1;
    let runEnd = -1;
    for (let i = this.firstAfter(pos); i < this.blocks.length; i++) {
      const b = this.blocks[i]!;
      if (b.start >= end) break;
      if (b.filled === 0) continue;
      if (runStart >= 0 && b.start <= runEnd) runEnd = Math.max(runEnd, b.end);
      else {
        runStart = b.start;
        runEnd = b.end;
      }
      if (runEnd - runStart >= BLOCK_SIZE) return runStart;
    }
    return end;
  }

  /** A stream's block `b` now holds [b.start, b.end): drop the smaller blocks it covers. */
  supersede(b: Block, from: number): void {
    for (let i = this.firstAtOrAfter(from); i < this.blocks.length; i++) {
      const x = this.blocks[i]!;
      if (x.start >= b.end) break;
      if (x !== b && !x.filling && x.end <= b.end && x.start >= b.start) {
        this.cache.drop(x); // evicted() removes it from this.blocks
        i--;
      }
    }
  }

  /** How far a stream may run ahead of a reader that consumed `consumed` bytes. */
  aheadFor(consumed: number): number {
    // never more than a quarter of the memory budget: read-ahead must not evict itself
    return Math.min(aheadLimit(this.settings, consumed), Math.max(MIN_STREAM_GET, Math.floor(this.cache.maxSize / 4)));
  }

  // --- reading --------------------------------------------------------------------------------

  /**
   * Read [offset, offset+length) of this version into dst. Short only at the end of the file.
   * `limit`: no download goes past this byte (a cache file filling exactly the range it lacks);
   * by default the end of the object.
   */
  async read(pattern: AccessPattern, dst: Buffer, offset: number, length: number, limit = this.size): Promise<number> {
    const cap = Math.min(this.size, Math.max(limit, offset + length));
    if (this.failure) throw this.failure;
    if (offset >= this.size || length <= 0) return 0;
    const end = Math.min(this.size, offset + length);
    pattern.observe(offset, end - offset);
    const stream = pattern.stream;
    const scan = pattern.scan;
    const consumed = pattern.runBytes;
    let pos = offset;
    let retries = 0;
    let rounds = 0;
    while (pos < end) {
      if (this.failure) throw this.failure;
      const n = this.copyAt(pos, dst, pos - offset, end - pos, scan);
      if (n > 0) {
        pos += n;
        continue;
      }
      // Each round from here waits for a download; only a memory budget far too small for the
      // readers (blocks dropped before they are copied) could keep a read from progressing.
      if (++rounds > 1000) throw vfsError('EIO', `${this.path}: read at ${pos} made no progress (is --vfs-memory-limit far too small?)`);
      let f = this.fetchCovering(pos, stream);
      if (!f) {
        if (stream) f = this.startFetch(pos, Math.min(cap, this.streamEnd(pos)), true, consumed);
        else {
          // about the bytes asked for (page-aligned), up to the next cached byte
          f = this.startFetch(pos, this.nextCachedStart(pos, Math.min(cap, alignRandom(pos, end, this.size)[1])), false, 0);
        }
      }
      if (stream) f.want(end, consumed);
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
    if (stream) this.readAhead(end, consumed, cap);
    return end - offset;
  }

  /** A fetch that will deliver `pos` soon: a stream within reach (sequential reads), or a GET in flight. */
  private fetchCovering(pos: number, stream: boolean): Fetch | undefined {
    for (const f of this.fetches) if (stream ? f.reaches(pos) : f.inFlight(pos)) return f;
    if (stream) return undefined;
    // a non-sequential read may still wait for a single GET that covers it
    for (const f of this.fetches) if (!f.streaming && f.reaches(pos)) return f;
    return undefined;
  }

  /**
   * A sequential reader is at `end`: make sure the bytes after it are cached or coming, so it
   * does not wait for a round trip when it gets there. Feeds the stream ahead of it, or starts
   * one at the first missing byte once that is within half the read-ahead limit.
   */
  private readAhead(end: number, consumed: number, cap: number): void {
    if (end >= cap || this.failure) return;
    const ahead = this.aheadFor(consumed);
    let p = end;
    // skip what is cached
    for (;;) {
      const b = this.blockAt(p);
      if (!b) break;
      p = b.end;
      if (p >= this.size || p - end > ahead) return;
    }
    for (const f of this.fetches) {
      if (f.streaming && f.reaches(p)) return f.want(end, consumed);
      if (!f.streaming && !f.done && p >= f.pos && p < f.end) return;
    }
    if (p - end > ahead / 2) return;
    if (p >= cap) return;
    const f = this.startFetch(p, Math.min(cap, this.streamEnd(p)), true, consumed, end);
    f.want(end, consumed);
  }

  private startFetch(start: number, end: number, streaming: boolean, consumed: number, demand = start): Fetch {
    const f = new Fetch(this, start, end, streaming, consumed, demand);
    this.fetches.add(f);
    void f.finished.then(() => {
      this.fetches.delete(f);
      if (isChanged(f.error)) this.changed(f.error);
      if (this.blocks.length === 0 && this.refs === 0 && this.fetches.size === 0) this.onEmpty(this);
    });
    return f;
  }

  /** The object changed on the server: this version can no longer be read, by anyone. */
  private changed(err: unknown): Error {
    if (!this.failure) {
      // after a rename of ours the object is our copy (a new ETag, the same bytes): its readers
      // follow it (FileReader.repin), nothing is wrong
      if (this.movedByUs) this.log.info(`${this.path}: renamed by this mount while open for reading: readers go on with the copy (ETag ${this.etag} replaced)`);
      // a fetch nobody reads from (a getattr's or a read-ahead's GET) just lost its version
      else if (this.refs - this.aheadRefs <= 0) this.log.debug(`${this.path}: changed on the server before it was read (ETag ${this.etag} no longer matches)`);
      else
        this.log.error(
          `${this.path}: changed on the server while open for reading (ETag ${this.etag} no longer matches); reads fail with EIO rather than mix two versions`,
        );
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

  /** This version will not be read again (replaced or deleted): give its memory back. */
  /**
   * Bytes of this version from `start` that arrived otherwise (a lookup's GET): cached like a
   * fetch's, unless that range's start is cached already.
   */
  adopt(start: number, data: Buffer): void {
    if (data.length === 0 || this.blockAt(start)) return;
    const b = this.cache.allocate(this, start);
    this.addBlock(b);
    this.cache.append(b, data);
    b.filling = false;
  }

  dropBlocks(): void {
    for (const b of [...this.blocks]) this.cache.drop(b);
  }
}

export function isChanged(err: unknown): boolean {
  return err instanceof BackendError && err.kind === 'PreconditionFailed';
}

/** An error from ReadSource.read that means "this version no longer exists". */
export function isVersionGone(err: unknown): boolean {
  return isChanged(err) || (err instanceof Error && (err as Error & { changed?: boolean }).changed === true);
}
