// The state of one file being written (or written and not yet uploaded), shared by every handle
// of the path; item-upload.ts adds its uploads and item.ts the file operations. Its bytes are in
// one Content (content.ts: stream | cache | broken); this class keeps what is true of the file
// whatever holds its bytes — its name, its modification time, whether
// the bucket has its latest content (dirty / gen), its journal — and serialises every change
// under one lock.
//
// Uploads of this file (item-upload.ts) run under the same lock; a write preempts an upload
// that is still reading the data (it runs again later). When uploads happen is decided by the
// write-back layer (write-back.ts, upload-queue.ts), never here.
import path from 'node:path';
import { formatSizeBinary } from '../../config/units.js';
import type { ObjectInfo, PutOptions } from '../../backend/s3/types.js';
import { posixMetadata, type PosixMeta } from '../../backend/s3/metadata.js';
import { S_IFREG } from '../attrs.js';
import type { Logger } from '../../util/log.js';
import type { MountedBucket } from '../bucket.js';
import type { Clock } from '../clock.js';
import { vfsError, VfsError } from '../errors.js';
import { msToNs } from '../namespace.js';
import { CacheFile, type BaseReader } from './cache-file.js';
import type { ServerVersion } from './write-layer.js';
import { contentSize, localBytes, type Content } from './content.js';
import { bootId, currentOwner, JournalFile, JOURNAL_VERSION, type Journal, type JournalBase, type JournalServer } from './journal.js';
import { Mutex } from './mutex.js';
import type { DiskRoom } from './disk-room.js';
import { StreamUpload, type StreamTarget } from './stream.js';

export interface ItemContext {
  bucket: MountedBucket;
  log: Logger;
  /** the remote as named on the command line (journals) */
  remote: string;
  /** directory of data files and journals */
  dir: string;
  ensureDir(): Promise<void>;
  /** the directory exists (ensureDir made it): small writes may go in place */
  dirMade(): boolean;
  /** the directory is gone (removed while mounted): made again; false when it was there */
  remakeDir(): Promise<boolean>;
  partSize: number;
  maxUploadParts: number;
  writeBackMs: number;
  cacheMode: string;
  /** all streams' part buffers together stay below this (streams not started go to the cache) */
  streamMemoryBudget: number;
  noChecksum: boolean;
  /** uploads are conditional on the version they replace (If-Match) or on absence (If-None-Match) */
  conditionalWrites: boolean;
  stream: StreamTarget;
  clock: Clock;
  /** every write of a data file goes through it: room made from clean copies, the disk floor kept */
  room: DiskRoom;
  /** the download engine, reading a pinned version of a base object by mount path */
  openBase(rel: string, base: Readonly<JournalBase>): BaseReader;
  /** new content (or a new mtime) reached the bucket; info null when only the mtime changed */
  uploaded(item: ItemState, info: ObjectInfo | null): void;
  /** the item can no longer be uploaded (its stream failed): forget it */
  broken(item: ItemState): void;
  /**
   * An upload of the item was refused (another client stored its name meanwhile): resolved
   * (ours diverted to a conflict name, or found to be ours after all), or false when the server
   * could not be asked
   */
  resolveConflict(item: ItemState): Promise<boolean>;
  /**
   * The completion of the item's started stream was refused (another client stored its name
   * meanwhile): keep theirs under a conflict name and say on what the completion is sent again
   * (PutOptions.onRefused); null when the server could not be asked
   */
  keepTheirs(item: ItemState): ReturnType<NonNullable<PutOptions['onRefused']>>;
  /** (no cache file) another client stored `from` meanwhile: ours was uploaded as `to` */
  conflict(item: ItemState, from: string, to: string, info: ObjectInfo): void;
}

/** What we believe the bucket holds at the item's path: an object, nothing, or unknown. */
export type ServerState = JournalServer | null | 'unknown';

export function toServerState(v: ServerVersion | null | undefined): ServerState {
  if (v === undefined) return 'unknown';
  if (v === null) return null;
  return { etag: v.etag, size: v.size, mtimeNs: v.mtimeNs === null ? null : String(v.mtimeNs) };
}

export function serverOf(info: ObjectInfo, mtimeNs: bigint | null): JournalServer {
  return { etag: info.etag, size: info.size, mtimeNs: mtimeNs === null ? null : String(mtimeNs) };
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** How a rename of this file can be done (Item.prepareRename): locally, with a plain copy, or
 *  with a copy that stores the mtime (and mode/owners) set while it was pending. */
export type RenameKind = 'local' | 'server' | { server: bigint; metadata?: Record<string, string> };

export abstract class ItemState {
  protected content: Content;
  private relPath: string;
  private refs = 0;
  private cacheAllowed: boolean;
  private discardedFlag = false;
  private mtime: bigint;
  /** the last change of data or metadata made here (ctime); none yet: the mtime */
  private ctime: bigint | undefined;
  /** set by utimens since the last write */
  protected mtimeExplicit = false;
  /** the X-Amz-Meta-Mtime of the object last uploaded from here */
  protected storedMtimeNs: bigint | null = null;
  protected dirtyFlag = false;
  /** the content is uploaded, but the stored mtime is not ours yet (a server-side copy will fix it) */
  protected metaPendingFlag = false;
  /** permission bits and owners set by chmod/chown through this item (stored with every upload) */
  protected posixMeta: PosixMeta | undefined;
  /** set since the last upload or copy that stored them (journaled with a dirty item) */
  protected posixDirty = false;
  /** posixMeta as the running stream's upload started with it */
  protected streamPosix: PosixMeta | undefined;
  /** committed from a stream at its last close: a utimens or rename often follows */
  protected committedFlag = false;
  protected serverState: ServerState;
  /** bumped by every change of content */
  protected gen = 0;
  /** a stream's bytes last written to the data file by a flush (what its journal describes) */
  protected persistedSize = 0;
  /** gen when a flush last made the content safe (-1: never) */
  protected flushedGen = -1;
  /** gen when an fsync last made the content durable on stable storage (-1: never) */
  protected syncedGen = -1;
  protected readonly lock = new Mutex();
  readonly journal: JournalFile;
  private refusedLogged = false;
  private lastUse: number;

  protected constructor(
    protected readonly ctx: ItemContext,
    readonly id: string,
    rel: string,
    content: Content | 'stream',
    server: ServerState,
    cacheAllowed: boolean,
    journalState: Journal['state'] | 'none' = 'none',
  ) {
    this.relPath = rel;
    this.serverState = server;
    this.cacheAllowed = cacheAllowed;
    this.mtime = msToNs(ctx.clock.now());
    this.lastUse = ctx.clock.now();
    this.journal = new JournalFile(path.join(ctx.dir, `${id}.json`), ctx.ensureDir, journalState, ctx.dirMade);
    this.content = content === 'stream' ? this.newStream(this.newDataFile()) : content;
  }

  protected newDataFile(init: ConstructorParameters<typeof CacheFile>[1] = { size: 0, base: null }): CacheFile {
    return new CacheFile(path.join(this.ctx.dir, `${this.id}.data`), init, this.ctx.ensureDir);
  }

  protected newStream(spill: CacheFile): Content {
    return { kind: 'stream', stream: new StreamUpload(this.ctx.stream), spill };
  }

  // --- what the rest of the write layer reads -------------------------------------------------

  /** mount path (follows renames) */
  get rel(): string {
    return this.relPath;
  }
  get size(): number {
    return contentSize(this.content);
  }
  get mtimeNs(): bigint {
    return this.mtime;
  }
  protected set mtimeNs(v: bigint) {
    this.mtime = v;
  }
  get ctimeNs(): bigint {
    return this.ctime ?? this.mtime;
  }
  /** data or metadata changed now (write, truncate, utimens, chmod, chown) */
  protected changed(): void {
    this.ctime = msToNs(this.ctx.clock.now());
  }
  get dirty(): boolean {
    return this.dirtyFlag;
  }
  get metaPending(): boolean {
    return this.metaPendingFlag;
  }
  get posix(): PosixMeta | undefined {
    return this.posixMeta;
  }
  /** the user metadata that stores posixMeta (none when nothing was set) */
  protected posixMetadata(): Record<string, string> | undefined {
    return this.posixMeta ? posixMetadata(this.posixMeta, S_IFREG) : undefined;
  }
  /** a stream was committed at its last close (worth keeping for the write-back delay) */
  get committed(): boolean {
    return this.committedFlag;
  }
  get discarded(): boolean {
    return this.discardedFlag;
  }
  get isBroken(): boolean {
    return this.content.kind === 'broken';
  }
  get isStream(): boolean {
    return this.content.kind === 'stream';
  }
  /** a journal of this item is on disk (a crash recovery would find it) */
  get journaled(): boolean {
    return this.journal.state !== 'none';
  }
  /** a stream that has handed parts to the backend */
  get streamStarted(): boolean {
    return this.content.kind === 'stream' && this.content.stream.started;
  }
  /**
   * The condition an upload of this item is sent with: it replaces the version it was based on
   * (If-Match its ETag), or it creates what was absent (If-None-Match). None when that is not
   * known (an ETag our own metadata copy left unknown, a state never checked).
   */
  get uploadCondition(): PutOptions['condition'] {
    if (!this.ctx.conditionalWrites) return undefined;
    const s = this.serverState;
    if (s === null) return { ifNoneMatch: true };
    if (s === 'unknown' || !s.etag) return undefined;
    return { ifMatch: s.etag };
  }

  get server(): ServerState {
    return this.serverState;
  }
  get isOpen(): boolean {
    return this.refs > 0;
  }
  get lastUsed(): number {
    return this.lastUse;
  }
  get localBytes(): number {
    return localBytes(this.content);
  }
  /** bytes of its cache file on the cache disk (a stream's part buffers are in memory: 0) */
  get diskBytes(): number {
    return this.content.kind === 'cache' ? this.content.file.localBytes : 0;
  }
  get dataPath(): string {
    return path.join(this.ctx.dir, `${this.id}.data`);
  }
  /** a clean cache file of exactly this version, worth keeping as a read cache */
  holdsVersion(etag?: string, size?: number): boolean {
    if (this.content.kind !== 'cache') return false;
    const b = this.content.file.base;
    if (!b || b.etag === '') return false;
    return etag === undefined || (b.etag === etag && this.content.file.size === size);
  }

  // --- handles --------------------------------------------------------------------------------

  /** One more open handle; `cache`: this open may use a cache file (--vfs-cache-mode). */
  retain(cache: boolean): void {
    this.refs++;
    if (cache) this.cacheAllowed = true;
    this.lastUse = this.ctx.clock.now();
  }

  /** One handle closed; returns how many remain. */
  releaseRef(): number {
    this.refs = Math.max(0, this.refs - 1);
    return this.refs;
  }

  /** every handle is gone (unmount) */
  dropRefs(): void {
    this.refs = 0;
  }

  /** A clean cached copy opened again: it shows the server's mtime of this version. */
  reopened(mtimeNs: bigint | null): void {
    if (mtimeNs !== null) this.mtime = mtimeNs;
    this.noteUse();
  }

  protected noteUse(): void {
    this.lastUse = this.ctx.clock.now();
  }

  protected check(): void {
    if (this.content.kind === 'broken') throw this.content.error;
  }

  protected touch(): void {
    this.dirtyFlag = true;
    this.gen++;
    // A started stream's object carries the time its upload started (fixed at
    // CreateMultipartUpload, as rclone stores it for streams of unknown size): the file shows that
    // from then on, so stat agrees while writing, after close and after a remount, and no
    // server-side copy of the whole object is needed to store the time of the last write.
    const s = this.content.kind === 'stream' ? this.content.stream : null;
    this.mtime = s?.started && s.storedMtimeNs !== undefined ? s.storedMtimeNs : msToNs(this.ctx.clock.now());
    this.mtimeExplicit = false;
    this.lastUse = this.ctx.clock.now();
    this.changed();
  }

  // --- the journal ----------------------------------------------------------------------------

  /**
   * Journal the item. durable: its data file is fsync'd first and the journal itself (power loss
   * keeps both); otherwise nothing is fsync'd and the journal says in which boot it was written
   * (a crash of the mount keeps both; a restart of the machine makes them untrusted).
   */
  async writeJournal(state: Journal['state'], durable: boolean): Promise<void> {
    if (this.discardedFlag) return;
    if (durable) await this.dataFile?.datasync();
    const record = this.journalRecord(state);
    if (!durable) record.unsynced = bootId();
    try {
      await this.journal.write(record, durable);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !(await this.ctx.remakeDir())) throw err;
      await this.journal.write(record, durable);
    }
    this.journaledEnd = record.present.reduce((end, r) => Math.max(end, r[1]), 0);
  }

  /** the end of the bytes the journal on disk says the data file holds (a recovery checks it) */
  protected journaledEnd = 0;

  private journalRecord(state: Journal['state']): Journal {
    const c = this.content;
    // a stream is journaled as it was last persisted: that buffer, all of it, is in the data file
    const stream = c.kind !== 'cache';
    return {
      v: JOURNAL_VERSION,
      id: this.id,
      remote: this.ctx.remote,
      bucket: this.ctx.bucket.name,
      path: this.ctx.bucket.keyOf(this.relPath),
      owner: currentOwner(),
      state,
      mtimeNs: String(this.mtime),
      size: stream ? this.persistedSize : c.file.size,
      base: stream ? null : c.file.base ? { ...c.file.base } : null,
      present: stream ? (this.persistedSize > 0 ? [[0, this.persistedSize]] : []) : c.file.present.toJSON(),
      server: this.serverState,
      updated: new Date(this.ctx.clock.now()).toISOString(),
      ...(this.posixMeta && this.posixDirty ? { posix: journalPosix(this.posixMeta) } : {}),
    };
  }

  /** Before the first change of a clean cache file: after a crash its bytes are not to be trusted. */
  protected async beforeChange(): Promise<void> {
    if (this.journal.state === 'clean') await this.writeJournal('modifying', true);
  }

  /** Journal the current content as pending: durable (fsync(2)), or safe from a crash of the mount only (close(2)). */
  protected async persist(durable: boolean): Promise<void> {
    await this.writeJournal('dirty', durable);
  }

  /** The data file (of whichever content has one). */
  protected get dataFile(): CacheFile | null {
    const c = this.content;
    return c.kind === 'cache' ? c.file : c.kind === 'stream' ? c.spill : null;
  }

  /** Close the data file if nothing uses it (no handle, no upload). */
  async closeData(): Promise<void> {
    if (this.refs > 0 || this.lock.locked) return;
    await this.dataFile?.closeData();
  }

  /** Remove the data file and the journal (the item is done with, or discarded). */
  async removeFiles(): Promise<void> {
    await this.journal.remove();
    await this.dataFile?.remove();
  }

  // --- errors ---------------------------------------------------------------------------------

  protected needsCache(reason: string): VfsError {
    const err = vfsError(
      'EPERM',
      `${this.rel}: ${reason} needs a local cache file, which --vfs-cache-mode ${this.ctx.cacheMode} does not allow for this file (use --vfs-cache-mode writes)`,
    );
    // EPERM is not logged by the errno map; this one the user should see, once per file
    if (!this.refusedLogged) this.ctx.log.notice(err.message.replace(/^EPERM: /, ''));
    this.refusedLogged = true;
    return err;
  }

  protected mayCache(): boolean {
    return this.cacheAllowed;
  }

  protected markDiscarded(): void {
    this.discardedFlag = true;
    // what open handles still write stays local
    this.cacheAllowed = true;
  }

  protected setServer(s: ServerState): void {
    this.serverState = s;
  }

  protected moveRel(rel: string): void {
    this.relPath = rel;
  }

  protected streamLimit(): number {
    return this.ctx.partSize * this.ctx.maxUploadParts;
  }

  protected tooLargeError(end: number): VfsError {
    return vfsError(
      'EFBIG',
      `${this.rel}: a file written as a stream is limited to ${this.ctx.maxUploadParts} parts of ${formatSizeBinary(this.ctx.partSize)} (${formatSizeBinary(this.streamLimit())}), and this write reaches ${end} bytes: increase --s3-chunk-size`,
    );
  }
}

/** posixMeta as the journal keeps it (JSON has no bigint: the atime as decimal nanoseconds) */
function journalPosix(p: PosixMeta): NonNullable<Journal['posix']> {
  const { atimeNs, ...rest } = p;
  return { ...rest, ...(atimeNs !== undefined ? { atimeNs: String(atimeNs) } : {}) };
}
