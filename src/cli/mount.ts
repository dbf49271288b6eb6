// `bucketfs mount remote:bucket[/path] MOUNTPOINT [flags]`: the mount's lifecycle.
//
//   check --cache-dir, bind --metrics-addr → check the mount point (a stale mount of a killed
//   process is cleaned) → probe the bucket with one LIST (missing bucket, bad credentials:
//   one-line errors before anything is mounted) → mount → serve the stats socket → print one
//   "mounted" line → serve until SIGINT/SIGTERM or an outside unmount → upload everything
//   pending → unmount → remove the stats socket → exit 0.
//
// Every setting comes from one MountOptions (src/config/mount-options.ts: flag > RCLONE_<FLAG> >
// default), built at the start; nothing here reads a raw flag after that.
//
// --daemon re-runs this command detached (stdio to --log-file or /dev/null) and exits 0 once
// the child reports over IPC that the mount works, or non-zero with the child's reason; the mount
// helper (mount-helper.ts: mount(8), fstab) runs that way too. Under a `Type=notify` service
// (contrib/systemd) systemd is told READY=1 once the mount works (sd-notify.ts).
// SIGHUP forgets every cached directory listing.
import { closeSync, constants as fsConstants, openSync, promises as fsp } from 'node:fs';
import { DAEMON_ARGS_ENV, commandArguments, redactedArguments } from './hidden-args.js';
import { spawn } from 'node:child_process';
import { makeDirs } from '../util/make-dirs.js';
import path from 'node:path';
import type { Argv } from 'yargs';
import { VFS_OPTIONS, vfsFlagName, type VfsOptionSpec } from '../config/vfs-option-table.js';
import { formatDuration, formatSize } from '../config/units.js';
import { resolveMountOptions, type MountOptions } from '../config/mount-options.js';
import type { RawFlags } from '../config/flag-reader.js';
import { BackendError } from '../backend/s3/backend-error.js';
import { UserError, EXIT, describeError } from '../util/errors.js';
import { log } from '../util/log.js';
import { MountRoot, isSelfOrBelow } from '../vfs/paths.js';
import { Vfs } from '../vfs/vfs.js';
import { createFuseOps } from '../fuse/ops.js';
import { FuseOpStats } from '../fuse/op-stats.js';
import { MetricsEndpoint } from '../metrics/endpoint.js';
import { MountMetrics } from '../metrics/snapshot.js';
import { packageVersion } from './version.js';
import { fsnameOption } from '../fuse/mount-options.js';
import { prepareMountpoint } from '../fuse/mountpoint.js';
import { canAutoUnmount, unmountCommand } from '../fuse/fusermount.js';
import { FuseSession } from '../fuse/session.js';
import { defineCommand } from './command.js';
import type { Cli, GlobalArgs } from './context.js';
import { oneLine } from './edge.js';
import { MOUNT_HELPER_FLAG } from './mount-helper.js';
import { notifyServiceManager } from './sd-notify.js';

/** set in the environment of the detached child of --daemon */
const DAEMON_CHILD_ENV = 'BUCKETFS_DAEMON_CHILD';

type DaemonMessage = { type: 'ready'; line: string } | { type: 'error'; message: string; exitCode: number };

interface MountArgs {
  remote: string;
  mountpoint: string;
  /** hidden: run by the mount helper, for mount(8) */
  [MOUNT_HELPER_FLAG]?: boolean;
}

function describeFlag(o: VfsOptionSpec): string {
  return o.default === '' ? o.help : `${o.help} (default ${o.default})`;
}

/** Every mount flag, generated from the VFS option table. No yargs defaults: absent = table default. */
export function addVfsFlags<T>(y: Argv<T>): Argv<T> {
  for (const o of VFS_OPTIONS) {
    y = y.option(vfsFlagName(o), {
      type: o.type === 'bool' ? 'boolean' : o.type === 'int' ? 'number' : 'string',
      describe: describeFlag(o),
      group: 'Mount flags:',
      ...(o.alias ? { alias: o.alias } : {}),
      // one value per occurrence, never swallowing the positional arguments that follow
      ...(o.repeatable ? { array: true, nargs: 1 } : {}),
    }) as Argv<T>;
  }
  return y;
}

/** Parsed flags → raw values keyed by option name (what resolveMountOptions takes): the only reading of yargs' output. */
export function rawVfsValues(argv: Record<string, unknown>): RawFlags {
  const raw: Record<string, unknown> = {};
  for (const o of VFS_OPTIONS) {
    if (o.repeatable) {
      // yargs (with duplicate-arguments-array off) collects every occurrence under the alias
      // key and only the last under the long name: take whichever saw more
      const lists = [argv[vfsFlagName(o)], o.alias ? argv[o.alias] : undefined].map((v) =>
        Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)],
      );
      raw[o.name] = lists.reduce((a, b) => (b.length > a.length ? b : a));
    } else if (argv[vfsFlagName(o)] !== undefined) raw[o.name] = argv[vfsFlagName(o)];
  }
  return raw;
}

export const mountCommand = defineCommand<MountArgs>({
  command: 'mount <remote> <mountpoint>',
  describe: 'Mount the remote as file system on a mountpoint',
  builder: (y) =>
    addVfsFlags(
      y
        .positional('remote', { type: 'string', describe: 'remote:bucket[/path]', demandOption: true })
        .positional('mountpoint', { type: 'string', describe: 'an existing empty directory', demandOption: true })
        .option(MOUNT_HELPER_FLAG, { type: 'boolean', hidden: true }),
    ),
  handlesSignals: true,
  async run(cli, args) {
    const mo = resolveMountOptions(rawVfsValues(args as Record<string, unknown>), process.env, { transfers: args.transfers, checkers: args.checkers });
    const daemon = mo.daemon && !process.env[DAEMON_CHILD_ENV];
    if (daemon) return runDaemonParent(args, mo.daemonWaitMs, args[MOUNT_HELPER_FLAG] === true);
    const isChild = !!process.env[DAEMON_CHILD_ENV] && typeof process.send === 'function';
    try {
      await runMount(cli, args, mo, isChild);
    } catch (err) {
      if (isChild) await sendToParent({ type: 'error', message: oneLine(describeError(err)), exitCode: err instanceof UserError ? err.exitCode : EXIT.fatal });
      throw err;
    }
  },
});

// ---------------------------------------------------------------------------------------------

/**
 * --cache-dir must be a directory this process can write (made if missing): checked before
 * anything else is done, with one line that names the flag (not a NOTICE halfway through).
 */
async function checkCacheDir(dir: string): Promise<void> {
  try {
    await makeDirs(dir, 0o700);
    await fsp.access(dir, fsConstants.W_OK | fsConstants.X_OK);
    if (!(await fsp.stat(dir)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOTDIR' || e.code === 'EEXIST' ? 'not a directory' : e.code === 'EACCES' || e.code === 'EROFS' ? 'not writable' : e.message;
    throw new UserError(`--cache-dir ${dir}: ${why}`, EXIT.usage);
  }
}

async function runMount(cli: Cli, args: MountArgs & GlobalArgs, mo: MountOptions, isChild: boolean): Promise<void> {
  await checkCacheDir(mo.vfs.cacheDir);
  // bound before anything is done: a port in use is one line naming the flag, nothing sent or mounted
  const endpoint = await MetricsEndpoint.open(mo.metricsAddr);
  try {
    await mountAndServe(cli, args, mo, isChild, endpoint);
  } finally {
    await endpoint.close();
  }
}

async function mountAndServe(cli: Cli, args: MountArgs & GlobalArgs, mo: MountOptions, isChild: boolean, endpoint: MetricsEndpoint): Promise<void> {
  const opts = mo.vfs;
  const loc = cli.bucketLocation(args.remote, 'mount');
  const root = new MountRoot(loc.bucket, loc.path);
  const o = loc.target.options;
  const vfs = new Vfs(loc.backend, root, opts, log, {
    remote: loc.target.remote,
    // the cache of pending uploads belongs to one server: the remote's name and where it points
    remoteId: JSON.stringify([loc.target.remote, o.endpoint, o.provider, o.region]),
    upload: { partSize: o.chunk_size, uploadConcurrency: o.upload_concurrency, maxUploadParts: o.max_upload_parts },
    transfers: mo.transfers,
    filter: cli.filter,
  });
  // The mount point and the bucket are checked at once: a missing bucket or refused credentials
  // fail here, before anything is mounted, and the root's first listing page is kept.
  const [mnt] = await Promise.all([
    prepareMountpoint(args.mountpoint, { allowNonEmpty: mo.kernel.allowNonEmpty }, log),
    probeBucket(() => vfs.ns.primeRoot(), loc.bucket, args.remote),
  ]);
  // The mount process must never do file I/O on its own mount: its log writes would wait for
  // requests that only its own (blocked) event loop can answer.
  for (const [flag, p] of [
    ['--cache-dir', opts.cacheDir],
    ['--log-file', args['log-file']],
  ] as const) {
    if (p && isSelfOrBelow(path.resolve(String(p)).replace(/^\/+/, ''), mnt.replace(/^\/+/, ''))) {
      throw new UserError(`${flag} ${p} is inside the mountpoint ${mnt}: put it elsewhere`, EXIT.usage);
    }
  }
  // uploads a previous run left pending (killed, crashed): found before mounting, sent in the background
  await vfs.recover();
  const fuseStats = new FuseOpStats();
  const ops = createFuseOps(vfs, log, fuseStats);
  const { volname, ...kernel } = mo.kernel;
  const autoUnmount = canAutoUnmount();
  if (!autoUnmount) log.notice('fusermount3 is not installed: if this process is killed, the mount point stays dead until unmounted by hand');
  const fsname = fsnameOption({ ...kernel, fsname: volname || args.remote, autoUnmount });
  const session = new FuseSession(mnt, ops, fsname, mo.requestTimeoutMs, mo.kernel.maxReadAhead, log);

  await session.mount();
  const metrics = new MountMetrics({
    version: packageVersion(),
    remote: args.remote,
    mountpoint: mnt,
    vfs,
    requests: loc.backend.requestStats,
    fuse: fuseStats,
  });
  endpoint.serve(() => metrics.snapshot());
  await endpoint.listenSocket(mnt, log);
  if (endpoint.address) log.notice(`serving Prometheus metrics on http://${endpoint.address}/metrics`);
  const line =
    `bucketfs: mounted ${args.remote} on ${mnt} (${isChild ? unmountCommand(mnt) : 'Ctrl-C'} to unmount); ` +
    `file data in memory at most ${formatSize(vfs.memory.limit)} (--vfs-memory-limit)`;
  const short = vfs.memory.streamShortfall(o.chunk_size, o.upload_concurrency);
  if (short > 0) {
    const need = short + vfs.memory.streams.budget;
    log.notice(
      `a streamed upload needs ${formatSize(need)} of part buffers (chunk size × (upload concurrency + 2)) to run at full speed and uploads get half of ` +
        `--vfs-memory-limit ${formatSize(vfs.memory.limit)}: large files go up with fewer parts at once (--vfs-memory-limit ${formatSize(2 * need)} gives full speed)`,
    );
  }
  log.info(
    `mount options: dir-cache-time ${formatDuration(opts.dirCacheTimeMs)}, read chunk ${formatSize(opts.readChunkSize)}, buffer ${formatSize(opts.bufferSize)}, ` +
      `cache mode ${opts.cacheMode}, write-back ${formatDuration(opts.writeBackMs)}, upload chunk ${formatSize(o.chunk_size)} × ${o.upload_concurrency}, cache dir ${opts.cacheDir}, ` +
      `memory limit ${formatSize(vfs.memory.limit)} (upload buffers at most ${formatSize(vfs.memory.streams.budget)})`,
  );
  if (isChild) {
    log.notice(line.replace(/^bucketfs: /, ''));
    await sendToParent({ type: 'ready', line });
    process.disconnect?.();
  } else {
    process.stdout.write(line + '\n');
  }
  // a Type=notify service is ready once the mount works and a stop would be handled
  const ready = () => notifyServiceManager({ READY: '1', STATUS: `mounted ${args.remote} on ${mnt}` }, log);
  try {
    await serveUntilStopped(vfs, session, opts.cacheDir, mo.statsMs, ready);
  } finally {
    metrics.stop();
  }
}

/** One LIST before mounting: a missing bucket or bad credentials fail here, with one line. */
async function probeBucket(probe: () => Promise<void>, bucket: string, display: string): Promise<void> {
  try {
    await probe();
  } catch (err) {
    if (err instanceof BackendError) {
      switch (err.kind) {
        case 'NoSuchBucket':
        case 'NotFound':
          throw new UserError(`cannot mount ${display}: bucket "${bucket}" does not exist`, EXIT.notFound);
        case 'InvalidCredentials':
          throw new UserError(`cannot mount ${display}: the credentials were refused (${err.message})`, EXIT.fatal);
        case 'AccessDenied':
          throw new UserError(`cannot mount ${display}: access denied (${err.message})`, EXIT.fatal);
        default:
          throw new UserError(`cannot mount ${display}: ${err.message}`, EXIT.fatal);
      }
    }
    throw err;
  }
}

/** Serve until SIGINT/SIGTERM or an outside unmount (`onServing` once that is watched for); then flush, unmount and return (exit 0). */
async function serveUntilStopped(vfs: Vfs, session: FuseSession, cacheDir: string, statsMs: number, onServing: () => Promise<void>): Promise<void> {
  const statsTimer = statsMs > 0 && log.enabled('INFO') ? setInterval(() => logStats(vfs), statsMs) : undefined;

  let stopping: Promise<void> | undefined;
  /** what began the stop: a signal, or an unmount from outside */
  let stoppedBy: 'signal' | 'unmount' | undefined;
  const stop = (why: string) => {
    if (stopping) return stopping;
    stopping = (async () => {
      log.notice(`${why}: uploading pending files, then unmounting ${session.mountPoint}`);
      void notifyServiceManager({ STOPPING: '1', STATUS: 'uploading pending files, then unmounting' }, log);
      if (statsTimer) clearInterval(statsTimer);
      let failure: unknown;
      try {
        await vfs.flushAll();
      } catch (err) {
        failure = err;
      }
      await session.unmount();
      // writes that reached us between the flush and the unmount
      if (!failure) await vfs.flushAll().catch((err) => (failure = err));
      await vfs.close();
      if (failure)
        throw new UserError(
          `unmounted, but some files could not be uploaded (kept under ${cacheDir}/vfs, uploaded at the next mount): ${describeError(failure)}`,
          EXIT.fatal,
        );
      log.notice(`unmounted ${session.mountPoint}`);
    })();
    return stopping;
  };

  await new Promise<void>((resolve, reject) => {
    const finish = (why: string) => stop(why).then(resolve, reject);
    let signalsWhileStopping = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) {
        // After an outside unmount, the first signal lets the uploads go on: that is what a
        // shutdown does to the mount of an fstab entry (systemd unmounts it, then signals every
        // process left). A second signal, or one after a signal (Ctrl-C twice), ends it now.
        if (stoppedBy === 'unmount' && signalsWhileStopping++ === 0) {
          log.notice(`${sig}: still uploading pending files after the unmount (${sig} again to exit without waiting)`);
          return;
        }
        log.error(`${sig} again: exiting now, without waiting for uploads`);
        void session.unmount().finally(() => process.exit(128 + (sig === 'SIGINT' ? 2 : 15)));
        return;
      }
      stoppedBy = 'signal';
      void finish(sig === 'SIGINT' ? 'interrupted' : 'terminated');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', () => vfs.forgetCaches());
    session.watch(() => {
      stoppedBy = 'unmount';
      void finish('unmounted from outside');
    });
    void onServing();
  });
}

function logStats(vfs: Vfs): void {
  const c = vfs.stats;
  const r = vfs.reads.stats;
  const w = vfs.writes.stats?.();
  log.info(
    `stats: ${c.opens} opens, ${c.reads} reads (${formatSize(c.bytesRead)}), ${c.writes} writes (${formatSize(c.bytesWritten)}), ` +
      `${r.gets} GETs (${formatSize(r.bytesDownloaded)} downloaded), ${vfs.openHandles} open handles, ` +
      `read cache ${formatSize(vfs.reads.blocks.usedBytes)}, ${vfs.ns.dirs.size} cached directories` +
      (w
        ? `, ${w.uploads} uploads (${formatSize(w.bytesUploaded)}), ${w.pending} pending, ${w.uploading} uploading, ${w.failures} failed, stream buffers ${formatSize(w.streamMemory)}`
        : ''),
  );
}

// ---------------------------------------------------------------------------------------------
// --daemon

function sendToParent(msg: DaemonMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

/**
 * The parent of --daemon: start the mount in a child process, and return once it works (or fail
 * with its reason). For the mount helper (`helper`), the child stays in mount(8)'s process group:
 * systemd runs mount(8) in its own, the one its automount points (x-systemd.automount) let through
 * while they wait for the mount; a child in a session of its own would wait for itself. And
 * mount(8) helpers print nothing once mounted, unless -v.
 */
async function runDaemonParent(args: MountArgs & GlobalArgs, waitMs: number, helper: boolean): Promise<void> {
  const logFile = args['log-file'];
  const fd = openSync(logFile ? String(logFile) : '/dev/null', 'a');
  // the same node flags as ours (bin/bucketfs sets V8 flags the mount needs)
  // the real arguments go through the environment: the child's command line shows them with
  // their secrets as *** (hidden-args.ts)
  const argv = commandArguments();
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...(redactedArguments(argv) ?? argv)], {
    detached: !helper,
    stdio: ['ignore', fd, fd, 'ipc'],
    // (the helper is never a service's main process: its mount must not report for one)
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1', [DAEMON_ARGS_ENV]: JSON.stringify(argv), ...(helper ? { NOTIFY_SOCKET: undefined } : {}) },
  });
  closeSync(fd);
  const result = await new Promise<DaemonMessage>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      resolve({
        type: 'error',
        message: `the mount did not become ready within ${formatDuration(waitMs)}${logFile ? ` (see ${logFile})` : ''}`,
        exitCode: EXIT.fatal,
      });
    }, waitMs);
    child.once('message', (m: DaemonMessage) => {
      clearTimeout(timer);
      resolve(m);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({
        type: 'error',
        message: `the mount process exited (${signal ?? `code ${code}`}) before the mount was ready${logFile ? ` (see ${logFile})` : ''}`,
        exitCode: EXIT.fatal,
      });
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ type: 'error', message: `cannot start the mount process: ${err.message}`, exitCode: EXIT.fatal });
    });
  });
  if (result.type === 'error') throw new UserError(result.message, result.exitCode);
  if (!helper || (args.verbose ?? 0) > 0) process.stdout.write(result.line + '\n');
  child.removeAllListeners();
  if (child.connected) child.disconnect();
  child.unref();
}
