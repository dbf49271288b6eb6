// Everything `bucketfs mount` is told, in typed form, built in this one place from the option
// table: each mount flag as flag > RCLONE_<FLAG> > default (FlagReader), --transfers from the
// global flags. The mount command reads only this; the VFS gets `vfs`, the FUSE layer `kernel`.
import { DURATION_OFF } from './units.js';
import { FlagReader, type RawFlags } from './flag-reader.js';
import { MAX_TIMER_MS, resolveVfsOptions, type VfsOptions } from './vfs-options.js';
import { DEFAULT_TRANSFERS } from './defaults.js';
import type { ListenAddress } from './listen-address.js';

export { DEFAULT_TRANSFERS };

/** What the kernel is told at mount time (libfuse options, see src/fuse/mount-options.ts). */
export interface KernelOptions {
  /** --volname: the device name in /proc/mounts and df; '' = the remote as given */
  volname: string;
  readOnly: boolean;
  allowOther: boolean;
  allowRoot: boolean;
  defaultPermissions: boolean;
  allowNonEmpty: boolean;
  /** --attr-timeout, also the kernel's entry timeout */
  attrTimeoutMs: number;
  /** --max-read-ahead in bytes */
  maxReadAhead: number;
  /** -o/--option values, each possibly comma-separated */
  extra: string[];
}

export interface MountOptions {
  vfs: VfsOptions;
  kernel: KernelOptions;
  /** --daemon: run in the background, return once mounted */
  daemon: boolean;
  /** --daemon-wait: how long --daemon waits for the mount (capped to what a timer can wait) */
  daemonWaitMs: number;
  /** --daemon-timeout: limit for answering one kernel request (0: none) */
  requestTimeoutMs: number;
  /** --stats: interval of the statistics line at INFO (0: none) */
  statsMs: number;
  /** --metrics-addr: where to serve Prometheus metrics (none: not served) */
  metricsAddr: ListenAddress | undefined;
  /** --transfers: background uploads at a time */
  transfers: number;
}

/** A duration flag as a timer delay: "off" and anything a timer cannot wait become `off`. */
function timerMs(ms: number, off: number): number {
  return ms === DURATION_OFF || ms > MAX_TIMER_MS ? off : Math.max(0, ms);
}

function kernelOptions(f: FlagReader, vfs: VfsOptions): KernelOptions {
  const attr = f.duration('attr_timeout');
  const allowOther = f.bool('allow_other');
  return {
    volname: f.text('volname'),
    readOnly: vfs.readOnly,
    allowOther,
    allowRoot: f.bool('allow_root'),
    // other users on the mount: the kernel checks the modes and owners files show (stored with
    // chmod/chown), unless --default-permissions=false says otherwise; nothing else would
    defaultPermissions: f.isSet('default_permissions') ? f.bool('default_permissions') : allowOther,
    allowNonEmpty: f.bool('allow_non_empty'),
    attrTimeoutMs: attr === DURATION_OFF ? MAX_TIMER_MS : attr,
    maxReadAhead: Math.max(0, f.size('max_read_ahead')),
    extra: f.list('option'),
  };
}

/**
 * Raw mount flags (keyed by option name) and the environment → MountOptions. `transfers` is the
 * global --transfers flag when given, `checkers` the global --checkers (HEADs at once). Throws a UserError (usage) naming the flag for a bad value.
 */
export function resolveMountOptions(raw: RawFlags, env: NodeJS.ProcessEnv = process.env, global: { transfers?: number; checkers?: number } = {}): MountOptions {
  const f = new FlagReader(raw, env);
  const vfs = resolveVfsOptions(raw, env);
  if (global.checkers !== undefined && global.checkers > 0) vfs.headConcurrency = global.checkers;
  return {
    vfs,
    kernel: kernelOptions(f, vfs),
    daemon: f.bool('daemon'),
    daemonWaitMs: timerMs(f.duration('daemon_wait'), MAX_TIMER_MS),
    requestTimeoutMs: timerMs(f.duration('daemon_timeout'), 0),
    statsMs: timerMs(f.duration('stats'), 0),
    metricsAddr: f.listenAddress('metrics_addr'),
    transfers: global.transfers !== undefined && global.transfers > 0 ? global.transfers : DEFAULT_TRANSFERS,
  };
}
