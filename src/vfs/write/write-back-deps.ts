// What the write-back layer is built from: the mount's cache and upload settings, the bucket,
// the download engine for base objects, and the hooks by which the VFS hears of uploads.
import type { Logger } from '../../util/log.js';
import type { MountedBucket } from '../bucket.js';
import { remoteCachePath } from '../cache-paths.js';
import type { CacheMode } from '../options.js';
import type { Clock } from '../clock.js';
import type { BaseReader } from './cache-file.js';
import type { ServerState } from './item-state.js';
import type { JournalBase } from './journal.js';
import type { UploadedHook } from './write-layer.js';
import type { StreamMemory } from './stream.js';

export interface WriteBackDeps {
  bucket: MountedBucket;
  log: Logger;
  cacheDir: string;
  /** the remote as named on the command line (journals, messages) */
  remote: string;
  /** identifies the server behind the remote (endpoint…): pending items of another server are never touched */
  remoteId?: string;
  cacheMode: CacheMode;
  /** upload this long after the last close; 0 = at close */
  writeBackMs: number;
  noChecksum: boolean;
  /** uploads conditional on the version they replace or on absence (default true) */
  conditionalWrites?: boolean;
  partSize: number;
  uploadConcurrency: number;
  /** the part buffers of all streams, within the mount's memory budget (memory-budget.ts);
   *  default: a budget of their own */
  streamMemory?: StreamMemory;
  maxUploadParts: number;
  /** background uploads at a time (--transfers) */
  transfers: number;
  /** --vfs-cache-max-size: clean cache data above this is removed, oldest first (-1: no limit) */
  cacheMaxSize?: number;
  /** --vfs-cache-min-free-space: the cache keeps this much of its disk free (-1: no floor) */
  cacheMinFreeSpace?: number;
  /** --vfs-cache-max-age: clean cache data unused this long is removed */
  cacheMaxAgeMs?: number;
  /** --vfs-cache-poll-interval (0: no polling) */
  cachePollMs?: number;
  /** first retry delay of a failed background upload, doubling up to 5 min (default: the
   *  write-back delay, at least 1 s) */
  retryBaseMs?: number;
  /** the download engine: a pinned version of a base object, by mount path */
  openBase(rel: string, base: Readonly<JournalBase>): BaseReader;
  onUploaded: UploadedHook;
  /** a file's write state was given up (its stream failed): `server` is what the bucket still holds */
  onDropped?: (rel: string, server: ServerState) => void;
  /** another client stored `rel` meanwhile: ours goes up as `to`, `rel` shows theirs */
  onConflict?: (rel: string, to: string) => void;
  clock?: Clock;
}

/** The cache directory of one remote's bucket (pending and cached file data). */
export function cacheDirOf(deps: Pick<WriteBackDeps, 'cacheDir' | 'remote' | 'remoteId' | 'bucket'>): string {
  return remoteCachePath(deps.cacheDir, 'vfs', deps.remote, deps.remoteId, deps.bucket.name);
}
