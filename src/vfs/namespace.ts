// The namespace: what exists at a mount path, its attributes, and the changes to names
// (mkdir, rmdir, unlink, rename, mtime). It is the only part of the VFS that asks the backend
// about names, and it answers from the caches whenever they are fresh.
//
// Requests, by design:
//  - a lookup answers from the parent's listing when it is cached (or being fetched): a name
//    absent from a fresh listing is ENOENT with no request at all. In a directory not listed, a
//    lookup never lists it (a directory of a million objects would take minutes): it probes the
//    one name, a HEAD of the key and one small LIST of the keys that start with it (`key/` and
//    `key.rclonelink` sort there) at once, and caches the answer;
//  - readdir is one LIST and never a HEAD (`ls`, `find -name` cost no HEAD); when a tree is
//    walked, one recursive LIST below the walked directory answers the readdirs of all its
//    subdirectories (tree-listing.ts), bounded in length;
//  - a file's getattr needs its X-Amz-Meta-Mtime, so one HEAD, cached; a stat storm after a
//    readdir HEADs all siblings ahead, and a tree walk lists subdirectories ahead (fetch-ahead.ts);
//  - a GET's response carries the same metadata as a HEAD: a small file's getattr GETs it whole
//    instead (its body then waits in the read cache for the open that usually follows), a
//    getattr of a file being downloaded waits for that GET's headers, and every GET of the
//    version the listing shows refreshes the cached metadata. A program reading a folder of small
//    files one after the other pays one request per file, not a HEAD and a GET;
//  - with --use-server-modtime or --no-modtime, LastModified from the listing is used: no HEAD.
import type { CopyResult, ListEntry, ObjectInfo, WriteCondition } from '../backend/s3/types.js';
import type { MountedBucket } from './bucket.js';
import { BackendError } from '../backend/s3/backend-error.js';
import { unreachableKeyNotice } from '../backend/s3/list.js';
import type { Logger } from '../util/log.js';
import { DirCache, type DirEntry, type Listing } from './dir-cache.js';
import { MetaCache } from './meta-cache.js';
import type { MetaStore } from './meta-store.js';
import { DirAttrs } from './dir-attrs.js';
import { DirMarkers } from './dir-markers.js';
import { Once } from '../util/once.js';
import { S_IFDIR, S_IFLNK, S_IFREG } from './attrs.js';
import { posixFrom, posixMetadata, storedFileType, type PosixMeta } from '../backend/s3/metadata.js';
import { LinkTargets, MAX_LINK_TARGET, linkNameOf, linkObjectOf, type LinkRead } from './links.js';
import { FetchAhead } from './fetch-ahead.js';
import { TreeAssembler } from './tree-listing.js';
import { forEachLimit } from '../util/concurrency.js';
import { baseName, isSelfOrBelow, joinPath, parentOf, rebase } from './paths.js';
import { vfsError } from './errors.js';
import { conflictName, MAX_CONFLICT_NAMES } from './write/conflicts.js';
import type { NameFilter, VfsOptions } from './options.js';

export interface Attr {
  kind: 'file' | 'dir' | 'link';
  /** a link's: the length of its target */
  size: number;
  /** modification time in nanoseconds since the epoch (full precision, as stored by rclone) */
  mtimeNs: bigint;
  /**
   * change time: when the object was last written, data or metadata (its LastModified: every
   * upload, chmod, chown, utimens and rename makes a new object), or a change made here since;
   * none: the mtime
   */
  ctimeNs?: bigint;
  /** current ETag for files known to the server */
  etag?: string;
  /** permission bits and owners stored with the object (chmod/chown, rclone -M, s3fs) */
  posix?: PosixMeta;
}

/** a file up to this size is GETted whole where its metadata is needed (the body costs less than the round trip of a second request) */
export const SMALL_GET = 64 * 1024;

/** a recursive listing of a walked tree stops after this many keys (ten pages of 1000) */
export const MAX_TREE_KEYS = 10_000;

/** A recursive listing under way: readdirs below its root wait for their directory in it. */
class TreeRun {
  private readonly waiters = new Map<string, Array<() => void>>();
  private ended = false;

  constructor(readonly root: string) {}

  /** resolves once `dir` is complete in this listing, or the listing ended */
  until(dir: string): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(dir) ?? [];
      list.push(resolve);
      this.waiters.set(dir, list);
    });
  }

  completed(dir: string): void {
    for (const w of this.waiters.get(dir) ?? []) w();
    this.waiters.delete(dir);
  }

  end(): void {
    this.ended = true;
    for (const list of this.waiters.values()) for (const w of list) w();
    this.waiters.clear();
  }
}

/** What the namespace asks of the read path: GETs whose responses also answer a getattr. */
export interface NamespaceReads {
  /** Download one version of a file whole into the read cache (resolves when done). */
  fetchWhole(rel: string, etag: string, size: number): Promise<void>;
  /**
   * GET the first `bytes` of `rel` into the read cache: what a HEAD would say (throws 404 as the
   * backend does); null when its bytes are local already (a cached copy): a HEAD does then
   */
  readStart(rel: string, bytes: number): Promise<ObjectInfo> | null;
}

/**
 * A lookup in a directory not listed asks for this much of the object with a GET instead of a
 * HEAD: the same round trip says what a HEAD would and brings a small file's bytes, so a program
 * that opens files by path reads them without another request.
 */
const PROBE_GET_BYTES = 64 * 1024;

/**
 * The change time shown for a file: S3 keeps LastModified to the second, so every file's change
 * time is shown to the second (it does not move back when an upload turns a change made here
 * into an object), or as its mtime when that falls in the same second (a change time before the
 * modification time would read as a bug).
 */
export function shownCtime(changedNs: bigint, mtimeNs: bigint): bigint {
  const second = changedNs - (((changedNs % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
  return mtimeNs >= second && mtimeNs - second < 1_000_000_000n ? mtimeNs : second;
}

export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

export class Namespace {
  /** the filter flags, when any is set */
  private readonly filter: NameFilter | undefined;
  readonly dirs: DirCache;
  readonly meta: MetaCache;
  /** directory listings being fetched: concurrent lookups in one directory share one LIST */
  private readonly listing = new Map<string, Promise<Listing>>();
  /** recursive listings of walked trees under way, by root */
  private readonly trees = new Map<string, TreeRun>();
  /** a LIST of `dir` is under way */
  listingInFlight(dir: string): boolean {
    return this.listing.has(dir);
  }

  /** the metadata of the file or link `e` at `rel` is cached (matching `e`) or being fetched */
  attrKnown(rel: string, e: DirEntry): boolean {
    if (e.kind === 'dir') return this.markers.pending(rel);
    const obj = this.objectOf(rel, e);
    return !!this.cachedHead(obj, e) || this.heads.has(obj) || this.linkReads.has(obj);
  }

  /** fetch the metadata of the file or link `e` at `rel` ahead of its getattr (a link's GET brings its target too) */
  fetchAttr(rel: string, e: DirEntry): Promise<unknown> {
    if (e.kind === 'dir') return this.markers.fetch(rel);
    return e.kind === 'link' ? this.readLinkObject(rel, linkObjectOf(rel), e.size) : this.head(rel);
  }

  /** HEADs in flight, by path */
  private readonly heads = new Map<string, Promise<ObjectInfo | null>>();
  /** getattrs waiting for the response headers of a GET under way, by path */
  private readonly infoWaiters = new Map<string, (info: ObjectInfo) => void>();
  /** probes of names in unlisted directories in flight, by path */
  private readonly probes = new Map<string, Promise<DirEntry | null>>();
  /** HEADs and listings fetched ahead of a stat storm or a tree walk */
  private readonly ahead: FetchAhead;
  /** the time shown for directories (S3 keeps none for prefixes): when the mount started */
  private readonly dirTimeNs: bigint;
  /** directory times, modes and owners set or moved through this mount (dir-attrs.ts) */
  private readonly dirAttrs = new DirAttrs();
  /** what directories' `dir/` markers store (their times, modes, owners) */
  private readonly markers: DirMarkers;
  /** keys and names already reported in a NOTICE (listings are read again and again) */
  private readonly noticed = new Once();
  /** targets of symbolic links already read */
  private readonly targets = new LinkTargets();
  /** GETs of link objects in flight, by object path */
  private readonly linkReads = new Map<string, Promise<LinkRead | null>>();

  constructor(
    readonly bucket: MountedBucket,
    readonly opts: VfsOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /** what HEADs said, kept across mounts (none: nothing persists) */
    private readonly store?: MetaStore,
    /** GETs into the read cache (none: a getattr always HEADs) */
    private readonly reads?: NamespaceReads,
    /** the filter flags: names they leave out are neither listed nor found (none: all show) */
    filter?: NameFilter,
  ) {
    this.filter = filter?.active ? filter : undefined;
    this.dirs = new DirCache(opts.dirCacheTimeMs, opts.maxCachedDirs, now);
    this.markers = new DirMarkers(bucket, opts.dirCacheTimeMs, opts.maxCachedDirs, now);
    this.meta = new MetaCache(opts.dirCacheTimeMs, opts.negativeCacheMs, now);
    this.ahead = new FetchAhead(this, opts.headConcurrency, log, now);
    this.dirTimeNs = msToNs(now());
  }

  /** Whether getattr of a file needs X-Amz-Meta-Mtime (a HEAD) or can use LastModified. */
  get needsHeadForMtime(): boolean {
    return !(this.opts.useServerModtime || this.opts.noModtime);
  }

  // ------------------------------------------------------------------------------------------
  // Listings

  /** The listing of `dir`, fresh from the cache or fetched (one LIST per directory at a time). */
  async listDir(dir: string): Promise<Listing> {
    const cached = this.dirs.answer(dir);
    if (cached) return cached;
    const tree = this.treeCovering(dir);
    if (tree && !this.listing.has(dir)) {
      await tree.until(dir);
      const listed = this.dirs.get(dir);
      if (listed) return listed;
    }
    let p = this.listing.get(dir);
    if (!p) {
      p = this.fetchListing(dir).finally(() => this.listing.delete(dir));
      this.listing.set(dir, p);
    }
    return p;
  }

  /**
   * --poll-interval: list again each directory asked for since `since` (and listed before it),
   * so what other clients changed there shows without waiting for --dir-cache-time. A name
   * whose object changed or went loses what was known of it (its HEAD), so the next stat and
   * open see the new version. Returns the directories listed and the names that changed.
   */
  async refreshUsed(since: number, opts: { concurrency: number; maxDirs: number }): Promise<{ dirs: number; changed: string[] }> {
    const dirs = this.dirs
      .usedSince(since)
      .filter((d) => !this.listing.has(d) && !this.treeCovering(d))
      .slice(0, opts.maxDirs);
    const changed: string[] = [];
    await forEachLimit(dirs, opts.concurrency, async (dir) => {
      const before = this.dirs.get(dir)?.entries;
      if (!before) return;
      let p = this.listing.get(dir);
      if (!p) {
        p = this.fetchListing(dir).finally(() => this.listing.delete(dir));
        this.listing.set(dir, p);
      }
      const after = (await p).entries;
      for (const [name, e] of before) {
        const now = after.get(name);
        if (now && now.kind === e.kind && now.etag === e.etag && now.size === e.size) continue;
        changed.push(joinPath(dir, name));
      }
      for (const name of after.keys()) if (!before.has(name)) changed.push(joinPath(dir, name));
    });
    for (const rel of changed) this.changedElsewhere(rel);
    return { dirs: dirs.length, changed };
  }

  /** another client changed `rel` (a poll saw it): what was known of it is asked for again */
  private changedElsewhere(rel: string): void {
    for (const obj of [rel, linkObjectOf(rel)]) {
      this.meta.dropHead(obj);
      this.store?.forget(this.bucket.keyOf(obj));
    }
    this.meta.clearNegative(rel);
  }

  private async fetchListing(dir: string): Promise<Listing> {
    // A local change while the LIST runs (a create, a delete) may or may not be in its result:
    // such a result is fetched again rather than cached, at most twice.
    for (let attempt = 0; ; attempt++) {
      const generation = this.dirs.generation(dir);
      const entries = await this.readListing(dir);
      if (this.dirs.generation(dir) === generation) return this.dirs.set(dir, entries);
      if (attempt >= 2) return { entries, expiresAt: 0, prefetchArmed: false };
    }
  }

  /** the recursive listing under way whose root is `dir` or above it */
  private treeCovering(dir: string): TreeRun | undefined {
    for (const t of this.trees.values()) if (isSelfOrBelow(dir, t.root)) return t;
    return undefined;
  }

  /**
   * A tree below `root` is being walked: one recursive LIST (at most MAX_TREE_KEYS keys) lists
   * every directory in it. Each directory is cached as soon as the listing has passed it; one
   * changed here meanwhile, or still open when the bound stops the listing, is left out (it gets
   * a LIST of its own when read).
   */
  async listTree(root: string): Promise<void> {
    const rootListing = this.dirs.get(root);
    if (this.treeCovering(root) || rootListing?.treeListed) return;
    if (rootListing) rootListing.treeListed = true;
    const run = new TreeRun(root);
    this.trees.set(root, run);
    const started = this.dirs.lastChange;
    let cached = 0;
    const tree = new TreeAssembler(
      root,
      (entries, dir, e, rel) => this.mergeEntry(entries, dir, e, rel),
      (dir, entries) => {
        if (!this.dirs.get(dir) && this.dirs.generation(dir) <= started && !this.listing.has(dir)) {
          this.dirs.set(dir, entries);
          cached++;
        }
        // a recursive listing shows markers: a subdirectory without one has nothing stored (no
        // HEAD); those with one are HEADed ahead of the walk's stats
        const withMarker: string[] = [];
        for (const e of entries.values()) {
          if (e.kind !== 'dir') continue;
          if (e.marker) withMarker.push(e.name);
          else this.markers.set(joinPath(dir, e.name), null);
        }
        if (this.needsHeadForMtime) this.ahead.markersAhead(dir, withMarker);
        run.completed(dir);
      },
      (dir) => this.dirs.invalidate(dir),
    );
    const t0 = Date.now();
    let keys = 0;
    let complete = true;
    try {
      for await (const e of this.bucket.list(root, { recursive: true })) {
        if (this.unreachable(e)) continue;
        tree.add(e);
        if (++keys >= MAX_TREE_KEYS) {
          complete = false;
          break;
        }
      }
      tree.finish(complete);
    } catch (err) {
      tree.finish(false);
      this.log.debug(`recursive listing of ${JSON.stringify(root || '/')}: ${(err as Error).message}`);
    } finally {
      this.trees.delete(root);
      run.end();
    }
    this.log.debug(
      `recursive listing of ${JSON.stringify(root || '/')}: ${keys} keys, ${cached} directories cached in ${Date.now() - t0}ms${complete ? '' : ' (stopped at the bound)'}`,
    );
  }

  private async readListing(dir: string): Promise<Map<string, DirEntry>> {
    const entries = new Map<string, DirEntry>();
    const t0 = Date.now();
    for await (const e of this.bucket.list(dir, { recursive: false })) {
      const rel = e.path;
      // the directory's own `dir/` marker, or anything not directly inside it, is not an entry
      if (rel === dir || rel === '' || parentOf(rel) !== dir) continue;
      if (this.unreachable(e)) continue;
      this.mergeEntry(entries, dir, e, rel);
    }
    this.log.debug(`list ${JSON.stringify(dir || '/')}: ${entries.size} entries in ${Date.now() - t0}ms`);
    return entries;
  }

  /**
   * A listed key whose name leads to another key under this encoding (the Dot rule: the key "."
   * reads as "．", the key of a file named so) could be shown but never opened: it is left out,
   * with one NOTICE (per mount) that says how to reach it.
   */
  private unreachable(e: ListEntry): boolean {
    if (e.unreachableKey === undefined) return false;
    if (this.noticed.first(e.unreachableKey)) {
      this.log.notice(unreachableKeyNotice(this.bucket.name, e.unreachableKey));
    }
    return true;
  }

  /**
   * One listing entry into the merged map. A name can come as a marker object and as a common
   * prefix (a directory with a `dir/` marker and keys below it): one directory. A file `a` and
   * keys under `a/` can both exist in S3 but not in a filesystem: the directory wins (it holds
   * more), and the file is named in one NOTICE.
   */
  private mergeEntry(entries: Map<string, DirEntry>, dir: string, e: ListEntry, rel: string): void {
    if (this.filter && !this.passes(rel, e.kind === 'dir', e.size, e.lastModified)) return;
    const name = baseName(rel);
    const prev = entries.get(name);
    if (e.kind === 'dir') {
      const marker = !!e.marker || !!prev?.marker;
      const entry: DirEntry = { name, kind: 'dir', size: 0, marker };
      const lm = e.lastModified ?? (prev?.kind === 'dir' ? prev.lastModified : undefined);
      if (lm) entry.lastModified = lm;
      if (prev?.kind === 'file') this.noticeShadowedFile(dir, name);
      if (prev?.kind === 'link') this.noticeShadowedLink(dir, name, 'directory');
      entries.set(name, entry);
      return;
    }
    // `x.rclonelink` is the symbolic link `x`; a file or directory of that name wins over it
    const link = this.opts.links ? linkNameOf(name) : null;
    const shown = link ?? name;
    const there = entries.get(shown);
    if (link !== null && (there?.kind === 'file' || there?.kind === 'dir')) {
      this.noticeShadowedLink(dir, link, there.kind === 'dir' ? 'directory' : 'file');
      return;
    }
    if (prev?.kind === 'dir') {
      this.noticeShadowedFile(dir, name);
      return;
    }
    if (link === null && prev?.kind === 'link') this.noticeShadowedLink(dir, name, 'file');
    const entry: DirEntry = { name: shown, kind: link !== null ? 'link' : 'file', size: e.size };
    if (e.lastModified) entry.lastModified = e.lastModified;
    if (e.etag) entry.etag = e.etag;
    if (e.storageClass) entry.storageClass = e.storageClass;
    entries.set(shown, entry);
  }

  private noticeShadowedLink(dir: string, name: string, by: 'file' | 'directory'): void {
    const rel = joinPath(dir, name);
    if (!this.noticed.first(linkObjectOf(rel))) return;
    this.log.notice(`${rel}: both a ${by} and a symbolic link (${baseName(linkObjectOf(rel))}) in the bucket; showing the ${by}`);
  }

  private noticeShadowedFile(dir: string, name: string): void {
    const rel = joinPath(dir, name);
    if (!this.noticed.first(rel)) return;
    const key = this.bucket.keyOf(rel);
    this.log.notice(`${rel}: both a file and a directory in the bucket; showing the directory (the file: bucketfs cat REMOTE:${this.bucket.name}/${key})`);
  }

  // ------------------------------------------------------------------------------------------
  // Lookups and attributes

  /** The entry at `rel`, or null: from the parent's listing when there is one, else probed. */
  async lookup(rel: string): Promise<DirEntry | null> {
    if (rel === '') return { name: '', kind: 'dir', size: 0 };
    const parent = parentOf(rel);
    const listing = this.dirs.answer(parent) ?? (await this.listing.get(parent));
    if (listing) {
      const e = listing.entries.get(baseName(rel)) ?? null;
      if (!e) this.meta.setNegative(rel);
      return e;
    }
    if (this.meta.isNegative(rel)) return null;
    let p = this.probes.get(rel);
    if (!p) {
      p = this.probe(rel).finally(() => this.probes.delete(rel));
      this.probes.set(rel, p);
    }
    return p;
  }

  /**
   * A name in a directory not listed: what the caches know, else a HEAD of the key and a
   * small LIST of the keys that start with the name at once (one round trip). A file's HEAD is kept, so its getattr
   * needs nothing more. Both a file and keys below it: the directory, as in a listing.
   */
  private async probe(rel: string): Promise<DirEntry | null> {
    const e = await this.probeName(rel);
    if (e && this.filter && !this.passes(rel, e.kind === 'dir', e.size, e.lastModified)) {
      this.meta.setNegative(rel);
      return null;
    }
    return e;
  }

  /**
   * Whether the filter flags let a name show: a directory by the directory rules, a file (or a
   * link, by the name it shows as) by the rules, its size and its listed time; both within
   * --max-depth. The ages are judged by the listing's LastModified, as the listing shows it.
   */
  private passes(rel: string, isDir: boolean, size: number, lastModified: Date | undefined): boolean {
    const f = this.filter!;
    if (!f.withinDepth(rel.split('/').length)) return false;
    if (isDir) return f.includeDir(rel);
    const link = this.opts.links ? linkNameOf(baseName(rel)) : null;
    const shown = link !== null ? joinPath(parentOf(rel), link) : rel;
    return f.includeFile(shown, size, lastModified?.getTime());
  }

  private async probeName(rel: string): Promise<DirEntry | null> {
    const name = baseName(rel);
    if (this.meta.isDir(rel)) return { name, kind: 'dir', size: 0 };
    const known = this.meta.getHead(rel);
    if (known) return entryFromInfo(name, known);
    // with links, `x.rclonelink` is never a file of its own (it is the link x), and x may be one:
    // the LIST that finds a directory finds x.rclonelink too (it sorts before x/)
    const links = this.opts.links;
    const isLinkObject = links && linkNameOf(name) !== null;
    const [info, around] = await Promise.all([isLinkObject ? null : this.head(rel, true), this.bucket.probeName(rel)]);
    let isDir = around.isDir;
    let link = links && !isLinkObject ? around.siblings.find((e) => e.path === linkObjectOf(rel)) : undefined;
    if (!around.complete) {
      // more names like it than one page holds: ask for each
      const [dir, linkInfo] = await Promise.all([this.bucket.dirExists(rel), links && !isLinkObject && !info ? this.headLink(rel) : null]);
      isDir = dir;
      if (linkInfo) link = { kind: 'object', path: linkObjectOf(rel), size: linkInfo.size, lastModified: linkInfo.lastModified, etag: linkInfo.etag };
    }
    if (isDir) {
      if (info) this.log.notice(`/${rel}: both a file and a directory in the bucket; showing the directory`);
      this.meta.setDir(rel);
      return { name, kind: 'dir', size: 0 };
    }
    if (info) return entryFromInfo(name, info);
    if (link) {
      const e: DirEntry = { name, kind: 'link', size: link.size };
      if (link.lastModified) e.lastModified = link.lastModified;
      if (link.etag) e.etag = link.etag;
      return e;
    }
    this.meta.setNegative(rel);
    return null;
  }

  /** HEAD of the object that would hold the link `rel` (kept like a file's) */
  private async headLink(rel: string): Promise<ObjectInfo | null> {
    const obj = linkObjectOf(rel);
    const info = await this.bucket.head(obj);
    if (info) {
      this.meta.setHead(obj, info);
      this.store?.put(info);
    }
    return info;
  }

  /**
   * At mount: one LIST of the root, of at most `maxKeys` keys (a missing bucket or refused
   * credentials fail here, before anything is mounted). The directories it shows are
   * remembered, so the first lookups below them cost nothing; it is not kept as the root's
   * listing, so a name another client creates after the mount is not hidden by it.
   */
  async primeRoot(maxKeys = 1000): Promise<void> {
    const page = await this.bucket.listPage('', maxKeys);
    for (const e of page.entries) if (e.kind === 'dir' && e.path !== '' && parentOf(e.path) === '') this.meta.setDir(e.path);
  }

  /** getattr: kind, size and mtime. Files need a HEAD for X-Amz-Meta-Mtime unless configured otherwise. */
  async stat(rel: string): Promise<Attr> {
    const e = await this.lookup(rel);
    if (!e) throw vfsError('ENOENT', `no such file or directory: /${rel}`);
    if (e.kind === 'dir') return this.dirStat(rel, e);
    if (e.kind === 'link') return this.linkAttr(rel, e);
    return this.fileAttr(rel, e);
  }

  /** a directory's attributes: what this mount set, else what its marker stores (one HEAD, remembered) */
  private async dirStat(rel: string, e: DirEntry): Promise<Attr> {
    if (rel === '' || !this.needsHeadForMtime) return this.dirAttr(e, rel);
    let known = this.markers.get(rel);
    if (known !== undefined) return this.dirAttr(e, rel, known);
    // a recursive listing under way shows whether it has a marker at all: no HEAD for none
    const tree = this.treeCovering(parentOf(rel));
    if (tree) {
      await tree.until(parentOf(rel));
      known = this.markers.get(rel);
      if (known !== undefined) return this.dirAttr(e, rel, known);
    }
    this.ahead.dirStatStarted(parentOf(rel), baseName(rel));
    return this.dirAttr(e, rel, await this.markers.fetch(rel));
  }

  /** a recursive listing covering the subdirectories of `dir` is under way */
  treeCovers(dir: string): boolean {
    return this.treeCovering(dir) !== undefined;
  }

  /** a directory's attributes when they need no request (its marker is known); else null */
  knownDirAttr(rel: string, e: DirEntry): Attr | null {
    if (rel === '' || !this.needsHeadForMtime) return this.dirAttr(e, rel);
    const known = this.markers.get(rel);
    return known === undefined ? null : this.dirAttr(e, rel, known);
  }

  /**
   * A directory's attributes: the time, mode and owners set or moved through this mount, else
   * what its `marker` stores (its X-Amz-Meta-Mtime or LastModified), else the listing's time,
   * else the mount's start.
   */
  dirAttr(e: DirEntry | undefined, rel: string, marker?: ObjectInfo | null): Attr {
    const markerNs = marker ? msToNs(marker.lastModified.getTime()) : undefined;
    const stored = marker && !this.opts.useServerModtime && !this.opts.noModtime ? (marker.mtimeNs ?? markerNs) : markerNs;
    const mtimeNs = this.dirAttrs.mtime(rel) ?? stored ?? (e?.lastModified ? msToNs(e.lastModified.getTime()) : this.dirTimeNs);
    const ctimeNs = this.dirAttrs.ctime(rel) ?? (markerNs !== undefined ? shownCtime(markerNs, mtimeNs) : mtimeNs);
    const a: Attr = { kind: 'dir', size: 0, mtimeNs, ctimeNs };
    const posix = { ...(marker ? posixFrom(marker.metadata, S_IFDIR) : {}), ...this.dirAttrs.posix(rel) };
    if (Object.keys(posix).length > 0) a.posix = posix;
    return a;
  }

  /** utimens of a directory: kept, and stored in its marker (made if it has none) */
  async setDirMtime(rel: string, mtimeNs: bigint): Promise<void> {
    this.dirAttrs.setMtime(rel, mtimeNs, msToNs(this.now()));
    await this.storeDirAttrs(rel);
  }

  /** chmod/chown of a directory: kept, and stored in its marker (made if it has none) */
  async setDirPosix(rel: string, posix: PosixMeta): Promise<void> {
    this.dirAttrs.setPosix(rel, posix, msToNs(this.now()));
    await this.storeDirAttrs(rel);
  }

  /**
   * Write what `rel` shows (its mtime, and mode and owners where set) into its marker: one PUT
   * of an empty object, which also makes the marker of a directory that had none (it then stays
   * when emptied, as one made by mkdir). The root has no marker: kept for the life of the mount.
   */
  private async storeDirAttrs(rel: string): Promise<void> {
    if (rel === '') return;
    const a = this.dirAttr(undefined, rel, this.markers.get(rel));
    const metadata = { ...this.markers.get(rel)?.metadata, ...(a.posix ? posixMetadata(a.posix, S_IFDIR) : {}) };
    await this.bucket.makeDirMarker(rel, { mtimeNs: a.mtimeNs, metadata });
    this.markers.set(rel, { path: this.bucket.keyOf(rel), size: 0, lastModified: new Date(this.now()), mtimeNs: a.mtimeNs, etag: '', metadata });
  }

  /** an entry of `dir` was added, removed or renamed through this mount: its mtime is now */
  private dirChanged(dir: string): void {
    this.dirAttrs.changed(dir, msToNs(this.now()));
  }

  private fileAttrFromEntry(e: DirEntry): Attr {
    const mtimeNs = msToNs(e.lastModified?.getTime() ?? 0);
    const a: Attr = { kind: e.kind === 'link' ? 'link' : 'file', size: e.size, mtimeNs, ctimeNs: mtimeNs };
    if (e.etag) a.etag = e.etag;
    return a;
  }

  /**
   * A file's (or link's) attributes from a HEAD or GET. `link`: the object holds a link
   * (x.rclonelink); otherwise it is one when its stored mode says so (s3fs).
   */
  attrFromInfo(info: ObjectInfo, link = false): Attr {
    const lastModifiedNs = msToNs(info.lastModified.getTime());
    const mtimeNs = this.opts.noModtime || this.opts.useServerModtime || info.mtimeNs === null ? lastModifiedNs : info.mtimeNs;
    const ctimeNs = shownCtime(lastModifiedNs, mtimeNs);
    const kind = link || (this.opts.links && storedFileType(info.metadata, [S_IFREG, S_IFLNK]) === S_IFLNK) ? 'link' : 'file';
    const a: Attr = { kind, size: info.size, mtimeNs, ctimeNs, etag: info.etag };
    const posix = posixFrom(info.metadata, kind === 'link' ? S_IFLNK : S_IFREG);
    if (Object.keys(posix).length > 0) a.posix = posix;
    return a;
  }

  /**
   * A listed file's attributes as getattr would give them, when that needs no request (its
   * mtime is the listing's, or a HEAD of this version is cached); null when getattr would HEAD.
   */
  knownFileAttr(rel: string, e: DirEntry): Attr | null {
    if (!this.needsHeadForMtime) return this.fileAttrFromEntry(e);
    const cached = this.cachedHead(this.objectOf(rel, e), e);
    return cached ? this.attrFromInfo(cached, e.kind === 'link') : null;
  }

  private async fileAttr(rel: string, e: DirEntry): Promise<Attr> {
    if (!this.needsHeadForMtime) return this.fileAttrFromEntry(e);
    const cached = this.cachedHead(rel, e);
    if (cached) return this.attrFromInfo(cached);
    this.ahead.statStarted(parentOf(rel), baseName(rel));
    const info = this.heads.get(rel) ?? (this.reads && isSmall(e) ? this.infoFromGet(rel, e, this.reads.fetchWhole(rel, e.etag!, e.size)) : this.head(rel));
    const got = await info;
    if (!got) throw vfsError('ENOENT', `no such file (deleted on the server): /${rel}`);
    return this.attrFromInfo(got);
  }

  /** A link's attributes: its object's, from one GET that also brings its target (readlink follows). */
  private async linkAttr(rel: string, e: DirEntry): Promise<Attr> {
    if (!this.needsHeadForMtime) return this.fileAttrFromEntry(e);
    const obj = linkObjectOf(rel);
    const cached = this.cachedHead(obj, e);
    if (cached) return this.attrFromInfo(cached, true);
    this.ahead.statStarted(parentOf(rel), baseName(rel));
    const got = await this.readLinkObject(rel, obj, e.size);
    if (!got) throw vfsError('ENOENT', `no such link (deleted on the server): /${rel}`);
    return this.attrFromInfo(got.info, true);
  }

  /** readlink(2): the target, read once per version of the link object. */
  async readlink(rel: string): Promise<string> {
    const e = await this.lookup(rel);
    if (!e) throw vfsError('ENOENT', `no such file or directory: /${rel}`);
    let obj: string;
    if (e.kind === 'link') obj = linkObjectOf(rel);
    else if (e.kind === 'file' && this.opts.links && (await this.stat(rel)).kind === 'link') obj = rel;
    else throw vfsError('EINVAL', `not a symbolic link: /${rel}`);
    const known = this.targets.get(obj, e.etag);
    if (known !== undefined) return known;
    const got = await this.readLinkObject(e.kind === 'link' ? rel : null, obj, e.size);
    if (!got) throw vfsError('ENOENT', `no such link (deleted on the server): /${rel}`);
    return got.target;
  }

  /**
   * GET a link object whole (one request for its metadata and its target; concurrent callers
   * share it). `rel`: the link it holds in rclone's convention, whose listing entry follows what
   * the GET found. null: the object is gone.
   */
  private readLinkObject(rel: string | null, obj: string, size: number): Promise<LinkRead | null> {
    let p = this.linkReads.get(obj);
    if (!p) {
      p = this.fetchLinkObject(rel, obj, size).finally(() => this.linkReads.delete(obj));
      this.linkReads.set(obj, p);
    }
    return p;
  }

  private async fetchLinkObject(rel: string | null, obj: string, size: number): Promise<LinkRead | null> {
    // no real target is longer; an object that is must not be read whole for a stat
    if (size > MAX_LINK_TARGET) throw vfsError('EIO', `/${obj}: ${size} bytes: too long for the target of a symbolic link`);
    let got: LinkRead;
    try {
      const { body, info } = await this.bucket.read(obj);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      got = { info, target: Buffer.concat(chunks).toString('utf8') };
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (rel !== null) {
        this.dirs.get(parentOf(rel))?.entries.delete(baseName(rel));
        this.meta.dropHead(obj);
      }
      return null;
    }
    this.meta.setHead(obj, got.info);
    this.store?.put(got.info);
    this.targets.set(obj, got.info.etag, got.target);
    if (rel !== null) {
      const l = this.dirs.get(parentOf(rel));
      if (l?.entries.get(baseName(rel))?.kind === 'link') l.entries.set(baseName(rel), { ...entryFromInfo(baseName(rel), got.info), kind: 'link' });
    }
    return got;
  }

  /**
   * A GET of the version `e` shows is under way (`download`): until it is done, a getattr of
   * `rel` waits for its response headers instead of sending a HEAD. A download that ends without
   * a GET of ours (its bytes were cached) or fails (the object changed) falls back to a HEAD.
   */
  infoFromGet(rel: string, e: DirEntry, download: Promise<void>): Promise<ObjectInfo | null> {
    const shared = this.heads.get(rel);
    if (shared) {
      download.catch(() => undefined);
      return shared;
    }
    const got = new Promise<ObjectInfo>((resolve) => this.infoWaiters.set(rel, resolve));
    const ended = download.then(
      () => undefined,
      () => undefined,
    );
    const p = Promise.race([got, ended])
      .then((info) => info ?? this.doHead(rel))
      .finally(() => {
        this.heads.delete(rel);
        this.infoWaiters.delete(rel);
      });
    this.heads.set(rel, p);
    return p;
  }

  /**
   * A GET's response said this about `rel`: kept as a HEAD result when it is the version the
   * listing shows (an older GET racing a change must not describe the new object).
   */
  learned(rel: string, info: ObjectInfo): void {
    const e = this.dirs.get(parentOf(rel))?.entries.get(baseName(rel));
    if (e?.kind !== 'file' || !e.etag || e.etag !== info.etag || e.size !== info.size) return;
    this.meta.setHead(rel, info);
    this.store?.put(info);
    const waiter = this.infoWaiters.get(rel);
    this.infoWaiters.delete(rel);
    waiter?.(info);
  }

  /** A cached HEAD result, if it still describes the object the listing shows. */
  private cachedHead(rel: string, e?: DirEntry): ObjectInfo | undefined {
    const info = this.meta.getHead(rel) ?? this.storedHead(rel, e);
    if (!info) return undefined;
    if (e?.etag && info.etag && e.etag !== info.etag) {
      this.meta.dropHead(rel);
      return undefined;
    }
    return info;
  }

  /** What a HEAD of an earlier mount said, while the listing shows the same object (ETag and size). */
  private storedHead(rel: string, e?: DirEntry): ObjectInfo | undefined {
    if (!this.store || !e?.etag) return undefined;
    const info = this.store.get(this.bucket.keyOf(rel), e.etag, e.size);
    if (info) this.meta.setHead(rel, info);
    return info;
  }

  /**
   * HEAD `rel` once (concurrent callers share it); updates the listing and the caches.
   * `withStart`: by a GET of its first bytes instead (see PROBE_GET_BYTES).
   */
  head(rel: string, withStart = false): Promise<ObjectInfo | null> {
    let p = this.heads.get(rel);
    if (!p) {
      p = this.doHead(rel, withStart).finally(() => this.heads.delete(rel));
      this.heads.set(rel, p);
    }
    return p;
  }

  private async doHead(rel: string, withStart = false): Promise<ObjectInfo | null> {
    const generation = this.dirs.generation(parentOf(rel));
    const info = withStart && this.reads ? await this.headByGet(rel, this.reads) : await this.bucket.head(rel);
    // a local change to the directory during the HEAD makes its answer unreliable for the caches
    if (this.dirs.generation(parentOf(rel)) !== generation) return info;
    if (info) {
      this.meta.setHead(rel, info);
      this.store?.put(info);
      this.dirs.get(parentOf(rel))?.entries.set(baseName(rel), entryFromInfo(baseName(rel), info));
    } else {
      // deleted by someone else since the listing: forget it now rather than at the listing's expiry
      this.dirs.get(parentOf(rel))?.entries.delete(baseName(rel));
      this.meta.dropHead(rel);
    }
    return info;
  }

  private async headByGet(rel: string, reads: NamespaceReads): Promise<ObjectInfo | null> {
    const started = reads.readStart(rel, PROBE_GET_BYTES);
    if (!started) return this.bucket.head(rel);
    try {
      return await started;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** readdir: the merged entries. Arms the sibling-HEAD prefetch for the stat storm that may follow. */
  async readdir(dir: string): Promise<DirEntry[]> {
    if (dir !== '') {
      const e = await this.lookup(dir);
      if (!e) throw vfsError('ENOENT', `no such directory: /${dir}`);
      if (e.kind !== 'dir') throw vfsError('ENOTDIR', `not a directory: /${dir}`);
    }
    const listing = await this.listDir(dir);
    if (this.needsHeadForMtime) {
      listing.prefetchArmed = true;
      listing.firstStat = undefined;
      listing.dirStats = undefined;
    }
    this.ahead.dirRead(dir);
    return [...listing.entries.values()];
  }

  /**
   * `rel` was opened for reading: a program reading files one after the other is served by
   * reading ahead, whose GETs answer its getattrs, not by HEADs of every sibling.
   */
  openedForRead(rel: string): void {
    const listing = this.dirs.get(parentOf(rel));
    if (listing) listing.prefetchArmed = false;
  }

  // ------------------------------------------------------------------------------------------
  // Recording our own changes

  /** A file now exists at `rel` with this size (created locally, maybe not uploaded yet). */
  noteFile(rel: string, size: number, mtimeNs: bigint, info?: ObjectInfo): void {
    const name = baseName(rel);
    // a new name (not an upload or a size change of a known one) changes its directory
    if (!info && !this.dirs.get(parentOf(rel))?.entries.has(name)) this.dirChanged(parentOf(rel));
    const entry: DirEntry = info ? entryFromInfo(name, info) : { name, kind: 'file', size, lastModified: new Date(Number(mtimeNs / 1_000_000n)) };
    this.dirs.upsert(parentOf(rel), entry);
    this.meta.clearNegative(rel);
    if (info) {
      this.meta.setHead(rel, info);
      this.store?.put(info);
    } else this.meta.dropHead(rel);
    this.noteAncestors(rel);
  }

  /** Creating `rel` makes every ancestor exist (S3 directories are prefixes). */
  private noteAncestors(rel: string): void {
    let child = rel;
    while (child !== '') {
      const parent = parentOf(child);
      if (parent === '') break;
      const gp = parentOf(parent);
      const l = this.dirs.get(gp);
      if (l && !l.entries.get(baseName(parent))) l.entries.set(baseName(parent), { name: baseName(parent), kind: 'dir', size: 0 });
      this.meta.setDir(parent);
      child = parent;
    }
  }

  noteRemoved(rel: string): void {
    this.dirChanged(parentOf(rel));
    this.dirs.remove(parentOf(rel), baseName(rel));
    this.meta.dropHead(rel);
    this.meta.dropHead(linkObjectOf(rel));
    this.targets.delete(linkObjectOf(rel));
    this.meta.setNegative(rel);
  }

  /** The object that holds the entry `e` at `rel`: a link's is x.rclonelink (links.ts). */
  objectOf(rel: string, e: Pick<DirEntry, 'kind'> | null | undefined): string {
    return e?.kind === 'link' ? linkObjectOf(rel) : rel;
  }

  /** What is known of `rel` no longer holds (another client stored it): its next lookup asks the server. */
  forgetName(rel: string): void {
    this.dirs.invalidate(parentOf(rel));
    this.meta.dropHead(rel);
    this.meta.clearNegative(rel);
  }

  /** Forget every cached listing and HEAD result (SIGHUP). */
  forgetAll(): void {
    this.dirs.clear();
    this.meta.clear();
    this.markers.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Changes

  async mkdir(rel: string): Promise<void> {
    this.bucket.root.checkNewName(rel);
    const existing = await this.lookup(rel);
    if (existing) throw vfsError('EEXIST', `already exists: /${rel}`);
    await this.requireParentDir(rel);
    const nowNs = msToNs(this.now());
    await this.bucket.makeDirMarker(rel, { mtimeNs: nowNs });
    this.markers.set(rel, { path: this.bucket.keyOf(rel), size: 0, lastModified: new Date(this.now()), mtimeNs: nowNs, etag: '', metadata: {} });
    this.dirs.upsert(parentOf(rel), { name: baseName(rel), kind: 'dir', size: 0, marker: true, lastModified: new Date() });
    this.dirChanged(parentOf(rel));
    this.dirs.setEmpty(rel);
    this.meta.clearNegative(rel);
    this.meta.setDir(rel);
    this.noteAncestors(rel);
  }

  /** The parent of a new entry must be an existing directory. */
  async requireParentDir(rel: string): Promise<void> {
    const parent = parentOf(rel);
    if (parent === '') return;
    const pe = await this.lookup(parent);
    if (!pe) throw vfsError('ENOENT', `no such directory: /${parent}`);
    if (pe.kind !== 'dir') throw vfsError('ENOTDIR', `not a directory: /${parent}`);
  }

  /**
   * rmdir: empty in our listing AND at the server (requireEmptyDir). The cached listing may be
   * older than an object another client put there since; removing the marker then would report
   * success while the object stays, and the directory would come back. Entries `goingAway` says
   * are being deleted (a file unlinked while still open for reading) do not count.
   */
  async rmdir(rel: string, goingAway: (rel: string) => boolean = () => false): Promise<void> {
    if (rel === '') throw vfsError('EBUSY', 'cannot remove the mount root');
    const e = await this.lookup(rel);
    if (!e) throw vfsError('ENOENT', `no such directory: /${rel}`);
    if (e.kind !== 'dir') throw vfsError('ENOTDIR', `not a directory: /${rel}`);
    await this.requireEmptyDir(rel, goingAway);
    await this.deleteMarker(rel);
    this.dirs.remove(parentOf(rel), baseName(rel));
    this.dirChanged(parentOf(rel));
    this.dirAttrs.drop(rel);
    this.markers.drop(rel);
    this.dirs.dropSubtree(rel);
    this.meta.setNegative(rel);
  }

  /**
   * ENOTEMPTY unless the directory is empty at the server (one LIST of a few keys): a cached
   * listing may be older than an object another client put there since. A cached listing that
   * has entries answers at once (rmdir of a full directory costs no request); one that is not
   * cached is not fetched whole for this.
   */
  private async requireEmptyDir(rel: string, goingAway: (rel: string) => boolean = () => false): Promise<void> {
    const cached = this.dirs.get(rel);
    if (cached && cached.entries.size > 0) throw vfsError('ENOTEMPTY', `directory not empty: /${rel}`);
    const server = await this.bucket.listPage(rel, 8);
    if (!server.complete || server.entries.some((x) => !goingAway(x.path))) {
      // what we listed is out of date: the next readdir asks the server again
      this.dirs.invalidate(rel);
      throw vfsError('ENOTEMPTY', `directory not empty at the server: /${rel}`);
    }
  }

  /** Delete the `dir/` marker object of `rel` (missing is not an error). */
  private async deleteMarker(rel: string): Promise<void> {
    await this.bucket.delete([rel + '/']);
  }

  async unlink(rel: string): Promise<void> {
    const e = await this.lookup(rel);
    if (!e) throw vfsError('ENOENT', `no such file: /${rel}`);
    if (e.kind === 'dir') throw vfsError('EISDIR', `is a directory: /${rel}`);
    if (await this.deleteVersion(rel, this.objectOf(rel, e), e.etag, 'not deleted')) this.noteRemoved(rel);
  }

  /**
   * Delete `rel` (held by the object `obj`) only while it is the version `etag` this mount saw
   * (S3's conditional delete; unconditional when the ETag is unknown or --vfs-conditional-writes
   * is off). When another client stored a new version meanwhile, theirs stays, one line says
   * so, and the name is asked for again. Returns whether the object went.
   */
  async deleteVersion(rel: string, obj: string, etag: string | undefined, what: string): Promise<boolean> {
    const { kept } = await this.bucket.delete([{ path: obj, ...(this.opts.conditionalWrites && etag ? { etag } : {}) }]);
    if (kept.length === 0) return true;
    this.log.error(`/${rel}: ${what}: another client stored a new version since this mount saw it; theirs stays`);
    this.forgetName(rel);
    return false;
  }

  /**
   * symlink(2): the object `rel`.rclonelink holding the target, uploaded at once (a link is a
   * few bytes; like mkdir, it exists at the server when the call returns).
   */
  async symlink(target: string, rel: string): Promise<void> {
    this.bucket.root.checkNewName(rel);
    if (await this.lookup(rel)) throw vfsError('EEXIST', `already exists: /${rel}`);
    await this.requireParentDir(rel);
    const body = Buffer.from(target, 'utf8');
    const obj = linkObjectOf(rel);
    const info = await this.bucket.put(obj, body, { size: body.length, mtimeNs: msToNs(this.now()) });
    this.dirs.upsert(parentOf(rel), { ...entryFromInfo(baseName(rel), info), kind: 'link' });
    this.dirChanged(parentOf(rel));
    this.meta.clearNegative(rel);
    this.meta.setHead(obj, info);
    this.store?.put(info);
    this.targets.set(obj, info.etag, target);
    this.noteAncestors(rel);
  }

  /** Server-side mtime change (a copy of the object onto itself). `e`: the entry at `rel`. */
  async setMtime(rel: string, mtimeNs: bigint, e?: DirEntry): Promise<void> {
    await this.bucket.setMtime(this.objectOf(rel, e), mtimeNs);
    this.copiedOntoItself(rel, e);
  }

  /**
   * chmod/chown of a stored file or link: one server-side copy onto itself with the new
   * metadata (merged over what it has: an s3fs link keeps its mode), and the mtime it shows
   * (`mtimeNs`; without it an object that stores none would show the copy's LastModified: a
   * chmod would move its mtime). `e`: the entry at `rel`.
   */
  async setPosix(rel: string, posix: PosixMeta, mtimeNs?: bigint, e?: DirEntry): Promise<void> {
    await this.bucket.copy(this.objectOf(rel, e), this.objectOf(rel, e), {
      metadata: posixMetadata(posix, S_IFREG),
      ...(mtimeNs !== undefined ? { mtimeNs } : {}),
    });
    this.copiedOntoItself(rel, e);
  }

  private copiedOntoItself(rel: string, at?: DirEntry): void {
    // the copy made a new object (new LastModified, new metadata, and a new ETag unless it was
    // uploaded in one part): the next getattr HEADs it again
    const obj = this.objectOf(rel, at);
    this.meta.dropHead(obj);
    this.store?.forget(this.bucket.keyOf(obj));
    const l = this.dirs.get(parentOf(rel));
    const e = l?.entries.get(baseName(rel));
    if (l && e) {
      // keep the entry, but without an ETag that no longer exists
      l.entries.set(e.name, { ...e, etag: undefined, lastModified: new Date() });
    }
  }

  /**
   * rename(2) for names that are not open for writing (the caller flushes those first).
   * A file: server-side copy keeping metadata, then delete. A directory: every key below it,
   * copied concurrently (bounded), then the sources deleted. An existing target is replaced as
   * POSIX says: a file by a file, an empty directory by a directory.
   */
  async rename(from: string, to: string, opts: { mtimeNs?: bigint; metadata?: Record<string, string> } = {}): Promise<RenameResult> {
    if (from === to) return { to };
    if (from === '' || to === '') throw vfsError('EINVAL', 'cannot rename the mount root');
    const src = await this.lookup(from);
    if (!src) throw vfsError('ENOENT', `no such file or directory: /${from}`);
    this.bucket.root.checkNewName(to);
    await this.requireParentDir(to);
    const dst = await this.lookup(to);
    if (src.kind === 'dir') {
      if (isSelfOrBelow(to, from)) throw vfsError('EINVAL', `cannot move a directory into itself: /${from} → /${to}`);
      if (dst?.kind === 'file') throw vfsError('ENOTDIR', `not a directory: /${to}`);
      // an existing target must be empty, at the server too (as for rmdir)
      if (dst) await this.requireEmptyDir(to);
      // an empty target directory is replaced: its marker is the key the new marker overwrites
      await this.renameDir(from, to, src);
      return { to };
    }
    if (dst?.kind === 'dir') throw vfsError('EISDIR', `is a directory: /${to}`);
    return this.renameFile(from, to, src, dst, opts);
  }

  /**
   * A file or link moves: its object is copied and deleted. A target of the other kind (a link
   * replaced by a file, or the reverse) is held by another key, which goes too. `mtimeNs`,
   * `metadata`: store this X-Amz-Meta-Mtime (and mode/owners) with the copy (set while the file
   * was pending).
   */
  private async renameFile(
    from: string,
    wanted: string,
    src: DirEntry,
    dst: DirEntry | null,
    set: { mtimeNs?: bigint; metadata?: Record<string, string> },
  ): Promise<RenameResult> {
    const { mtimeNs, metadata } = set;
    const objFrom = this.objectOf(from, src);
    const setOpts = mtimeNs !== undefined || metadata ? { ...(mtimeNs !== undefined ? { mtimeNs } : {}), ...(metadata ? { metadata } : {}) } : {};
    // the copy replaces only the target this mount saw (or creates it where it saw none)
    const over = dst && this.objectOf(wanted, dst) === this.objectOf(wanted, src) ? dst : null;
    // (taken before the copy: the server's LastModified of the copy, which a remount shows as
    // the change time, is never in an earlier second than what is shown now)
    const copiedAt = new Date(this.now());
    const { copy, to } = await this.copyOver(objFrom, this.objectOf(wanted, src), over, setOpts, src, from, wanted);
    const objTo = this.objectOf(to, src);
    const replaced = to === wanted && dst && this.objectOf(to, dst) !== objTo ? this.objectOf(to, dst) : null;
    await this.deleteVersion(from, objFrom, src.etag, `moved to /${to}, but not deleted here`);
    if (replaced && dst) await this.deleteVersion(to, replaced, dst.etag, 'not replaced');
    const head = this.meta.getHead(objFrom);
    const target = this.targets.get(objFrom, undefined);
    this.noteRemoved(from);
    if (replaced) this.noteRemoved(to);
    // the copy kept the metadata (mtime); its ETag is new whenever the source was a multipart
    // upload, and a later open pins the version by it: take the copy's, or know none. The copy
    // is a new object: its change time is now.
    const { etag: _old, ...rest } = src;
    this.dirs.upsert(parentOf(to), { ...rest, name: baseName(to), lastModified: copiedAt, ...(copy.etag ? { etag: copy.etag } : {}) });
    if (target !== undefined && copy.etag) this.targets.set(objTo, copy.etag, target);
    this.dirChanged(parentOf(to));
    this.meta.clearNegative(to);
    if (head && copy.etag) {
      const info = {
        ...head,
        etag: copy.etag,
        lastModified: copiedAt,
        path: this.bucket.keyOf(objTo),
        ...(mtimeNs !== undefined ? { mtimeNs } : {}),
        ...(metadata ? { metadata: { ...head.metadata, ...metadata } } : {}),
      };
      this.meta.setHead(objTo, info);
      this.store?.put(info);
    } else this.meta.dropHead(objTo);
    this.noteAncestors(to);
    return { to, ...(copy.etag ? { etag: copy.etag } : {}) };
  }

  /**
   * The copy of a rename: over the version of the target this mount saw (If-Match its ETag),
   * or where it saw none (If-None-Match). Refused: another client stored the target meanwhile;
   * theirs stays, and the file goes next to it as TARGET.conflict-HOST-TIME (one line says
   * so), unless what is there is our own copy (a retried request that landed). Returns the copy
   * and the mount path the file went to.
   */
  private async copyOver(
    objFrom: string,
    objTo: string,
    over: DirEntry | null,
    set: { mtimeNs?: bigint; metadata?: Record<string, string> },
    src: DirEntry,
    from: string,
    to: string,
  ): Promise<{ copy: CopyResult; to: string }> {
    const plain = Object.keys(set).length === 0;
    const opts = { ...set, ...(plain ? { size: src.size } : {}) };
    if (!this.opts.conditionalWrites) return { copy: await this.bucket.copy(objFrom, objTo, opts), to };
    let condition: WriteCondition | undefined = over ? (over.etag ? { ifMatch: over.etag } : undefined) : { ifNoneMatch: true };
    try {
      return { copy: await this.bucket.copy(objFrom, objTo, { ...opts, ...(condition ? { condition } : {}) }), to };
    } catch (err) {
      if (!condition || !(err instanceof BackendError) || (err.kind !== 'PreconditionFailed' && err.kind !== 'NotFound')) throw err;
      if (err.kind === 'NotFound') {
        // the target this mount saw is gone (If-Match of a deleted object): nothing to keep there
        condition = { ifNoneMatch: true };
        return { copy: await this.bucket.copy(objFrom, objTo, { ...opts, condition }), to };
      }
    }
    const there = await this.bucket.head(objTo);
    if (there && src.etag && there.etag === src.etag && there.size === src.size) return { copy: { etag: there.etag }, to };
    const when = new Date(this.now());
    for (let n = 1; ; n++) {
      const aside = conflictName(to, when, undefined, n);
      try {
        const copy = await this.bucket.copy(objFrom, this.objectOf(aside, src), { ...opts, condition: { ifNoneMatch: true } });
        this.log.error(`/${to}: stored by another client since this mount saw it; theirs stays, /${from} is moved to /${aside} instead`);
        this.forgetName(to);
        return { copy, to: aside };
      } catch (err) {
        if (n >= MAX_CONFLICT_NAMES || !(err instanceof BackendError) || err.kind !== 'PreconditionFailed') throw err;
      }
    }
  }

  private async renameDir(from: string, to: string, src: DirEntry): Promise<void> {
    const files: Array<{ path: string; size: number; etag?: string }> = [];
    const markers: string[] = [];
    for await (const e of this.bucket.list(from, { recursive: true })) {
      if (e.path === from || !isSelfOrBelow(e.path, from)) continue;
      if (e.kind === 'dir') {
        if (e.marker) markers.push(e.path);
      } else files.push({ path: e.path, size: e.size, ...(e.etag ? { etag: e.etag } : {}) });
    }
    this.log.info(`rename directory /${from} → /${to}: ${files.length} files, ${markers.length} subdirectory markers`);
    const t0 = Date.now();
    await forEachLimit(files, this.opts.renameConcurrency, ({ path, size }) => this.bucket.copy(path, rebase(path, from, to), { size }));
    // markers are copied: they hold the directories' times, modes and owners
    await forEachLimit(markers, this.opts.renameConcurrency, (p) => this.bucket.copyDirMarker(p, rebase(p, from, to)));
    // The target always gets a marker: an empty directory stays one after the move. (A listing
    // never shows the listed directory's own marker: copied if there is one.)
    const ownMarker = await this.bucket.copyDirMarker(from, to).then(
      () => true,
      (err: unknown) => {
        if (!isNotFound(err)) throw err;
        return false;
      },
    );
    if (!ownMarker) await this.bucket.makeDirMarker(to);
    // Delete only after every copy succeeded, so a failure leaves the source whole.
    // (each file only as the version copied: one another client replaced meanwhile stays, and
    // is reported below with what was added)
    await this.bucket.delete([
      ...files.map((f) => (this.opts.conditionalWrites && f.etag ? { path: f.path, etag: f.etag } : f.path)),
      ...markers.map((m) => m + '/'),
      from + '/',
    ]);
    this.log.info(`rename directory /${from} → /${to}: done in ${Date.now() - t0}ms`);

    this.dirs.remove(parentOf(from), baseName(from));
    this.dirChanged(parentOf(from));
    this.dirChanged(parentOf(to));
    this.dirAttrs.move(from, to);
    this.markers.move(from, to);
    if (!ownMarker) this.markers.drop(to);
    this.dirs.moveSubtree(from, to);
    this.meta.moveSubtree(from, to);
    this.meta.setNegative(from);
    this.dirs.upsert(parentOf(to), { ...src, name: baseName(to), marker: true });
    this.meta.clearNegative(to);
    this.meta.setDir(to);
    this.noteAncestors(to);
    await this.checkLeftBehind(from, to);
  }

  /**
   * A directory rename moves what its listing showed. Objects another client put below the
   * source while it ran were not in it: they stay where they are (nothing is lost), and the
   * rename says so rather than report a whole move (one LIST of a few keys).
   */
  private async checkLeftBehind(from: string, to: string): Promise<void> {
    const left = await this.bucket.listPage(from, 8);
    if (left.entries.length === 0) return;
    this.meta.clearNegative(from);
    this.dirs.invalidate(parentOf(from));
    this.dirs.invalidate(from);
    const n = `${left.entries.length}${left.complete ? '' : ' or more'}`;
    this.log.error(
      `rename directory /${from} → /${to}: ${n} entries another client added to /${from} or changed there during the rename stay there; everything else moved`,
    );
    throw vfsError('EIO', `rename directory /${from} → /${to}: ${n} entries added or changed meanwhile stay in /${from}`);
  }
}

/** a file whose whole body is worth GETting instead of a HEAD: the listing gave its version */
function isSmall(e: DirEntry): boolean {
  return !!e.etag && e.size > 0 && e.size <= SMALL_GET;
}

/** where a rename put the file (beside the target when another client stored that meanwhile),
 *  and the ETag of the copy a file's move made, when the server said it */
export interface RenameResult {
  to: string;
  etag?: string;
}

export function entryFromInfo(name: string, info: ObjectInfo): DirEntry {
  const e: DirEntry = { name, kind: 'file', size: info.size, lastModified: info.lastModified, etag: info.etag };
  if (info.storageClass) e.storageClass = info.storageClass;
  return e;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof BackendError && err.kind === 'NotFound';
}
