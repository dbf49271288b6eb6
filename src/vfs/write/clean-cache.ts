// Clean cached copies: cache files whose content is uploaded and that nobody has open, kept so
// that opening the same version again reads local bytes. Bounded by count (each costs an
// open-file record in memory), by --vfs-cache-max-age (unused this long: removed) and by
// --vfs-cache-max-size (together with the pending data: the least recently used go first).
// Pending data is never removed here; it is not in this cache.
//
// lru-cache keeps the order and the ages, on the injected clock. Removing an entry to use it
// again (take) or at unmount (close) keeps its files; only eviction, expiry and drop delete them.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { isSelfOrBelow } from '../paths.js';
import type { Item } from './item.js';

/** clean cached copies kept at most */
export const MAX_CLEAN_ITEMS = 10_000;

export interface CleanCacheOptions {
  clock: Clock;
  /** --vfs-cache-max-age */
  maxAgeMs: number;
  /** --vfs-cache-max-size (-1: no limit) */
  maxSize: number;
  maxItems?: number;
}

export class CleanCache {
  private readonly lru: LRUCache<string, Item>;

  constructor(private readonly o: CleanCacheOptions) {
    this.lru = new LRUCache<string, Item>({
      max: o.maxItems ?? MAX_CLEAN_ITEMS,
      ttl: Math.max(1, Math.min(Number.MAX_SAFE_INTEGER, o.maxAgeMs)),
      ttlResolution: 0,
      perf: { now: () => o.clock.now() },
      dispose: (item, _rel, reason) => {
        if (reason === 'evict' || reason === 'expire') void item.removeFiles();
      },
    });
  }

  /** Keep `item` as the cached copy of `rel` (an older copy there is removed). */
  async keep(rel: string, item: Item): Promise<void> {
    const older = this.lru.peek(rel);
    if (older && older !== item) {
      this.lru.delete(rel);
      await older.removeFiles();
    }
    // its age counts from its last use (a copy found at mount time may be old already)
    const age = Math.max(0, this.o.clock.now() - item.lastUsed);
    this.lru.set(rel, item, { ttl: Math.max(1, Math.min(Number.MAX_SAFE_INTEGER, this.o.maxAgeMs) - age) });
  }

  has(rel: string): boolean {
    return this.lru.has(rel);
  }

  peek(rel: string): Item | undefined {
    return this.lru.peek(rel);
  }

  /** Take the copy of `rel` out of the cache to use it (its files stay). */
  take(rel: string): Item | undefined {
    const item = this.lru.get(rel);
    if (item) this.lru.delete(rel);
    return item;
  }

  /** `dir` (and what is below it) was removed or replaced: its copies go. */
  invalidate(dir: string): void {
    for (const rel of [...this.lru.keys()]) {
      if (!isSelfOrBelow(rel, dir)) continue;
      const item = this.lru.peek(rel);
      this.lru.delete(rel);
      void item?.removeFiles();
    }
  }

  /** Expire copies unused for --vfs-cache-max-age, then remove the least recently used until
   *  they and `pendingBytes` fit --vfs-cache-max-size. */
  async evict(pendingBytes: number): Promise<void> {
    this.lru.purgeStale();
    if (this.o.maxSize < 0) return;
    let total = pendingBytes + this.bytes;
    for (const rel of [...this.lru.rkeys()]) {
      if (total <= this.o.maxSize) break;
      const item = this.lru.peek(rel);
      if (!item) continue;
      total -= item.localBytes;
      this.lru.delete(rel);
      await item.removeFiles();
    }
  }

  /** Remove the least recently used copies until about `bytes` of local data are freed (the
   *  cache disk is short of space); resolves to the bytes freed. */
  async release(bytes: number): Promise<number> {
    let freed = 0;
    for (const rel of [...this.lru.rkeys()]) {
      if (freed >= bytes) break;
      const item = this.lru.peek(rel);
      if (!item) continue;
      freed += item.localBytes;
      this.lru.delete(rel);
      await item.removeFiles();
    }
    return freed;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    let n = 0;
    for (const item of this.lru.values()) n += item.localBytes;
    return n;
  }

  /** Unmount: close the data files; the copies stay on disk for the next mount. */
  async close(): Promise<void> {
    for (const item of this.lru.values()) await item.closeData();
    this.lru.clear();
  }
}
