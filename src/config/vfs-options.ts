// The VFS settings in typed form (bytes, milliseconds, mode bits), resolved from the mount flags
// of vfs-option-table.ts through FlagReader (flag > RCLONE_<FLAG> > default). The VFS only ever
// sees the typed VfsOptions (src/vfs/options.ts re-exports the types); it never parses flags,
// so it never needs the CLI's errors or exit codes.
import os from 'node:os';
import path from 'node:path';
import { SIZE_OFF, DURATION_OFF } from './units.js';
import { FlagReader, type RawFlags } from './flag-reader.js';
import { UserError, EXIT } from '../util/errors.js';
import { DEFAULT_MOUNT_CHECKERS } from './defaults.js';

/** --vfs-cache-mode: how much of a file's writing goes through a local cache file */
export type CacheMode = 'off' | 'minimal' | 'writes' | 'full';
export const CACHE_MODES: readonly CacheMode[] = ['off', 'minimal', 'writes', 'full'];

export interface VfsOptions {
  dirCacheTimeMs: number;
  /** --poll-interval: directories used since the last poll are listed again (0: never) */
  pollIntervalMs: number;
  /** how long "this path does not exist" is remembered when no fresh listing says so */
  negativeCacheMs: number;
  useServerModtime: boolean;
  noModtime: boolean;
  noChecksum: boolean;
  /** --vfs-conditional-writes: uploads conditional on the version they replace, or on absence */
  conditionalWrites: boolean;
  /** --vfs-links: symbolic links as NAME.rclonelink objects (and s3fs's link objects) */
  links: boolean;
  readOnly: boolean;
  uid: number;
  gid: number;
  umask: number;
  dirPerms: number;
  filePerms: number;
  readChunkSize: number;
  /** SIZE_OFF (-1): the chunk size stays fixed */
  readChunkSizeLimit: number;
  bufferSize: number;
  readAhead: number;
  memoryLimit: number;
  cacheDir: string;
  /** --vfs-cache-mode */
  cacheMode: CacheMode;
  /** --vfs-write-back: upload this long after the last close (0: at close) */
  writeBackMs: number;
  /** --vfs-cache-max-size in bytes; SIZE_OFF (-1): no limit */
  cacheMaxSize: number;
  /** --vfs-cache-min-free-space (-1: off) */
  cacheMinFreeSpace: number;
  /** --vfs-cache-max-age */
  cacheMaxAgeMs: number;
  /** --vfs-cache-poll-interval */
  cachePollMs: number;
  /** bounded number of cached directory listings (lru-cache max) */
  maxCachedDirs: number;
  /** concurrent HEADs when a getattr storm (ls -l) begins (--checkers) */
  headConcurrency: number;
  /** concurrent server-side copies/deletes of a directory rename */
  renameConcurrency: number;
}

/** Node's timers take at most 2^31-1 ms; longer waits (and "off") are clamped to that. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'bucketfs');
}

/** The process umask, read without changing it for longer than the call. */
function processUmask(): number {
  const old = process.umask(0o022);
  process.umask(old);
  return old;
}

function cacheMode(f: FlagReader): CacheMode {
  const text = f.text('vfs_cache_mode');
  const mode = text.trim().toLowerCase() as CacheMode;
  if (!CACHE_MODES.includes(mode)) throw new UserError(`invalid --vfs-cache-mode ${JSON.stringify(text)}: use off, minimal, writes or full`, EXIT.usage);
  return mode;
}

/** Raw flag values (keyed by option name, snake_case) → VfsOptions. Missing keys: environment, then table default. */
export function resolveVfsOptions(raw: RawFlags, env: NodeJS.ProcessEnv = process.env): VfsOptions {
  const f = new FlagReader(raw, env);
  const dirCacheTimeMs = f.duration('dir_cache_time');
  const uid = f.int('uid');
  const gid = f.int('gid');
  const chunk = f.size('vfs_read_chunk_size');
  const writeBack = f.duration('vfs_write_back');
  const maxAge = f.duration('vfs_cache_max_age');
  const poll = f.duration('vfs_cache_poll_interval');
  const changePoll = f.duration('poll_interval');
  return {
    dirCacheTimeMs,
    pollIntervalMs: changePoll === DURATION_OFF ? 0 : Math.min(Math.max(0, changePoll), MAX_TIMER_MS),
    // Brief: long enough to absorb the lookup bursts of one command, short enough that a file
    // created elsewhere is not hidden noticeably longer than the kernel's own attr cache would.
    negativeCacheMs: Math.min(dirCacheTimeMs, 1000),
    useServerModtime: f.bool('use_server_modtime'),
    noModtime: f.bool('no_modtime'),
    noChecksum: f.bool('no_checksum'),
    links: f.bool('vfs_links'),
    conditionalWrites: f.bool('vfs_conditional_writes'),
    readOnly: f.bool('read_only'),
    uid: uid < 0 ? (process.getuid?.() ?? 0) : uid,
    gid: gid < 0 ? (process.getgid?.() ?? 0) : gid,
    umask: f.text('umask') === '' ? processUmask() : f.octal('umask'),
    dirPerms: f.octal('dir_perms'),
    filePerms: f.octal('file_perms'),
    readChunkSize: chunk === SIZE_OFF ? 0 : chunk,
    readChunkSizeLimit: f.size('vfs_read_chunk_size_limit'),
    bufferSize: Math.max(0, f.size('buffer_size')),
    readAhead: Math.max(0, f.size('vfs_read_ahead')),
    memoryLimit: Math.max(0, f.size('vfs_memory_limit')),
    cacheDir: f.text('cache_dir') || defaultCacheDir(env),
    cacheMode: cacheMode(f),
    writeBackMs: writeBack === DURATION_OFF ? 0 : Math.min(Math.max(0, writeBack), MAX_TIMER_MS),
    cacheMaxSize: f.size('vfs_cache_max_size'),
    cacheMinFreeSpace: f.size('vfs_cache_min_free_space'),
    cacheMaxAgeMs: maxAge === DURATION_OFF ? Number.MAX_SAFE_INTEGER : Math.max(0, maxAge),
    cachePollMs: poll === DURATION_OFF ? 0 : Math.max(0, poll),
    maxCachedDirs: 10_000,
    headConcurrency: DEFAULT_MOUNT_CHECKERS,
    renameConcurrency: 16,
  };
}

/** Options for unit tests and library use: every default, with overrides. */
export function defaultVfsOptions(overrides: Partial<VfsOptions> = {}): VfsOptions {
  return { ...resolveVfsOptions({ umask: '022' }), ...overrides };
}
