// The mount and VFS flags, as data, in the same OptionSpec shape as option-table.ts.
//
// `bucketfs mount` generates its yargs flags from this table (names, types, defaults, help), and
// mount-options.ts turns the given values (else RCLONE_<FLAG>, else the default here) into one
// typed MountOptions. -v/-vv and --log-file are the CLI's global flags (src/cli/program.ts) and
// apply to mount as to every command. Names and defaults are rclone
// mount's, so `rclone mount` command lines keep working. Two additive fields: `alias` (a short flag
// such as -o) and `repeatable` (the flag may be given several times and collects a list).
import type { OptionSpec } from './option-table.js';

export interface VfsOptionSpec extends OptionSpec {
  scope: 'global';
  /** single-letter alias, without the dash */
  alias?: string;
  /** may be repeated; the value is the list of all occurrences */
  repeatable?: boolean;
  /** kept in rclone's table for compatibility but rclone itself hides it */
  hidden?: boolean;
}

export const VFS_OPTIONS: VfsOptionSpec[] = [
  // --- the directory and attribute caches ---------------------------------------------------
  {
    scope: 'global',
    name: 'dir_cache_time',
    type: 'Duration',
    default: '5m0s',
    help: 'Time to cache directory entries for. Changes made by other clients appear after this at most; SIGHUP forgets every cached listing at once.',
  },
  {
    scope: 'global',
    name: 'poll_interval',
    type: 'Duration',
    default: '1m0s',
    help: 'Time between re-listings of the directories this mount used since the last one (one LIST each, the 64 most recently used at most, none for a directory not used), so that what other clients change there shows within this rather than --dir-cache-time. 0 to disable.',
  },
  { scope: 'global', name: 'attr_timeout', type: 'Duration', default: '1s', help: 'Time for which file/directory attributes are cached by the kernel.' },
  {
    scope: 'global',
    name: 'use_server_modtime',
    type: 'bool',
    default: 'false',
    help: "Use the server's LastModified as the modification time instead of X-Amz-Meta-Mtime: no HEAD request per file for `ls -l`.",
  },
  {
    scope: 'global',
    name: 'no_modtime',
    type: 'bool',
    default: 'false',
    help: "Don't read/write the modification time (can speed things up): LastModified is shown and utimens changes nothing.",
  },
  {
    scope: 'global',
    name: 'vfs_links',
    type: 'bool',
    default: 'true',
    help: "Symbolic links: stored as an object NAME.rclonelink holding the target (rclone's --links convention, so `rclone copy -l` restores them); an object whose stored mode says link (s3fs) is one too. false: such objects show as regular files and symlink(2) is EPERM. (rclone mount's --vfs-links defaults to false.)",
  },
  {
    scope: 'global',
    name: 'vfs_conditional_writes',
    type: 'bool',
    default: 'true',
    help: 'Uploads and the copies of renames replace only the version this mount saw (If-Match) and create only what is absent (If-None-Match); deletes name the version they delete: when another client stored the name meanwhile, theirs stays and ours goes up as NAME.conflict-HOST-TIME. false: for servers that refuse the conditions.',
  },
  { scope: 'global', name: 'no_checksum', type: 'bool', default: 'false', help: "Don't compare checksums on up/download (no MD5 is computed for uploads)." },

  // --- permissions ----------------------------------------------------------------------------
  { scope: 'global', name: 'read_only', type: 'bool', default: 'false', help: 'Only allow read-only access: every change fails with EROFS.' },
  {
    scope: 'global',
    name: 'allow_other',
    type: 'bool',
    default: 'false',
    help: 'Allow access to other users (FUSE allow_other; non-root users need user_allow_other in /etc/fuse.conf).',
  },
  { scope: 'global', name: 'allow_root', type: 'bool', default: 'false', help: 'Allow access to root user (FUSE allow_root).' },
  {
    scope: 'global',
    name: 'default_permissions',
    type: 'bool',
    default: 'false',
    help: 'Make the kernel enforce access control based on the file mode (FUSE default_permissions). bucketfs: on by default with --allow-other (other users would otherwise be checked by nothing); --default-permissions=false turns it off.',
  },
  { scope: 'global', name: 'uid', type: 'int', default: '-1', min: -1, help: 'Override the uid field set by the filesystem (-1: the user running bucketfs).' },
  { scope: 'global', name: 'gid', type: 'int', default: '-1', min: -1, help: 'Override the gid field set by the filesystem (-1: the group running bucketfs).' },
  {
    scope: 'global',
    name: 'umask',
    type: 'string',
    default: '',
    help: 'Override the permission bits set by the filesystem, octal (default: the umask of the bucketfs process).',
  },
  { scope: 'global', name: 'dir_perms', type: 'string', default: '0777', help: 'Directory permissions, octal (umask applied).' },
  { scope: 'global', name: 'file_perms', type: 'string', default: '0666', help: 'File permissions, octal (umask applied).' },

  // --- reading --------------------------------------------------------------------------------
  {
    scope: 'global',
    name: 'vfs_read_chunk_size',
    type: 'SizeSuffix',
    default: '128M',
    min: 0,
    help: 'Read the source objects in chunks: sequential reads use ranged GETs that start small, double up to this size, then grow as --vfs-read-chunk-size-limit allows (0: no chunking). Random reads fetch only what they ask for.',
  },
  {
    scope: 'global',
    name: 'vfs_read_chunk_size_limit',
    type: 'SizeSuffix',
    default: 'off',
    help: "If greater than --vfs-read-chunk-size, double the chunk size after each chunk read, until the limit is reached ('off' is unlimited: the chunk size keeps doubling, as in rclone).",
  },
  {
    scope: 'global',
    name: 'buffer_size',
    type: 'SizeSuffix',
    default: '16M',
    min: 0,
    help: 'In-memory read-ahead per sequential reader: how far a download may run ahead of the reading application.',
  },
  { scope: 'global', name: 'vfs_read_ahead', type: 'SizeSuffix', default: '0', min: 0, help: 'Extra read ahead over --buffer-size for sequential reads.' },
  {
    scope: 'global',
    name: 'vfs_memory_limit',
    type: 'SizeSuffix',
    default: '256M',
    min: 0,
    help: 'bucketfs extension: the memory for file data of the whole mount, whatever the number of open files: downloaded data of readers and part buffers of uploads streamed from sequential writes together. Uploads take at most half of it (past that a new file is written to the cache and a stream under way waits for a part to finish); reads get what the uploads leave, and their read-ahead shrinks with it. Reads drop data already read past first (the most recently passed first, so a re-read file keeps its beginning), read-ahead and random-read data last.',
  },
  {
    scope: 'global',
    name: 'max_read_ahead',
    type: 'SizeSuffix',
    default: '128K',
    min: 0,
    help: "The number of bytes that the kernel can prefetch for sequential reads (FUSE max_readahead and the mount's read_ahead_kb, which only root may raise above 128K). It is also the size of the kernel's read requests, up to 1 MiB: --max-read-ahead 1M makes reads reach the mount 1 MiB at a time.",
  },

  // --- writing / local cache ------------------------------------------------------------------
  {
    scope: 'global',
    name: 'cache_dir',
    type: 'string',
    default: '',
    help: 'Directory for local cache files (files written other than sequentially, and pending uploads with their journals, under vfs/). Default: $XDG_CACHE_HOME/bucketfs or ~/.cache/bucketfs.',
  },
  {
    scope: 'global',
    name: 'vfs_cache_mode',
    type: 'string',
    default: 'writes',
    help: 'Cache mode off|minimal|writes|full. writes (the default): sequential writes stream straight to S3, everything else (seeks, rewrites, appends, truncates, O_RDWR) goes through a local cache file, so every application works. off: sequential writes only; minimal: also O_RDWR files; full: as writes.',
  },
  {
    scope: 'global',
    name: 'vfs_write_back',
    type: 'Duration',
    default: '5s',
    help: 'Time to writeback files after last use when using cache: close(2) returns once the data is journaled in the cache (safe from a crash of the mount; fsync(2) makes it durable), and the upload starts this long after the last close (0s: close waits for the upload).',
  },
  {
    scope: 'global',
    name: 'vfs_cache_max_size',
    type: 'SizeSuffix',
    default: 'off',
    help: 'Max total size of objects in the cache: clean (uploaded) cache files are removed, oldest first, above it; files not uploaded yet never are.',
  },
  {
    scope: 'global',
    name: 'vfs_cache_min_free_space',
    type: 'SizeSuffix',
    default: 'off',
    help: 'Target minimum free space on the disk of the cache: clean (uploaded) cache files are removed, oldest first, to keep it, and a write that would still take the disk below it fails at once with ENOSPC (a new file small enough to be in memory goes up from there at close).',
  },
  {
    scope: 'global',
    name: 'vfs_cache_max_age',
    type: 'Duration',
    default: '1h0m0s',
    help: 'Max time since last access of objects in the cache: clean cache files unused this long are removed.',
  },
  {
    scope: 'global',
    name: 'vfs_cache_poll_interval',
    type: 'Duration',
    default: '1m0s',
    help: 'Interval to poll the cache for stale objects (--vfs-cache-max-age/--vfs-cache-max-size).',
  },

  // --- the mount itself -----------------------------------------------------------------------
  {
    scope: 'global',
    name: 'allow_non_empty',
    type: 'bool',
    default: 'false',
    help: 'Allow mounting over a non-empty directory (refused without it); its contents are hidden while mounted.',
  },
  {
    scope: 'global',
    name: 'option',
    alias: 'o',
    repeatable: true,
    type: 'string',
    default: '',
    help: 'Option for libfuse/the kernel, e.g. -o max_readahead=1048576 (repeat as needed, or comma-separate).',
  },
  {
    scope: 'global',
    name: 'volname',
    type: 'string',
    default: '',
    help: 'Name shown for the filesystem in /proc/mounts and df (FUSE fsname). Default: the remote path.',
  },
  {
    scope: 'global',
    name: 'daemon',
    type: 'bool',
    default: 'false',
    help: 'Run mount in background and exit parent process once the mount works (non-zero exit with the reason if it does not).',
  },
  {
    scope: 'global',
    name: 'daemon_wait',
    type: 'Duration',
    default: '1m0s',
    help: 'Time to wait for the background mount to become ready before --daemon gives up.',
  },
  {
    scope: 'global',
    name: 'daemon_timeout',
    type: 'Duration',
    default: '0s',
    help: 'Time limit for bucketfs to answer one kernel request; a request still running then fails with ETIMEDOUT (0s: no limit).',
  },
  {
    scope: 'global',
    name: 'stats',
    type: 'Duration',
    default: '1m0s',
    help: 'Interval between printing transfer statistics (at INFO level, i.e. with -v; 0 to disable).',
  },
  {
    scope: 'global',
    name: 'metrics_addr',
    type: 'string',
    default: '',
    help: 'IPaddress:Port or :Port to serve Prometheus metrics on, at /metrics (off when empty; :Port listens on every interface, 127.0.0.1:Port on this machine only). `bucketfs stats MOUNTPOINT` works without it.',
  },
];

export function findVfsOption(name: string): VfsOptionSpec | undefined {
  return VFS_OPTIONS.find((o) => o.name === name);
}

/** `dir_cache_time` → `dir-cache-time` (the flag, without dashes in front) */
export function vfsFlagName(o: OptionSpec): string {
  return o.name.replace(/_/g, '-');
}
