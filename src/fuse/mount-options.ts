// The libfuse option string of a mount. fuse-native only knows a fixed set of options (no
// max_write), but passes `fsname` into libfuse's "-o" string unescaped, and libfuse splits that
// string on commas: so everything goes in through fsname. The patched binding takes libfuse 3's
// connection options (max_write, max_readahead, atomic_o_trunc, max_background) out of the
// string and applies them at INIT. With max_write=1 MiB libfuse 3 also asks the kernel for 256
// pages per request (max_pages), so reads and writes reach us 1 MiB at a time, not 128 KiB.
import type { KernelOptions } from '../config/mount-options.js';
import { UserError, EXIT } from '../util/errors.js';

/** the kernel options of the mount, with the name shown as its device (e.g. the remote path) */
export type MountOptionInput = Omit<KernelOptions, 'volname'> & {
  fsname: string;
  /** fusermount3 is there to watch the mount: a killed mount process leaves nothing mounted */
  autoUnmount: boolean;
};

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
    `max_write=${MAX_WRITE}`,
    `max_readahead=${Math.max(0, Math.floor(o.maxReadAhead))}`,
    `attr_timeout=${seconds(o.attrTimeoutMs)}`,
    `entry_timeout=${seconds(o.attrTimeoutMs)}`,
    // negative entries are cached by the VFS (briefly, and forgotten by our own creates)
    'negative_timeout=0',
    // O_TRUNC reaches open(), instead of a separate truncate() that would upload an empty object first
    'atomic_o_trunc',
    // requests the kernel may have in flight in the background (read-ahead, async reads):
    // libfuse's default is 12; the binding runs up to 64 worker threads to answer them
    'max_background=64',
    // the kernel keeps a file's cached pages across opens while its size and mtime stay the
    // same (libfuse compares them at open): a re-read comes from the page cache, not from us
    'auto_cache',
  ];
  // fusermount3 stays behind and unmounts when this process dies (kill -9, a crash), so no
  // dead mount point ("Transport endpoint is not connected") is left
  if (o.autoUnmount) opts.push('auto_unmount');
  if (o.readOnly) opts.push('ro');
  if (o.allowOther) opts.push('allow_other');
  if (o.allowRoot) opts.push('allow_root');
  if (o.defaultPermissions) opts.push('default_permissions');
  // (no `nonempty`: libfuse 3 mounts over a non-empty directory; prepareMountpoint checks)
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
