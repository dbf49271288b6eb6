// A local cache file: the content of one file being written other than as a plain stream.
//
// It is a sparse data file plus the set of byte ranges it holds (`present`). Every other byte
// below `base.limit` comes from the object the file started from (`base`, pinned by its ETag and
// read through the VFS's one download engine, see BaseReader), and every byte above it is zero.
// `lostEnd`: bytes below it that are neither present nor in a base could not be kept (the
// first part of a stream that was uploaded, then unlinked): reading them is EIO.
//
// This class only keeps bytes; when they are uploaded, and what the journal says about them,
// is decided by the Item that owns it.
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { vfsError, VfsError } from '../errors.js';
import type { JournalBase } from './journal.js';
import { RangeSet, type Range } from './ranges.js';

const IO_CHUNK = 1024 * 1024;

/** Reads a pinned version of the base object (the download engine of the read path). */
export interface BaseReader {
  /** Read [offset, offset + length) of the pinned version; short only at its end; no download
   *  goes past `limit` (read-ahead stops there). Rejects with a BaseGoneError when that version
   *  no longer exists. */
  read(dst: Buffer, offset: number, length: number, limit: number): Promise<number>;
  /** the ETag read now: differs from the one asked for after our own rename (a copy has a new ETag) */
  readonly etag: string;
  close(): void;
}

export type OpenBase = (base: Readonly<JournalBase>) => BaseReader;

/** The base object changed or vanished on the server: the bytes not written here are gone. */
export class BaseGoneError extends VfsError {
  constructor(message: string, cause?: unknown) {
    super('EIO', message, cause === undefined ? undefined : { cause });
  }
}

/** The data file is gone with bytes only it held: the file can never be uploaded (no retry). */
export class DataLostError extends VfsError {
  constructor(message: string) {
    super('EIO', message);
  }

  /** `err` is one, or was caused by one (a read error of an upload's body comes back wrapped) */
  static in(err: unknown): boolean {
    for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) if (e instanceof DataLostError) return true;
    return false;
  }
}

/** a write this small into an empty data file is made in place, not through the thread pool */
const IN_PLACE_MAX = 64 * 1024;

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

export interface CacheFileInit {
  size: number;
  base: JournalBase | null;
  present?: readonly Range[];
  lostEnd?: number;
  /** the data file exists already (a recovered or reused item) */
  exists?: boolean;
}

export class CacheFile {
  private fh: fs.FileHandle | null = null;
  private exists: boolean;
  /** the data file being created ahead of its first write (prepare()) */
  private preparing: Promise<void> | null = null;
  /** the open data file has had nothing written to it: writing a whole content needs no truncate */
  private empty = false;
  private ioActive = 0;
  size: number;
  private baseInfo: JournalBase | null;
  readonly present: RangeSet;
  private lostEnd: number;
  /** the reader of the base, kept while the base stays (a sequential reader keeps its pattern) */
  private reader: BaseReader | null = null;

  constructor(
    readonly dataPath: string,
    init: CacheFileInit,
    private readonly ensureDir: () => Promise<void>,
  ) {
    this.size = init.size;
    this.baseInfo = init.base ? { ...init.base } : null;
    this.present = new RangeSet(init.present ?? []);
    this.lostEnd = init.lostEnd ?? 0;
    this.exists = init.exists ?? false;
  }

  get base(): Readonly<JournalBase> | null {
    return this.baseInfo;
  }

  /** bytes held locally */
  get localBytes(): number {
    return this.present.bytes;
  }

  /** empty and independent of any object: written from offset 0 again, it can stream */
  get independentAndEmpty(): boolean {
    return this.size === 0 && this.lostEnd === 0 && (!this.baseInfo || this.baseInfo.limit === 0);
  }

  /** every byte below the base's limit is here (nothing to download before an upload) */
  get complete(): boolean {
    return !this.baseInfo || this.baseInfo.limit === 0 || this.present.covers(0, this.baseInfo.limit);
  }

  /** the pinned version of the base object, as the journal records it */
  setBase(base: JournalBase | null): void {
    this.closeReader();
    this.baseInfo = base ? { ...base } : null;
  }

  /** Our rename copied the base object to a new name: a new ETag with the same bytes follows. */
  baseMoved(mtimeNs?: string): void {
    this.closeReader();
    if (!this.baseInfo) return;
    this.baseInfo.moved = true;
    if (mtimeNs !== undefined) this.baseInfo.mtimeNs = mtimeNs;
  }

  // --- the data file --------------------------------------------------------------------------

  /**
   * Create the empty data file now, in the background. A small new file's close then only writes
   * its bytes: creating a file is the slow part of that on a local disk (0.3 ms here, more than the
   * write). A failure is left to the write that needs the file, which tries again and reports it.
   */
  prepare(): void {
    if (this.fh || this.exists || this.preparing) return;
    this.preparing = (async () => {
      await this.ensureDir();
      this.fh = await fs.open(this.dataPath, 'w+', 0o600);
      this.exists = true;
      this.empty = true;
    })()
      .catch(() => undefined)
      .finally(() => (this.preparing = null));
  }

  /** The data file, open (created when missing), for a caller that may write to it. */
  private async open(truncate = false): Promise<fs.FileHandle> {
    if (this.preparing) await this.preparing;
    const empty = this.empty;
    this.empty = false;
    if (this.fh && !truncate) return this.fh;
    await this.ensureDir();
    if (this.fh) {
      if (!empty) await this.fh.truncate(0);
      return this.fh;
    }
    if (this.exists && !truncate) {
      try {
        this.fh = await fs.open(this.dataPath, 'r+');
        return this.fh;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        // removed behind our back (the cache directory deleted while mounted): a new empty file
        // would read as zeros where the bytes written here were, and those zeros would go up
        if (this.present.bytes > 0) {
          throw new DataLostError(
            `its data file ${this.dataPath} was removed while mounted: the ${this.present.bytes} bytes written here that were only there are lost, so it is not uploaded (the object stays as it was)`,
          );
        }
      }
    }
    this.fh = await fs.open(this.dataPath, 'w+', 0o600);
    this.exists = true;
    return this.fh;
  }

  private closeReader(): void {
    this.reader?.close();
    this.reader = null;
  }

  /** Close the data file unless a read is using it (it reopens on demand). */
  async closeData(): Promise<void> {
    if (this.preparing) await this.preparing;
    if (this.ioActive > 0) return;
    this.closeReader();
    if (!this.fh) return;
    const fh = this.fh;
    this.fh = null;
    await fh.close().catch(() => undefined);
  }

  async remove(): Promise<void> {
    if (this.preparing) await this.preparing;
    this.closeReader();
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
    await fs.rm(this.dataPath, { force: true });
    this.exists = false;
  }

  /** fsync of the data written so far (before a journal says it is there) */
  async datasync(): Promise<void> {
    if (this.preparing) await this.preparing;
    if (this.fh) await this.fh.datasync();
  }

  /** Replace the whole content with `buf` (a stream's buffer moving here), no base. */
  async replaceWith(buf: Buffer, alreadyOnDisk = false): Promise<void> {
    this.closeReader();
    if (alreadyOnDisk && this.exists) {
      /* nothing to write */
    } else if (this.fh && this.empty && !this.preparing && buf.length <= IN_PLACE_MAX) {
      // the data file made at create(), still empty: a small file's bytes are written in place
      // (one system call, where the thread pool costs a round trip more than the write)
      this.empty = false;
      for (let done = 0; done < buf.length;) done += writeSync(this.fh.fd, buf, done, buf.length - done, done);
    } else await writeAll(await this.open(true), buf, 0);
    this.size = buf.length;
    this.present.clear();
    this.present.add(0, buf.length);
    this.baseInfo = null;
    this.lostEnd = 0;
  }

  /** The bytes [pushed, pushed + rest.length) of a discarded stream; those before are lost. */
  async keepTail(rest: Buffer, pushed: number): Promise<void> {
    this.closeReader();
    await writeAll(await this.open(true), rest, pushed);
    this.present.clear();
    this.present.add(pushed, pushed + rest.length);
    this.size = pushed + rest.length;
    this.lostEnd = pushed;
    this.baseInfo = null;
  }

  /** The file's content is now exactly `base` (just uploaded): bytes left in the data file are
   *  not `present` any more (never read, overwritten when fetched). */
  resetTo(base: JournalBase): void {
    this.closeReader();
    this.baseInfo = { ...base };
    this.size = base.size;
    this.present.clear();
    this.lostEnd = 0;
  }

  /** The base could not be kept for an unlinked file: what was not fetched is lost. */
  loseBase(): void {
    this.closeReader();
    if (this.baseInfo) this.lostEnd = Math.max(this.lostEnd, this.baseInfo.limit);
    this.baseInfo = null;
  }

  /** Forget the base once every byte of it is here (an unlinked file keeps what it has). */
  dropBase(): void {
    this.closeReader();
    this.baseInfo = null;
  }

  // --- bytes ----------------------------------------------------------------------------------

  async write(data: Buffer, offset: number): Promise<void> {
    await writeAll(await this.open(), data, offset);
    this.present.add(offset, offset + data.length);
    this.size = Math.max(this.size, offset + data.length);
  }

  async truncate(size: number): Promise<void> {
    if (this.fh || this.exists) await (await this.open()).truncate(size);
    this.present.clip(size);
    if (this.baseInfo) this.baseInfo.limit = Math.min(this.baseInfo.limit, size);
    this.lostEnd = Math.min(this.lostEnd, size);
    this.size = size;
  }

  /** true when [start, end) needs bytes of the base that are not here yet */
  needsFetch(start: number, end: number): boolean {
    const limit = Math.max(this.baseInfo?.limit ?? 0, this.lostEnd);
    return start < limit && !this.present.covers(start, Math.min(end, limit));
  }

  /** Copy [start, end) from the data file, zeros where nothing is present and nothing was lost. */
  async readLocal(dst: Buffer, start: number, end: number): Promise<number> {
    if (end <= start) return 0;
    this.ioActive++;
    try {
      let pos = start;
      while (pos < end) {
        const run = this.present.presentRun(pos, end);
        if (run > 0) {
          await readAt(await this.open(), dst, pos - start, run, pos);
          pos += run;
          continue;
        }
        const next = this.present.nextPresent(pos, end);
        if (pos < this.lostEnd)
          throw vfsError('EIO', `bytes ${pos}-${Math.min(next, this.lostEnd)} were uploaded by a stream that was then deleted, and are gone`);
        dst.fill(0, pos - start, next - start);
        pos = next;
      }
      return end - start;
    } finally {
      this.ioActive--;
    }
  }

  /**
   * Download the bytes of [start, end) that the base has and this file does not, through the
   * download engine. `aborted` is asked between chunks (a write preempts a fill before an
   * upload). `readAhead`: whether downloads may run ahead to the end of the base (a reader of
   * the file) or stop at the end of each range missing (a fill before an upload or a truncate).
   * After our own rename the reader may follow the object to its new ETag: the base then
   * records it.
   */
  async fill(open: OpenBase, start: number, end: number, o: { readAhead: boolean; aborted?: () => boolean }): Promise<void> {
    const aborted = o.aborted ?? (() => false);
    const base = this.baseInfo;
    if (!base || base.limit === 0) return;
    const gaps = this.present.missing(start, Math.min(end, base.limit));
    if (gaps.length === 0) return;
    this.reader ??= open(base);
    const reader = this.reader;
    try {
      const fh = await this.open();
      const buf = Buffer.allocUnsafe(
        Math.min(
          IO_CHUNK,
          gaps.reduce((m, [a, b]) => Math.max(m, b - a), 0),
        ),
      );
      for (const [a, b] of gaps) {
        for (let pos = a; pos < b;) {
          if (aborted()) throw vfsError('EIO', 'download of the base object aborted');
          const n = await reader.read(buf, pos, Math.min(buf.length, b - pos), o.readAhead ? base.limit : b);
          if (n <= 0) throw vfsError('EIO', `download of bytes ${a}-${b} stopped at ${pos}`);
          await writeAll(fh, buf.subarray(0, n), pos);
          this.present.add(pos, pos + n);
          pos += n;
        }
      }
    } finally {
      if (reader.etag !== base.etag && this.baseInfo === base) {
        base.etag = reader.etag;
        base.moved = false;
      }
    }
  }

  /** Every byte of the base not present yet (before an upload). */
  fillAll(open: OpenBase, aborted?: () => boolean): Promise<void> {
    return this.fill(open, 0, this.baseInfo?.limit ?? 0, { readAhead: false, ...(aborted ? { aborted } : {}) });
  }

  /** how many bytes fillAll would download */
  get missingBytes(): number {
    const limit = this.baseInfo?.limit ?? 0;
    return this.present.missing(0, limit).reduce((n, [a, b]) => n + b - a, 0);
  }

  // --- the content as an upload body ----------------------------------------------------------

  /** The whole content in memory (small files: one PUT with Content-MD5). */
  async readAll(): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(this.size);
    await this.readLocal(buf, 0, this.size);
    return buf;
  }

  private async *chunks(size: number, aborted: () => boolean): AsyncGenerator<Buffer> {
    for (let pos = 0; pos < size; pos += IO_CHUNK) {
      if (aborted()) throw vfsError('EIO', 'upload aborted');
      const n = Math.min(IO_CHUNK, size - pos);
      const buf = Buffer.allocUnsafe(n);
      await this.readLocal(buf, pos, pos + n);
      yield buf;
    }
  }

  /** The first `size` bytes as a stream (a large upload reads the file as it goes). */
  contentStream(size: number, aborted: () => boolean): Readable {
    return Readable.from(this.chunks(size, aborted), { objectMode: false, highWaterMark: 4 * IO_CHUNK });
  }

  async md5(size: number, aborted: () => boolean): Promise<string> {
    const h = createHash('md5');
    for await (const chunk of this.chunks(size, aborted)) h.update(chunk);
    return h.digest('hex');
  }
}
