// What stat(2), readdir(3) and statfs(2) show: the namespace's attributes with the modes and
// owners stored with an object, else the mount's (--file-perms/--dir-perms/--umask/--uid/--gid,
// as rclone mount does).
import type { Attr } from './namespace.js';
import type { VfsOptions } from './options.js';

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface VfsAttr extends Attr {
  mode: number;
  uid: number;
  gid: number;
}

export interface VfsDirEntry {
  name: string;
  attr: VfsAttr;
  /**
   * attr is what getattr would answer (so the kernel may keep it with the listing: readdirplus);
   * false when only a HEAD knows the real mtime (attr then has the listing's LastModified)
   */
  exact: boolean;
}

export interface VfsStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

type Perms = Pick<VfsOptions, 'dirPerms' | 'filePerms' | 'umask' | 'uid' | 'gid'>;

/** The permission bits of a file or directory that stores none (--file-perms/--dir-perms, --umask). */
export function defaultPerm(kind: 'file' | 'dir', opts: Perms): number {
  return (kind === 'dir' ? opts.dirPerms : opts.filePerms) & ~opts.umask & 0o7777;
}

/**
 * The mode and owners shown: what the object stores (chmod/chown), else the mount's defaults. A
 * symbolic link is 0777, as on every Linux filesystem (its own mode is never checked).
 */
export function withMode(a: Attr, opts: Perms): VfsAttr {
  const type = a.kind === 'dir' ? S_IFDIR : a.kind === 'link' ? S_IFLNK : S_IFREG;
  const perms = a.kind === 'link' ? 0o777 : (a.posix?.perm ?? defaultPerm(a.kind, opts));
  return { ...a, mode: type | perms, uid: a.posix?.uid ?? opts.uid, gid: a.posix?.gid ?? opts.gid };
}

export function statfs(): VfsStatfs {
  // S3 has no capacity: report 1 PiB total and free, as rclone does. f_blocks is counted in
  // f_frsize units and fuse-native passes 32-bit fields, so the unit is 1 MiB.
  const frsize = 1024 * 1024;
  const blocks = 2 ** 30;
  const files = 2 ** 32 - 1;
  return { bsize: 4096, frsize, blocks, bfree: blocks, bavail: blocks, files, ffree: files, favail: files, namemax: 255 };
}
