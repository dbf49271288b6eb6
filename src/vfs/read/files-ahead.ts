// Reading a folder of small files one after the other (sha256sum *, cp -r, a backup, an image
// viewer): each file is a GET, and at a distance each GET a round trip the program waits for.
// Once two files of one directory were opened for reading one right after the other in name
// order (or the first file of a directory, right after that happened in another), the next few
// small files in that order are downloaded ahead, a few at a time, into the read cache: their
// opens then read without waiting. The order goes on across directories as a tree walk does
// (walkFrom), so a walk does not wait at every directory for its first file. Only
// versions the listing names (path + ETag) are fetched, so nothing read ahead can be stale, and
// what is read ahead is bounded by the read cache's memory (--vfs-memory-limit). A getattr of a
// file being read ahead waits for its GET's headers, which say what a HEAD would have.
import { lruOfCount } from '../../util/lru.js';
import type { Logger } from '../../util/log.js';
import type { ObjectInfo } from '../../backend/s3/types.js';
import type { DirCache, DirEntry, Listing } from '../dir-cache.js';
import { Limiter } from '../limiter.js';
import { baseName, joinPath, parentOf } from '../paths.js';
import { AccessPattern } from './chunk-policy.js';
import type { ReadCache } from './reader.js';

/** files read ahead of the one being opened */
const FILES_AHEAD = 32;
/** downloads of files ahead at a time */
const CONCURRENCY = 16;
/** how long after reading ahead in one folder the first file of another starts reading ahead */
const SEQUENTIAL_MEMORY_MS = 2_000;
/** files up to this size are read ahead whole (bigger ones have their own read-ahead) */
export const SMALL_FILE = 1024 * 1024;

/** What reading ahead needs of the namespace. */
export interface FilesAheadHost {
  readonly dirs: DirCache;
  /** a GET of `rel` (the version `e`) is under way: its headers answer a getattr meanwhile */
  infoFromGet(rel: string, e: DirEntry, download: Promise<void>): Promise<ObjectInfo | null>;
}

export class FilesAhead {
  /** the file of each directory opened for reading last */
  private readonly last = lruOfCount<string, string>(1_000);
  /** versions already fetched (or being fetched) ahead: never twice */
  private readonly fetched = lruOfCount<string, true>(20_000);
  /** the names of the files of a listing, sorted (once per listing object) */
  private readonly sorted = new WeakMap<Listing, string[]>();
  /** the entries of a listing in walk order (once per listing object) */
  private readonly ordered = new WeakMap<Listing, DirEntry[]>();
  private readonly limiter = new Limiter(CONCURRENCY);
  /** when files were last read ahead (a program reading in order) */
  private lastAheadAt = -Infinity;

  constructor(
    private readonly ns: FilesAheadHost,
    private readonly reads: ReadCache,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** `rel` was opened for reading. */
  opened(rel: string): void {
    const dir = parentOf(rel);
    const name = baseName(rel);
    const prev = this.last.get(dir);
    this.last.set(dir, name);
    const listing = this.ns.dirs.get(dir);
    if (!listing) return;
    const names = this.fileNames(listing);
    const i = names.indexOf(name);
    if (i < 0) return;
    // in order after the previous file; or the first file of a directory while a program is
    // reading files in order elsewhere (find | sort | xargs cat goes from folder to folder)
    const inOrder = i > 0 && prev !== undefined && names[i - 1] === prev;
    const nextFolder = i === 0 && prev === undefined && this.now() - this.lastAheadAt <= SEQUENTIAL_MEMORY_MS;
    if (!inOrder && !nextFolder) return;
    this.lastAheadAt = this.now();
    let n = 0;
    for (const [next, e] of this.walkFrom(dir, name)) {
      if (e.etag && e.size > 0 && e.size <= SMALL_FILE) this.fetch(next, e);
      if (++n >= FILES_AHEAD) break;
    }
  }

  /**
   * The files after `dir/name` in the order a tree walk reads them: `find | sort`, `tar c`,
   * `cp -r` and rsync all go by full path in byte order, which is each directory's entries in
   * name order, a directory's files coming where `name/` sorts, and, at the end of a directory,
   * on in its parent. Only listings already cached are used (no request to look ahead): the
   * walk stops at a directory not listed yet.
   */
  private *walkFrom(dir: string, name: string): Generator<[string, DirEntry]> {
    let at = dir;
    let after = name;
    for (;;) {
      const listing = this.ns.dirs.get(at);
      if (!listing) return;
      const order = this.walkOrder(listing);
      let i = order.findIndex((e) => e.name === after && e.kind !== 'dir');
      if (i < 0) i = order.findIndex((e) => e.name === after && e.kind === 'dir');
      for (const e of order.slice(i + 1)) {
        if (e.kind === 'file') yield [joinPath(at, e.name), e];
        else if (e.kind === 'dir' && !(yield* this.walkInto(joinPath(at, e.name)))) return;
      }
      if (at === '') return;
      after = baseName(at);
      at = parentOf(at);
    }
  }

  /** every file below `dir` in walk order; false when a listing on the way is not cached */
  private *walkInto(dir: string): Generator<[string, DirEntry], boolean> {
    const listing = this.ns.dirs.get(dir);
    if (!listing) return false;
    for (const e of this.walkOrder(listing)) {
      if (e.kind === 'file') yield [joinPath(dir, e.name), e];
      else if (e.kind === 'dir' && !(yield* this.walkInto(joinPath(dir, e.name)))) return false;
    }
    return true;
  }

  /** a listing's entries in full-path byte order (a directory as `name/`), once per listing object */
  private walkOrder(listing: Listing): DirEntry[] {
    let order = this.ordered.get(listing);
    if (!order) {
      const key = (e: DirEntry) => Buffer.from(e.kind === 'dir' ? e.name + '/' : e.name);
      order = [...listing.entries.values()].sort((a, b) => Buffer.compare(key(a), key(b)));
      this.ordered.set(listing, order);
    }
    return order;
  }

  private fileNames(listing: Listing): string[] {
    let names = this.sorted.get(listing);
    if (!names) {
      names = [...listing.entries.values()]
        .filter((e) => e.kind === 'file')
        .map((e) => e.name)
        .sort();
      this.sorted.set(listing, names);
    }
    return names;
  }

  private fetch(rel: string, e: DirEntry): void {
    const id = `${rel}\0${e.etag}`;
    if (this.fetched.has(id)) return;
    this.fetched.set(id, true);
    const download = this.limiter.run(() => this.download(rel, e.etag!, e.size));
    void this.ns.infoFromGet(rel, e, download).catch(() => undefined);
    download.catch((err) => this.log.debug(`reading ahead /${rel}: ${(err as Error).message}`));
  }

  /** Download one version whole into the read cache (also what a small file's getattr uses). */
  async download(rel: string, etag: string, size: number): Promise<void> {
    const source = this.reads.acquire(rel, { etag, size });
    source.aheadRefs++;
    try {
      await source.read(new AccessPattern(), Buffer.allocUnsafe(size), 0, size);
    } finally {
      source.aheadRefs--;
      this.reads.release(source);
    }
  }
}
