// The uploads of one item: a stream committed, a small stream as one PUT, a cache file as one
// PUT or a multipart upload of known size, an mtime-only fix-up by a server-side copy. Each runs
// under the item's lock and ends in one of the item's states (clean with the new object as its
// base, still dirty, or broken). A write that arrives while an upload still reads the data
// preempts it: the upload is given up (not a failure) and runs again later.
//
// When an upload runs is not decided here: the write-back layer calls upload() / uploadNow().
import type { Readable } from 'node:stream';
import type { ObjectInfo, PutOptions } from '../../backend/s3/types.js';
import { BackendError } from '../../backend/s3/backend-error.js';
import { vfsError, VfsError } from '../errors.js';
import { SMALL_UPLOAD } from './content.js';
import type { CacheFile } from './cache-file.js';
import { ItemState, message, serverOf } from './item-state.js';
import { conflictName, isCacheUnwritable, isUploadConflict, uploadResolvingConflicts } from './conflicts.js';

export abstract class ItemUploads extends ItemState {
  private uploading: Promise<void> | null = null;
  private uploadCtl: AbortController | null = null;
  /** the upload is still reading the data (holding the lock): a write aborts it rather than wait */
  private uploadLocked = false;
  /** the last upload of this content failed (cleared by a successful one) */
  protected lastUploadError: unknown = undefined;

  get isUploading(): boolean {
    return this.uploading !== null;
  }
  get uploadFailed(): boolean {
    return this.lastUploadError !== undefined;
  }

  /** Wait until no upload of this item runs. */
  async uploadsSettled(): Promise<void> {
    while (this.uploading) await this.uploading.catch(() => undefined);
  }

  /** A change is coming: an upload still reading the data is given up (it runs again later). */
  protected preempt(): void {
    if (this.uploadLocked && this.uploadCtl && !this.uploadCtl.signal.aborted) {
      this.ctx.log.debug(`${this.rel}: written during its upload; the upload starts again later`);
      this.uploadCtl.abort();
    }
  }

  /** unlink: stop whatever upload runs */
  protected abortUpload(): void {
    this.uploadCtl?.abort();
  }

  uploadError(err: unknown): Error {
    if (err instanceof VfsError) return err;
    if (err instanceof BackendError && err.kind === 'TooLarge') return vfsError('EFBIG', `${this.rel}: ${err.message}`, err);
    const kept = this.mayCache() && this.content.kind === 'cache' ? ` (kept in ${this.dataPath})` : '';
    return vfsError('EIO', `${this.rel}: upload failed: ${message(err)}${kept}`, err);
  }

  // --- streams --------------------------------------------------------------------------------

  /** A stream that never started → a cache file holding its buffer (no request). */
  protected async streamToLocal(): Promise<CacheFile> {
    const c = this.content;
    if (c.kind !== 'stream') throw new Error('streamToLocal of a file that is not a stream');
    const buf = c.stream.buffered();
    // persisted by the last flush and unchanged since: the data file holds these bytes already
    await this.ctx.room.write(buf.length, () => c.spill.replaceWith(buf, this.flushedGen === this.gen && this.persistedSize === buf.length));
    c.stream.release();
    this.content = { kind: 'cache', file: c.spill };
    return c.spill;
  }

  /** A stream that never started, uploaded as one PUT (write-back 0). On failure its bytes are kept in the cache. */
  protected async putSmallStream(): Promise<void> {
    const c = this.content;
    if (c.kind !== 'stream') return;
    const buf = c.stream.buffered();
    const mtime = this.mtimeNs;
    const t0 = this.ctx.clock.now();
    let info: ObjectInfo;
    try {
      const posixAt = this.posixMeta;
      const metadata = this.posixMetadata();
      const condition = this.uploadCondition;
      info = await this.ctx.bucket.put(this.rel, buf, { mtimeNs: mtime, ...(metadata ? { metadata } : {}), ...(condition ? { condition } : {}) });
      // (a chmod/chown during the PUT is still to store)
      if (this.posixMeta === posixAt) this.posixDirty = false;
    } catch (err) {
      this.lastUploadError = err;
      if (this.mayCache()) {
        const file = await this.streamToLocal();
        await this.persist(true);
        // another client stored the name meanwhile: the write-back layer diverts the file
        if (isUploadConflict(err)) throw err;
        this.ctx.log.error(`${this.rel}: upload failed, kept in the cache (${file.dataPath}) to be retried: ${message(err)}`);
        throw this.uploadError(err);
      }
      if (!isUploadConflict(err)) throw await this.breakStream(err);
      // no cache file to divert: the bytes go up under the conflict name at once, and this
      // name is theirs (what is stored there is not known here any more)
      await this.putConflictCopy(buf, mtime);
      c.stream.release();
      this.dirtyFlag = false;
      this.setServer('unknown');
      this.lastUploadError = undefined;
      return;
    }
    this.ctx.log.info(`${this.rel}: uploaded ${buf.length} bytes in ${this.ctx.clock.now() - t0}ms`);
    c.stream.release();
    this.becomeClean(c.spill, info, mtime);
    if (this.journal.state !== 'none') await this.journalUploaded();
    this.ctx.uploaded(this, info);
  }

  /** (no cache file) our version as name.conflict-<host>-<time>, theirs staying at the name */
  private async putConflictCopy(buf: Buffer, mtime: bigint): Promise<void> {
    const to = conflictName(this.rel, new Date(this.ctx.clock.now()));
    const metadata = this.posixMetadata();
    const info = await this.ctx.bucket.put(to, buf, { mtimeNs: mtime, ...(metadata ? { metadata } : {}), condition: { ifNoneMatch: true } });
    this.ctx.log.error(
      `${this.ctx.bucket.keyOf(this.rel)}: written by another client since it was opened here; theirs stays, the version written here is uploaded as ${this.ctx.bucket.keyOf(to)}`,
    );
    this.ctx.conflict(this, this.rel, to, info);
  }

  /**
   * The upload landed: the journal says so. A full cache disk cannot take that write, and need
   * not: the journal left says 'dirty', and a recovery finds the object already uploaded (same
   * size and stored mtime). The upload must not count as failed for it (it would be retried
   * again and again, each time failing the same way).
   */
  private async journalUploaded(): Promise<void> {
    try {
      await this.writeJournal('clean', true);
    } catch (err) {
      if (!isCacheUnwritable(err)) throw err;
      this.ctx.log.debug(`${this.rel}: uploaded; its journal could not say so (${message(err)}): a recovery finds it uploaded`);
    }
  }

  /** After an upload of the whole content: a clean cache file whose base is the new object. */
  private becomeClean(file: CacheFile, info: ObjectInfo, mtime: bigint): void {
    file.resetTo({ etag: info.etag, size: info.size, limit: info.size, mtimeNs: String(mtime) });
    this.content = { kind: 'cache', file };
    this.dirtyFlag = false;
    this.storedMtimeNs = mtime;
    this.setServer(serverOf(info, mtime));
    this.lastUploadError = undefined;
  }

  /** Finish a started stream: its bytes become the object (under the lock). */
  protected async commitStream(): Promise<void> {
    const c = this.content;
    if (c.kind !== 'stream') return;
    const t0 = this.ctx.clock.now();
    let info: ObjectInfo;
    try {
      info = await c.stream.finish();
    } catch (err) {
      throw await this.breakStream(err);
    }
    const stored = c.stream.storedMtimeNs ?? this.mtimeNs;
    this.ctx.log.info(`${this.rel}: uploaded ${info.size} bytes as a stream in ${this.ctx.clock.now() - t0}ms after the last write`);
    const wanted = this.mtimeNs;
    const explicit = this.mtimeExplicit;
    this.becomeClean(c.spill, info, stored);
    this.committedFlag = true;
    // Only a time set by utimens since the last write (touch -d, cp -p, rsync -t while the stream
    // ran) is worth a server-side copy of the whole object. An implicit one is the time the
    // upload started, which the object stores (touch() keeps the two equal once it started): no
    // copy, and stat shows the same before and after this and after a remount.
    this.mtimeNs = explicit ? wanted : stored;
    this.mtimeExplicit = explicit;
    // a journal of an earlier flush (the small stream persisted) must not be recovered now
    if (this.journal.state !== 'none') await this.journalUploaded();
    this.ctx.uploaded(this, info);
    // mode and owners the stream's upload started with are stored with it
    if (this.posixDirty && this.posixMeta === this.streamPosix) this.posixDirty = false;
    if ((explicit && wanted !== stored) || this.posixDirty) {
      // with write-back the copy waits too: a utimens (cp -p, rsync -t) or a rename (rsync's
      // temporary file) that comes first carries the time in the one copy it makes anyway
      if (this.ctx.writeBackMs > 0) this.metaPendingFlag = true;
      else await this.fixMeta();
    }
  }

  /** The stored mtime (or mode and owners) differ from ours and the content is uploaded: a
   *  server-side copy sets them. */
  protected async fixMeta(): Promise<void> {
    const want = this.mtimeNs;
    const metadata = this.posixDirty ? this.posixMetadata() : undefined;
    this.metaPendingFlag = false;
    this.posixDirty = false;
    try {
      if (metadata) await this.ctx.bucket.copy(this.rel, this.rel, { mtimeNs: want, metadata });
      else await this.ctx.bucket.setMtime(this.rel, want);
    } catch (err) {
      // the data is stored; its metadata goes with the next upload of this file
      if (metadata) this.posixDirty = true;
      this.ctx.log.error(
        `${this.rel}: could not store the ${metadata ? 'modification time, mode and owners' : 'modification time'} (the data is stored): ${message(err)}`,
      );
      return;
    }
    this.storedMtimeNs = want;
    if (this.content.kind === 'cache') this.content.file.baseMoved(String(want));
    const s = this.server;
    if (s && s !== 'unknown') this.setServer({ ...s, etag: '', mtimeNs: String(want) });
    this.ctx.uploaded(this, null);
  }

  /** The stream's upload failed (or was refused): nothing of it is stored; the file is unusable. Returns the error to throw. */
  protected async breakStream(err: unknown): Promise<Error> {
    const c = this.content;
    if (c.kind === 'broken') return c.error;
    const size = this.size;
    if (c.kind === 'stream') {
      await c.stream.abort();
      c.stream.release();
    }
    const e = this.uploadError(err);
    const kept = this.server && this.server !== 'unknown' ? ', the previous version stays' : '';
    this.ctx.log.error(`${e.message.replace(/^E[A-Z]+: /, '')}; nothing was stored${kept}`);
    this.content = { kind: 'broken', error: e, size };
    this.dirtyFlag = false;
    this.ctx.broken(this);
    return e;
  }

  // --- the upload of the current content ------------------------------------------------------

  /** Upload the current content (one upload at a time; a second call shares the first). */
  upload(): Promise<void> {
    this.uploading ??= this.runUpload().finally(() => {
      this.uploading = null;
    });
    return this.uploading;
  }

  private async runUpload(): Promise<void> {
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
      const file = await this.uploadable(ctl.signal);
      if (file) await this.uploadFile(file, ctl.signal, unlock);
    } catch (err) {
      // preempted by a write (it runs again later), or discarded: not a failure
      if (ctl.signal.aborted) return;
      this.lastUploadError = err;
      throw err;
    } finally {
      unlock();
      if (this.uploadCtl === ctl) this.uploadCtl = null;
    }
  }

  /** Bring the content to a cache file to upload, or finish what needs no cache upload (null). */
  private async uploadable(signal: AbortSignal): Promise<CacheFile | null> {
    if (this.isBroken || this.discarded || signal.aborted) return null;
    let c = this.content;
    if (c.kind === 'stream') {
      if (c.stream.started) {
        await this.commitStream();
        return null;
      }
      if (!this.dirty) return null;
      if (!this.mayCache()) {
        await this.putSmallStream();
        return null;
      }
      try {
        await this.streamToLocal();
      } catch (err) {
        // the cache disk is full or read-only: a file still in memory goes up from there, not lost
        if (!isCacheUnwritable(err)) throw err;
        await this.putSmallStream();
        return null;
      }
      c = this.content;
    }
    if (c.kind !== 'cache') return null;
    if (!this.dirty) {
      if (this.metaPending || this.posixDirty || (this.storedMtimeNs !== null && this.mtimeNs !== this.storedMtimeNs)) await this.fixMeta();
      return null;
    }
    await this.fillMissing(c.file, signal);
    return c.file;
  }

  private async uploadFile(file: CacheFile, signal: AbortSignal, unlock: () => void): Promise<void> {
    const gen = this.gen;
    const size = file.size;
    const mtime = this.mtimeNs;
    const rel = this.rel;
    const aborted = () => signal.aborted;
    let body: Buffer | Readable;
    let stream: Pick<PutOptions, 'reopen' | 'hashMd5'> = {};
    if (size <= SMALL_UPLOAD) {
      body = await file.readAll();
      unlock();
    } else {
      // from the cache file, which holds the lock until the upload is done (a write aborts it)
      body = file.contentStream(size, aborted);
      stream = { reopen: () => file.contentStream(size, aborted) };
      if (!this.ctx.noChecksum) stream.hashMd5 = () => file.md5(size, aborted);
    }
    const t0 = this.ctx.clock.now();
    const posixAt = this.posixMeta;
    const metadata = this.posixMetadata();
    const condition = this.uploadCondition;
    const info = await this.ctx.bucket.put(rel, body, {
      size,
      mtimeNs: mtime,
      signal,
      ...stream,
      ...(metadata ? { metadata } : {}),
      ...(condition ? { condition } : {}),
    });
    // (a chmod/chown during the upload is still to store)
    if (this.posixMeta === posixAt) this.posixDirty = false;
    unlock();
    if (this.discarded) {
      // unlinked while uploading: the object must not stay
      await this.ctx.bucket.delete([rel]).catch((err) => this.ctx.log.error(`${rel}: could not delete the upload of a deleted file: ${message(err)}`));
      return;
    }
    this.ctx.log.info(`${rel}: uploaded ${size} bytes in ${this.ctx.clock.now() - t0}ms`);
    await this.uploaded(file, info, { gen, size, mtime });
  }

  /** An upload of `file` as it was at generation `gen` landed. */
  private async uploaded(file: CacheFile, info: ObjectInfo, at: { gen: number; size: number; mtime: bigint }): Promise<void> {
    this.setServer(serverOf(info, at.mtime));
    this.storedMtimeNs = at.mtime;
    this.lastUploadError = undefined;
    if (this.gen === at.gen) {
      this.dirtyFlag = false;
      file.setBase({ etag: info.etag, size: at.size, limit: at.size, mtimeNs: String(at.mtime) });
    } else {
      // changed meanwhile: everything below the old limit was fetched, no base is needed any more
      file.setBase({ etag: info.etag, size: at.size, limit: 0, mtimeNs: String(at.mtime) });
    }
    if (this.dirty) await this.writeJournal('dirty', true);
    else if (this.journal.state !== 'none') await this.journalUploaded();
    this.ctx.uploaded(this, { ...info, mtimeNs: at.mtime });
    if (!this.dirty && (this.mtimeNs !== at.mtime || this.posixDirty)) await this.fixMeta();
  }

  /**
   * After the last close of a dirty cache file that still depends on its base object: fetch
   * what it needs now (the upload must anyway) and journal it, so a crash followed by a change
   * of the object on the server can no longer leave it incomplete. Writes preempt it.
   */
  async prefill(): Promise<void> {
    const c = this.content;
    if (!this.dirty || c.kind !== 'cache' || c.file.complete) return;
    if (this.uploading || this.isOpen) return;
    const ctl = new AbortController();
    this.uploadCtl = ctl;
    const release = await this.lock.acquire();
    this.uploadLocked = true;
    try {
      if (!this.dirty || this.discarded || this.isOpen || ctl.signal.aborted) return;
      await this.fillMissing(c.file, ctl.signal);
      if (this.journal.state === 'dirty') await this.writeJournal('dirty', true);
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
  protected async fillMissing(file: CacheFile, signal?: AbortSignal): Promise<void> {
    const bytes = file.missingBytes;
    if (bytes === 0) return;
    this.ctx.log.debug(`${this.rel}: fetching ${bytes} bytes not written here before the upload`);
    await file.fillAll(
      (base) => this.ctx.openBase(this.rel, base),
      () => signal?.aborted ?? false,
    );
  }

  /** Upload the current content before returning (write-back 0, unmount). */
  async uploadNow(): Promise<void> {
    await this.uploadsSettled();
    if ((!this.dirty && !this.metaPending) || this.discarded || this.isBroken) return;
    try {
      // another client stored the name meanwhile: ours goes up under a conflict name
      await uploadResolvingConflicts(
        () => this.upload(),
        () => this.ctx.resolveConflict(this),
      );
    } catch (err) {
      if (this.mayCache() && this.content.kind === 'cache') await this.persist(true).catch(() => undefined);
      throw this.uploadError(err);
    }
    if (this.dirty && this.content.kind === 'cache') {
      // changed through another handle while uploading: durable here, uploaded at its last close
      await this.persist(true);
    }
  }
}
