// The libfuse option string of a mount. fuse-native only knows a fixed set of options (no
// big_writes, no max_write), but passes `fsname` into libfuse's "-o" string unescaped, and
// libfuse splits that string on commas: so everything goes in through fsname. Measured on
// Linux: without big_writes,max_write the kernel sends 4 KiB writes (~100 MB/s); with them,
// 1 MiB writes (>1 GB/s).
import type { KernelOptions } from '../config/mount-options.js';
import { UserError, EXIT } from '../util/errors.js';

/** the kernel options of the mount, with the name shown as its device (e.g. the remote path) */
export type MountOptionInput = Omit<KernelOptions, 'volname'> & { fsname: string };

/** libfuse's limit on the whole option string in fuse-native's glue */
const MAX_OPTIONS_LENGTH = 1000;
export const MAX_WRITE = 1024 * 1024;

export function fuseOptionList(o: MountOptionInput): string[] {
  // A comma or a backslash in the name would split or escape the option list.
  const fsname = o.fsname.replace(/[,\\\s]/g, '_') || 'bucketfs';
  const seconds = (ms: number) => String(Math.max(0, ms) / 1000);
  const opts = [
    `fsname=${fsname}`,
    'subtype=bucketfs',
    'big_writes',
    `max_write=${MAX_WRITE}`,
    `max_readahead=${Math.max(0, Math.floor(o.maxReadAhead))}`,
    `attr_timeout=${seconds(o.attrTimeoutMs)}`,
    `entry_timeout=${seconds(o.attrTimeoutMs)}`,
    // negative entries are cached by the VFS (briefly, and forgotten by our own creates)
    'negative_timeout=0',
    // O_TRUNC reaches open(), instead of a separate truncate() that would upload an empty object first
    'atomic_o_trunc',
    // unlink of an open file really unlinks: no .fuse_hidden rename (a server-side copy on S3)
    'hard_remove',
  ];
  if (o.readOnly) opts.push('ro');
  if (o.allowOther) opts.push('allow_other');
  if (o.allowRoot) opts.push('allow_root');
  if (o.defaultPermissions) opts.push('default_permissions');
  if (o.allowNonEmpty) opts.push('nonempty');
  for (const e of o.extra) {
    for (const part of e.split(',')) {
      const p = part.trim();
      if (p === '') continue;
      if (/^fsname=/.test(p)) opts[0] = `fsname=${p.slice('fsname='.length).replace(/[\\\s]/g, '_')}`;
      else opts.push(p);
    }
  }
  return opts;
}

/** The value to give fuse-native as `fsname` (it prefixes "fsname=" itself). */
export function fsnameOption(o: MountOptionInput): string {
  const list = fuseOptionList(o);
  const joined = list.join(',').slice('fsname='.length);
  if (joined.length > MAX_OPTIONS_LENGTH) throw new UserError(`FUSE options too long (${joined.length} characters, at most ${MAX_OPTIONS_LENGTH})`, EXIT.usage);
  return joined;
}
