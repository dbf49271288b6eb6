// What a Vfs is built with. Its settings are typed values only (bytes, milliseconds, mode bits),
// resolved from the mount flags in src/config (vfs-options.ts, mount-options.ts) and handed to
// the VFS; the VFS never reads or parses a flag itself. The extras are the parts a caller may
// supply or tune beside them (the S3 upload settings, a clock, a write layer of its own).
import type { Clock } from './clock.js';
import type { WriteLayer } from './write/write-layer.js';

export type { VfsOptions, CacheMode } from '../config/vfs-options.js';

/** How uploads are cut into parts: the S3 options the write layer needs (defaults: rclone's). */
export interface UploadSettings {
  /** S3 part size of uploads (--s3-chunk-size) */
  partSize: number;
  uploadConcurrency: number;
  maxUploadParts: number;
}

/**
 * rclone's filter flags as a mount applies them (--include, --exclude, --filter…, --min-size,
 * --max-age, --max-depth: the CLI's Filter): names they leave out are not listed and not found.
 * Paths are relative to the mount's root, directories without a trailing slash.
 */
export interface NameFilter {
  readonly active: boolean;
  includeFile(rel: string, size: number, mtimeMs?: number): boolean;
  includeDir(rel: string): boolean;
  withinDepth(depth: number): boolean;
}

export interface VfsExtras {
  /** names left out of the mount (the filter flags); none: every name shows */
  filter?: NameFilter;
  /** a write layer of its own (tests) */
  writes?: WriteLayer;
  /** the remote as named on the command line (cache directory and journals) */
  remote?: string;
  /** identifies the server behind the remote (endpoint, provider…) */
  remoteId?: string;
  upload?: UploadSettings;
  /** background uploads at a time (--transfers) */
  transfers?: number;
  /** first retry delay of a failed background upload */
  retryBaseMs?: number;
  /** the clock of the write-back timers and cache ages (tests drive their own) */
  clock?: Clock;
}
