// One recursive LIST instead of a LIST per directory, when a tree is walked (find, du, cp -r):
// the keys below a directory arrive in key order, and S3 keeps all keys below a prefix
// together in that order. So a directory is complete as soon as a key outside it follows keys
// inside it: it can be cached as if it had been listed on its own, while the listing goes on.
// The assembler below does exactly that, from the entries alone (no page boundaries needed):
// whatever is still open when the listing stops early (a bound on its length) is not complete
// and is left out, for a listing of its own.
import type { ListEntry } from '../backend/s3/types.js';
import type { DirEntry } from './dir-cache.js';
import { parentOf } from './paths.js';

/** Adds one listing entry (a file or a `dir/` marker at `rel`) to the entries of `dir`. */
export type MergeEntry = (entries: Map<string, DirEntry>, dir: string, e: ListEntry, rel: string) => void;

export class TreeAssembler {
  /** the directories the last entry was in, from the root of the listing down */
  private open: string[];
  private readonly entries = new Map<string, Map<string, DirEntry>>();
  /** directories already complete: one seen again means the server broke key order */
  private readonly closed = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly merge: MergeEntry,
    /** a directory whose every entry has been seen */
    private readonly onComplete: (dir: string, entries: Map<string, DirEntry>) => void,
    /** keys came out of order: a directory reported complete may not be, forget it */
    private readonly onBroken: (dir: string) => void,
  ) {
    this.open = [root];
    this.entries.set(root, new Map());
  }

  /** The next entry of a recursive listing of the root, in key order. */
  add(e: ListEntry): void {
    if (!isBelow(e.path, this.root)) return;
    // the directories this entry is inside: its ancestors below the root, and a marker's own
    const chain = ancestorsBelow(e.kind === 'dir' ? e.path : parentOf(e.path), this.root);
    let same = 0;
    while (same < this.open.length && same < chain.length && this.open[same] === chain[same]) same++;
    // the listing has left these: nothing more can come for them
    for (let i = this.open.length - 1; i >= same; i--) this.close(this.open[i]!);
    for (let i = same; i < chain.length; i++) {
      const dir = chain[i]!;
      if (this.closed.has(dir)) throw this.broken(dir);
      if (!this.entries.has(dir)) this.entries.set(dir, new Map());
      // a directory implied by deeper keys is an entry of its parent, as a common prefix would be
      if (i > 0) this.merge(this.entries.get(chain[i - 1]!)!, chain[i - 1]!, { kind: 'dir', path: dir, size: 0 }, dir);
    }
    this.open = chain;
    if (e.kind === 'dir') {
      // a marker `dir/`: an entry of its parent (the root's own marker is no entry)
      if (e.path !== this.root) this.merge(this.entries.get(parentOf(e.path))!, parentOf(e.path), e, e.path);
    } else {
      this.merge(this.entries.get(parentOf(e.path))!, parentOf(e.path), e, e.path);
    }
  }

  /** The listing ended: when it was complete, every directory still open is complete too. */
  finish(complete: boolean): void {
    if (complete) for (let i = this.open.length - 1; i >= 0; i--) this.close(this.open[i]!);
    this.open = [];
    this.entries.clear();
  }

  private close(dir: string): void {
    const m = this.entries.get(dir);
    if (!m) return;
    this.entries.delete(dir);
    this.closed.add(dir);
    this.onComplete(dir, m);
  }

  private broken(dir: string): Error {
    // nothing this listing said can be trusted any more: every directory it reported goes
    for (const d of this.closed) this.onBroken(d);
    return new Error(`keys below ${JSON.stringify(dir || '/')} were not listed together (the server broke key order)`);
  }
}

function isBelow(p: string, root: string): boolean {
  return root === '' ? p !== '' : p.startsWith(root + '/');
}

/** `root`, then each directory from below it down to `dir` (which is at or below root) */
function ancestorsBelow(dir: string, root: string): string[] {
  const chain = [root];
  if (dir === root) return chain;
  const rest = root === '' ? dir : dir.slice(root.length + 1);
  let cur = root;
  for (const seg of rest.split('/')) {
    cur = cur === '' ? seg : `${cur}/${seg}`;
    chain.push(cur);
  }
  return chain;
}
