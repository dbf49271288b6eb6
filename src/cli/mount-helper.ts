// The mount helper: for an fstab entry of type bucketfs (or `mount -t bucketfs`), mount(8) runs
// `/sbin/mount.bucketfs SPEC DIR [-sfnv] [-o OPTIONS]`, and systemd's mount and automount units
// run mount(8). /sbin/mount.bucketfs (written by `bucketfs install-helper`) runs
// `bucketfs mount-helper SPEC DIR …`, which this module turns into
// `bucketfs mount SPEC DIR --daemon --mount-helper <flags>`: it returns once the mount works, or
// non-zero with the reason in one line, as mount(8) expects of a helper.
//
// The -o options, as mount(8) passes them (it keeps _netdev, nofail and user, drops noauto,
// defaults and x-*, and adds rw, and noexec,nosuid,nodev for `user`):
//   - bucketfs's own flags by name, with dashes or underscores, with or without a value:
//     config=/etc/rclone.conf, cache_dir=…, vfs-cache-mode=full, allow_other, uid=1000, s3-region=…
//   - ro / rw: --read-only / --read-only=false
//   - the kernel's mount flags that libfuse takes (noexec, nosuid, nodev, noatime, sync, …): to the
//     kernel, as `bucketfs mount -o` gives them (a `user` entry so stays noexec, as mount(8) means)
//   - options for mount(8) and systemd (_netdev, nofail, user, auto, x-systemd.*, …): ignored
// Anything else is an error naming it, or ignored with -s (mount(8)'s "sloppy").
import { S3_OPTIONS, s3FlagName } from '../config/option-table.js';
import { VFS_OPTIONS, vfsFlagName } from '../config/vfs-option-table.js';
import { UserError, EXIT } from '../util/errors.js';

/** `bucketfs mount-helper …`: what /sbin/mount.bucketfs runs */
export const MOUNT_HELPER_COMMAND = 'mount-helper';

/** the hidden flag of `bucketfs mount` that says mount(8) is waiting (mount.ts) */
export const MOUNT_HELPER_FLAG = 'mount-helper';

const USAGE = 'usage: mount.bucketfs REMOTE:BUCKET[/PATH] MOUNTPOINT [-sfnv] [-o OPTIONS]';

/** for mount(8) and systemd (ordering, when to mount, who may): nothing for the mount itself */
const IGNORED = new Set(['defaults', 'auto', 'noauto', '_netdev', '_rnetdev', 'nofail', 'user', 'nouser', 'users', 'owner', 'group']);
const IGNORED_PREFIXES = ['x-', 'X-', 'user=', 'comment='];
/** access times, which bucketfs does not keep (and libfuse 3 refuses these) */
const IGNORED_TIMES = new Set(['relatime', 'norelatime', 'strictatime', 'nostrictatime', 'lazytime', 'nolazytime', 'diratime', 'nodiratime']);
/** the kernel's mount flags that libfuse 3 takes: the kernel gets them (bucketfs mount -o) */
const KERNEL_FLAGS = new Set(['exec', 'noexec', 'suid', 'nosuid', 'dev', 'nodev', 'atime', 'noatime', 'sync', 'async', 'dirsync']);
/** the global flags that make sense for a mount */
const GLOBAL_FLAGS = new Set(['config', 'log-file', 'log-level', 'transfers', 'checkers']);
/** flags the helper decides itself */
const HELPER_OWN = new Set(['daemon']);

/** flag name (dashes) → whether it is a bool (may be given without a value) */
const FLAGS = new Map<string, boolean>([
  ...VFS_OPTIONS.map((o) => [vfsFlagName(o), o.type === 'bool'] as const),
  ...S3_OPTIONS.map((o) => [s3FlagName(o), o.type === 'bool'] as const),
  ...[...GLOBAL_FLAGS].map((f) => [f, false] as const),
]);

export interface HelperCall {
  /** `bucketfs mount …` arguments */
  mountArguments: string[];
  /** -f: check the options, mount nothing */
  fake: boolean;
}

/** `SPEC DIR [-sfnv] [-o OPTIONS]…` (what mount(8) passes, after `mount-helper`) → the mount command. */
export function parseHelperCall(args: readonly string[]): HelperCall {
  const positional: string[] = [];
  const optionStrings: string[] = [];
  let fake = false;
  let sloppy = false;
  let verbose = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-o' || a === '--options') {
      const v = args[++i];
      if (v === undefined) throw new UserError(`${a} without options (${USAGE})`, EXIT.usage);
      optionStrings.push(v);
    } else if (a.startsWith('-o') || a.startsWith('--options=')) {
      optionStrings.push(a.startsWith('-o') ? a.slice(2) : a.slice('--options='.length));
    } else if (a === '-t' || a === '--types') {
      i++; // mount.fuse style: the type, which is ours
    } else if (a === '-N' || a === '--namespace') {
      throw new UserError('mount namespaces (-N) are not supported by mount.bucketfs', EXIT.usage);
    } else if (a === '-h' || a === '--help') {
      throw new UserError(USAGE, EXIT.usage);
    } else if (/^-[sfnvrw]+$/.test(a)) {
      for (const c of a.slice(1)) {
        if (c === 's') sloppy = true;
        else if (c === 'f') fake = true;
        else if (c === 'v') verbose++;
        else if (c === 'r') optionStrings.push('ro');
        else if (c === 'w') optionStrings.push('rw');
        // -n: no /etc/mtab to write (bucketfs never writes one)
      }
    } else if (a.startsWith('-') && a !== '-') {
      throw new UserError(`unknown flag ${a} (${USAGE})`, EXIT.usage);
    } else {
      positional.push(a);
    }
  }
  if (positional.length !== 2) throw new UserError(`expected the remote path and the mount point, got ${positional.length} argument(s) (${USAGE})`, EXIT.usage);
  const [spec, mountpoint] = positional as [string, string];
  const flags = optionStrings.flatMap((s) => optionFlags(splitOptions(s), sloppy));
  const mountArguments = ['mount', spec, mountpoint, '--daemon', `--${MOUNT_HELPER_FLAG}`, ...flags];
  if (verbose > 0) mountArguments.push(verbose > 1 ? '-vv' : '-v');
  return { mountArguments, fake };
}

/**
 * One -o string → its options. Commas separate them, except inside double quotes, which
 * mount(8) keeps around a value that holds commas (config="/etc/a,b.conf"); the quotes go.
 */
export function splitOptions(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of s) {
    if (c === '"') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new UserError('unterminated " in the mount options', EXIT.usage);
  out.push(cur);
  return out.filter((o) => o !== '');
}

/** Options → bucketfs flags (see the top of this file). */
export function optionFlags(options: readonly string[], sloppy = false): string[] {
  const flags: string[] = [];
  for (const opt of options) {
    const eq = opt.indexOf('=');
    const rawName = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? undefined : opt.slice(eq + 1);
    if (IGNORED.has(opt) || IGNORED_PREFIXES.some((p) => opt.startsWith(p)) || IGNORED_TIMES.has(opt)) continue;
    if (opt === 'ro' || opt === 'rw') {
      flags.push(`--read-only=${opt === 'ro'}`);
      continue;
    }
    if (KERNEL_FLAGS.has(opt)) {
      flags.push(`--option=${opt}`);
      continue;
    }
    const name = rawName.toLowerCase().replace(/_/g, '-');
    if (HELPER_OWN.has(name)) throw new UserError(`mount option ${rawName}: mount.bucketfs always runs the mount in the background`, EXIT.usage);
    const isBool = FLAGS.get(name);
    if (isBool === undefined || name === '') {
      if (sloppy) continue;
      throw new UserError(`unknown mount option ${JSON.stringify(rawName)} (bucketfs mount --help lists the flags it takes, with - or _)`, EXIT.usage);
    }
    if (value === undefined && !isBool) throw new UserError(`mount option ${rawName} needs a value (${rawName}=…)`, EXIT.usage);
    flags.push(value === undefined ? `--${name}` : `--${name}=${value}`);
  }
  return flags;
}

/**
 * mount(8) returns its helper's exit status, in its own terms: 1 for a wrong invocation (a bad
 * option), 32 for a mount that failed (whatever the reason).
 */
export function helperExitCode(code: number): number {
  if (code === 0) return 0;
  return code === EXIT.usage ? 1 : 32;
}
