// One file being written (or written and not yet uploaded): the state every handle of the path
// shares. It lives in one of two modes, and only ever moves from the first to the second:
//
//  stream   written from offset 0 onwards (create, O_TRUNC, truncate to 0, or an empty object):
//           bytes go into a StreamUpload (stream.ts) and up to the bucket as parts fill, or,
//           for a file smaller than one part, into one PUT (or the cache, with write-back) at
//           close. Rewrites, reads and truncates of bytes not yet handed to the backend are
//           served from its buffer; a forward gap up to MAX_STREAM_GAP is filled with zeros
//           (what the object must hold there anyway).
//
//  cache    a local cache file: a sparse data file with the set of byte ranges it holds
//           (`present`); every other byte below `base.limit` comes from the object the file
//           started from (`base`, pinned by its ETag, fetched with ranged GETs only where read,
//           and all of it before an upload), and above it is zero. Uploaded whole, as one PUT or
//           a multipart upload of known size, at close (write-back 0) or --vfs-write-back after
//           the last close; close/fsync with write-back only make it durable locally (fsync of
//           the data file, then the journal).
//
// Switching from stream to cache when a write, read or truncate cannot be served by the stream:
//  - nothing handed to the backend yet (the file is smaller than one part): the buffer is
//    written to a new cache file, no request at all;
//  - parts already sent: the stream is committed — its bytes so far become the object, exactly
//    as a close would have made it — and the file continues as a cache file whose base is that
//    object. Nothing written is lost, memory stays bounded, no disk is needed for the part
//    already sent, and only the bytes later needed are fetched back (all of them, once, for the
//    final upload). The price: the object is visible with the first bytes before the file is
//    closed, and the prefix is transferred again at the end.
// fsync of a started stream commits it the same way (its bytes are only safe once uploaded).
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BackendError } from '../../backend/s3/backend-error.js';
import { formatSize } from '../../backend/s3/part-size.js';
import type { ObjectInfo, PutOptions, S3BackendApi } from '../../backend/s3/types.js';
import type { Logger } from '../../util/log.js';
import { vfsError, VfsError } from '../errors.js';
import type { MountRoot } from '../paths.js';
import { msToNs } from '../namespace.js';
import { currentOwner, writeFileAtomic, type Journal, type JournalBase, type JournalServer, JOURNAL_VERSION } from './journal.js';
import { Mutex } from './mutex.js';
import { RangeSet, type Range } from './ranges.js';
import { StreamUpload, type StreamTarget } from './stream.js';
import type { WriteFile } from './write-layer.js';

const MiB = 1024 * 1024;
/** a write this far past the end of a stream is filled with zeros; further, the file goes to the cache */
export const MAX_STREAM_GAP = 64 * MiB;
/** cache files up to this size are read into memory for their upload (one PUT with Content-MD5) */
export const SMALL_UPLOAD = 16 * MiB;
/** reads of missing ranges fetch at least this much, doubling while they are sequential */
const FETCH_MIN = MiB;
const FETCH_MAX = 64 * MiB;
const IO_CHUNK = MiB;

export interface ItemContext {
  backend: S3BackendApi;
  bucket: string;
  root: MountRoot;
  log: Logger;
  remote: string;
  /** directory of data files and journals */
  dir: string;
  ensureDir(): Promise<void>;
  chunkSize: number;
  maxUploadParts: number;
  writeBackMs: number;
  cacheMode: string;
  /** all streams' part buffers together stay below this (streams not started go to the cache) */
  streamMemoryBudget: number;
  noChecksum: boolean;
  stream: StreamTarget;
  now(): number;
  /** new content (or a new mtime) reached the bucket; info null when only the mtime changed */
  uploaded(item: Item, info: ObjectInfo | null): void;
  /** the item can no longer be uploaded (its stream failed): forget it */
  broken(item: Item): void;
}

export type ServerState = JournalServer | null | 'unknown';

export function serverOf(info: ObjectInfo, mtimeNs: bigint | null): JournalServer {
  return { etag: info.etag, size: info.size, mtimeNs: mtimeNs === null ? null : String(mtimeNs) };
}

async function writeAll(fh: fs.FileHandle, buf: Buffer, pos: number): Promise<void> {
  let done = 0;
  while (done < buf.length) done += (await fh.write(buf, done, buf.length - done, pos + done)).bytesWritten;
}

async function readAt(fh: fs.FileHandle, dst: Buffer, dstOff: number, n: number, pos: number): Promise<void> {
  let done = 0;
  while (done < n) {
    const { bytesRead } = await fh.read(dst, dstOff + done, n - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  // past the data file's end (a hole at its end): zeros
  if (done < n) dst.fill(0, dstOff + done, dstOff + n);
}

function isPrecondition(err: unknown): boolean {
  return err instanceof BackendError && err.kind === 'PreconditionFailed';
}

function isNotFound(err: unknown): boolean {
  return err instanceof BackendError && err.kind === 'NotFound';
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class Item implements WriteFile {
  mode: 'stream' | 'cache';
  stream: StreamUpload | null = null;
  /** size in cache mode */
  private csize = 0;
  base: JournalBase | null = null;
  present = new RangeSet();
  /** bytes below this that are neither present nor in a base could not be kept (a discarded stream) */
  private lostEnd = 0;
  mtimeNs: bigint;
  /** set by utimens since the last write */
  mtimeExplicit = false;
  /** the X-Amz-Meta-Mtime of the object last uploaded from here */
  storedMtimeNs: bigint | null = null;
  dirty = false;
  /** the content is uploaded, but the stored mtime is not ours yet (a server-side copy will fix it) */
  metaPending = false;
  /** committed from a stream: its object is big and new, a utimens or rename often follows */
  committed = false;
  /** kept (clean, closed) for the write-back delay so such a utimens is carried by one copy */
  lingering = false;
  /** what is at `path` on the server, as far as we know (for the conflict check of a recovery) */
  server: ServerState;
  /** journal state on disk */
  journalState: 'none' | Journal['state'] = 'none';
  refs = 0;
  discarded = false;
  /** a stream that failed: its data is gone, every operation reports this */
  broken: Error | null = null;
  /** may this file use a cache file (--vfs-cache-mode) */
  cacheAllowed: boolean;
  /** bumped by every change of content */
  gen = 0;
  /** a stream's bytes last written to the data file by a flush (what its journal describes) */
  private persistedSize = 0;
  /** gen when a flush last made the content safe (-1: never) */
  private flushedGen = -1;
  uploading: Promise<void> | null = null;
  private uploadCtl: AbortController | null = null;
  /** the upload is still reading the data (holding the lock): a write aborts it rather than wait */
  private uploadLocked = false;
  private fh: fs.FileHandle | null = null;
  private dataExists = false;
  private ioActive = 0;
  private readonly lock = new Mutex();
  private journalQueue: Promise<void> = Promise.resolve();
  private fetchWindow = FETCH_MIN;
  private lastFetchEnd = -1;
  /** write-back / retry timer */
  timer: NodeJS.Timeout | undefined;
  failures = 0;
  /** cannot be uploaded by retrying (its base object is gone): left for the next mount and the user */
  stuck = false;
  lastError: unknown = undefined;
  lastUsed = Date.now();
  private refusedLogged = false;
  /** false for a recovered item until the server was checked for a conflicting version */
  verified = true;

  constructor(
    private readonly ctx: ItemContext,
    readonly id: string,
    public path: string,
    mode: 'stream' | 'cache',
    server: ServerState,
    cacheAllowed: boolean,
  ) {
    this.mode = mode;
    this.server = server;
    this.cacheAllowed = cacheAllowed;
    this.mtimeNs = msToNs(ctx.now());
    if (mode === 'stream') this.stream = new StreamUpload(ctx.stream);
  }

  /** mount-relative path ('' never: the root is a directory) */
  get rel(): string {
    return this.ctx.root.fromBackend(this.path) ?? this.path;
  }

  get size(): number {
    return this.mode === 'stream' ? this.stream!.size : this.csize;
  }

  get dataPath(): string {
    return path.join(this.ctx.dir, `${this.id}.data`);
  }

  get journalPath(): string {
    return path.join(this.ctx.dir, `${this.id}.json`);
  }

  /** bytes of this file held locally (data file or stream buffer) */
  get localBytes(): number {
    return this.mode === 'stream' ? this.stream!.bufferBytes : this.present.bytes;
  }

  /** a new object or an O_TRUNC: an empty stream that is uploaded even if nothing is written */
  static fresh(ctx: ItemContext, id: string, p: string, server: ServerState, cacheAllowed: boolean): Item {
    const it = new Item(ctx, id, p, 'stream', server, cacheAllowed);
    it.dirty = true;
    return it;
  }

  /** an existing object opened without O_TRUNC: nothing local until something is written or read */
  static existing(ctx: ItemContext, id: string, p: string, server: { etag: string; size: number; mtimeNs: bigint | null }, cacheAllowed: boolean): Item {
    const js: JournalServer = { etag: server.etag, size: server.size, mtimeNs: server.mtimeNs === null ? null : String(server.mtimeNs) };
    // an empty object can simply be streamed again
    const it = new Item(ctx, id, p, server.size === 0 ? 'stream' : 'cache', js, cacheAllowed);
    if (server.mtimeNs !== null) it.mtimeNs = server.mtimeNs;
    it.storedMtimeNs = server.mtimeNs;
    if (server.size > 0) {
      it.csize = server.size;
      it.base = { etag: server.etag, size: server.size, limit: server.size, mtimeNs: js.mtimeNs };
    }
    return it;
  }

  /** a pending upload found in the cache at mount time */
  static fromJournal(ctx: ItemContext, j: Journal): Item {
    const it = new Item(ctx, j.id, j.path, 'cache', j.server, true);
    it.csize = j.size;
    it.mtimeNs = BigInt(j.mtimeNs);
    it.base = j.base ? { ...j.base } : null;
    it.present = RangeSet.from(j.present);
    it.dirty = j.state === 'dirty';
    it.journalState = j.state;
    it.dataExists = true;
    it.verified = false;
    return it;
  }

  // ------------------------------------------------------------------------------------------
  // The data file

  private async ensureData(truncate = false): Promise<fs.FileHandle> {
    if (this.fh && !truncate) return this.fh;
    await this.ctx.ensureDir();
    if (this.fh) {
      await this.fh.truncate(0);
      return this.fh;
    }
    if (this.dataExists && !truncate) {
      try {
        this.fh = await fs.open(this.dataPath, 'r+');
        return this.fh;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.fh = await fs.open(this.dataPath, 'w+', 0o600);
    this.dataExists = true;
    return this.fh;
  }

  /** Close the data file if nothing uses it (no handle, no upload). */
  async closeData(): Promise<void> {
    if (!this.fh || this.refs > 0 || this.ioActive > 0 || this.lock.locked) return;
    const fh = this.fh;
    this.fh = null;
    await fh.close().catch(() => undefined);
  }

  /** Remove the data file and the journal (the item is done with, or discarded). */
  async removeFiles(): Promise<void> {
    await this.journalQueue;
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
    await fs.rm(this.dataPath, { force: true });
    await fs.rm(this.journalPath, { force: true });
    this.dataExists = false;
    this.journalState = 'none';
  }

  // ------------------------------------------------------------------------------------------
  // The journal

  journal(state: Journal['state'], durable: boolean): Promise<void> {
    this.journalState = state;
    const snapshot = this.journalRecord(state);
    const p = this.journalQueue.then(async () => {
      if (this.discarded) return;
      await this.ctx.ensureDir();
      await writeFileAtomic(this.journalPath, JSON.stringify(snapshot), durable);
    });
    this.journalQueue = p.catch(() => undefined);
    return p;
  }

  private journalRecord(state: Journal['state']): Journal {
    return {
      v: JOURNAL_VERSION,
      id: this.id,
      remote: this.ctx.remote,
      bucket: this.ctx.bucket,
      path: this.path,
      owner: currentOwner(),
      state,
      mtimeNs: String(this.mtimeNs),
      // a stream is journaled as it was last persisted: that buffer, all of it, is in the data file
      size: this.mode === 'stream' ? this.persistedSize : this.size,
      base: this.mode === 'stream' ? null : this.base ? { ...this.base } : null,
      present: this.mode === 'stream' ? (this.persistedSize > 0 ? [[0, this.persistedSize]] : []) : this.present.toJSON(),
      server: this.server,
      updated: new Date().toISOString(),
    };
  }

  /** Before the first change of a clean cache file: after a crash its bytes are not to be trusted. */
  private async beforeChange(): Promise<void> {
    if (this.journalState === 'clean') await this.journal('modifying', true);
  }

  /** Make the current content durable in the cache: data file fsync, then the journal. */
  private async persist(): Promise<void> {
    if (this.fh) await this.fh.datasync();
    await this.journal('dirty', true);
  }

  // ------------------------------------------------------------------------------------------
  // Locking and preemption of a running upload

  /** A change is coming: an upload still reading the data is given up (it runs again later). */
  private preempt(): void {
    if (this.uploadLocked && this.uploadCtl && !this.uploadCtl.signal.aborted) {
      this.ctx.log.debug(`${this.rel}: written during its upload; the upload starts again later`);
      this.uploadCtl.abort();
    }
  }

  private touch(): void {
    this.dirty = true;
    this.gen++;
    // A started stream's object carries the time its upload started (fixed at
    // CreateMultipartUpload, as rclone stores it for streams of unknown size): the file shows that
    // from then on, so stat agrees while writing, after close and after a remount, and no
    // server-side copy of the whole object is needed to store the time of the last write.
    const s = this.mode === 'stream' ? this.stream : null;
    this.mtimeNs = s?.started && s.storedMtimeNs !== undefined ? s.storedMtimeNs : msToNs(this.ctx.now());
    this.mtimeExplicit = false;
    this.lastUsed = Date.now();
  }

  private check(): void {
    if (this.broken) throw this.broken;
  }

  // ------------------------------------------------------------------------------------------
  // WriteFile

  async write(data: Buffer, offset: number): Promise<number> {
    this.check();
    this.preempt();
    const release = await this.lock.acquire();
    try {
      this.check();
      if (this.mode === 'cache' && this.csize === 0 && offset === 0 && this.lostEnd === 0 && !this.discarded && (!this.base || this.base.limit === 0)) {
        // empty and independent of any object (created, flushed before its first write): stream again
        this.base = null;
        this.present.clear();
        this.mode = 'stream';
        this.stream = new StreamUpload(this.ctx.stream);
      }
      if (this.mode === 'stream') {
        if (await this.streamWrite(data, offset)) {
          this.touch();
          return data.length;
        }
        if (this.mode === 'stream') await this.toCache(offset < this.stream!.pushed ? `a write at ${offset}, before the ${this.stream!.pushed} bytes already uploaded` : `a write at ${offset}, far past the end (${this.size})`);
      } else if (!this.cacheAllowed) throw this.needsCache(`a write at ${offset} of a file already uploaded`);
      await this.beforeChange();
      const fh = await this.ensureData();
      await writeAll(fh, data, offset);
      this.present.add(offset, offset + data.length);
      this.csize = Math.max(this.csize, offset + data.length);
      this.touch();
      return data.length;
    } finally {
      release();
    }
  }

  private streamLimit(): number {
    return this.ctx.chunkSize * this.ctx.maxUploadParts;
  }

  private async tooLarge(end: number): Promise<never> {
    const err = vfsError(
      'EFBIG',
      `${this.rel}: a file written as a stream is limited to ${this.ctx.maxUploadParts} parts of ${formatSize(this.ctx.chunkSize)} (${formatSize(this.streamLimit())}), and this write reaches ${end} bytes: increase --s3-chunk-size`,
    );
    await this.breakStream(err);
    throw err;
  }

  /**
   * The mtime a stream's upload stores, asked when it starts — always within a write or an
   * extending truncate, which then makes it the file's mtime (touch()): now.
   */
  private streamStartMtime(): bigint {
    return msToNs(this.ctx.now());
  }

  /** A write in stream mode; false when the stream cannot take it. */
  private async streamWrite(data: Buffer, offset: number): Promise<boolean> {
    const s = this.stream!;
    const end = offset + data.length;
    if (offset < s.pushed) return false;
    // many files written at once: the ones not streaming yet continue in cache files rather
    // than in memory (the budget is for the part buffers of all streams together)
    if (!s.started && this.cacheAllowed && this.ctx.stream.memory.bytes + data.length > this.ctx.streamMemoryBudget) {
      this.ctx.log.debug(`${this.rel}: stream buffers at their budget: continuing in a cache file`);
      await this.streamToLocal();
      return false;
    }
    if (offset > s.size && offset - s.size > MAX_STREAM_GAP) return false;
    if (end > this.streamLimit()) await this.tooLarge(end);
    const key = () => this.path;
    const mtime = () => this.streamStartMtime();
    try {
      if (offset > s.size) await s.appendZeros(offset - s.size, key, mtime);
      let rest = data;
      if (offset < s.size) {
        const n = Math.min(data.length, s.size - offset);
        s.overwrite(data.subarray(0, n), offset);
        rest = data.subarray(n);
      }
      if (rest.length > 0) await s.append(rest, key, mtime);
    } catch (err) {
      await this.breakStream(err);
      throw this.broken;
    }
    return true;
  }

  async read(dst: Buffer, offset: number, length: number): Promise<number> {
    this.check();
    this.lastUsed = Date.now();
    if (this.mode === 'stream') {
      const s = this.stream!;
      if (offset >= s.size || length <= 0) return 0;
      if (offset >= s.pushed) return s.readBuffered(dst, offset, Math.min(length, s.size - offset));
      const release = await this.lock.acquire();
      try {
        this.check();
        if (this.mode === 'stream') await this.toCache(`a read at ${offset}, of bytes already uploaded`);
      } finally {
        release();
      }
    }
    const end = Math.min(this.csize, offset + length);
    if (end <= offset) return 0;
    if (this.needsFetch(offset, end)) {
      const release = await this.lock.acquire();
      try {
        await this.fetchForRead(offset, Math.min(this.csize, offset + length));
      } finally {
        release();
      }
    }
    return this.readLocal(dst, offset, Math.min(this.csize, offset + length));
  }

  private needsFetch(start: number, end: number): boolean {
    const limit = Math.max(this.base?.limit ?? 0, this.lostEnd);
    return start < limit && !this.present.covers(start, Math.min(end, limit));
  }

  /** Copy [start, end) from the data file, zeros where nothing is present. */
  private async readLocal(dst: Buffer, start: number, end: number): Promise<number> {
    if (end <= start) return 0;
    this.ioActive++;
    try {
      let pos = start;
      while (pos < end) {
        const run = this.present.presentRun(pos, end);
        if (run > 0) {
          const fh = await this.ensureData();
          await readAt(fh, dst, pos - start, run, pos);
          pos += run;
        } else {
          const next = this.present.nextPresent(pos, end);
          if (pos < this.lostEnd) throw vfsError('EIO', `${this.rel}: bytes ${pos}-${Math.min(next, this.lostEnd)} were uploaded by a stream that was then deleted, and are gone`);
          dst.fill(0, pos - start, next - start);
          pos = next;
        }
      }
      return end - start;
    } finally {
      this.ioActive--;
    }
  }

  /** Fetch what a read of [start, end) needs from the base, in growing windows while sequential. */
  private async fetchForRead(start: number, end: number): Promise<void> {
    const base = this.base;
    if (!base || base.limit === 0) return;
    if (start === this.lastFetchEnd) this.fetchWindow = Math.min(FETCH_MAX, this.fetchWindow * 2);
    else if (start < this.lastFetchEnd - FETCH_MAX || start > this.lastFetchEnd + FETCH_MAX) this.fetchWindow = FETCH_MIN;
    const from = Math.floor(start / FETCH_MIN) * FETCH_MIN;
    const to = Math.min(base.limit, Math.max(end, from + this.fetchWindow));
    for (const [a, b] of this.present.missing(from, to)) await this.fetchRange(a, b);
    this.lastFetchEnd = to;
  }

  /** Download [a, b) of the base into the data file. */
  private async fetchRange(a: number, b: number, signal?: AbortSignal): Promise<void> {
    const base = this.base!;
    const fh = await this.ensureData();
    for (let attempt = 0; ; attempt++) {
      let pos = a;
      try {
        const { body } = await this.ctx.backend.read(this.ctx.bucket, this.path, { offset: a, count: b - a, ifMatch: base.etag, ...(signal ? { signal } : {}) });
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            const take = chunk.subarray(0, Math.max(0, b - pos));
            await writeAll(fh, take, pos);
            pos += take.length;
            if (pos >= b) break;
          }
        } finally {
          body.destroy();
          if (pos > a) this.present.add(a, pos);
        }
        if (pos < b) throw vfsError('EIO', `${this.rel}: download of bytes ${a}-${b} stopped at ${pos}`);
        return;
      } catch (err) {
        if ((isPrecondition(err) || isNotFound(err)) && attempt === 0 && (await this.rebaseIfSame())) continue;
        if (isPrecondition(err) || isNotFound(err)) {
          this.stuck = true;
          throw vfsError('EIO', `${this.rel}: the object changed on the server since this file was opened for writing; the bytes not written here (${a}-${b}) cannot be read any more`, err);
        }
        throw err;
      }
    }
  }

  /**
   * The base's ETag no longer matches. If we moved it (a rename is a copy) or uploaded it
   * (moto's ETags race with large uploads), an object of the same size and stored mtime is the
   * same bytes: adopt its ETag. True when adopted.
   */
  private async rebaseIfSame(): Promise<boolean> {
    const base = this.base!;
    const info = await this.ctx.backend.head(this.ctx.bucket, this.path);
    if (!info || info.size !== base.size) return false;
    const sameMtime = base.mtimeNs !== undefined && base.mtimeNs !== null && info.mtimeNs !== null && String(info.mtimeNs) === base.mtimeNs;
    if (!base.moved && !sameMtime) return false;
    this.ctx.log.debug(`${this.rel}: base object has a new ETag ${info.etag} (was ${base.etag}), same size and mtime: the same bytes`);
    base.etag = info.etag;
    base.moved = false;
    return true;
  }

  async truncate(size: number): Promise<void> {
    this.check();
    this.preempt();
    const release = await this.lock.acquire();
    try {
      this.check();
      if (this.mode === 'stream') {
        const s = this.stream!;
        if (size >= s.size && size - s.size <= MAX_STREAM_GAP) {
          if (size > this.streamLimit()) await this.tooLarge(size);
          try {
            await s.appendZeros(size - s.size, () => this.path, () => this.streamStartMtime());
          } catch (err) {
            await this.breakStream(err);
            throw this.broken;
          }
          this.touch();
          return;
        }
        if (size < s.size && size >= s.pushed) {
          s.shrink(size);
          this.touch();
          return;
        }
        if (size === 0) {
          // everything goes: the upload in progress is given up, nothing of it becomes an object
          await s.abort();
          this.stream = new StreamUpload(this.ctx.stream);
          this.touch();
          return;
        }
        await this.toCache(`a truncate to ${size}`);
      } else if (!this.cacheAllowed) throw this.needsCache(`a truncate to ${size}`);
      await this.beforeChange();
      if (this.fh || this.dataExists) await (await this.ensureData()).truncate(size);
      this.present.clip(size);
      if (this.base) this.base.limit = Math.min(this.base.limit, size);
      this.lostEnd = Math.min(this.lostEnd, size);
      this.csize = size;
      this.touch();
      if (size === 0 && this.lostEnd === 0 && !this.discarded) {
        // empty and independent of any object: written from 0 again, it can stream
        this.base = null;
        this.mode = 'stream';
        this.stream = new StreamUpload(this.ctx.stream);
      }
    } finally {
      release();
    }
  }

  setMtime(mtimeNs: bigint): boolean {
    this.mtimeNs = mtimeNs;
    this.mtimeExplicit = true;
    this.lastUsed = Date.now();
    if (this.broken || this.discarded) return true;
    // stored with the upload still to come; a running one is followed by an mtime fix-up
    if (this.dirty || this.uploading || this.mode === 'stream' || this.metaPending || this.lingering) {
      if (!this.dirty && !this.uploading && this.mode === 'cache') this.metaPending = true;
      // the next flush journals it; with no handle open none may come: journal it now
      this.flushedGen = -1;
      if (this.journalState === 'dirty' && this.refs === 0) void this.journal('dirty', true).catch(() => undefined);
      return true;
    }
    // the caller sets it on the stored object with a server-side copy: a new ETag, the same bytes
    if (this.base) {
      this.base.moved = true;
      this.base.mtimeNs = String(mtimeNs);
    }
    this.storedMtimeNs = mtimeNs;
    return false;
  }

  /**
   * close(2) and fsync(2): what was written must be safe when this returns — uploaded, or with
   * write-back durable in the cache. The kernel sends one for every close(2), also of a dup'd
   * descriptor before any write (dd, shell redirections do that), so a flush with nothing new
   * since the last one does nothing, and a stream that has not started is only persisted
   * beside itself (its buffer written to the cache file and journaled): it keeps streaming.
   */
  async flush(): Promise<void> {
    this.check();
    if (this.discarded) return;
    let uploadNow = false;
    const release = await this.lock.acquire();
    try {
      this.check();
      if (this.flushedGen === this.gen) return;
      const wb = this.ctx.writeBackMs > 0 && this.cacheAllowed;
      if (this.mode === 'stream') {
        const s = this.stream!;
        if (s.started) await this.commitStream();
        else if (!this.dirty) return;
        else if (wb) await this.persistStream();
        else await this.putSmallStream();
        this.flushedGen = this.gen;
        return;
      }
      if (!this.dirty) return;
      if (wb) {
        await this.persist();
        this.flushedGen = this.gen;
        return;
      }
      uploadNow = true;
    } finally {
      release();
    }
    if (uploadNow) await this.uploadNow();
  }

  /** A stream that has not started, made durable: its buffer in the cache file, journaled. */
  private async persistStream(): Promise<void> {
    const buf = this.stream!.buffered();
    const fh = await this.ensureData(true);
    await writeAll(fh, buf, 0);
    await fh.datasync();
    this.persistedSize = buf.length;
    await this.journal('dirty', true);
  }

  /** fsync(2): as close. */
  fsync(): Promise<void> {
    return this.flush();
  }

  /** Upload the current content before returning (write-back 0, unmount). */
  async uploadNow(): Promise<void> {
    while (this.uploading) await this.uploading.catch(() => undefined);
    if ((!this.dirty && !this.metaPending) || this.discarded || this.broken) return;
    try {
      await this.upload();
    } catch (err) {
      if (this.cacheAllowed && this.mode === 'cache') await this.persist().catch(() => undefined);
      throw this.uploadError(err);
    }
    if (this.dirty && this.mode === 'cache') {
      // changed through another handle while uploading: durable here, uploaded at its last close
      await this.persist();
    }
  }


  uploadError(err: unknown): Error {
    if (err instanceof VfsError) return err;
    if (err instanceof BackendError && err.kind === 'TooLarge') return vfsError('EFBIG', `${this.rel}: ${err.message}`, err);
    return vfsError('EIO', `${this.rel}: upload failed: ${message(err)}${this.cacheAllowed && this.mode === 'cache' ? ` (kept in ${this.dataPath})` : ''}`, err);
  }

  // ------------------------------------------------------------------------------------------
  // Stream endings

  /** Stream → cache file (under the lock). See the file comment. */
  private async toCache(reason: string): Promise<void> {
    if (!this.cacheAllowed) {
      throw this.needsCache(reason);
    }
    const s = this.stream!;
    if (!s.started) {
      this.ctx.log.debug(`${this.rel}: ${reason}: continuing in a cache file`);
      await this.streamToLocal();
      return;
    }
    this.ctx.log.info(`${this.rel}: ${reason}: committing the ${s.size} bytes streamed so far, continuing in a cache file`);
    await this.commitStream();
  }

  private needsCache(reason: string): VfsError {
    const err = vfsError('EPERM', `${this.rel}: ${reason} needs a local cache file, which --vfs-cache-mode ${this.ctx.cacheMode} does not allow for this file (use --vfs-cache-mode writes)`);
    // EPERM is not logged by the errno map; this one the user should see, once per file
    if (!this.refusedLogged) this.ctx.log.notice(err.message.replace(/^EPERM: /, ''));
    this.refusedLogged = true;
    return err;
  }

  /** A stream that never started → a cache file holding its buffer (no request). */
  private async streamToLocal(): Promise<void> {
    const s = this.stream!;
    const buf = s.buffered();
    // persisted by the last flush and unchanged since: the data file holds these bytes already
    if (!(this.dataExists && this.flushedGen === this.gen && this.persistedSize === buf.length)) {
      const fh = await this.ensureData(true);
      await writeAll(fh, buf, 0);
    }
    this.csize = buf.length;
    this.present.clear();
    this.present.add(0, buf.length);
    this.base = null;
    s.release();
    this.stream = null;
    this.mode = 'cache';
  }

  /** A stream that never started, uploaded as one PUT (write-back 0). On failure its bytes are kept in the cache. */
  private async putSmallStream(): Promise<void> {
    const s = this.stream!;
    const buf = s.buffered();
    const mtime = this.mtimeNs;
    const t0 = Date.now();
    let info: ObjectInfo;
    try {
      info = await this.ctx.backend.put(this.ctx.bucket, this.path, buf, { mtimeNs: mtime });
    } catch (err) {
      this.lastError = err;
      if (this.cacheAllowed) {
        await this.streamToLocal();
        await this.persist();
        this.ctx.log.error(`${this.rel}: upload failed, kept in the cache (${this.dataPath}) to be retried: ${message(err)}`);
        throw this.uploadError(err);
      }
      await this.breakStream(err);
      throw this.broken;
    }
    this.ctx.log.info(`${this.rel}: uploaded ${buf.length} bytes in ${Date.now() - t0}ms`);
    s.release();
    this.stream = null;
    this.becomeClean(info, mtime);
    if (this.journalState !== 'none') await this.journal('clean', true);
    this.ctx.uploaded(this, info);
  }

  /** After an upload of the whole content: a clean cache item whose base is the new object. */
  private becomeClean(info: ObjectInfo, mtime: bigint): void {
    this.mode = 'cache';
    this.csize = info.size;
    this.base = { etag: info.etag, size: info.size, limit: info.size, mtimeNs: String(mtime) };
    this.present.clear();
    this.lostEnd = 0;
    this.dirty = false;
    this.storedMtimeNs = mtime;
    this.server = serverOf(info, mtime);
    this.lastError = undefined;
    this.failures = 0;
    // (bytes left in the data file are not `present`: never read, overwritten when fetched)
  }

  /** Finish a started stream: its bytes become the object (under the lock). */
  private async commitStream(): Promise<void> {
    const s = this.stream!;
    const t0 = Date.now();
    let info: ObjectInfo;
    try {
      info = await s.finish();
    } catch (err) {
      await this.breakStream(err);
      throw this.broken;
    }
    const stored = s.storedMtimeNs ?? this.mtimeNs;
    this.ctx.log.info(`${this.rel}: uploaded ${info.size} bytes as a stream in ${Date.now() - t0}ms after the last write`);
    this.stream = null;
    const wanted = this.mtimeNs;
    const explicit = this.mtimeExplicit;
    this.becomeClean(info, stored);
    this.committed = true;
    // Only a time set by utimens since the last write (touch -d, cp -p, rsync -t while the stream
    // ran) is worth a server-side copy of the whole object. An implicit one is the time the
    // upload started, which the object stores (touch() keeps the two equal once it started): no
    // copy, and stat shows the same before and after this and after a remount.
    this.mtimeNs = explicit ? wanted : stored;
    this.mtimeExplicit = explicit;
    // a journal of an earlier flush (the small stream persisted) must not be recovered now
    if (this.journalState !== 'none') await this.journal('clean', true);
    this.ctx.uploaded(this, info);
    if (explicit && wanted !== stored) {
      // with write-back the copy waits too: a utimens (cp -p, rsync -t) or a rename (rsync's
      // temporary file) that comes first carries the time in the one copy it makes anyway
      if (this.ctx.writeBackMs > 0) this.metaPending = true;
      else await this.fixMtime();
    }
  }

  /** The stored mtime differs from ours and the content is uploaded: a server-side copy sets it. */
  private async fixMtime(): Promise<void> {
    const want = this.mtimeNs;
    this.metaPending = false;
    try {
      await this.ctx.backend.setMtime(this.ctx.bucket, this.path, want);
    } catch (err) {
      this.ctx.log.error(`${this.rel}: could not store the modification time: ${message(err)}`);
      return;
    }
    this.storedMtimeNs = want;
    if (this.base) {
      this.base.moved = true;
      this.base.mtimeNs = String(want);
    }
    if (this.server && this.server !== 'unknown') this.server = { ...this.server, etag: '', mtimeNs: String(want) };
    this.ctx.uploaded(this, null);
  }

  /** The stream's upload failed (or was refused): nothing of it is stored; the file is unusable. */
  private async breakStream(err: unknown): Promise<void> {
    const s = this.stream;
    if (s) await s.abort();
    s?.release();
    const e = this.uploadError(err);
    if (!this.broken) {
      this.ctx.log.error(`${this.rel}: ${e.message.replace(/^E[A-Z]+: /, '')}; nothing was stored${this.server && this.server !== 'unknown' ? ', the previous version stays' : ''}`);
    }
    this.broken = e;
    this.dirty = false;
    this.ctx.broken(this);
  }

  // ------------------------------------------------------------------------------------------
  // Upload of a cache file

  upload(): Promise<void> {
    if (!this.uploading) {
      this.uploading = this.doUpload().finally(() => {
        this.uploading = null;
      });
    }
    return this.uploading;
  }

  private async doUpload(): Promise<void> {
    const ctl = new AbortController();
    this.uploadCtl = ctl;
    const release = await this.lock.acquire();
    let locked = true;
    const unlock = () => {
      if (!locked) return;
      locked = false;
      this.uploadLocked = false;
      release();
    };
    this.uploadLocked = true;
    try {
      if (this.broken || this.discarded || ctl.signal.aborted) return;
      if (this.mode === 'stream') {
        if (this.stream!.started) {
          await this.commitStream();
          return;
        }
        if (!this.dirty) return;
        if (!this.cacheAllowed) {
          await this.putSmallStream();
          return;
        }
        await this.streamToLocal();
      }
      if (!this.dirty) {
        if (this.metaPending || (this.storedMtimeNs !== null && this.mtimeNs !== this.storedMtimeNs)) await this.fixMtime();
        return;
      }
      await this.fillMissing(ctl.signal);
      const gen = this.gen;
      const size = this.csize;
      const mtime = this.mtimeNs;
      const key = this.path;
      let body: Buffer | Readable;
      let stream: Pick<PutOptions, 'reopen' | 'hashMd5'> = {};
      if (size <= SMALL_UPLOAD) {
        const buf = Buffer.allocUnsafe(size);
        await this.readLocal(buf, 0, size);
        body = buf;
        unlock();
      } else {
        // from the cache file, which holds the lock until the upload is done (a write aborts it)
        body = this.contentStream(size, ctl.signal);
        stream = { reopen: () => this.contentStream(size, ctl.signal) };
        if (!this.ctx.noChecksum) stream.hashMd5 = () => this.md5Content(size, ctl.signal);
      }
      const t0 = Date.now();
      const info = await this.ctx.backend.put(this.ctx.bucket, key, body, { size, mtimeNs: mtime, signal: ctl.signal, ...stream });
      unlock();
      if (this.discarded) {
        // unlinked while uploading: the object must not stay
        await this.ctx.backend.delete(this.ctx.bucket, [key]).catch((err) => this.ctx.log.error(`${key}: could not delete the upload of a deleted file: ${message(err)}`));
        return;
      }
      this.ctx.log.info(`${this.rel}: uploaded ${size} bytes in ${Date.now() - t0}ms`);
      this.server = serverOf(info, mtime);
      this.storedMtimeNs = mtime;
      this.failures = 0;
      this.lastError = undefined;
      if (this.gen === gen) {
        this.dirty = false;
        this.base = { etag: info.etag, size, limit: size, mtimeNs: String(mtime) };
      } else {
        // changed meanwhile: everything below the old limit was fetched, no base is needed any more
        this.base = { etag: info.etag, size, limit: 0, mtimeNs: String(mtime) };
      }
      if (this.dirty) await this.journal('dirty', true);
      else if (this.journalState !== 'none') await this.journal('clean', true);
      this.ctx.uploaded(this, { ...info, mtimeNs: mtime });
      if (!this.dirty && this.mtimeNs !== mtime) await this.fixMtime();
    } catch (err) {
      // preempted by a write (it runs again later), or discarded: not a failure
      if (ctl.signal.aborted) return;
      this.lastError = err;
      throw err;
    } finally {
      unlock();
      if (this.uploadCtl === ctl) this.uploadCtl = null;
    }
  }

  /**
   * After the last close of a dirty cache file that still depends on its base object: fetch
   * what it needs now (the upload must anyway) and journal it, so a crash followed by a change
   * of the object on the server can no longer leave it incomplete. Writes preempt it.
   */
  async prefill(): Promise<void> {
    if (!this.dirty || this.mode !== 'cache' || !this.base || this.base.limit === 0 || this.present.covers(0, this.base.limit)) return;
    if (this.uploading || this.refs > 0) return;
    const ctl = new AbortController();
    this.uploadCtl = ctl;
    const release = await this.lock.acquire();
    this.uploadLocked = true;
    try {
      if (!this.dirty || this.discarded || this.refs > 0 || ctl.signal.aborted) return;
      await this.fillMissing(ctl.signal);
      if (this.journalState === 'dirty') await this.journal('dirty', true);
    } catch (err) {
      if (!ctl.signal.aborted) this.ctx.log.debug(`${this.rel}: prefetch before the upload: ${message(err)}`);
    } finally {
      this.uploadLocked = false;
      if (this.uploadCtl === ctl) this.uploadCtl = null;
      release();
      await this.closeData();
    }
  }

  /** Download every byte of the base not present (before an upload). */
  private async fillMissing(signal?: AbortSignal): Promise<void> {
    const base = this.base;
    if (!base || base.limit === 0) return;
    const gaps = this.present.missing(0, base.limit);
    if (gaps.length === 0) return;
    const bytes = gaps.reduce((n, [a, b]) => n + b - a, 0);
    this.ctx.log.debug(`${this.rel}: fetching ${bytes} bytes not written here (${gaps.length} ranges) before the upload`);
    for (const [a, b] of gaps) await this.fetchRange(a, b, signal);
  }

  private async *contentChunks(size: number, signal: AbortSignal): AsyncGenerator<Buffer> {
    for (let pos = 0; pos < size; pos += IO_CHUNK) {
      if (signal.aborted) throw new BackendError('Aborted', 'PUT', this.path, 'aborted');
      const n = Math.min(IO_CHUNK, size - pos);
      const buf = Buffer.allocUnsafe(n);
      await this.readLocal(buf, pos, pos + n);
      yield buf;
    }
  }

  private contentStream(size: number, signal: AbortSignal): Readable {
    return Readable.from(this.contentChunks(size, signal), { objectMode: false, highWaterMark: 4 * IO_CHUNK });
  }

  private async md5Content(size: number, signal: AbortSignal): Promise<string> {
    const h = createHash('md5');
    for await (const chunk of this.contentChunks(size, signal)) h.update(chunk);
    return h.digest('hex');
  }

  // ------------------------------------------------------------------------------------------
  // Names

  /**
   * Before a rename of this file: 'local' when it can simply move (its content is all here and
   * not uploaded yet: no request at all), 'server' when the object on the server moves with it
   * (a server-side copy), after this commits a started stream.
   */
  async prepareRename(): Promise<'local' | 'server' | { server: bigint }> {
    this.cancelTimer();
    while (this.uploading) await this.uploading.catch(() => undefined);
    const release = await this.lock.acquire();
    try {
      if (this.broken) return 'server';
      if (this.mode === 'stream') {
        if (!this.stream!.started) return this.dirty ? 'local' : 'server';
        await this.commitStream();
        return this.metaPending ? { server: this.mtimeNs } : 'server';
      }
      if (!this.dirty) return this.metaPending ? { server: this.mtimeNs } : 'server';
      if (this.base && this.base.limit > 0 && !this.present.covers(0, this.base.limit)) return 'server';
      return 'local';
    } finally {
      release();
    }
  }

  /** The object this file depends on was copied to a new name by a rename of ours. */
  followServerRename(newPath: string): void {
    this.path = newPath;
    if (this.base) this.base.moved = true;
    if (this.server && this.server !== 'unknown') this.server = { ...this.server, etag: '' };
  }

  /** unlink: nothing of this file may reach the bucket; open handles keep working on local data. */
  async discard(): Promise<void> {
    this.discarded = true;
    // what open handles still write stays local
    this.cacheAllowed = true;
    this.cancelTimer();
    this.uploadCtl?.abort();
    while (this.uploading) await this.uploading.catch(() => undefined);
    const release = await this.lock.acquire();
    try {
      if (this.mode === 'stream' && this.stream) {
        const s = this.stream;
        if (s.started) {
          // the bytes already sent cannot be kept: later reads of them fail
          const rest = Buffer.from(s.buffered());
          const pushed = s.pushed;
          await s.abort();
          s.release();
          const fh = await this.ensureData(true);
          await writeAll(fh, rest, pushed);
          this.present.clear();
          this.present.add(pushed, pushed + rest.length);
          this.csize = pushed + rest.length;
          this.lostEnd = pushed;
          this.base = null;
          this.stream = null;
          this.mode = 'cache';
        } else await this.streamToLocal();
      } else if (this.refs > 0 && this.base && this.base.limit > 0 && !this.present.covers(0, this.base.limit)) {
        // the object goes now, but open handles may still read it: keep its bytes here
        try {
          await this.fillMissing();
        } catch (err) {
          this.ctx.log.error(`${this.rel}: unlinked while open; could not keep the bytes not read yet: ${message(err)}`);
          this.lostEnd = this.base.limit;
        }
        this.base = null;
      }
      this.dirty = false;
    } finally {
      release();
    }
    await this.journalQueue;
    await fs.rm(this.journalPath, { force: true });
    this.journalState = 'none';
  }

  cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Unmount: a dirty item not yet journaled durably is, so the next mount uploads it. */
  async persistIfDirty(): Promise<void> {
    if (!this.dirty || this.discarded || this.broken) return;
    const release = await this.lock.acquire();
    try {
      if (this.mode === 'stream') {
        if (this.stream!.started || !this.cacheAllowed) return;
        await this.streamToLocal();
      }
      await this.persist();
    } finally {
      release();
    }
  }
}

export type { Range };
