// The write-back layer: every path open for writing (or written and not uploaded yet) has one
// Item (item.ts), shared by all its handles. This file keeps them by path, schedules their
// uploads (--vfs-write-back after the last close, --transfers at a time, retries with backoff),
// moves them on rename, drops them on unlink, and at mount time finds the uploads a previous
// run left pending (the journals of cache items) and finishes them.
//
// --vfs-cache-mode, as far as rclone's meaning applies:
//   off      no cache files: files are written as sequential streams only (an existing file
//            opened for writing needs O_TRUNC; a seek, a rewrite, a read back is EPERM)
//   minimal  as off, except that files opened O_RDWR get a cache file
//   writes   (default) sequential writes stream, everything else goes through a cache file;
//            the most applications work, and big sequential copies need neither memory nor disk
//   full     as writes (reads are cached in memory by the read path)
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ObjectInfo, S3BackendApi } from '../../backend/s3/types.js';
import type { Logger } from '../../util/log.js';
import { vfsError } from '../errors.js';
import { Limiter } from '../limiter.js';
import { isSelfOrBelow, rebase, type MountRoot } from '../paths.js';
import { currentOwner, isOurs, ownerAlive, parseJournal } from './journal.js';
import { Item, serverOf, type ItemContext, type ServerState } from './item.js';
import type { StreamTarget } from './stream.js';
import type { OpenWriteOptions, RenamePlan, ServerVersion, UploadedHook, WriteFile, WriteLayer, WriteStats } from './write-layer.js';

export type CacheMode = 'off' | 'minimal' | 'writes' | 'full';
export const CACHE_MODES: CacheMode[] = ['off', 'minimal', 'writes', 'full'];

export interface WriteBackDeps {
  backend: S3BackendApi;
  root: MountRoot;
  log: Logger;
  cacheDir: string;
  /** the remote as named on the command line (journals, messages) */
  remote: string;
  /** identifies the server behind the remote (endpoint…): pending items of another server are never touched */
  remoteId?: string;
  cacheMode: CacheMode;
  /** upload this long after the last close; 0 = at close */
  writeBackMs: number;
  noChecksum: boolean;
  chunkSize: number;
  uploadConcurrency: number;
  maxUploadParts: number;
  /** background uploads at a time (--transfers) */
  transfers: number;
  /** --vfs-cache-max-size: clean cache data above this is removed, oldest first (-1: no limit) */
  cacheMaxSize?: number;
  /** --vfs-cache-max-age: clean cache data unused this long is removed */
  cacheMaxAgeMs?: number;
  /** --vfs-cache-poll-interval (0: no polling) */
  cachePollMs?: number;
  /** first retry delay of a failed background upload, doubling up to 5 min (default: the
   *  write-back delay, at least 1 s) */
  retryBaseMs?: number;
  onUploaded: UploadedHook;
  /** a file's write state was given up (its stream failed): `server` is what the bucket still holds */
  onDropped?: (rel: string, server: ServerState) => void;
  now?: () => number;
}

const MAX_RETRY_MS = 5 * 60_000;
/** clean cached copies kept at most (each costs an open-file record in memory), oldest go first */
const MAX_CLEAN_ITEMS = 10_000;

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80) || '_';
}

/** `dir/name.ext` → `dir/name.ext.conflict-20240102-030405` (UTC) */
export function conflictName(p: string, when: Date): string {
  const t = when.toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*$/, '');
  return `${p}.conflict-${t}`;
}

function toServerState(v: ServerVersion | null | undefined): ServerState {
  if (v === undefined) return 'unknown';
  if (v === null) return null;
  return { etag: v.etag, size: v.size, mtimeNs: v.mtimeNs === null ? null : String(v.mtimeNs) };
}

export class WriteBack implements WriteLayer {
  private readonly files = new Map<string, Item>();
  /** clean cache files (uploaded, nobody has them open), by path: reused while their ETag is current */
  private readonly clean = new Map<string, Item>();
  private poller: NodeJS.Timeout | undefined;
  /** items not reachable by path: unlinked but still open, or recovered outside the mount root */
  private readonly hidden = new Set<Item>();
  private readonly opening = new Map<string, Promise<Item>>();
  private readonly limiter: Limiter;
  readonly dir: string;
  private dirReady: Promise<void> | undefined;
  private readonly ctx: ItemContext;
  private readonly memory = { bytes: 0 };
  private counters = { uploads: 0, bytesUploaded: 0, failures: 0, active: 0 };
  /** recovered items whose server state is being checked */
  private readonly verifying = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly deps: WriteBackDeps) {
    const id = createHash('sha256').update(deps.remoteId ?? deps.remote).digest('hex').slice(0, 8);
    this.dir = path.join(deps.cacheDir, 'vfs', `${safeName(deps.remote)}-${id}`, safeName(deps.root.bucket));
    this.limiter = new Limiter(Math.max(1, deps.transfers));
    const stream: StreamTarget = { backend: deps.backend, bucket: deps.root.bucket, chunkSize: deps.chunkSize, memory: this.memory };
    this.ctx = {
      backend: deps.backend,
      bucket: deps.root.bucket,
      root: deps.root,
      log: deps.log,
      remote: deps.remote,
      dir: this.dir,
      ensureDir: () => this.ensureDir(),
      chunkSize: deps.chunkSize,
      maxUploadParts: deps.maxUploadParts,
      writeBackMs: deps.cacheMode === 'off' ? 0 : deps.writeBackMs,
      cacheMode: deps.cacheMode,
      streamMemoryBudget: Math.max(256 * 1024 * 1024, 4 * deps.chunkSize * (deps.uploadConcurrency + 1)),
      noChecksum: deps.noChecksum,
      stream,
      now: deps.now ?? Date.now,
      uploaded: (item, info) => this.uploaded(item, info),
      broken: (item) => this.brokenItem(item),
    };
    const poll = deps.cachePollMs ?? 60_000;
    if (poll > 0 && poll < 2 ** 31) {
      this.poller = setInterval(() => void this.evict().catch((err) => deps.log.error(`cache eviction: ${(err as Error).message}`)), poll);
      this.poller.unref();
    }
  }

  private ensureDir(): Promise<void> {
    this.dirReady ??= fs.mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.dirReady;
  }

  private newId(): string {
    const o = currentOwner();
    return `${o.pid}.${o.start}.${randomBytes(6).toString('hex')}`;
  }

  private uploaded(item: Item, info: ObjectInfo | null): void {
    if (info) {
      this.counters.uploads++;
      this.counters.bytesUploaded += info.size;
    }
    const rel = this.deps.root.fromBackend(item.path);
    if (rel !== null && !item.discarded) this.deps.onUploaded(rel, info, { size: item.size, mtimeNs: item.mtimeNs });
  }

  private brokenItem(item: Item): void {
    this.counters.failures++;
    const rel = this.deps.root.fromBackend(item.path);
    if (rel !== null && this.files.get(rel) === item) {
      this.files.delete(rel);
      this.hidden.add(item);
      this.deps.onDropped?.(rel, item.server);
    }
  }

  private cacheAllowed(opts: OpenWriteOptions): boolean {
    const m = this.deps.cacheMode;
    return m === 'writes' || m === 'full' || (m === 'minimal' && !!opts.readWrite);
  }

  // ------------------------------------------------------------------------------------------
  // WriteLayer

  get(rel: string): WriteFile | undefined {
    return this.files.get(rel);
  }

  async open(rel: string, opts: OpenWriteOptions): Promise<WriteFile> {
    if (this.closed) throw vfsError('EIO', 'the mount is shutting down');
    const existing = this.files.get(rel);
    if (existing) {
      existing.refs++;
      existing.cancelTimer();
      existing.lingering = false;
      if (this.cacheAllowed(opts)) existing.cacheAllowed = true;
      try {
        if (opts.truncate) await existing.truncate(0);
      } catch (err) {
        existing.refs--;
        if (existing.refs === 0) await this.settle(existing);
        throw err;
      }
      return existing;
    }
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

  /** A clean cache file of `rel` that still holds the server's current version: used again. */
  private reuse(rel: string, opts: OpenWriteOptions): Item | undefined {
    const c = this.clean.get(rel);
    if (!c) return undefined;
    this.clean.delete(rel);
    const current = opts.server;
    if (opts.create || opts.truncate || !current || !c.base || current.etag !== c.base.etag || current.size !== c.size) {
      void c.removeFiles();
      return undefined;
    }
    c.refs = 1;
    c.cacheAllowed = this.cacheAllowed(opts) || c.cacheAllowed;
    if (current.mtimeNs !== null) c.mtimeNs = current.mtimeNs;
    c.lastUsed = Date.now();
    this.files.set(rel, c);
    this.deps.log.debug(`/${rel}: using the cached copy (${c.localBytes} bytes local)`);
    return c;
  }

  /** A read-only open: a cached copy of the current version, if there is one (or always, in full mode). */
  async openCached(rel: string, server: ServerVersion): Promise<WriteFile | undefined> {
    if (this.files.has(rel) || this.deps.cacheMode === 'full' || this.clean.has(rel)) {
      if (!this.files.has(rel) && this.deps.cacheMode !== 'full') {
        const c = this.clean.get(rel)!;
        if (!c.base || c.base.etag !== server.etag || c.size !== server.size) return undefined;
      }
      return this.open(rel, { create: false, truncate: false, writable: false, server });
    }
    return undefined;
  }

  /** `rel` (and what is below it) was removed or replaced: cached copies of it go. */
  invalidate(rel: string): void {
    for (const [r, c] of [...this.clean]) {
      if (!isSelfOrBelow(r, rel)) continue;
      this.clean.delete(r);
      void c.removeFiles();
    }
  }

  private create(rel: string, opts: OpenWriteOptions): Item {
    const key = this.deps.root.toBackend(rel);
    const allowed = this.cacheAllowed(opts);
    let item: Item;
    if (opts.create || opts.truncate || !opts.server) {
      item = Item.fresh(this.ctx, this.newId(), key, toServerState(opts.server), allowed);
    } else {
      if (!allowed && opts.server.size > 0 && opts.writable !== false) {
        const msg = `/${rel}: an existing file opened for writing without O_TRUNC needs a local cache file, which --vfs-cache-mode ${this.deps.cacheMode} does not allow${this.deps.cacheMode === 'minimal' ? ' for write-only opens' : ''} (use --vfs-cache-mode writes)`;
        this.deps.log.notice(msg);
        throw vfsError('EPERM', msg);
      }
      item = Item.existing(this.ctx, this.newId(), key, opts.server, allowed);
    }
    item.refs = 1;
    this.files.set(rel, item);
    return item;
  }

  async release(file: WriteFile): Promise<void> {
    const item = file as Item;
    item.refs = Math.max(0, item.refs - 1);
    if (item.refs > 0) return;
    await this.settle(item);
  }

  /** The last handle of `item` is gone: schedule its upload, or forget it. */
  private async settle(item: Item): Promise<void> {
    if (item.broken || item.discarded) {
      this.forget(item);
      await item.removeFiles();
      return;
    }
    if (item.mode === 'stream' && (item.stream!.started || item.dirty)) {
      // the last handle is gone: finish the stream (commit it, or make it a pending small file)
      await item.flush().catch(() => undefined);
      if (item.refs > 0) return;
      if (item.broken) return this.settle(item);
    }
    if (item.dirty || item.metaPending) {
      // write-back 0: uploaded now (a failed close(2) upload is retried later, with backoff)
      if (this.ctx.writeBackMs === 0 && item.lastError === undefined) return this.runUpload(item);
      const delay = item.lastError !== undefined ? this.backoff(++item.failures) : this.ctx.writeBackMs;
      this.schedule(item, delay);
      await item.closeData();
      void item.prefill();
      return;
    }
    if (item.committed && this.ctx.writeBackMs > 0) {
      // a stream just committed: a utimens (rsync -t) or rename may follow; kept for the
      // write-back delay, it lets them share one server-side copy
      item.lingering = true;
      this.schedule(item, this.ctx.writeBackMs);
      return;
    }
    await this.dropClean(item);
  }

  private forget(item: Item): void {
    item.cancelTimer();
    const rel = this.deps.root.fromBackend(item.path);
    if (rel !== null && this.files.get(rel) === item) this.files.delete(rel);
    this.hidden.delete(item);
  }

  /** A clean item nobody has open: kept as a cached copy when it holds data, else removed. */
  private async dropClean(item: Item): Promise<void> {
    if (item.refs > 0 || item.dirty || item.metaPending || item.uploading) return;
    this.forget(item);
    const rel = this.deps.root.fromBackend(item.path);
    if (rel !== null && this.keepsClean() && !item.broken && !item.discarded && item.mode === 'cache' && item.base && item.base.etag !== '' && item.localBytes > 0) {
      const older = this.clean.get(rel);
      if (older && older !== item) {
        this.clean.delete(rel);
        await older.removeFiles();
      }
      this.clean.set(rel, item);
      item.lastUsed = Date.now();
      if (item.journalState !== 'clean') await item.journal('clean', false);
      await item.closeData();
      while (this.clean.size > MAX_CLEAN_ITEMS) {
        const [oldest, c] = this.clean.entries().next().value!;
        this.clean.delete(oldest);
        await c.removeFiles();
      }
      if (this.deps.cacheMaxSize !== undefined && this.deps.cacheMaxSize >= 0) await this.evict();
      return;
    }
    await item.removeFiles();
  }

  private keepsClean(): boolean {
    return this.deps.cacheMode !== 'off' && (this.deps.cacheMaxAgeMs ?? 1) > 0 && this.deps.cacheMaxSize !== 0;
  }

  /** Remove clean cached copies unused for --vfs-cache-max-age, then the oldest above --vfs-cache-max-size. Never pending data. */
  async evict(): Promise<void> {
    const now = Date.now();
    const maxAge = this.deps.cacheMaxAgeMs ?? 3_600_000;
    for (const [rel, c] of [...this.clean]) {
      if (now - c.lastUsed < maxAge) continue;
      this.clean.delete(rel);
      await c.removeFiles();
    }
    const max = this.deps.cacheMaxSize ?? -1;
    if (max < 0) return;
    let total = 0;
    for (const it of [...this.files.values(), ...this.hidden, ...this.clean.values()]) total += it.localBytes;
    if (total <= max) return;
    const lru = [...this.clean.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [rel, c] of lru) {
      if (total <= max) break;
      total -= c.localBytes;
      this.clean.delete(rel);
      await c.removeFiles();
    }
  }

  private backoff(failures: number): number {
    const base = this.deps.retryBaseMs ?? Math.max(1_000, this.ctx.writeBackMs);
    return Math.min(MAX_RETRY_MS, base * 2 ** Math.max(0, failures - 1));
  }

  private schedule(item: Item, delayMs: number): void {
    if (this.closed) return;
    item.cancelTimer();
    item.timer = setTimeout(() => {
      item.timer = undefined;
      if (item.verified) void this.runUpload(item);
      else this.startVerify(item);
    }, delayMs);
    item.timer.unref?.();
  }

  /** A background upload (write-back timer, retry, recovery). */
  private async runUpload(item: Item): Promise<void> {
    if (item.refs > 0 || item.discarded || item.broken || this.closed || !item.verified) return;
    if (!item.dirty && !item.metaPending && item.mode !== 'stream') return this.dropClean(item);
    this.counters.active++;
    try {
      await this.limiter.run(async () => {
        if (item.refs > 0 || item.discarded || this.closed) return;
        await item.upload();
      });
    } catch (err) {
      item.failures++;
      this.counters.failures++;
      const msg = err instanceof Error ? err.message : String(err);
      if (item.stuck) {
        this.deps.log.error(`${item.rel}: cannot be uploaded: ${msg}. What was written here stays in ${item.dataPath}; it is tried again at the next mount`);
      } else {
        const delay = this.backoff(item.failures);
        this.deps.log.error(`${item.rel}: upload failed (attempt ${item.failures}), the data stays in the cache (${item.dataPath}); next attempt in ${Math.round(delay / 1000)}s: ${msg}`);
        if (item.refs === 0) this.schedule(item, delay);
      }
      return;
    } finally {
      this.counters.active--;
    }
    if (item.refs > 0 || item.discarded) return;
    if (item.dirty) {
      this.schedule(item, this.ctx.writeBackMs);
      return;
    }
    await this.dropClean(item);
  }

  async discard(rel: string): Promise<boolean> {
    const item = this.files.get(rel);
    if (!item) return true;
    this.files.delete(rel);
    const serverHas = item.server !== null || item.uploading !== null;
    await item.discard();
    if (item.refs === 0) await item.removeFiles();
    else this.hidden.add(item);
    return serverHas;
  }

  async prepareRename(from: string, to: string): Promise<RenamePlan> {
    // a pending file at the target is about to be replaced: no upload of it may land after the rename
    const target = this.files.get(to);
    if (target && !isSelfOrBelow(to, from)) {
      target.cancelTimer();
      while (target.uploading) await target.uploading.catch(() => undefined);
    }
    const item = this.files.get(from);
    if (item) {
      const plan = await item.prepareRename();
      return { local: plan === 'local', serverHasSource: item.server !== null, ...(typeof plan === 'object' ? { mtimeNs: plan.server } : {}) };
    }
    const below = [...this.files.entries()].filter(([rel]) => isSelfOrBelow(rel, from)).map(([, it]) => it);
    await Promise.all(below.map((it) => it.prepareRename()));
    return { local: false, serverHasSource: true };
  }

  async renamed(from: string, to: string, how: { local: boolean; server?: ServerVersion | null; mtimeStored?: bigint }): Promise<void> {
    const moved: Item[] = [];
    for (const [rel, item] of [...this.files]) {
      if (!isSelfOrBelow(rel, from)) continue;
      this.files.delete(rel);
      const newRel = rebase(rel, from, to);
      const key = this.deps.root.toBackend(newRel);
      if (how.local && rel === from) {
        item.path = key;
        item.server = toServerState(how.server);
      } else if (item.server === null && item.mode === 'stream') {
        item.path = key; // nothing of it on the server yet
      } else item.followServerRename(key);
      if (rel === from && how.mtimeStored !== undefined && item.mtimeNs === how.mtimeStored) {
        item.metaPending = false;
        item.storedMtimeNs = how.mtimeStored;
      }
      this.files.set(newRel, item);
      moved.push(item);
    }
    await Promise.all(
      moved.map(async (item) => {
        if (item.journalState === 'dirty' || (item.dirty && item.journalState !== 'none')) await item.journal('dirty', true);
        else if (item.journalState !== 'none') await item.journal(item.journalState, false);
        if (item.refs === 0 && (item.dirty || item.metaPending)) this.schedule(item, this.ctx.writeBackMs);
        else if (item.refs === 0 && !item.dirty) await this.dropClean(item);
      }),
    );
  }

  renameFailed(from: string): void {
    for (const [rel, item] of this.files) {
      if (isSelfOrBelow(rel, from) && item.refs === 0 && (item.dirty || item.metaPending) && !item.timer) this.schedule(item, this.ctx.writeBackMs);
    }
  }

  pendingBelow(dir: string): WriteFile[] {
    return [...this.files.values()].filter((f) => isSelfOrBelow(f.rel, dir));
  }

  async flushAll(): Promise<void> {
    // recovered uploads are checked against the server before anything of theirs is uploaded
    await Promise.allSettled([...this.verifying]);
    // (a recovered item the server could not be checked for stays for the next mount)
    const items = [...this.files.values(), ...this.hidden].filter((it) => !it.discarded && !it.broken && it.verified);
    const results = await Promise.allSettled(
      items.map(async (it) => {
        it.cancelTimer();
        await it.uploadNow();
        if (it.refs === 0 && !it.dirty) await this.dropClean(it);
      }),
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
    if (this.poller) clearInterval(this.poller);
    // cached copies stay for the next mount (their journals say which version they hold)
    for (const c of this.clean.values()) await c.closeData();
    this.clean.clear();
    const items = [...this.files.values(), ...this.hidden];
    for (const it of items) it.cancelTimer();
    for (const it of items) {
      if (it.dirty && !it.discarded && !it.broken) {
        await it.persistIfDirty().catch((err) => this.deps.log.error(`${it.rel}: could not save the pending data: ${(err as Error).message}`));
        it.refs = 0;
        await it.closeData();
      } else {
        it.refs = 0;
        if (!it.dirty && !it.broken && !it.discarded && it.journalState === 'clean') await it.closeData();
        else await it.removeFiles();
      }
    }
    this.files.clear();
    this.hidden.clear();
  }

  stats(): WriteStats {
    let pending = 0;
    for (const it of this.files.values()) if (it.dirty && it.refs === 0) pending++;
    return {
      open: [...this.files.values()].filter((it) => it.refs > 0).length,
      pending,
      uploading: this.counters.active,
      streamMemory: this.memory.bytes,
      uploads: this.counters.uploads,
      bytesUploaded: this.counters.bytesUploaded,
      failures: this.counters.failures,
      cached: this.clean.size,
      cachedBytes: [...this.clean.values()].reduce((n, c) => n + c.localBytes, 0),
    };
  }

  // ------------------------------------------------------------------------------------------
  // Recovery

  async recover(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const found: Item[] = [];
    const journaled = new Set<string>();
    let busy = 0;
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      journaled.add(id);
      const file = path.join(this.dir, name);
      const j = parseJournal(await fs.readFile(file, 'utf8').catch(() => ''));
      if (!j || j.bucket !== this.deps.root.bucket) {
        this.deps.log.error(`${file}: not a journal this version understands; left as it is`);
        continue;
      }
      if (isOurs(j.owner)) continue;
      if (ownerAlive(j.owner)) {
        busy++;
        continue;
      }
      if (j.state === 'clean' && this.keepsClean() && j.base && j.present.length > 0) {
        const rel = this.deps.root.fromBackend(j.path);
        const st = await fs.stat(path.join(this.dir, `${id}.data`)).catch(() => null);
        if (rel !== null && st && !this.clean.has(rel)) {
          const c = Item.fromJournal(this.ctx, j);
          c.verified = true;
          c.lastUsed = Date.parse(j.updated) || Date.now();
          await c.journal('clean', false);
          this.clean.set(rel, c);
          continue;
        }
      }
      if (j.state !== 'dirty') {
        await fs.rm(path.join(this.dir, `${id}.data`), { force: true });
        await fs.rm(file, { force: true });
        continue;
      }
      if (j.present.length > 0) {
        const st = await fs.stat(path.join(this.dir, `${id}.data`)).catch(() => null);
        if (!st) {
          this.deps.log.error(`${j.path}: pending upload found in the cache, but its data file ${id}.data is missing: cannot be uploaded`);
          continue;
        }
      }
      const item = Item.fromJournal(this.ctx, j);
      await item.journal('dirty', true);
      const rel = this.deps.root.fromBackend(item.path);
      if (rel !== null && !this.files.has(rel)) this.files.set(rel, item);
      else this.hidden.add(item);
      found.push(item);
    }
    // data files whose journal never came (an item never flushed) of processes that are gone
    for (const name of names) {
      const m = /^((\d+)\.([^.]+)\.[0-9a-f]+)\.(data|json\.tmp-[0-9a-f]+)$/.exec(name);
      if (!m || (m[4] === 'data' && journaled.has(m[1]!))) continue;
      if (ownerAlive({ pid: Number(m[2]), start: m[3]! })) continue;
      await fs.rm(path.join(this.dir, name), { force: true });
    }
    if (busy > 0) this.deps.log.notice(`${busy} cache item(s) in ${this.dir} belong to another running mount; left alone`);
    if (found.length === 0) return;
    this.deps.log.notice(`${found.length} file(s) written before the previous mount ended were not uploaded yet: uploading them now (${this.dir})`);
    for (const item of found) this.startVerify(item);
  }

  private startVerify(item: Item): void {
    const p: Promise<void> = this.verifyAndUpload(item).finally(() => this.verifying.delete(p));
    this.verifying.add(p);
  }

  /** A recovered item: upload it, unless the server's object changed meanwhile (then keep both). */
  private async verifyAndUpload(item: Item): Promise<void> {
    let head: ObjectInfo | null;
    try {
      head = await this.limiter.run(() => this.deps.backend.head(this.deps.root.bucket, item.path));
    } catch (err) {
      this.deps.log.error(`${item.path}: cannot check the server before uploading the pending version: ${(err as Error).message}; trying again later`);
      this.schedule(item, this.backoff(++item.failures));
      return;
    }
    if (head && head.size === item.size && head.mtimeNs !== null && head.mtimeNs === item.mtimeNs) {
      // our upload landed before the crash; only the journal did not say so
      this.deps.log.info(`${item.path}: already uploaded`);
      item.dirty = false;
      item.server = serverOf(head, head.mtimeNs);
      this.uploaded(item, head);
      await this.dropClean(item);
      return;
    }
    const exp = item.server;
    let conflict = false;
    if (exp === null) conflict = head !== null;
    else if (exp !== 'unknown' && head !== null) {
      conflict = head.etag !== exp.etag && !(head.size === exp.size && head.mtimeNs !== null && String(head.mtimeNs) === exp.mtimeNs);
    }
    if (conflict) {
      const oldRel = this.deps.root.fromBackend(item.path);
      const newPath = conflictName(item.path, new Date((this.deps.now ?? Date.now)()));
      this.deps.log.error(
        `${item.path}: changed on the server since it was written here (and not uploaded before the mount ended); the server's version stays, the version written here is uploaded as ${newPath}`,
      );
      if (oldRel !== null && this.files.get(oldRel) === item) this.files.delete(oldRel);
      this.hidden.delete(item);
      item.path = newPath;
      item.server = null;
      const rel = this.deps.root.fromBackend(newPath);
      if (rel !== null && !this.files.has(rel)) this.files.set(rel, item);
      else this.hidden.add(item);
      await item.journal('dirty', true);
    }
    item.verified = true;
    void this.runUpload(item);
  }
}
