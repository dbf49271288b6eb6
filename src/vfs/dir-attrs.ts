// Directory times, modes and owners as this mount changed them. A time set by utimens (`rsync
// -a`, `tar x`, `cp -p`, `touch`) and a mode or owner set by chmod/chown are kept here (and
// stored in the directory's marker, dir-markers.ts), and every change of a directory's entries
// made through this mount (a name added, removed or renamed) moves its mtime to now, as POSIX
// says; so `rsync -a` run twice finds every directory as it left it. Those entry changes are not
// written to the marker (one PUT per file created would double the requests of an untar): after
// a remount a directory shows the last time set on it, or its marker's.
import type { PosixMeta } from '../backend/s3/metadata.js';
import { isSelfOrBelow, rebase } from './paths.js';

interface Kept {
  mtimeNs?: bigint;
  /** the last change of any of it (ctime) */
  ctimeNs?: bigint;
  posix?: PosixMeta;
}

export class DirAttrs {
  private readonly kept = new Map<string, Kept>();

  mtime(rel: string): bigint | undefined {
    return this.kept.get(rel)?.mtimeNs;
  }

  ctime(rel: string): bigint | undefined {
    return this.kept.get(rel)?.ctimeNs;
  }

  posix(rel: string): PosixMeta | undefined {
    return this.kept.get(rel)?.posix;
  }

  /** utimens at `nowNs` */
  setMtime(rel: string, mtimeNs: bigint, nowNs: bigint): void {
    this.kept.set(rel, { ...this.kept.get(rel), mtimeNs, ctimeNs: nowNs });
  }

  /** chmod/chown at `nowNs` */
  setPosix(rel: string, p: PosixMeta, nowNs: bigint): void {
    const k = this.kept.get(rel);
    this.kept.set(rel, { ...k, posix: { ...k?.posix, ...p }, ctimeNs: nowNs });
  }

  /** an entry of `dir` was added, removed or renamed at `nowNs` */
  changed(dir: string, nowNs: bigint): void {
    this.setMtime(dir, nowNs, nowNs);
  }

  /** `rel` and everything below it are gone */
  drop(rel: string): void {
    for (const k of [...this.kept.keys()]) if (isSelfOrBelow(k, rel)) this.kept.delete(k);
  }

  /** the directory `from` is now `to`, with everything below it */
  move(from: string, to: string): void {
    const moved: Array<[string, Kept]> = [];
    for (const [k, v] of this.kept) if (isSelfOrBelow(k, from)) moved.push([rebase(k, from, to), v]);
    this.drop(from);
    this.drop(to);
    for (const [k, v] of moved) this.kept.set(k, v);
  }
}
