// The open-file table of one mount: handle numbers, what each handle reads or writes, the
// objects unlinked while still being read, and which paths changed through the mount since a
// reader opened (so that it follows the change). Vfs asks; this table owns the state.
import type { Attr } from './namespace.js';
import type { FileReader } from './read/reader.js';
import type { WriteFile } from './write/write-layer.js';
import { vfsError } from './errors.js';

export type ReadHandle = {
  kind: 'read';
  rel: string;
  reader: FileReader;
  /** the local-change sequence number when the reader was (re)opened */
  seq: number;
  attr: Attr;
};
export type WriteHandle = { kind: 'write'; rel: string; file: WriteFile; readable: boolean; writable: boolean };
export type Handle = ReadHandle | WriteHandle;

// open(2) flags (Linux)
const O_ACCMODE = 0o3;
const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_TRUNC = 0o1000;

/** What open(2) flags ask of a handle. O_TRUNC without write access changes nothing here (Linux
 *  would truncate; POSIX leaves it open). */
export function openMode(flags: number): { readable: boolean; writable: boolean; readWrite: boolean; truncate: boolean } {
  const acc = flags & O_ACCMODE;
  const writable = acc === O_WRONLY || acc === O_RDWR;
  return { readable: acc !== O_WRONLY, writable, readWrite: acc === O_RDWR, truncate: writable && (flags & O_TRUNC) !== 0 };
}

/** remembered paths changed through the mount (to re-pin their readers) */
const MAX_LOCAL_CHANGES = 10_000;

export class OpenFiles {
  private readonly handles = new Map<number, Handle>();
  private nextFh = 1;
  /** objects unlinked while open for reading (→ the ETag of the version unlinked): deleted on
   *  the server when their last reader closes, as that version only */
  private readonly unlinked = new Map<string, string | undefined>();
  /** libfuse's hidden names of open files that were unlinked (see Vfs.hide) → their handle numbers */
  private readonly hidden = new Map<string, number[]>();
  /** rel → sequence number of the last change made through the mount (upload, unlink, rename) */
  private readonly changes = new Map<string, number>();
  private changeSeq = 0;
  /** handles ever opened */
  opens = 0;

  add(h: Handle): number {
    // fuse-native treats fh 0 as "none", and fh is 32-bit
    let fh = this.nextFh;
    while (fh === 0 || this.handles.has(fh)) fh = (fh + 1) >>> 0;
    this.nextFh = (fh + 1) >>> 0;
    this.handles.set(fh, h);
    this.opens++;
    return fh;
  }

  /** the handle, or EBADF */
  get(fh: number): Handle {
    const h = this.handles.get(fh);
    if (!h) throw vfsError('EBADF', `no open file with handle ${fh}`);
    return h;
  }

  find(fh: number): Handle | undefined {
    return this.handles.get(fh);
  }

  /** the handle, removed from the table (release) */
  take(fh: number): Handle | undefined {
    const h = this.handles.get(fh);
    this.handles.delete(fh);
    return h;
  }

  /** every handle, removed from the table (unmount) */
  takeAll(): Handle[] {
    const all = [...this.handles.values()];
    this.handles.clear();
    return all;
  }

  get size(): number {
    return this.handles.size;
  }

  /** a read handle reads `rel` now (readers follow renames) */
  hasReaders(rel: string): boolean {
    for (const h of this.handles.values()) if (h.kind === 'read' && h.reader.path === rel) return true;
    return false;
  }

  // ------------------------------------------------------------------------------------------
  // Unlinked while open

  markUnlinked(rel: string, etag: string | undefined): void {
    this.unlinked.set(rel, etag);
  }

  isUnlinked(rel: string): boolean {
    return this.unlinked.has(rel);
  }

  /** A new object takes the name: the old one is no longer deleted later. True if it was pending. */
  forgetUnlinked(rel: string): boolean {
    return this.unlinked.delete(rel);
  }

  /** The version to delete once the last reader of an unlinked object is gone (the caller
   *  deletes it now); null while it is still read, or when nothing is pending. */
  takeDeletable(rel: string): { etag: string | undefined } | null {
    if (!this.unlinked.has(rel) || this.hasReaders(rel)) return null;
    const etag = this.unlinked.get(rel);
    this.unlinked.delete(rel);
    return { etag };
  }

  unlinkedPaths(): string[] {
    return [...this.unlinked.keys()];
  }

  /** the numbers of the handles open on `rel` now (readers and writers follow renames) */
  handlesAt(rel: string): number[] {
    const out: number[] = [];
    for (const [fh, h] of this.handles) if ((h.kind === 'read' ? h.reader.path : h.file.rel) === rel) out.push(fh);
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Hidden names: libfuse renames an open file that is unlinked (or renamed over) to
  // .fuse_hiddenXXXXXXXXYYYYYYYY in its directory, reaches it under that name while it is open
  // (fstat: the kernel sends no handle with it) and unlinks the name after the last close. The
  // name exists only here, tied to the handles that were open when it was hidden.

  hide(hiddenRel: string, fhs: number[]): void {
    this.hidden.set(hiddenRel, fhs);
  }

  /** the handles behind a hidden name that are still open; undefined when it is no hidden name */
  hiddenHandles(rel: string): Handle[] | undefined {
    if (this.hidden.size === 0) return undefined;
    return this.hidden.get(rel)?.flatMap((fh) => this.handles.get(fh) ?? []);
  }

  /** libfuse unlinks the hidden name (last close): true when it was one */
  unhide(rel: string): boolean {
    return this.hidden.delete(rel);
  }

  // ------------------------------------------------------------------------------------------
  // Changes made through the mount

  /** `rel` changed through the mount: read handles opened before follow it. */
  noteChange(rel: string): void {
    this.changes.delete(rel);
    this.changes.set(rel, ++this.changeSeq);
    if (this.changes.size > MAX_LOCAL_CHANGES) this.changes.delete(this.changes.keys().next().value!);
  }

  /** the current sequence number, to stamp a reader with */
  get seq(): number {
    return this.changeSeq;
  }

  /** `rel` changed through the mount after a reader stamped `seq` opened */
  changedSince(rel: string, seq: number): boolean {
    const changed = this.changes.get(rel);
    return changed !== undefined && changed > seq;
  }
}
