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
  kind: 'file' | 'dir';
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
}

export class DirCache {
  private readonly lru: LRUCache<string, Listing>;
  /** bumped by every local change to a directory, so a LIST racing with it is not cached stale */
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    max: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lru = lruOfCount<string, Listing>(max);
  }

  /** The listing of `dir` while it is fresh. */
  get(dir: string): Listing | undefined {
    const l = this.lru.get(dir);
    if (!l) return undefined;
    if (l.expiresAt <= this.now()) {
      this.lru.delete(dir);
      return undefined;
    }
    return l;
  }

  set(dir: string, entries: Map<string, DirEntry>): Listing {
    const listing: Listing = { entries, expiresAt: this.expiry(), prefetchArmed: false };
    this.lru.set(dir, listing);
    return listing;
  }

  generation(dir: string): number {
    return this.generations.get(dir) ?? 0;
  }

  private touch(dir: string): void {
    this.generations.set(dir, this.generation(dir) + 1);
    // keep the map small: generations only matter while a LIST of that directory is in flight
    if (this.generations.size > 100_000) this.generations.clear();
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

  private expiry(): number {
    // A zero time still lets the readdir → getattr sequence of one `ls -l` share a listing.
    return this.now() + Math.max(this.ttlMs, 1);
  }
}
