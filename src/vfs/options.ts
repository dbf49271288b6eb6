// The VFS settings in typed form (bytes, milliseconds, mode bits), resolved once from the
// flags of vfs-option-table.ts. Everything in src/vfs reads these, never raw flag strings.
import os from 'node:os';
import path from 'node:path';
import { VFS_OPTIONS, vfsFlagName } from '../config/vfs-option-table.js';
import { parseDuration, parseSize, parseBool, parseInteger, SIZE_OFF, DURATION_OFF } from '../config/units.js';
import { UserError, EXIT } from '../util/errors.js';

export interface VfsOptions {
  dirCacheTimeMs: number;
  attrTimeoutMs: number;
  /** how long "this path does not exist" is remembered when no fresh listing says so */
  negativeCacheMs: number;
  useServerModtime: boolean;
  noModtime: boolean;
  noChecksum: boolean;
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
  cacheMode: 'off' | 'minimal' | 'writes' | 'full';
  /** --vfs-write-back: upload this long after the last close (0: at close) */
  writeBackMs: number;
  /** --vfs-cache-max-size in bytes; SIZE_OFF (-1): no limit */
  cacheMaxSize: number;
  /** --vfs-cache-max-age */
  cacheMaxAgeMs: number;
  /** --vfs-cache-poll-interval */
  cachePollMs: number;
  /** bounded number of cached directory listings (lru-cache max) */
  maxCachedDirs: number;
  /** concurrent HEADs when a getattr storm (ls -l) begins */
  headConcurrency: number;
  /** concurrent server-side copies/deletes of a directory rename */
  renameConcurrency: number;
}

export const DEFAULT_HEAD_CONCURRENCY = 32;

function octal(name: string, raw: string): number {
  const s = raw.trim();
  if (!/^0?[0-7]{1,4}$/.test(s)) throw new UserError(`invalid --${name} ${JSON.stringify(raw)}: expected octal permission bits such as 0755`, EXIT.usage);
  return parseInt(s, 8);
}

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

/** Raw flag values (yargs output keyed by option name, snake_case) → VfsOptions. Missing keys take the table default. */
export function resolveVfsOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): VfsOptions {
  const get = (name: string): string => {
    const spec = VFS_OPTIONS.find((o) => o.name === name);
    if (!spec) throw new Error(`no VFS option ${name}`);
    const v = raw[name];
    if (v !== undefined && v !== null) return String(v);
    // rclone reads every flag from RCLONE_<FLAG_NAME> too (flag > environment > default)
    const fromEnv = env[`RCLONE_${name.toUpperCase()}`];
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : spec.default;
  };
  const size = (name: string) => wrap(name, () => parseSize(get(name)));
  const dur = (name: string) => wrap(name, () => parseDuration(get(name)));
  const bool = (name: string) => {
    const v = raw[name];
    return typeof v === 'boolean' ? v : wrap(name, () => parseBool(get(name)));
  };
  const int = (name: string) => wrap(name, () => parseInteger(get(name)));

  const umaskRaw = get('umask');
  const attrTimeoutMs = dur('attr_timeout');
  const dirCacheTimeMs = dur('dir_cache_time');
  const uid = int('uid');
  const gid = int('gid');
  const chunk = size('vfs_read_chunk_size');
  const limit = size('vfs_read_chunk_size_limit');
  const cacheMode = get('vfs_cache_mode').trim().toLowerCase();
  if (!['off', 'minimal', 'writes', 'full'].includes(cacheMode)) {
    throw new UserError(`invalid --vfs-cache-mode ${JSON.stringify(get('vfs_cache_mode'))}: use off, minimal, writes or full`, EXIT.usage);
  }
  const writeBack = dur('vfs_write_back');
  const maxAge = dur('vfs_cache_max_age');
  const poll = dur('vfs_cache_poll_interval');
  const opts: VfsOptions = {
    dirCacheTimeMs,
    attrTimeoutMs: attrTimeoutMs === DURATION_OFF ? 2 ** 31 - 1 : attrTimeoutMs,
    // Brief: long enough to absorb the lookup bursts of one command, short enough that a file
    // created elsewhere is not hidden noticeably longer than the kernel's own attr cache would.
    negativeCacheMs: Math.min(dirCacheTimeMs, 1000),
    useServerModtime: bool('use_server_modtime'),
    noModtime: bool('no_modtime'),
    noChecksum: bool('no_checksum'),
    readOnly: bool('read_only'),
    uid: uid < 0 ? (process.getuid?.() ?? 0) : uid,
    gid: gid < 0 ? (process.getgid?.() ?? 0) : gid,
    umask: umaskRaw === '' ? processUmask() : octal('umask', umaskRaw),
    dirPerms: octal('dir-perms', get('dir_perms')),
    filePerms: octal('file-perms', get('file_perms')),
    readChunkSize: chunk === SIZE_OFF ? 0 : chunk,
    readChunkSizeLimit: limit,
    bufferSize: Math.max(0, size('buffer_size')),
    readAhead: Math.max(0, size('vfs_read_ahead')),
    memoryLimit: Math.max(0, size('vfs_memory_limit')),
    cacheDir: get('cache_dir') || defaultCacheDir(env),
    cacheMode: cacheMode as VfsOptions['cacheMode'],
    writeBackMs: writeBack === DURATION_OFF ? 0 : Math.min(Math.max(0, writeBack), 2 ** 31 - 1),
    cacheMaxSize: size('vfs_cache_max_size'),
    cacheMaxAgeMs: maxAge === DURATION_OFF ? Number.MAX_SAFE_INTEGER : Math.max(0, maxAge),
    cachePollMs: poll === DURATION_OFF ? 0 : Math.max(0, poll),
    maxCachedDirs: 10_000,
    headConcurrency: DEFAULT_HEAD_CONCURRENCY,
    renameConcurrency: 16,
  };
  return opts;
}

function wrap<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    const spec = VFS_OPTIONS.find((o) => o.name === name)!;
    const msg = err instanceof Error ? err.message : String(err);
    throw new UserError(`--${vfsFlagName(spec)}: ${msg}`, EXIT.usage);
  }
}

/** Options for unit tests and library use: every default, with overrides. */
export function defaultVfsOptions(overrides: Partial<VfsOptions> = {}): VfsOptions {
  return { ...resolveVfsOptions({ umask: '022' }), ...overrides };
}
