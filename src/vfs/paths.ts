// Paths inside the mount ↔ logical backend paths.
//
// The VFS keys every cache by the *mount-relative* path ('' = the mount root, 'a/b' below it, no
// leading or trailing slash). The backend speaks logical paths relative to the bucket root; a
// mount of `remote:bucket/some/prefix` puts the mount root at 'some/prefix'. MountRoot knows the
// conversion; only MountedBucket (bucket.ts) uses it.
import { vfsError } from './errors.js';

/** Linux NAME_MAX: what `statfs` reports and the longest name we accept for a new entry. */
export const NAME_MAX = 255;
/** S3's key limit in bytes: a new path longer than this could never be stored. */
export const KEY_MAX = 1024;

/** A name longer than NAME_MAX bytes (a UTF-16 unit is at most 3 bytes: short names skip the count). */
export function isNameTooLong(name: string): boolean {
  return name.length * 3 > NAME_MAX && Buffer.byteLength(name) > NAME_MAX;
}

/** libfuse's name for an open file that was unlinked: .fuse_hidden, node id and a counter in hex */
export function isFuseHiddenName(name: string): boolean {
  return name.length === 28 && /^\.fuse_hidden[0-9a-f]{16}$/.test(name);
}

/** FUSE path ('/', '/a/b') → mount-relative path ('', 'a/b'). */
export function fromFusePath(p: string): string {
  let s = p;
  while (s.startsWith('/')) s = s.slice(1);
  while (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseName(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? rel : rel.slice(i + 1);
}

export function joinPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** true when `p` is `dir` itself or lies below it */
export function isSelfOrBelow(p: string, dir: string): boolean {
  if (dir === '') return true;
  return p === dir || p.startsWith(dir + '/');
}

/** `p` moved from under `from` to under `to` (p must be from itself or below it). */
export function rebase(p: string, from: string, to: string): string {
  if (p === from) return to;
  const rest = from === '' ? p : p.slice(from.length + 1);
  return joinPath(to, rest);
}

export class MountRoot {
  /** logical backend path of the mount root ('' = bucket root) */
  readonly prefix: string;
  constructor(
    readonly bucket: string,
    prefix: string,
  ) {
    this.prefix = fromFusePath(prefix);
  }

  /** mount-relative → logical backend path */
  toBackend(rel: string): string {
    if (this.prefix === '') return rel;
    return rel === '' ? this.prefix : `${this.prefix}/${rel}`;
  }

  /** logical backend path → mount-relative, or null when it is not below the mount root */
  fromBackend(logical: string): string | null {
    if (this.prefix === '') return logical;
    if (logical === this.prefix) return '';
    return logical.startsWith(this.prefix + '/') ? logical.slice(this.prefix.length + 1) : null;
  }

  /** Refuse names that S3 (or the kernel's conventions) cannot hold, before any request is made. */
  checkNewName(rel: string): void {
    const name = baseName(rel);
    if (isNameTooLong(name)) throw vfsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes: ${name.slice(0, 40)}…`);
    // +1 for the trailing slash of a directory marker
    if (Buffer.byteLength(this.toBackend(rel)) + 1 > KEY_MAX)
      throw vfsError('ENAMETOOLONG', `path longer than ${KEY_MAX} bytes as an S3 key: ${rel.slice(0, 40)}…`);
  }
}
