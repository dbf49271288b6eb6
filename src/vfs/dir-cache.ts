// The directory-listing cache: one merged listing per directory, kept for --dir-cache-time and
// bounded in number by lru-cache (a tree walk over a huge bucket must not grow memory forever).
//
// Expiry is checked here (expiresAt) rather than with lru-cache's ttl, so "off" (keep forever)
// and a 0 time (refetch every time) need no special timer handling. Our own changes edit cached
// listings in place (a create is visible at once, a delete gone at once, a renamed directory's
// cached children move with it); other clients' changes appear once a listing expires, or at
// once after clear() (SIGHUP).
import type { LRUCache } from 'lru-cache';
import { lruOfCount } from '../util/lru.js';
import { isSelfOrBelow, rebase } from './paths.js';

export interface DirEntry {
  name: string;
  /** a link: a symbolic link (links.ts), `size` the length of its target */
  kind: 'file' | 'dir' | 'link';
  size: number;
  lastModified?: Date;
  etag?: string;
  storageClass?: string;
  /** a directory backed by a `dir/` marker object (rather than only by keys below it) */
  marker?: boolean;
}

export interface Listing {
  entries: Map<string, DirEntry>;
  expiresAt: number;
  /**
   * Set by readdir: a stat storm (`ls -l`, a file manager, `cp -r`) may follow. The second
   * distinct child whose getattr needs a HEAD starts HEADs of all siblings, then it is cleared.
   */
  prefetchArmed: boolean;
  /** the first child that needed a HEAD since the readdir (one `stat` is not a storm) */
  firstStat?: string;
  /** subdirectories whose marker a getattr needed (the third starts the HEADs of the others) */
  dirStats?: Set<string>;
  /** the tree below was listed recursively while this listing was fresh: not again */
  treeListed?: boolean;
  /** when it was listed, and when it was last asked for (--poll-interval lists used ones again) */
  listedAt?: number;
  usedAt?: number;
}

export class DirCache {
  private readonly lru: LRUCache<string, Listing>;
  /**
   * The number of the last local change to each directory, so that a LIST racing with a change
   * is not cached stale. Numbers only grow: a listing that started at change `n` describes a
   * directory whose generation is still `<= n`.
   */
  private readonly generations = new Map<string, number>();
  private changes = 0;
  /** what a directory forgotten by the map reports: newer than any listing started before */
  private floor = 0;

  constructor(
    private readonly ttlMs: number,
    max: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lru = lruOfCount<string, Listing>(max);
  }

  /**
   * How often a lookup or a readdir found its directory's listing here (hit) or not (miss: a LIST,
   * or a probe of the one name, followed): for `bucketfs stats`. Only those two count; the cache's
   * own upkeep (a create updating a listing in place) does not.
   */
  readonly stats = { hits: 0, misses: 0 };

  /** The fresh listing of `dir` for a lookup or a readdir: as get(), counted as a hit or a miss. */
  answer(dir: string): Listing | undefined {
    const l = this.get(dir);
    if (l) this.stats.hits++;
    else this.stats.misses++;
    return l;
  }

  /** The listing of `dir` while it is fresh. */
  get(dir: string): Listing | undefined {
    const l = this.lru.get(dir);
    if (!l) return undefined;
    const now = this.now();
    if (l.expiresAt <= now) {
      this.lru.delete(dir);
      return undefined;
    }
    l.usedAt = now;
    return l;
  }

  set(dir: string, entries: Map<string, DirEntry>): Listing {
    const listing: Listing = { entries, expiresAt: this.expiry(), prefetchArmed: false, listedAt: this.now() };
    this.lru.set(dir, listing);
    return listing;
  }

  generation(dir: string): number {
    return this.generations.get(dir) ?? this.floor;
  }

  /** the number of the last local change to any directory */
  get lastChange(): number {
    return this.changes;
  }

  private touch(dir: string): void {
    this.generations.set(dir, ++this.changes);
    // keep the map small: generations only matter while a LIST of that directory is in flight
    if (this.generations.size > 100_000) {
      this.generations.clear();
      this.floor = this.changes;
    }
  }

  /** Add or replace one entry of a cached listing (no-op when `dir` is not cached). */
  upsert(dir: string, entry: DirEntry): void {
    this.touch(dir);
    const l = this.get(dir);
    if (l) l.entries.set(entry.name, entry);
  }

  remove(dir: string, name: string): void {
    this.touch(dir);
    this.get(dir)?.entries.delete(name);
  }

  /** A directory we just created: known empty without asking the server. */
  setEmpty(dir: string): void {
    this.touch(dir);
    this.set(dir, new Map());
  }

  invalidate(dir: string): void {
    this.touch(dir);
    this.lru.delete(dir);
  }

  /** Forget every listing (SIGHUP). */
  clear(): void {
    for (const k of this.lru.keys()) this.touch(k);
    this.lru.clear();
  }

  /** Forget `dir` and every cached directory below it. */
  dropSubtree(dir: string): void {
    for (const k of [...this.lru.keys()]) if (isSelfOrBelow(k, dir)) this.invalidate(k);
  }

  /** A directory was renamed: its cached listing and those below it move to the new place. */
  moveSubtree(from: string, to: string): void {
    const moved: Array<[string, Listing]> = [];
    for (const k of [...this.lru.keys()]) {
      if (!isSelfOrBelow(k, from)) continue;
      const l = this.get(k);
      this.invalidate(k);
      if (l) moved.push([rebase(k, from, to), l]);
    }
    this.dropSubtree(to);
    for (const [k, l] of moved) {
      this.touch(k);
      this.lru.set(k, l);
    }
  }

  get size(): number {
    return this.lru.size;
  }

  /** the cached directories asked for since `since` that were listed before it (freshest use first) */
  usedSince(since: number): string[] {
    const now = this.now();
    const out: Array<[string, number]> = [];
    for (const [dir, l] of this.lru.entries()) {
      if (l.expiresAt > now && (l.usedAt ?? 0) >= since && (l.listedAt ?? 0) < since) out.push([dir, l.usedAt ?? 0]);
    }
    return out.sort((a, b) => b[1] - a[1]).map(([d]) => d);
  }

  private expiry(): number {
    // A zero time still lets the readdir → getattr sequence of one `ls -l` share a listing.
    return this.now() + Math.max(this.ttlMs, 1);
  }
}
