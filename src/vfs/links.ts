// Symbolic links in a bucket. S3 has none, so a link is an ordinary small object that holds its
// target, in one of two conventions:
//  - rclone's (`--links` of its local backend, `--vfs-links` of its mount): the link `a/x` is the
//    object `a/x.rclonelink`, whose body is the target. `rclone copy -l` makes real links of
//    them again on a disk. This is what the mount writes.
//  - s3fs's: the object `a/x` itself, its body the target and its stored mode of type S_IFLNK
//    (X-Amz-Meta-Mode 41471 = 0120777). Shown and followed; only a HEAD tells it from a file.
import type { ObjectInfo } from '../backend/s3/types.js';
import { lruOfCount } from '../util/lru.js';

export const LINK_SUFFIX = '.rclonelink';

/** PATH_MAX less its NUL: symlink(2) refuses longer targets, so an object over this is no link of ours */
export const MAX_LINK_TARGET = 4095;

/** The link name an object name stands for (`x.rclonelink` → `x`), or null when it is no link object. */
export function linkNameOf(objectName: string): string | null {
  if (!objectName.endsWith(LINK_SUFFIX) || objectName.length === LINK_SUFFIX.length) return null;
  return objectName.slice(0, -LINK_SUFFIX.length);
}

/** The object (mount path) that holds the link `rel` in rclone's convention. */
export function linkObjectOf(rel: string): string {
  return rel + LINK_SUFFIX;
}

/** A link object as one GET returned it: its metadata and its target. */
export interface LinkRead {
  info: ObjectInfo;
  target: string;
}

/** Targets already read, by object path and version: `ls -l` of a folder of links reads each once. */
export class LinkTargets {
  private readonly byObject = lruOfCount<string, { etag: string; target: string }>(10_000);

  get(obj: string, etag: string | undefined): string | undefined {
    const t = this.byObject.get(obj);
    return t && (etag === undefined || t.etag === etag) ? t.target : undefined;
  }

  set(obj: string, etag: string, target: string): void {
    this.byObject.set(obj, { etag, target });
  }

  delete(obj: string): void {
    this.byObject.delete(obj);
  }
}
