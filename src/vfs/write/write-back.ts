// The write-back layer: every path open for writing (or written and not uploaded yet) has one
// Item (item.ts), shared by all its handles. This file keeps them by mount path, decides when
// each is uploaded (at close with --vfs-write-back 0, else that long after its last close;
// retries with backoff: upload-queue.ts), moves them on rename, drops them on unlink, keeps
// clean copies for reuse (clean-cache.ts), and at mount time carries out the recovery plan of
// what a previous run left pending (recovery.ts).
//
// --vfs-cache-mode, as far as rclone's meaning applies:
//   off      no cache files: files are written as sequential streams only (an existing file
//            opened for writing needs O_TRUNC; a seek, a rewrite, a read back is EPERM)
//   minimal  as off, except that files opened O_RDWR get a cache file
//   writes   (default) sequential writes stream, everything else goes through a cache file;
//            the most applications work, and big sequential copies need neither memory nor disk
//   full     as writes (reads are cached in memory by the read path)
import fs from 'node:fs/promises';
import { BackendError } from '../../backend/s3/backend-error.js';
import type { ObjectInfo, WriteCondition } from '../../backend/s3/types.js';
import { systemClock, type Clock } from '../clock.js';
import { vfsError } from '../errors.js';
import { isSelfOrBelow } from '../paths.js';
import { BaseGoneError, DataLostError } from './cache-file.js';
import { CleanCache } from './clean-cache.js';
import { DiskRoom } from './disk-room.js';
import { Item } from './item.js';
import { message, toServerState, type ItemContext, type ServerState } from './item-state.js';
import { bootId, currentOwner, isOurs, ownerAlive } from './journal.js';
import { Recovery } from './recovery-run.js';
import { conflictName, MAX_CONFLICT_NAMES, uploadResolvingConflicts } from './conflicts.js';
import { lruOfCount } from '../../util/lru.js';
import { makeDirs } from '../../util/make-dirs.js';
import { StreamMemory, type StreamTarget } from './stream.js';
import { UploadQueue, UploadSlots } from './upload-queue.js';
import { ItemRegistry } from './item-registry.js';
import { cacheDirOf, type WriteBackDeps } from './write-back-deps.js';
import type { OpenWriteOptions, RenamePlan, ServerHeld, ServerVersion, WriteFile, WriteLayer, WriteStats } from './write-layer.js';

/** item ids are unique per process by this counter (and across processes by pid and start time) */
let itemSeq = 0;

export class WriteBack implements WriteLayer {
  /** write states by mount path, and those that lost their name */
  private readonly files = new ItemRegistry();
  private readonly opening = new Map<string, Promise<Item>>();
  private readonly clean: CleanCache;
  /** room on the cache disk: clean copies make it, --vfs-cache-min-free-space bounds it */
  private readonly room: DiskRoom;
  private readonly queue: UploadQueue<Item>;
  private readonly recovery: Recovery;
  private readonly poller: { stop(): void } | undefined;
  readonly dir: string;
  private dirReady: Promise<void> | undefined;
  private dirMade = false;
  /** the directory was removed while mounted and made again (said once) */
  private dirRemade = false;
  private readonly ctx: ItemContext;
  private readonly clock: Clock;
  /** every stream's part buffers together, within one budget */
  private readonly memory: StreamMemory;
  private counters = { uploads: 0, bytesUploaded: 0, failures: 0 };
  private closed = false;

  constructor(private readonly deps: WriteBackDeps) {
    this.dir = cacheDirOf(deps);
    this.memory = deps.streamMemory ?? new StreamMemory(DEFAULT_STREAM_BUDGET);
    this.clock = deps.clock ?? systemClock;
    this.clean = new CleanCache({ clock: this.clock, maxAgeMs: deps.cacheMaxAgeMs ?? 3_600_000, maxSize: deps.cacheMaxSize ?? -1 });
    this.room = new DiskRoom({
      dir: this.dir,
      minFree: deps.cacheMinFreeSpace ?? -1,
      clock: this.clock,
      release: (bytes) => this.clean.release(bytes),
      remakeDir: () => this.remakeDir(),
    });
    this.ctx = this.itemContext();
    this.queue = new UploadQueue<Item>({
      clock: this.clock,
      transfers: deps.transfers,
      retryBaseMs: deps.retryBaseMs ?? Math.max(1_000, this.ctx.writeBackMs),
      fire: (item) => (this.recovery.isVerifying(item) ? this.recovery.verify(item) : void this.runUpload(item)),
    });
    this.recovery = new Recovery(this.recoveryHost());
    this.poller = this.startPoller(deps.cachePollMs ?? 60_000);
  }

  private itemContext(): ItemContext {
    const d = this.deps;
    const stream: StreamTarget = { backend: d.bucket.backend, bucket: d.bucket.name, partSize: d.partSize, memory: this.memory };
    return {
      bucket: d.bucket,
      log: d.log,
      remote: d.remote,
      dir: this.dir,
      ensureDir: () => this.ensureDir(),
      dirMade: () => this.dirMade,
      remakeDir: () => this.remakeDir(),
      partSize: d.partSize,
      maxUploadParts: d.maxUploadParts,
      writeBackMs: d.cacheMode === 'off' ? 0 : d.writeBackMs,
      cacheMode: d.cacheMode,
      streamMemoryBudget: this.memory.budget,
      noChecksum: d.noChecksum,
      conditionalWrites: d.conditionalWrites ?? true,
      stream,
      clock: this.clock,
      openBase: (rel, base) => d.openBase(rel, base),
      uploaded: (item, info) => this.uploaded(item as Item, info),
      broken: (item) => this.brokenItem(item as Item),
      room: this.room,
      resolveConflict: (item) => this.conflicted(item as Item),
      keepTheirs: (item) => this.keepTheirs(item as Item),
      conflict: (_item, from, to, info) => {
        this.deps.onConflict?.(from, to);
        this.deps.onUploaded(to, info, { size: info.size, mtimeNs: info.mtimeNs ?? 0n });
      },
    };
  }

  private startPoller(pollMs: number): { stop(): void } | undefined {
    if (pollMs <= 0 || pollMs >= 2 ** 31) return undefined;
    const tick = (): void => {
      void this.evict().catch((err) => this.deps.log.error(`cache eviction: ${(err as Error).message}`));
      if (!this.closed) timer = this.clock.setTimeout(tick, pollMs);
    };
    let timer = this.clock.setTimeout(tick, pollMs);
    return { stop: () => this.clock.clearTimeout(timer) };
  }

  /**
   * The cache directory was removed while mounted (a cleanup script, a user): made again, said
   * once, so new files go on being cached. Files not uploaded yet whose data was in it keep what
   * their open descriptors still hold; a recovery would find nothing of them.
   */
  private async remakeDir(): Promise<boolean> {
    if (this.closed) return false;
    const there = await fs.stat(this.dir).then(
      () => true,
      () => false,
    );
    if (there) return false;
    // not made yet (a first write that found the disk read-only): nothing was removed
    if (this.dirMade && !this.dirRemade) {
      this.dirRemade = true;
      this.deps.log.error(
        `the cache directory ${this.dir} was removed while mounted: made again. Files not uploaded yet go up from what this mount still holds of them; until they are, a crash would lose them. Do not remove a mounted cache directory.`,
      );
    }
    // cannot be made (a read-only disk): the caller's own error stands
    return makeDirs(this.dir, 0o700).then(
      () => true,
      () => false,
    );
  }

  private ensureDir(): Promise<void> {
    this.dirReady ??= makeDirs(this.dir, 0o700).then(() => {
      this.dirMade = true;
    });
    return this.dirReady;
  }

  private newId(): string {
    const o = currentOwner();
    return `${o.pid}.${o.start}.${(++itemSeq).toString(16).padStart(8, '0')}`;
  }

  private uploaded(item: Item, info: ObjectInfo | null): void {
    if (info) {
      this.counters.uploads++;
      this.counters.bytesUploaded += info.size;
    }
    this.queue.succeeded(item);
    if (!item.discarded) this.deps.onUploaded(item.rel, info, { size: item.size, mtimeNs: item.mtimeNs });
  }

  private brokenItem(item: Item): void {
    this.counters.failures++;
    // it will not be tried again: no longer one of the failing uploads
    this.queue.forget(item);
    if (this.files.hide(item)) this.deps.onDropped?.(item.rel, item.server);
  }

  private cacheAllowed(opts: OpenWriteOptions): boolean {
    const m = this.deps.cacheMode;
    return m === 'writes' || m === 'full' || (m === 'minimal' && !!opts.readWrite);
  }

  private keepsClean(): boolean {
    return this.deps.cacheMode !== 'off' && (this.deps.cacheMaxAgeMs ?? 1) > 0 && this.deps.cacheMaxSize !== 0;
  }

  // ------------------------------------------------------------------------------------------
  // Opening and closing

  get(rel: string): WriteFile | undefined {
    return this.files.get(rel);
  }

  async open(rel: string, opts: OpenWriteOptions): Promise<WriteFile> {
    if (this.closed) throw vfsError('EIO', 'the mount is shutting down');
    const existing = this.files.get(rel);
    if (existing) return this.share(existing, opts);
    // another open of the same path is creating its state: wait, then share it
    const creating = this.opening.get(rel);
    if (creating) {
      await creating.catch(() => undefined);
      return this.open(rel, opts);
    }
    const p = Promise.resolve().then(() => this.reuse(rel, opts) ?? this.create(rel, opts));
    this.opening.set(rel, p);
    try {
      return await p;
    } finally {
      this.opening.delete(rel);
    }
  }

  /** One more handle on a write state that exists. */
  private async share(item: Item, opts: OpenWriteOptions): Promise<Item> {
    item.retain(this.cacheAllowed(opts));
    this.queue.cancel(item);
    item.linger(false);
    try {
      if (opts.truncate) await item.truncate(0);
    } catch (err) {
      if (item.releaseRef() === 0) await this.settle(item);
      throw err;
    }
    return item;
  }

  /** A clean cache file of `rel` that still holds the server's current version: used again. */
  private reuse(rel: string, opts: OpenWriteOptions): Item | undefined {
    const c = this.clean.take(rel);
    if (!c) return undefined;
    const current = opts.server;
    if (opts.create || opts.truncate || !current || !c.holdsVersion(current.etag, current.size)) {
      void c.removeFiles();
      return undefined;
    }
    c.retain(this.cacheAllowed(opts));
    c.reopened(current.mtimeNs);
    this.files.add(c);
    this.deps.log.debug(`/${rel}: using the cached copy (${c.localBytes} bytes local)`);
    return c;
  }

  hasCachedCopy(rel: string): boolean {
    return this.files.has(rel) || this.clean.has(rel);
  }

  /** A read-only open: a cached copy of the current version, if there is one (or always, in full mode). */
  async openCached(rel: string, server: ServerVersion): Promise<WriteFile | undefined> {
    const full = this.deps.cacheMode === 'full';
    if (!this.files.has(rel) && !full) {
      const c = this.clean.peek(rel);
      if (!c || !c.holdsVersion(server.etag, server.size)) return undefined;
    }
    return this.open(rel, { create: false, truncate: false, writable: false, server });
  }

  /** `rel` (and what is below it) was removed or replaced: cached copies of it go. */
  invalidate(rel: string): void {
    this.clean.invalidate(rel);
  }

  private create(rel: string, opts: OpenWriteOptions): Item {
    const allowed = this.cacheAllowed(opts);
    let item: Item;
    if (opts.create || opts.truncate || !opts.server) {
      item = Item.fresh(this.ctx, this.newId(), rel, toServerState(opts.server), allowed);
    } else {
      if (!allowed && opts.server.size > 0 && opts.writable !== false) {
        const msg = `/${rel}: an existing file opened for writing without O_TRUNC needs a local cache file, which --vfs-cache-mode ${this.deps.cacheMode} does not allow${this.deps.cacheMode === 'minimal' ? ' for write-only opens' : ''} (use --vfs-cache-mode writes)`;
        this.deps.log.notice(msg);
        throw vfsError('EPERM', msg);
      }
      item = Item.existing(this.ctx, this.newId(), rel, opts.server, allowed);
    }
    item.retain(false);
    this.files.add(item);
    return item;
  }

  async release(file: WriteFile): Promise<void> {
    const item = file as Item;
    if (item.releaseRef() > 0) return;
    await this.settle(item);
  }

  /**
   * The last handle of `item` is gone. This is where it is decided when it goes up:
   *  - a stream is finished first (a started one committed, a small one persisted or PUT);
   *  - with --vfs-write-back 0 a pending file is uploaded now (close(2) already did, unless it
   *    failed: then it is retried with backoff), otherwise after the write-back delay;
   *  - a stream just committed is kept for the write-back delay (a utimens or rename may follow);
   *  - a clean file becomes a cached copy, or is removed.
   */
  private async settle(item: Item): Promise<void> {
    if (item.isBroken || item.discarded) {
      this.forget(item);
      await item.removeFiles();
      return;
    }
    if (item.isStream && (item.streamStarted || item.dirty)) {
      await item.flush().catch(() => undefined);
      if (item.isOpen) return;
      if (item.isBroken) return this.settle(item);
    }
    if (item.dirty || item.metaPending) {
      if (this.ctx.writeBackMs === 0 && !item.uploadFailed) return this.runUpload(item);
      this.queue.schedule(item, item.uploadFailed ? this.queue.failed(item) : this.ctx.writeBackMs);
      // the kernel's release need not wait for our descriptor to close
      void item.closeData();
      void item.prefill();
      return;
    }
    if (item.committed && this.ctx.writeBackMs > 0) {
      item.linger(true);
      this.queue.schedule(item, this.ctx.writeBackMs);
      return;
    }
    await this.dropClean(item);
  }

  private forget(item: Item): void {
    this.queue.forget(item);
    this.files.forget(item);
  }

  /** A clean item nobody has open: kept as a cached copy when it holds data, else removed. */
  private async dropClean(item: Item): Promise<void> {
    if (item.isOpen || item.dirty || item.metaPending || item.isUploading) return;
    this.forget(item);
    item.linger(false);
    if (this.keepsClean() && !item.discarded && item.holdsVersion() && item.localBytes > 0) {
      await this.clean.keep(item.rel, item);
      if (item.journal.state !== 'clean') await item.writeJournal('clean', false);
      await item.closeData();
      if (this.deps.cacheMaxSize !== undefined && this.deps.cacheMaxSize >= 0) await this.evict();
      return;
    }
    await item.removeFiles();
  }

  /** Remove clean cached copies unused for --vfs-cache-max-age, then the oldest above --vfs-cache-max-size. Never pending data. */
  async evict(): Promise<void> {
    let pending = 0;
    for (const it of this.files.all()) pending += it.localBytes;
    await this.clean.evict(pending);
    // below --vfs-cache-min-free-space: clean copies go (what then still does not fit is the
    // writes' business: they fail with ENOSPC)
    await this.room.keepFloor().catch(() => undefined);
  }

  // ------------------------------------------------------------------------------------------
  // Uploads in the background

  /** A background upload (write-back timer, retry, recovery). */
  private async runUpload(item: Item): Promise<void> {
    if (item.isOpen || item.discarded || item.isBroken || this.closed || this.recovery.isVerifying(item)) return;
    if (!item.dirty && !item.metaPending && !item.isStream) return this.dropClean(item);
    try {
      await this.queue.run(item.size, async () => {
        if (item.isOpen || item.discarded || this.closed) return;
        // refused because another client stored the name meanwhile: resolved, and run again
        await uploadResolvingConflicts(
          () => item.upload(),
          () => this.conflicted(item),
        );
      });
    } catch (err) {
      this.uploadFailed(item, err);
      return;
    }
    if (item.isOpen || item.discarded) return;
    if (item.dirty) {
      this.queue.schedule(item, this.ctx.writeBackMs);
      return;
    }
    await this.dropClean(item);
  }

  /**
   * A conditional upload of `item` was refused (412): unless what the server holds is our own
   * upload (a request retried after it landed), someone else stored this name since the file
   * was opened here. Theirs stays; ours goes up as name.conflict-<host>-<time> (on absence
   * only), and the name shows theirs. Nothing of either is lost. Returns false when the server
   * could not be asked (the upload is then retried as any failed one).
   */
  private async conflicted(item: Item): Promise<boolean> {
    const from = item.rel;
    let head: ObjectInfo | null;
    try {
      head = await this.deps.bucket.head(from);
    } catch {
      return false;
    }
    if (head && head.size === item.size && head.mtimeNs !== null && head.mtimeNs === item.mtimeNs) {
      item.foundUploaded(head);
      this.uploaded(item, head);
      return true;
    }
    const to = this.nextConflictName(item, from);
    const keyOf = (rel: string) => this.deps.bucket.keyOf(rel);
    this.deps.log.error(
      `${keyOf(from)}: ${head ? 'written' : 'deleted'} by another client since it was opened here; ${head ? 'theirs stays, the version written here is uploaded as ' : 'the version written here is uploaded as '}${keyOf(to)}`,
    );
    this.files.forget(item, from);
    await item.divert(to);
    this.files.adopt(item);
    this.deps.onConflict?.(from, to);
    return true;
  }

  /**
   * A conflict name for `item` at `rel`: numbered when this second's name is taken (another
   * conflict of the same name, here or on another mount): the next number, from the name the
   * file had before any conflict.
   */
  private nextConflictName(item: Item, rel: string): string {
    const base = this.conflictBase.get(item) ?? rel;
    const when = new Date(this.clock.now());
    const second = conflictName('', when);
    const used = this.conflictsUsed.get(base);
    const n = used && used.second === second ? used.n + 1 : 1;
    this.conflictsUsed.set(base, { second, n });
    this.conflictBase.set(item, base);
    return conflictName(base, when, undefined, n);
  }

  /**
   * The completion of a started stream of `item` was refused: another client stored its name
   * since the file was opened here. The streamed bytes are in uploaded parts only, which can
   * become an object at this name alone: so theirs is copied aside to a conflict name (kept,
   * one ERROR line) and the stream completes over the version copied. Unless what is there is
   * our own upload (a completion retried after it landed). null: the server could not be asked,
   * and the stream fails as refused.
   */
  private async keepTheirs(item: Item): Promise<{ retryWith: WriteCondition } | { stored: ObjectInfo } | null> {
    const rel = item.rel;
    const key = this.deps.bucket.keyOf(rel);
    try {
      for (let n = 0; n < MAX_CONFLICT_NAMES; n++) {
        const head = await this.deps.bucket.head(rel);
        if (!head) {
          this.deps.log.error(`${key}: deleted by another client while it was written here; the version written here is stored under the name`);
          return { retryWith: { ifNoneMatch: true } };
        }
        if (head.size === item.size && head.mtimeNs !== null && head.mtimeNs === item.mtimeNs) return { stored: head };
        const aside = this.nextConflictName(item, rel);
        try {
          await this.deps.bucket.copy(rel, aside, { size: head.size, condition: { ifNoneMatch: true } });
        } catch (err) {
          // that conflict name is taken too: the next one
          if (err instanceof BackendError && err.kind === 'PreconditionFailed') continue;
          throw err;
        }
        this.deps.log.error(
          `${key}: written by another client while it was written here; theirs is kept as ${this.deps.bucket.keyOf(aside)}, the version written here is stored under the name`,
        );
        this.deps.onConflict?.(rel, aside);
        return { retryWith: { ifMatch: head.etag } };
      }
    } catch (err) {
      this.deps.log.error(`${key}: another client stored this name while it was written here, and theirs could not be kept aside: ${message(err)}`);
    }
    return null;
  }

  /** items diverted to a conflict name: the name they had before */
  private readonly conflictBase = new WeakMap<Item, string>();
  /** the conflict names given per name in the current second (…-2, …-3 when one is taken) */
  private readonly conflictsUsed = lruOfCount<string, { second: string; n: number }>(1_000);

  private uploadFailed(item: Item, err: unknown): void {
    this.counters.failures++;
    const delay = this.queue.failed(item);
    const msg = err instanceof Error ? err.message : String(err);
    if (DataLostError.in(err)) {
      this.deps.log.error(`${item.rel}: cannot be uploaded, not tried again: ${msg}`);
      return;
    }
    if (err instanceof BaseGoneError) {
      this.deps.log.error(`${item.rel}: cannot be uploaded: ${msg}. What was written here stays in ${item.dataPath}; it is tried again at the next mount`);
      return;
    }
    this.deps.log.error(
      `${item.rel}: upload failed (attempt ${this.queue.failureCount(item)}), the data stays in the cache (${item.dataPath}); next attempt in ${Math.round(delay / 1000)}s: ${msg}`,
    );
    if (!item.isOpen) this.queue.schedule(item, delay);
  }

  // ------------------------------------------------------------------------------------------
  // Names

  async discard(rel: string): Promise<ServerHeld> {
    const item = this.files.get(rel);
    if (!item) return { etag: undefined };
    // open handles keep writing into it, without a name
    this.files.hide(item);
    this.queue.forget(item);
    const uploading = item.isUploading;
    const before = item.server;
    await item.discard();
    if (!item.isOpen) {
      this.files.forget(item);
      await item.removeFiles();
    }
    if (before === null && !uploading) return null;
    // the version the server holds from here (an upload that was running has finished or stopped)
    return { etag: heldEtag(item.server) };
  }

  async prepareRename(from: string, to: string): Promise<RenamePlan> {
    // a pending file at the target is about to be replaced: no upload of it may land after the rename
    const target = this.files.get(to);
    if (target && !isSelfOrBelow(to, from)) {
      this.queue.cancel(target);
      await target.uploadsSettled();
    }
    const item = this.files.get(from);
    if (item) {
      this.queue.cancel(item);
      const plan = await item.prepareRename();
      // A local move deletes the source's object and replaces the target at once, while the
      // moved content may be nowhere but in memory (a file still open, never flushed): it is
      // journaled first, durably, so a crash right after the rename leaves the file under its
      // new name rather than nothing under either (ext4's auto_da_alloc does the same for a
      // rename over a file whose data is not written yet).
      if (plan === 'local' && !item.journaled) await item.persistIfDirty();
      return {
        local: plan === 'local',
        source: item.server === null ? null : { etag: heldEtag(item.server) },
        ...(typeof plan === 'object' ? { mtimeNs: plan.server, ...(plan.metadata ? { metadata: plan.metadata } : {}) } : {}),
      };
    }
    const below = this.files.below(from);
    await Promise.all(
      below.map((it) => {
        this.queue.cancel(it);
        return it.prepareRename();
      }),
    );
    return { local: false, source: { etag: undefined } };
  }

  async renamed(
    from: string,
    to: string,
    how: { local: boolean; server?: ServerVersion | null; mtimeStored?: bigint; posixStored?: boolean; copyEtag?: string },
  ): Promise<void> {
    const moved = this.files.move(from, to, (item, rel, newRel) => {
      if (how.local && rel === from) item.renamed(newRel, { local: true, server: toServerState(how.server) });
      else
        item.renamed(newRel, {
          local: false,
          ...(rel === from && how.mtimeStored !== undefined ? { mtimeStored: how.mtimeStored } : {}),
          ...(rel === from && how.posixStored ? { posixStored: true } : {}),
          ...(rel === from && how.copyEtag ? { copyEtag: how.copyEtag } : {}),
        });
    });
    await Promise.all(
      moved.map(async (item) => {
        await item.journalRename();
        if (item.isOpen) return;
        if (item.dirty || item.metaPending) this.queue.schedule(item, this.ctx.writeBackMs);
        else await this.dropClean(item);
      }),
    );
  }

  renameFailed(from: string): void {
    for (const item of this.files.below(from)) {
      if (!item.isOpen && (item.dirty || item.metaPending) && !this.queue.isScheduled(item)) this.queue.schedule(item, this.ctx.writeBackMs);
    }
  }

  pendingBelow(dir: string): WriteFile[] {
    return this.files.below(dir);
  }

  // ------------------------------------------------------------------------------------------
  // Unmount

  async flushAll(): Promise<void> {
    // recovered uploads are checked against the server before anything of theirs is uploaded
    await this.recovery.settled();
    // (a recovered item the server could not be checked for stays for the next mount)
    const items = this.files.all().filter((it) => !it.discarded && !it.isBroken && !this.recovery.isVerifying(it));
    // as many at a time as in the background: a thousand pending files must not mean a
    // thousand uploads (and their part buffers) at once. Slots of their own, not the queue's:
    // an item's flush first waits for its own background upload, which may need a queue slot.
    const slots = new UploadSlots(this.deps.transfers);
    const results = await Promise.allSettled(
      items.map((it) =>
        slots.run(it.size, async () => {
          this.queue.cancel(it);
          await it.uploadNow();
          if (!it.isOpen && !it.dirty) await this.dropClean(it);
        }),
      ),
    );
    let first: unknown;
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') continue;
      first ??= r.reason;
      const it = items[i]!;
      this.deps.log.error(`${it.rel}: upload failed, the data stays in the cache (${it.dataPath}) for the next mount: ${(r.reason as Error).message}`);
    }
    if (first !== undefined) throw first;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.poller?.stop();
    this.queue.close();
    // cached copies stay for the next mount (their journals say which version they hold)
    await this.clean.close();
    for (const it of this.files.all()) {
      if (it.dirty && !it.discarded && !it.isBroken) {
        await it.persistIfDirty().catch((err) => this.deps.log.error(`${it.rel}: could not save the pending data: ${(err as Error).message}`));
        it.dropRefs();
        await it.closeData();
      } else {
        it.dropRefs();
        if (!it.dirty && !it.isBroken && !it.discarded && it.journal.state === 'clean') await it.closeData();
        else await it.removeFiles();
      }
    }
    this.files.clear();
  }

  stats(): WriteStats {
    let pending = 0;
    let open = 0;
    for (const it of this.files.named()) {
      if (it.dirty && !it.isOpen) pending++;
      if (it.isOpen) open++;
    }
    let pendingBytes = 0;
    for (const it of this.files.all()) pendingBytes += it.diskBytes;
    return {
      open,
      pending,
      uploading: this.queue.running,
      failing: this.queue.failing,
      streamMemory: this.memory.bytes,
      uploads: this.counters.uploads,
      bytesUploaded: this.counters.bytesUploaded,
      failures: this.counters.failures,
      pendingBytes,
      cached: this.clean.size,
      cachedBytes: this.clean.bytes,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Recovery

  /** Find uploads a previous run left pending in the cache, and start them. */
  recover(): Promise<void> {
    return this.recovery.run();
  }

  private recoveryHost() {
    return {
      dir: this.dir,
      bucket: this.deps.bucket,
      log: this.deps.log,
      clock: this.clock,
      keepsClean: () => this.keepsClean(),
      planContext: { bucket: this.deps.bucket.name, isOurs, ownerAlive, boot: bootId() },
      item: (rel: string, j: Parameters<typeof Item.fromJournal>[2]) => Item.fromJournal(this.ctx, rel, j),
      keepClean: async (item: Item) => {
        if (this.clean.has(item.rel)) return false;
        await item.writeJournal('clean', false);
        await this.clean.keep(item.rel, item);
        return true;
      },
      adopt: (item: Item) => this.files.adopt(item),
      moved: (item: Item, from: string) => this.files.forget(item, from),
      alreadyUploaded: async (item: Item, head: ObjectInfo) => {
        item.foundUploaded(head);
        this.uploaded(item, head);
        await this.dropClean(item);
      },
      upload: (item: Item) => void this.runUpload(item),
      retryLater: (item: Item) => this.queue.schedule(item, this.queue.failed(item)),
      // a HEAD: a request as small as a small file's upload
      limit: <R>(task: () => Promise<R>) => this.queue.run(0, task),
    };
  }
}

/** the ETag of the version a server state names, if it names one */
function heldEtag(s: ServerState): string | undefined {
  return s && s !== 'unknown' && s.etag ? s.etag : undefined;
}

/** the streams' budget of a write layer built without the mount's (memory-budget.ts): the half of
 *  the default --vfs-memory-limit that a mount gives them */
const DEFAULT_STREAM_BUDGET = 128 * 1024 * 1024;
