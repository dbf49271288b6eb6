// Directory modification times for the life of the mount. S3 keeps no time for a prefix, so a
// directory shows its marker's LastModified or the mount's start, and nothing stores a time set
// on it. Here a time set by utimens (`rsync -a`, `tar x`, `cp -p`, `touch`) is kept, and every
// change of a directory's entries made through this mount (a name added, removed or renamed)
// moves its mtime to now, as POSIX says; so `rsync -a` run twice finds every directory as it left
// it. Until unmount: a remount shows the stored times again.

export class DirTimes {
  private readonly times = new Map<string, bigint>();

  get(rel: string): bigint | undefined {
    return this.times.get(rel);
  }

  set(rel: string, mtimeNs: bigint): void {
    this.times.set(rel, mtimeNs);
  }

  /** an entry of `dir` was added, removed or renamed at `nowNs` */
  changed(dir: string, nowNs: bigint): void {
    this.times.set(dir, nowNs);
  }

  /** `rel` and everything below it are gone */
  drop(rel: string): void {
    for (const k of [...this.times.keys()]) if (k === rel || k.startsWith(rel + '/')) this.times.delete(k);
  }

  /** the directory `from` is now `to`, with everything below it */
  move(from: string, to: string): void {
    const moved: Array<[string, bigint]> = [];
    for (const [k, v] of this.times) if (k === from || k.startsWith(from + '/')) moved.push([to + k.slice(from.length), v]);
    this.drop(from);
    this.drop(to);
    for (const [k, v] of moved) this.times.set(k, v);
  }
}
