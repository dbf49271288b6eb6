// Three small caches beside the listings:
//  - HEAD results per file (a listing has no X-Amz-Meta-Mtime, so `stat` needs one HEAD per file);
//    kept as long as listings are (--dir-cache-time) and only trusted while the listing still
//    shows the same ETag, so an overwrite seen in a new listing is never paired with old metadata;
//  - negative lookups ("this path does not exist"), kept briefly, forgotten by our own creates;
//  - directories known to exist without their parent's listing (probed, or made here), kept
//    as long as listings are.
import type { LRUCache } from 'lru-cache';
import { lruOfCount } from '../util/lru.js';
import type { ObjectInfo } from '../backend/s3/types.js';
import { isSelfOrBelow, rebase } from './paths.js';

interface HeadEntry {
  info: ObjectInfo;
  expiresAt: number;
}

export class MetaCache {
  private readonly heads = lruOfCount<string, HeadEntry>(200_000);
  private readonly negatives = lruOfCount<string, number>(20_000);
  private readonly knownDirs = lruOfCount<string, number>(20_000);

  constructor(
    private readonly headTtlMs: number,
    private readonly negativeTtlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  getHead(rel: string): ObjectInfo | undefined {
    const e = this.heads.get(rel);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.heads.delete(rel);
      return undefined;
    }
    return e.info;
  }

  setHead(rel: string, info: ObjectInfo): void {
    this.heads.set(rel, { info, expiresAt: this.now() + Math.max(this.headTtlMs, 1) });
    this.negatives.delete(rel);
  }

  dropHead(rel: string): void {
    this.heads.delete(rel);
  }

  isNegative(rel: string): boolean {
    return this.unexpired(this.negatives, rel);
  }

  setNegative(rel: string): void {
    this.knownDirs.delete(rel);
    if (this.negativeTtlMs <= 0) return;
    this.negatives.set(rel, this.now() + this.negativeTtlMs);
  }

  /** Something now exists at `rel` (we created it): its negative entry and those of its parents go. */
  clearNegative(rel: string): void {
    this.negatives.delete(rel);
    let p = rel;
    while (p.includes('/')) {
      p = p.slice(0, p.lastIndexOf('/'));
      this.negatives.delete(p);
    }
    this.negatives.delete('');
  }

  /** A directory exists at `rel` (a probe found it, or we made it). */
  setDir(rel: string): void {
    this.knownDirs.set(rel, this.now() + Math.max(this.headTtlMs, 1));
    this.negatives.delete(rel);
  }

  isDir(rel: string): boolean {
    return this.unexpired(this.knownDirs, rel);
  }

  /** `rel` is in a map of expiry times and has not expired (an expired one is removed). */
  private unexpired(m: LRUCache<string, number>, rel: string): boolean {
    const exp = m.get(rel);
    if (exp === undefined) return false;
    if (exp > this.now()) return true;
    m.delete(rel);
    return false;
  }

  /** Entries below a renamed directory follow it; a deleted directory's entries go. */
  moveSubtree(from: string, to: string): void {
    for (const k of [...this.heads.keys()]) {
      if (!isSelfOrBelow(k, from)) continue;
      const e = this.heads.get(k);
      this.heads.delete(k);
      if (e) this.heads.set(rebase(k, from, to), e);
    }
    for (const k of [...this.negatives.keys()]) if (isSelfOrBelow(k, to)) this.negatives.delete(k);
    for (const k of [...this.knownDirs.keys()]) {
      if (!isSelfOrBelow(k, from)) continue;
      const exp = this.knownDirs.get(k);
      this.knownDirs.delete(k);
      if (exp !== undefined) this.knownDirs.set(rebase(k, from, to), exp);
    }
  }

  clear(): void {
    this.heads.clear();
    this.negatives.clear();
    this.knownDirs.clear();
  }
}
