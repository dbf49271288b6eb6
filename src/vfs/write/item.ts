// One file being written, as its handles see it: write, read, truncate, utimens, close/fsync,
// and what rename and unlink do to it. The state it works on is item-state.ts; its uploads are
// item-upload.ts; when it is uploaded is the write-back layer's decision.
//
// Switching from stream to cache when a write, read or truncate cannot be served by the stream:
//  - nothing handed to the backend yet (the file is smaller than one part): the buffer is
//    written to the data file, no request at all;
//  - parts already sent: the stream is committed — its bytes so far become the object, exactly
//    as a close would have made it — and the file continues as a cache file whose base is that
//    object. Nothing written is lost, memory stays bounded, no disk is needed for the part
//    already sent, and only the bytes later needed are fetched back (all of them, once, for the
//    final upload). The price: the object is visible with the first bytes before the file is
//    closed, and the prefix is transferred again at the end.
// fsync of a started stream commits it the same way (its bytes are only safe once uploaded).
import type { ObjectInfo, PutOptions } from '../../backend/s3/types.js';
import type { PosixMeta } from '../../backend/s3/metadata.js';
import { MAX_OBJECT_SIZE } from '../../backend/s3/part-size.js';
import { msToNs } from '../namespace.js';
import { MAX_STREAM_GAP } from './content.js';
import type { CacheFile } from './cache-file.js';
import type { Journal } from './journal.js';
import { message, serverOf, type ItemContext, type RenameKind, type ServerState } from './item-state.js';
import { ItemUploads } from './item-upload.js';
import { RangeSet } from './ranges.js';
import { vfsError } from '../errors.js';
import type { WriteFile } from './write-layer.js';
import { isCacheUnwritable, isDiskFull, isUploadConflict } from './conflicts.js';

export class Item extends ItemUploads implements WriteFile {
  /** kept (clean, closed) for the write-back delay so that a utimens is carried by one copy */
  private lingerFlag = false;

  /** a new object or an O_TRUNC: an empty stream that is uploaded even if nothing is written */
  static fresh(ctx: ItemContext, id: string, rel: string, server: ServerState, cacheAllowed: boolean): Item {
    const it = new Item(ctx, id, rel, 'stream', server, cacheAllowed);
    it.dirtyFlag = true;
    // with write-back, its close writes what it has not streamed to the data file and journals
    // it: create those files now, while the application is still writing
    if (ctx.writeBackMs > 0 && it.mayCache() && it.content.kind === 'stream') {
      it.content.spill.prepare();
      it.journal.prepare();
    }
    return it;
  }

  /** an existing object opened without O_TRUNC: nothing local until something is written or read */
  static existing(ctx: ItemContext, id: string, rel: string, server: { etag: string; size: number; mtimeNs: bigint | null }, cacheAllowed: boolean): Item {
    const js = { etag: server.etag, size: server.size, mtimeNs: server.mtimeNs === null ? null : String(server.mtimeNs) };
    // an empty object can simply be streamed again
    const it = new Item(ctx, id, rel, 'stream', js, cacheAllowed);
    if (server.size > 0) {
      const file = it.newDataFile({ size: server.size, base: { etag: server.etag, size: server.size, limit: server.size, mtimeNs: js.mtimeNs } });
      it.content = { kind: 'cache', file };
    }
    if (server.mtimeNs !== null) it.mtimeNs = server.mtimeNs;
    it.storedMtimeNs = server.mtimeNs;
    return it;
  }

  /** a pending upload (or a clean cached copy) found in the cache at mount time */
  static fromJournal(ctx: ItemContext, rel: string, j: Journal): Item {
    const it = new Item(ctx, j.id, rel, 'stream', j.server, true, j.state);
    const file = it.newDataFile({ size: j.size, base: j.base, present: RangeSet.from(j.present).toJSON(), exists: true });
    it.content = { kind: 'cache', file };
    it.mtimeNs = BigInt(j.mtimeNs);
    it.dirtyFlag = j.state === 'dirty';
    it.journaledEnd = j.present.reduce((end, r) => Math.max(end, r[1]), 0);
    const posix = journaledPosix(j.posix);
    if (posix && it.dirtyFlag) {
      it.posixMeta = posix;
      it.posixDirty = true;
    }
    return it;
  }

  get lingering(): boolean {
    return this.lingerFlag;
  }
  linger(on: boolean): void {
    this.lingerFlag = on;
  }

  // --- write ----------------------------------------------------------------------------------

  async write(data: Buffer, offset: number): Promise<number> {
    this.check();
    this.checkSize(offset + data.length, 'a write');
    this.preempt();
    return this.lock.run(async () => {
      this.check();
      const c = this.content;
      if (c.kind === 'cache' && offset === 0 && !this.discarded && c.file.independentAndEmpty) {
        // empty and independent of any object (created, flushed before its first write): stream again
        this.content = this.newStream(c.file);
      }
      const s = this.content.kind === 'stream' ? this.content.stream : null;
      if (s) {
        if (await this.streamWrite(data, offset)) {
          this.touch();
          return data.length;
        }
        if (this.content.kind === 'stream') {
          await this.toCache(
            offset < s.pushed ? `a write at ${offset}, before the ${s.pushed} bytes already uploaded` : `a write at ${offset}, far past the end (${this.size})`,
          );
        }
      } else if (!this.mayCache()) throw this.needsCache(`a write at ${offset} of a file already uploaded`);
      const file = this.cacheFile();
      await this.beforeChange();
      await this.ctx.room.write(data.length, () => file.write(data, offset));
      this.touch();
      return data.length;
    });
  }

  /** the cache file, once the content is known to be one (after toCache) */
  private cacheFile(): CacheFile {
    const c = this.content;
    if (c.kind === 'broken') throw c.error;
    if (c.kind !== 'cache') throw new Error(`${this.rel}: expected a cache file`);
    return c.file;
  }

  /**
   * The mtime a stream's upload stores, asked when it starts — always within a write or an
   * extending truncate, which then makes it the file's mtime (touch()): now.
   */
  private streamStartMtime = (): bigint => msToNs(this.ctx.clock.now());

  private streamKey = (): string => this.ctx.bucket.keyOf(this.rel);
  /**
   * A stream's upload starts with the mode and owners set so far (no copy needed for them), and
   * completes only over the version this file was based on, or where nothing was: refused,
   * another client's version is kept aside first (ItemContext.keepTheirs), since the streamed
   * bytes can become an object at this name only.
   */
  private streamStart = (): Pick<PutOptions, 'metadata' | 'condition' | 'onRefused'> => {
    this.streamPosix = this.posixMeta;
    const metadata = this.posixMetadata();
    const condition = this.uploadCondition;
    return {
      ...(metadata ? { metadata } : {}),
      ...(condition ? { condition, onRefused: () => this.ctx.keepTheirs(this) } : {}),
    };
  };

  /** A write in stream mode; false when the stream cannot take it. */
  private async streamWrite(data: Buffer, offset: number): Promise<boolean> {
    const c = this.content;
    if (c.kind !== 'stream') return false;
    const s = c.stream;
    const end = offset + data.length;
    if (offset < s.pushed) return false;
    // many files written at once: the ones not streaming yet continue in cache files rather
    // than in memory (the budget is for the part buffers of all streams together)
    if (!s.started && this.mayCache() && this.ctx.stream.memory.bytes + data.length > this.ctx.streamMemoryBudget) {
      this.ctx.log.debug(`${this.rel}: stream buffers at their budget: continuing in a cache file`);
      await this.streamToLocal();
      return false;
    }
    if (offset > s.size && offset - s.size > MAX_STREAM_GAP) return false;
    if (end > this.streamLimit()) throw await this.breakStream(this.tooLargeError(end));
    try {
      if (offset > s.size) await s.appendZeros(offset - s.size, this.streamKey, this.streamStartMtime, this.streamStart);
      let rest = data;
      if (offset < s.size) {
        const n = Math.min(data.length, s.size - offset);
        s.overwrite(data.subarray(0, n), offset);
        rest = data.subarray(n);
      }
      if (rest.length > 0) await s.append(rest, this.streamKey, this.streamStartMtime, this.streamStart);
    } catch (err) {
      throw await this.breakStream(err);
    }
    return true;
  }

  /** Stream → cache file (under the lock). See the file comment. */
  private async toCache(reason: string): Promise<void> {
    const c = this.content;
    if (c.kind !== 'stream') return;
    if (!this.mayCache()) throw this.needsCache(reason);
    if (!c.stream.started) {
      this.ctx.log.debug(`${this.rel}: ${reason}: continuing in a cache file`);
      await this.streamToLocal();
      return;
    }
    this.ctx.log.info(`${this.rel}: ${reason}: committing the ${c.stream.size} bytes streamed so far, continuing in a cache file`);
    await this.commitStream();
  }

  // --- read -----------------------------------------------------------------------------------

  async read(dst: Buffer, offset: number, length: number): Promise<number> {
    this.check();
    this.noteUse();
    const c = this.content;
    if (c.kind === 'stream') {
      const s = c.stream;
      if (offset >= s.size || length <= 0) return 0;
      if (offset >= s.pushed) return s.readBuffered(dst, offset, Math.min(length, s.size - offset));
      await this.lock.run(async () => {
        this.check();
        await this.toCache(`a read at ${offset}, of bytes already uploaded`);
      });
    }
    const file = this.cacheFile();
    const end = Math.min(file.size, offset + length);
    if (end <= offset) return 0;
    if (file.needsFetch(offset, end)) {
      await this.lock.run(() =>
        this.ctx.room.write(end - offset, () => file.fill((base) => this.ctx.openBase(this.rel, base), offset, end, { readAhead: true })),
      );
    }
    return file.readLocal(dst, offset, Math.min(file.size, offset + length));
  }

  /** EFBIG for a size no object can have (the cache file would take it, the upload never) */
  private checkSize(end: number, what: string): void {
    if (end > MAX_OBJECT_SIZE) throw vfsError('EFBIG', `${this.rel}: ${what} to ${end} bytes: larger than S3's largest object (5 TiB)`);
  }

  // --- truncate -------------------------------------------------------------------------------

  async truncate(size: number): Promise<void> {
    this.check();
    this.checkSize(size, 'a truncate');
    this.preempt();
    await this.lock.run(async () => {
      this.check();
      if (this.content.kind === 'stream') {
        if (await this.truncateStream(size)) return;
        await this.toCache(`a truncate to ${size}`);
      } else if (!this.mayCache()) throw this.needsCache(`a truncate to ${size}`);
      const file = this.cacheFile();
      await this.beforeChange();
      await file.truncate(size);
      this.touch();
      // the data file no longer holds all the journal says: the journal follows at once (a
      // recovery takes a data file shorter than its journal for one the disk cut short)
      if (this.journal.state === 'dirty' && size < this.journaledEnd) await this.writeJournal('dirty', false);
      if (size === 0 && !this.discarded && file.independentAndEmpty) {
        // empty and independent of any object: written from 0 again, it can stream
        this.content = this.newStream(file);
      }
    });
  }

  /** A truncate the stream can take (true), or not (false: the file goes to the cache). */
  private async truncateStream(size: number): Promise<boolean> {
    const c = this.content;
    if (c.kind !== 'stream') return false;
    const s = c.stream;
    if (size >= s.size && size - s.size <= MAX_STREAM_GAP) {
      if (size > this.streamLimit()) throw await this.breakStream(this.tooLargeError(size));
      try {
        await s.appendZeros(size - s.size, this.streamKey, this.streamStartMtime, this.streamStart);
      } catch (err) {
        throw await this.breakStream(err);
      }
    } else if (size < s.size && size >= s.pushed) {
      s.shrink(size);
    } else if (size === 0) {
      // everything goes: the upload in progress is given up, nothing of it becomes an object
      await s.abort();
      this.content = this.newStream(c.spill);
    } else return false;
    this.touch();
    return true;
  }

  // --- utimens --------------------------------------------------------------------------------

  setMtime(mtimeNs: bigint): boolean {
    this.mtimeNs = mtimeNs;
    this.mtimeExplicit = true;
    this.changed();
    if (this.metaCarried()) return true;
    // the caller sets it on the stored object with a server-side copy: a new ETag, the same bytes
    if (this.content.kind === 'cache') this.content.file.baseMoved(String(mtimeNs));
    this.storedMtimeNs = mtimeNs;
    return false;
  }

  /**
   * A change of metadata (mtime, mode, owners) just made to this item: true when an upload still
   * to come stores it (or a running one is followed by a fix-up copy), journaled at once when no
   * handle is open to flush it; false when nothing is pending (the caller copies the object).
   */
  private metaCarried(): boolean {
    this.noteUse();
    if (this.isBroken || this.discarded) return true;
    if (!(this.dirty || this.isUploading || this.isStream || this.metaPending || this.lingering)) return false;
    if (!this.dirty && !this.isUploading && !this.isStream) this.metaPendingFlag = true;
    // the next flush journals it; with no handle open none may come: journal it now
    this.flushedGen = -1;
    if (this.journal.state === 'dirty' && !this.isOpen) void this.writeJournal('dirty', true).catch(() => undefined);
    return true;
  }

  // --- chmod, chown ---------------------------------------------------------------------------

  /** chmod/chown: as setMtime, stored with the upload still to come (true), or by the caller's
   *  server-side copy when nothing is pending (false). */
  setPosix(p: PosixMeta): boolean {
    this.posixMeta = { ...this.posixMeta, ...p };
    this.changed();
    this.posixDirty = true;
    if (this.metaCarried()) return true;
    this.posixDirty = false;
    if (this.content.kind === 'cache') this.content.file.baseMoved();
    return false;
  }

  // --- close(2), fsync(2) ---------------------------------------------------------------------

  /**
   * close(2) and fsync(2): what was written must be safe when this returns — uploaded, or with
   * write-back journaled in the cache: at close, safe from a crash of the mount process (written,
   * not fsync'd: a local disk's close costs no more); at fsync, durable on stable storage too.
   * The kernel sends a flush for every close(2), also of a dup'd descriptor before any write
   * (dd, shell redirections do that), so a flush with nothing new since the last one does
   * nothing, and a stream that has not started is only persisted beside itself (its buffer
   * written to the cache file and journaled): it keeps streaming.
   */
  async flush(durable = false): Promise<void> {
    this.check();
    if (this.discarded) return;
    const uploadNow = await this.lock.run(async () => {
      this.check();
      if (this.flushedGen === this.gen && (!durable || this.syncedGen === this.gen)) return false;
      const wb = this.ctx.writeBackMs > 0 && this.mayCache();
      const c = this.content;
      if (c.kind === 'stream') {
        // a started stream is committed (uploaded), a small one PUT: durable either way
        if (c.stream.started) await this.commitStream();
        else if (!this.dirty) return false;
        else if (wb) {
          try {
            await this.persistStream(durable);
          } catch (err) {
            // the cache disk is full: the bytes, still in memory, go up now rather than nowhere
            if (!isCacheUnwritable(err)) throw err;
            const why = isDiskFull(err) ? 'the cache disk is full' : 'the cache cannot be written';
            this.ctx.log.notice(`${this.rel}: ${why} (${message(err)}): uploaded at close, from memory`);
            try {
              await this.putSmallStream();
            } catch (e) {
              if (isUploadConflict(e)) return 'conflict';
              throw e;
            }
          }
        } else {
          try {
            await this.putSmallStream();
          } catch (err) {
            // another client stored the name: now in a cache file, diverted and uploaded below
            if (isUploadConflict(err)) return 'conflict';
            throw err;
          }
        }
        this.flushed(durable || !wb || c.stream.started);
        return false;
      }
      if (!this.dirty) return false;
      if (!wb) return true;
      await this.persist(durable);
      this.flushed(durable);
      return false;
    });
    if (uploadNow === 'conflict' && !(await this.ctx.resolveConflict(this))) throw this.uploadError(this.lastUploadError);
    if (uploadNow) await this.uploadNow();
  }

  private flushed(durable: boolean): void {
    this.flushedGen = this.gen;
    if (durable) this.syncedGen = this.gen;
  }

  /** A stream that has not started, persisted: its buffer in the cache file, journaled. */
  private async persistStream(durable: boolean): Promise<void> {
    const c = this.content;
    if (c.kind !== 'stream') return;
    const buf = c.stream.buffered();
    await this.ctx.room.write(buf.length, () => c.spill.replaceWith(buf));
    this.persistedSize = buf.length;
    await this.writeJournal('dirty', durable);
  }

  /** fsync(2): as close, and durable on stable storage. */
  fsync(): Promise<void> {
    return this.flush(true);
  }

  /** Unmount: a dirty item not yet journaled durably is, so the next mount uploads it. */
  async persistIfDirty(): Promise<void> {
    if (!this.dirty || this.discarded || this.isBroken) return;
    await this.lock.run(async () => {
      const c = this.content;
      if (c.kind === 'stream') {
        if (c.stream.started || !this.mayCache()) return;
        await this.streamToLocal();
      }
      await this.persist(true);
    });
  }

  // --- names ----------------------------------------------------------------------------------

  /**
   * Before a rename of this file: 'local' when it can simply move (its content is all here and
   * not uploaded yet: no request at all), 'server' when the object on the server moves with it
   * (a server-side copy), after this commits a started stream.
   */
  async prepareRename(): Promise<RenameKind> {
    await this.uploadsSettled();
    return this.lock.run(async () => {
      const c = this.content;
      if (c.kind === 'broken') return 'server';
      if (c.kind === 'stream') {
        if (!c.stream.started) return this.dirty ? 'local' : 'server';
        await this.commitStream();
        return this.metaPending ? this.metaPlan() : 'server';
      }
      if (!this.dirty) return this.metaPending ? this.metaPlan() : 'server';
      return c.file.complete ? 'local' : 'server';
    });
  }

  /** a rename's copy stores what is pending: the mtime, and mode/owners not stored yet */
  private metaPlan(): RenameKind {
    const metadata = this.posixDirty ? this.posixMetadata() : undefined;
    return { server: this.mtimeNs, ...(metadata ? { metadata } : {}) };
  }

  /** Renamed to `rel`. `how`: moved locally (`server`: what the target held), or with the object
   *  on the server (a copy: the base has a new ETag); `mtimeStored`: the copy stored this mtime. */
  renamed(rel: string, how: { local: true; server: ServerState } | { local: false; mtimeStored?: bigint; posixStored?: boolean; copyEtag?: string }): void {
    this.moveRel(rel);
    if (how.local) this.setServer(how.server);
    else if (!(this.server === null && this.isStream)) {
      // (a stream with nothing on the server yet simply has a new name)
      if (this.content.kind === 'cache') this.content.file.baseMoved();
      // the copy's ETag when the server said it (a crash recovery then knows the object as the
      // version this file is based on), else unknown
      const s = this.server;
      if (s && s !== 'unknown') this.setServer({ ...s, etag: how.copyEtag ?? '' });
      if (how.posixStored) this.posixDirty = false;
      if (how.mtimeStored !== undefined && this.mtimeNs === how.mtimeStored) {
        // (a chmod/chown not stored yet keeps the copy that fixes the metadata pending)
        this.metaPendingFlag = this.posixDirty;
        this.storedMtimeNs = how.mtimeStored;
      }
    }
  }

  /** Journal the new name (a move changes no data, only where it goes). */
  async journalRename(): Promise<void> {
    const st = this.journal.state;
    if (st === 'dirty' || (this.dirty && st !== 'none')) await this.writeJournal('dirty', true);
    else if (st !== 'none') await this.writeJournal(st, false);
  }

  /** A recovered file goes up under another name (the server's version changed meanwhile). */
  async divert(rel: string): Promise<void> {
    this.moveRel(rel);
    this.setServer(null);
    await this.writeJournal('dirty', true);
  }

  /** A recovered file turned out to be uploaded already (only its journal did not say so). */
  foundUploaded(head: ObjectInfo): void {
    this.dirtyFlag = false;
    this.setServer(serverOf(head, head.mtimeNs));
  }

  /** unlink: nothing of this file may reach the bucket; open handles keep working on local data. */
  async discard(): Promise<void> {
    this.markDiscarded();
    this.abortUpload();
    await this.uploadsSettled();
    await this.lock.run(async () => {
      const c = this.content;
      if (c.kind === 'stream') {
        if (c.stream.started) {
          // the bytes already sent cannot be kept: later reads of them fail
          const rest = Buffer.from(c.stream.buffered());
          const pushed = c.stream.pushed;
          await c.stream.abort();
          c.stream.release();
          await c.spill.keepTail(rest, pushed);
          this.content = { kind: 'cache', file: c.spill };
        } else await this.streamToLocal();
      } else if (c.kind === 'cache' && this.isOpen && !c.file.complete) {
        // the object goes now, but open handles may still read it: keep its bytes here
        try {
          await this.fillMissing(c.file);
          c.file.dropBase();
        } catch (err) {
          this.ctx.log.error(`${this.rel}: unlinked while open; could not keep the bytes not read yet: ${(err as Error).message}`);
          c.file.loseBase();
        }
      }
      this.dirtyFlag = false;
    });
    await this.journal.remove();
  }
}

/** A journal's posix field, if it is one (a damaged one is ignored: the data still goes up). */
function journaledPosix(p: unknown): PosixMeta | undefined {
  if (!p || typeof p !== 'object') return undefined;
  const o = p as Record<string, unknown>;
  const id = (v: unknown) => (Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32 - 1 ? (v as number) : undefined);
  const out: PosixMeta = {};
  if (Number.isSafeInteger(o.perm) && (o.perm as number) >= 0 && (o.perm as number) <= 0o7777) out.perm = o.perm as number;
  if (id(o.uid) !== undefined) out.uid = id(o.uid)!;
  if (id(o.gid) !== undefined) out.gid = id(o.gid)!;
  if (typeof o.atimeNs === 'string' && /^-?\d{1,20}$/.test(o.atimeNs)) out.atimeNs = BigInt(o.atimeNs);
  return Object.keys(out).length ? out : undefined;
}
