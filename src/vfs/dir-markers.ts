// What the `dir/` marker objects of directories say. A directory's mtime, mode and owners set
// through the mount (touch, chmod, chown, rsync -a, tar x, cp -p) are stored in its marker's
// metadata (X-Amz-Meta-Mtime, Mode, Uid, Gid, as for files), and read back from it: a directory
// without a marker (only keys below it) shows the mount's defaults until something is set on it.
// A listing of the parent cannot tell (S3 folds `dir/` into the common prefix), so a directory's
// getattr HEADs its marker once, remembered (found or not) for --dir-cache-time; HEADs are shared.
import type { ObjectInfo } from '../backend/s3/types.js';
import type { LRUCache } from 'lru-cache';
import { lruOfCount } from '../util/lru.js';
import type { MountedBucket } from './bucket.js';
import { isSelfOrBelow, rebase } from './paths.js';

interface Known {
  /** the marker's HEAD, or null: the directory has no marker */
  info: ObjectInfo | null;
  expiresAt: number;
}

export class DirMarkers {
  private readonly known: LRUCache<string, Known>;
  private readonly inFlight = new Map<string, Promise<ObjectInfo | null>>();

  constructor(
    private readonly bucket: MountedBucket,
    private readonly ttlMs: number,
    max: number,
    private readonly now: () => number = Date.now,
  ) {
    this.known = lruOfCount<string, Known>(max);
  }

  /** what the marker of `rel` says (null: none), or undefined when not known */
  get(rel: string): ObjectInfo | null | undefined {
    const k = this.known.get(rel);
    if (!k) return undefined;
    if (k.expiresAt <= this.now()) {
      this.known.delete(rel);
      return undefined;
    }
    return k.info;
  }

  /** known, or being fetched */
  pending(rel: string): boolean {
    return this.get(rel) !== undefined || this.inFlight.has(rel);
  }

  /** the marker of `rel`, from the cache or one HEAD (concurrent callers share it) */
  fetch(rel: string): Promise<ObjectInfo | null> {
    const k = this.get(rel);
    if (k !== undefined) return Promise.resolve(k);
    let p = this.inFlight.get(rel);
    if (!p) {
      p = this.bucket
        .headDirMarker(rel)
        .then((info) => {
          this.set(rel, info);
          return info;
        })
        .finally(() => this.inFlight.delete(rel));
      this.inFlight.set(rel, p);
    }
    return p;
  }

  /** written here: this is what it says now */
  set(rel: string, info: ObjectInfo | null): void {
    this.known.set(rel, { info, expiresAt: this.now() + this.ttlMs });
  }

  /** `rel` and everything below it are gone */
  drop(rel: string): void {
    for (const k of [...this.known.keys()]) if (isSelfOrBelow(k, rel)) this.known.delete(k);
  }

  /** the directory `from` is now `to` (its markers copied) */
  move(from: string, to: string): void {
    const moved: Array<[string, Known]> = [];
    for (const [k, v] of this.known.entries()) if (isSelfOrBelow(k, from)) moved.push([rebase(k, from, to), v]);
    this.drop(from);
    this.drop(to);
    for (const [k, v] of moved) this.known.set(k, v);
  }

  clear(): void {
    this.known.clear();
  }
}
