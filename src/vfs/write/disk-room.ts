// Room on the cache disk for the write layer's files. Two rules:
//  - a write that fails for want of space (ENOSPC, EDQUOT) is tried again once clean cached
//    copies (uploaded data kept for reuse, clean-cache.ts) made room: they are a convenience,
//    pending data is not;
//  - with --vfs-cache-min-free-space, the cache never takes the disk below that floor: clean
//    copies go first, and a write that would still go below fails at once with ENOSPC, before
//    the application has written data it believes is safe (a file whose bytes are all in
//    memory then goes up from there, see Item.flush).
// The free space is asked of the file system (statfs) at most every REFRESH_MS or after
// REFRESH_BYTES written through here, so a stream of small writes costs no syscall each.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Clock } from '../clock.js';
import { isDiskFull } from './conflicts.js';

const REFRESH_MS = 1_000;
const REFRESH_BYTES = 4 * 1024 * 1024;

export interface DiskRoomOptions {
  /** the directory whose file system holds the cache */
  dir: string;
  /** --vfs-cache-min-free-space in bytes (< 0: no floor) */
  minFree: number;
  clock: Clock;
  /** remove clean cached copies until about `bytes` are freed; resolves to the bytes freed */
  release(bytes: number): Promise<number>;
  /** the cache directory is gone (removed while mounted): made again; false when it was there */
  remakeDir?(): Promise<boolean>;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export class DiskRoom {
  private free = Number.POSITIVE_INFINITY;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private sinceCheck = 0;

  constructor(private readonly o: DiskRoomOptions) {}

  /**
   * Run `write` (which puts about `bytes` on the cache disk): first within the floor, making
   * room from clean copies when needed; when the disk is full, again after clean copies made
   * room, as long as they do.
   */
  async write<T>(bytes: number, write: () => Promise<T>): Promise<T> {
    await this.keepFloor(bytes);
    for (;;) {
      try {
        const out = await write();
        this.sinceCheck += bytes;
        return out;
      } catch (err) {
        if (isMissing(err) && this.o.remakeDir && (await this.o.remakeDir())) continue;
        if (!isDiskFull(err) || (await this.o.release(Math.max(bytes, 1))) <= 0) throw err;
        this.checkedAt = Number.NEGATIVE_INFINITY;
      }
    }
  }

  /** Bring the free space back above the floor (clean copies go), if there is one. */
  async keepFloor(bytes = 0): Promise<void> {
    if (this.o.minFree < 0) return;
    let free = await this.freeBytes();
    if (free - bytes >= this.o.minFree) return;
    const freed = await this.o.release(this.o.minFree + bytes - free);
    if (freed > 0) free = await this.freeBytes(true);
    if (free - bytes >= this.o.minFree) return;
    throw Object.assign(new Error(`the cache disk is below --vfs-cache-min-free-space (${free} bytes free)`), { code: 'ENOSPC' });
  }

  private async freeBytes(fresh = false): Promise<number> {
    const now = this.o.clock.now();
    if (fresh || now - this.checkedAt >= REFRESH_MS || this.sinceCheck >= REFRESH_BYTES) {
      this.free = await freeSpaceAt(this.o.dir);
      this.checkedAt = now;
      this.sinceCheck = 0;
    }
    return this.free - this.sinceCheck;
  }
}

/** free bytes (for an unprivileged user) of the file system of `dir`, or of its nearest existing
 *  ancestor when it is not made yet (the first write makes it, on the same file system) */
async function freeSpaceAt(dir: string): Promise<number> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const s = await fs.statfs(d);
      return s.bavail * s.bsize;
    } catch {
      if (d === path.dirname(d)) return Number.POSITIVE_INFINITY;
    }
  }
}
