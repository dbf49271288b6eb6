// What the namespace fetches before it is asked, because the pattern of requests says what comes
// next. Two patterns, each bounded and each started only by what a user program did:
//  - a stat storm: after a readdir, getattrs of two different children that need a HEAD mean
//    `ls -l`, a file manager or `cp -r` is under way: every sibling whose metadata is not cached
//    is HEADed (a link is read whole), `headConcurrency` at a time; subdirectories, whose
//    markers hold their attributes, are counted apart (dirStatStarted) (a single `stat` or `cat` after `ls` HEADs only its
//    own file). A getattr of a file still queued runs its own HEAD at once; HEADs are shared by
//    path, so the queued one is skipped when its turn comes.
//  - a tree walk: readdirs of two different subdirectories of a directory, soon one after the
//    other (find, du, cp -r, a file manager's tree): one recursive LIST of the directory lists
//    the whole tree below it (up to a bound); the subdirectories it could not cover are listed
//    ahead, a few at a time, so a walk costs a few round trips rather than one per directory.
//    (`ls d; ls d/a` alone lists nothing more.)
import { lruOfCount } from '../util/lru.js';
import type { Logger } from '../util/log.js';
import type { DirCache, DirEntry, Listing } from './dir-cache.js';
import { Limiter } from './limiter.js';
import { joinPath, parentOf } from './paths.js';

/** two readdirs of siblings within this long of each other are part of a tree walk */
const WALK_WINDOW_MS = 10_000;
/** listings fetched ahead at a time */
const LIST_AHEAD_CONCURRENCY = 8;
/** subdirectories listed ahead per directory at most */
const MAX_LIST_AHEAD = 256;

/** What fetching ahead needs of the namespace. */
export interface AheadHost {
  readonly dirs: DirCache;
  listDir(dir: string): Promise<Listing>;
  listingInFlight(dir: string): boolean;
  /** one recursive listing of the tree below `dir`, caching the directories it covers */
  listTree(dir: string): Promise<void>;
  /** the metadata of the file or link `e` at `rel` is cached (and still matches `e`), or being fetched */
  attrKnown(rel: string, e: DirEntry): boolean;
  /** fetch it (a file's HEAD, a link's GET, a directory's marker HEAD) */
  fetchAttr(rel: string, e: DirEntry): Promise<unknown>;
  /** a recursive listing covering the subdirectories of `dir` is under way (it shows their markers) */
  treeCovers(dir: string): boolean;
}

export class FetchAhead {
  private readonly heads: Limiter;
  private readonly lists = new Limiter(LIST_AHEAD_CONCURRENCY);
  /** the subdirectory of each directory read last (readdir), and when */
  private readonly lastChild = lruOfCount<string, { name: string; at: number }>(10_000);

  constructor(
    private readonly ns: AheadHost,
    headConcurrency: number,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.heads = new Limiter(Math.max(1, headConcurrency));
  }

  /** A getattr of `dir/name` needs a HEAD: the second distinct one after a readdir starts the storm. */
  statStarted(dir: string, name: string): void {
    const listing = this.ns.dirs.get(dir);
    if (!listing?.prefetchArmed) return;
    if (listing.firstStat === undefined || listing.firstStat === name) {
      listing.firstStat = name;
      return;
    }
    listing.prefetchArmed = false;
    const names = [...listing.entries.values()].filter((e) => e.kind !== 'dir').map((e) => e.name);
    if (names.length < 2) return;
    this.log.debug(`prefetching metadata of ${names.length} files in ${JSON.stringify(dir || '/')}`);
    for (const n of names) {
      const rel = joinPath(dir, n);
      void this.heads
        .run(async () => {
          const e = this.ns.dirs.get(dir)?.entries.get(n);
          // gone, expired, already known or already being fetched: nothing to do
          if (!e || e.kind === 'dir' || this.ns.attrKnown(rel, e)) return;
          await this.ns.fetchAttr(rel, e);
        })
        .catch((err) => this.log.debug(`metadata prefetch of ${rel}: ${(err as Error).message}`));
    }
  }

  /**
   * A getattr of the subdirectory `dir/name` needs its marker. Subdirectories are counted apart
   * from files (`find` stats each directory it enters: that must not HEAD every file): the third
   * distinct one HEADs the markers of all the others, unless a recursive listing, which shows
   * which have a marker at all, is under way (a walk shows itself at the second subdirectory read).
   */
  dirStatStarted(dir: string, name: string): void {
    const listing = this.ns.dirs.get(dir);
    if (!listing?.prefetchArmed) return;
    const seen = (listing.dirStats ??= new Set());
    seen.add(name);
    if (seen.size < 3 || this.ns.treeCovers(dir) || listing.treeListed) return;
    listing.dirStats = undefined;
    const subdirs = [...listing.entries.values()].filter((e) => e.kind === 'dir').map((e) => e.name);
    this.log.debug(`prefetching the markers of ${subdirs.length} directories in ${JSON.stringify(dir || '/')}`);
    // a recursive listing started meanwhile answers for the ones not asked yet
    this.headMarkers(dir, subdirs, () => this.ns.treeCovers(dir));
  }

  /**
   * A recursive listing (a tree walk) found these subdirectories of `dir` with a marker: the walk
   * will stat each, so their markers are HEADed ahead, many at a time, rather than one per stat.
   */
  markersAhead(dir: string, names: string[]): void {
    this.headMarkers(dir, names, () => false);
  }

  private headMarkers(dir: string, names: string[], skip: () => boolean): void {
    for (const name of names) {
      const rel = joinPath(dir, name);
      void this.heads
        .run(async () => {
          const e = this.ns.dirs.get(dir)?.entries.get(name);
          if (e?.kind !== 'dir' || this.ns.attrKnown(rel, e) || skip()) return;
          await this.ns.fetchAttr(rel, e);
        })
        .catch((err) => this.log.debug(`marker prefetch of ${rel}: ${(err as Error).message}`));
    }
  }

  /** `dir` was read (readdir): soon after a sibling, that is a walk; list the other siblings ahead. */
  dirRead(dir: string): void {
    if (dir === '') return;
    const parent = parentOf(dir);
    const now = this.now();
    const prev = this.lastChild.get(parent);
    this.lastChild.set(parent, { name: dir, at: now });
    if (prev && prev.name !== dir && now - prev.at <= WALK_WINDOW_MS) {
      // a recursive LIST pays off for two subdirectories or more still to be read
      const tree = this.unlistedSubdirs(parent).length >= 2 ? this.ns.listTree(parent) : Promise.resolve();
      void tree.then(() => this.listSubdirs(parent)).catch((err) => this.log.debug(`listing ahead below /${parent}: ${(err as Error).message}`));
    }
  }

  /** subdirectories of `dir` neither cached nor being listed */
  private unlistedSubdirs(dir: string): string[] {
    const listing = this.ns.dirs.get(dir);
    if (!listing) return [];
    const out: string[] = [];
    for (const e of listing.entries.values()) {
      if (e.kind !== 'dir') continue;
      const sub = joinPath(dir, e.name);
      if (!this.ns.dirs.get(sub) && !this.ns.listingInFlight(sub)) out.push(sub);
    }
    return out;
  }

  private listSubdirs(dir: string): void {
    for (const sub of this.unlistedSubdirs(dir).slice(0, MAX_LIST_AHEAD)) {
      void this.lists
        .run(async () => {
          if (!this.ns.dirs.get(sub) && !this.ns.listingInFlight(sub)) await this.ns.listDir(sub);
        })
        .catch((err) => this.log.debug(`listing ahead of /${sub}: ${(err as Error).message}`));
    }
  }
}
