// The engine of copy, sync and move for a directory tree, in every direction (local → remote,
// remote → local, remote → remote, server-side within one remote), with rclone 1.60's rules:
//
// - Both sides are listed first (local: a walk with stat; remote: one recursive LIST). A file
//   of the source is compared with the destination's by one rule (CompareOptions in
//   transfer.ts) and copied by one loop (Transferer.copyFile), --transfers at a time.
// - sync: files of the destination that the source does not have are deleted, after the
//   transfers by default (--delete-after), or before them, or while they run; never when a
//   transfer or a listing failed ("not deleting files as there were IO errors"). Directories of
//   a local destination that the source does not have are removed when empty. --max-delete N
//   stops with a fatal error (exit 7) at the N+1st delete.
// - move: each source file is deleted once the destination has it (a server-side copy then a
//   delete within one remote); --delete-empty-src-dirs removes the source's emptied directories.
// - Every change passes the --dry-run / -i gate (Cli.confirm), with rclone's verbs: copy, move,
//   delete, remove directory. The counters make rclone's final stats block (transfer-stats.ts).
import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { BackendError } from '../backend/s3/backend-error.js';
import { etagMd5 } from '../backend/s3/metadata.js';
import { logicalNameFromBytes } from '../backend/s3/utf8.js';
import { unreachableKeyNotice } from '../backend/s3/list.js';
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { forEachLimit } from '../util/concurrency.js';
import { RunFailure, UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import type { Cli, GlobalArgs, Location, RemoteLocation } from './context.js';
import { oneLine, exitCodeOf } from './edge.js';
import { dateToNs } from './format.js';
import { listLocation, parentDirs } from './listing.js';
import type { Filter } from './filter.js';
import { planBackup, moveToBackup, type BackupArgs } from './backup.js';
import { Progress } from './progress.js';
import { fsPath, localRelPath, nameFromBytes } from './raw-names.js';
import { TransferStats } from './transfer-stats.js';
import {
  CorruptedTransferError,
  Transferer,
  endpointIn,
  localError,
  statEndpoint,
  statLocal,
  type CompareOptions,
  type Endpoint,
  type FileMeta,
} from './transfer.js';

/** A file of one side: its path relative to the root, and what the listing told. */
export interface TreeFile {
  rel: string;
  size: number;
  /** local files: the stat result */
  meta?: FileMeta;
  /** remote objects: the listing's LastModified and ETag */
  lastModified?: Date;
  etag?: string;
}

/** The files of one side, and its directories (local: every one; remote: those with a `dir/` marker). */
export interface Tree {
  files: TreeFile[];
  dirs: string[];
  /** remote: the directories that are `dir/` marker objects */
  markers: Set<string>;
}

export type TreeMode = 'copy' | 'sync' | 'move';
export type DeleteMode = 'before' | 'during' | 'after';

export interface TreeOptions {
  mode: TreeMode;
  transfers: number;
  checkers: number;
  compare: CompareOptions;
  deleteMode: DeleteMode;
  /** -1: no limit */
  maxDelete: number;
  deleteEmptySrcDirs: boolean;
  /** --backup-dir, --suffix, --suffix-keep-extension (backup.ts) */
  backup?: BackupArgs;
}

/** The comparison flags of copy, copyto, sync, move and moveto (rclone's names). */
export interface CompareArgs {
  'size-only'?: boolean;
  checksum?: boolean;
  update?: boolean;
  'ignore-existing'?: boolean;
  'use-server-modtime'?: boolean;
  'ignore-checksum'?: boolean;
}

export function addCompareFlags<T>(y: Argv<T>): Argv<T & CompareArgs> {
  return y
    .option('size-only', { type: 'boolean', describe: 'Skip based on size only, not modification time or checksum' })
    .option('checksum', { alias: 'c', type: 'boolean', describe: 'Skip based on checksum (MD5) and size, not modification time' })
    .option('update', { alias: 'u', type: 'boolean', describe: 'Skip files that are newer on the destination' })
    .option('ignore-existing', { type: 'boolean', describe: 'Skip all files that exist on destination' })
    .option('use-server-modtime', {
      type: 'boolean',
      describe:
        "Use the server's LastModified as an object's modification time (no HEAD per object; with --update: skip files uploaded after the source's time)",
    })
    .option('ignore-checksum', {
      type: 'boolean',
      describe: 'Skip post copy check of checksums (downloads are checked against the MD5 the object has)',
    }) as Argv<T & CompareArgs>;
}

export function compareOptions(args: CompareArgs): CompareOptions {
  return {
    sizeOnly: args['size-only'] === true,
    checksum: args.checksum === true,
    update: args.update === true,
    ignoreExisting: args['ignore-existing'] === true,
    useServerModtime: args['use-server-modtime'] === true,
    ignoreChecksum: args['ignore-checksum'] === true,
  };
}

/** --checkers, or its default */
export function checkersOf(args: GlobalArgs): number {
  return typeof args.checkers === 'number' ? args.checkers : DEFAULT_CHECKERS;
}

/**
 * Regular files and directories under a local directory, recursively, paths relative to it
 * ('/'-separated), sorted. Names are read as bytes: one that is not valid UTF-8 is kept exactly
 * (raw-names.ts), as rclone does. `missingOk`: a directory that does not exist is empty.
 */
export async function walkLocal(root: string, missingOk = false, filter?: Filter): Promise<Tree> {
  const tree: Tree = { files: [], dirs: [], markers: new Set() };
  // the filter flags: an excluded directory is not entered
  const f = filter?.active ? filter : undefined;
  const dirOk = new Map<string, boolean>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    // name: the logical name (rclone's standard name); file: the local name (escaped bytes kept)
    let entries: Array<{ name: string; file: string; isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }>;
    try {
      const raw = (await fsp.readdir(fsPath(dir), { withFileTypes: true, encoding: 'buffer' })) as unknown as Array<Dirent & { name: Buffer }>;
      entries = raw.map((e) => ({
        name: nameFromBytes(e.name),
        file: logicalNameFromBytes(e.name),
        isDirectory: () => e.isDirectory(),
        isFile: () => e.isFile(),
        isSymbolicLink: () => e.isSymbolicLink(),
      }));
    } catch (err) {
      if (rel === '' && missingOk && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw localError('read directory', dir, err);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const full = path.join(dir, e.file);
      if (e.isDirectory()) {
        if (f && !f.reachable(r, true, dirOk)) continue;
        tree.dirs.push(r);
        await walk(full, r);
      } else if (e.isFile()) {
        if (f && !f.reachable(r, false, dirOk)) continue;
        const meta = await statLocal(full);
        if (meta && f && !f.includeFile(r, meta.size, Number(meta.mtimeNs / 1_000_000n))) continue;
        if (meta) tree.files.push({ rel: r, meta, size: meta.size });
        else log.notice(`${r}: vanished during the listing: skipped`);
      } else if (f && !f.reachable(r, false, dirOk)) continue;
      else if (e.isSymbolicLink()) log.notice(`${r}: Can't follow symlink without -L/--copy-links: skipped`);
      else log.notice(`${r}: not a regular file: skipped`);
    }
  };
  await walk(root, '');
  return tree;
}

/**
 * Objects (and `dir/` markers) under a remote location, recursively. A key whose name under this
 * encoding is another key's (unreachableKey) is left out with a NOTICE, as objectsToActOn does.
 * `missingOk`: a bucket that does not exist is empty (a destination, created by the first upload).
 */
export async function listRemoteTree(loc: RemoteLocation, signal: AbortSignal, missingOk = false): Promise<Tree> {
  const tree: Tree = { files: [], dirs: [], markers: new Set() };
  try {
    for await (const l of listLocation(loc, { recursive: true, signal })) {
      if (l.entry.unreachableKey !== undefined) {
        if (l.entry.kind === 'object') log.notice(unreachableKeyNotice(l.bucket, l.entry.unreachableKey));
        continue;
      }
      if (l.entry.kind === 'dir') {
        tree.dirs.push(l.rel);
        if (l.entry.marker) tree.markers.add(l.rel);
      } else tree.files.push({ rel: l.rel, size: l.entry.size, lastModified: l.entry.lastModified, etag: l.entry.etag });
    }
  } catch (err) {
    if (missingOk && err instanceof BackendError && err.kind === 'NoSuchBucket') return tree;
    throw err;
  }
  return tree;
}

/** Whether anything at all is under a remote location, filters aside (an empty filtered listing is no missing directory). */
async function hasAnything(loc: RemoteLocation, signal: AbortSignal): Promise<boolean> {
  if (!loc.filter?.active) return false;
  for await (const l of listLocation(loc, { recursive: true, signal, all: true })) if (l) return true;
  return false;
}

/** rclone's name of a side in its messages: `S3 bucket B path P`, `Local file system at /abs`. */
export function fsName(loc: Location): string {
  if (loc.kind === 'local') return `Local file system at ${path.resolve(loc.path)}`;
  if (loc.bucket === '') return 'S3 root';
  return loc.path === '' ? `S3 bucket ${loc.bucket}` : `S3 bucket ${loc.bucket} path ${loc.path}`;
}

/** sync and move refuse a destination inside the source or the other way round, as rclone does. */
export function checkNotOverlapping(src: Location, dst: Location, verb: string): void {
  let a: string;
  let b: string;
  if (src.kind === 'local' && dst.kind === 'local') {
    a = path.resolve(src.path);
    b = path.resolve(dst.path);
  } else if (src.kind === 'remote' && dst.kind === 'remote' && src.backendKey === dst.backendKey && src.bucket === dst.bucket) {
    a = `/${src.path}`;
    b = `/${dst.path}`;
  } else return;
  const inside = (x: string, y: string) => x === y || x.startsWith(y.endsWith('/') ? y : `${y}/`);
  if (inside(a, b) || inside(b, a)) throw new UserError(`${verb} ${src.display} ${dst.display}: can't sync or move files on overlapping remotes`, EXIT.usage);
}

/** What a listing of a remote destination tells about a file, when that is enough to decide. */
function listedMeta(f: TreeFile, src: FileMeta, cmp: CompareOptions): FileMeta | undefined {
  if (cmp.useServerModtime) return serverMeta(f);
  const md5 = etagMd5(f.etag ?? '') ?? undefined;
  const meta: FileMeta = { size: f.size, mtimeNs: f.lastModified ? dateToNs(f.lastModified) : 0n, precisionNs: 1_000_000_000n, md5 };
  if (cmp.ignoreExisting || cmp.sizeOnly) return meta;
  if (cmp.update) return undefined; // needs the real modification time (X-Amz-Meta-Mtime): a HEAD
  if (f.size !== src.size) return meta; // the size settles it
  if (cmp.checksum && md5) return meta;
  return undefined;
}

/**
 * --use-server-modtime: an object as its listing shows it, its LastModified for its modification
 * time (as rclone's S3 backend then reads ModTime; the precision of the comparison is rclone's
 * S3 precision, 1 ns). Nothing more is asked of the server.
 */
function serverMeta(f: TreeFile): FileMeta {
  const md5 = etagMd5(f.etag ?? '') ?? undefined;
  return { size: f.size, mtimeNs: f.lastModified ? dateToNs(f.lastModified) : 0n, precisionNs: 1n, md5 };
}

/** The exit code of a sync or move that had failed transfers, as rclone sets it. */
function failureExitCode(err: unknown): number {
  if (err instanceof BackendError) {
    if (err.kind === 'Network' || err.kind === 'Throttled' || err.kind === 'Server') return EXIT.retryable;
    if (err.kind === 'NoSuchBucket') return EXIT.notFound;
    return 1;
  }
  return exitCodeOf(err);
}

const errText = (err: unknown) => oneLine(err instanceof Error ? err.message : String(err));

/**
 * Copy, sync or move the tree under `src` into `dst`. Per-file errors are logged and counted;
 * the run then fails at the end with one error (copy: as copy always did; sync and move:
 * rclone's "Failed to sync: …").
 */
export async function transferTree(cli: Cli, src: Location, dst: Location, opts: TreeOptions): Promise<TransferStats> {
  if (dst.kind === 'remote' && dst.bucket === '') throw new UserError(`${dst.display}: the destination needs a bucket (remote:bucket/path)`, EXIT.usage);
  const verb = opts.mode;
  const backup = opts.backup ? planBackup(cli, verb, src, dst, opts.backup) : undefined;
  const source = src.kind === 'local' ? await walkLocal(src.path, false, src.filter) : await listRemoteTree(src, cli.signal);
  // Bucket-based listings cannot tell an empty directory from a mistyped one: say so rather than
  // copy nothing (or, for sync, delete everything at the destination).
  if (src.kind === 'remote' && source.files.length === 0 && source.dirs.length === 0 && src.path !== '' && !(await hasAnything(src, cli.signal))) {
    throw new UserError(`${src.display}: directory not found`, EXIT.notFound);
  }
  const target = dst.kind === 'local' ? await walkLocal(dst.path, true, dst.filter) : await listRemoteTree(dst, cli.signal, true);
  const dstFiles = new Map(target.files.map((f) => [f.rel, f]));
  const srcNames = new Set(source.files.map((f) => f.rel));

  const stats = cli.statsForRun();
  const progress = new Progress(cli.progress);
  const t = new Transferer(cli, progress);
  let lastError: unknown;
  let firstError: unknown;
  const failed = (rel: string, what: string, err: unknown) => {
    if (cli.signal.aborted) throw err;
    stats.errors++;
    firstError ??= err;
    lastError = err;
    // a corrupted download is said as rclone says it, without "Failed to copy"
    log.error(err instanceof CorruptedTransferError ? `${rel}: ${errText(err)}` : `${rel}: Failed to ${what}: ${errText(err)}`);
  };

  const transferOne = async (f: TreeFile) => {
    if (cli.signal.aborted) throw cli.signal.reason;
    const s = endpointIn(src, f.rel);
    const d = endpointIn(dst, f.rel);
    try {
      const srcMeta = f.meta ?? (src.kind === 'remote' && opts.compare.useServerModtime ? serverMeta(f) : await statEndpoint(s));
      if (!srcMeta) {
        log.notice(`${f.rel}: vanished from the source during the ${verb}: skipped`);
        return;
      }
      const listed = dstFiles.get(f.rel);
      let dstMeta: FileMeta | null | undefined = null;
      if (listed) dstMeta = listed.meta ?? (dst.kind === 'remote' ? listedMeta(listed, srcMeta, opts.compare) : undefined);
      if (listed || opts.mode === 'move') stats.checks++;
      const outcome = await t.copyFile(s, srcMeta, d, dstMeta, {
        label: f.rel,
        action: opts.mode === 'move' ? 'move' : 'copy',
        compare: opts.compare,
        // --backup-dir / --suffix: the file about to be replaced is moved away first
        beforeReplace: backup && listed ? () => moveToBackup(cli, t, backup, dst, listed, stats) : undefined,
      });
      if (outcome === 'copied' || (outcome === 'dry-run' && cli.dryRun && opts.mode !== 'move')) {
        stats.transfers++;
        stats.bytes += srcMeta.size;
      }
      if (opts.mode !== 'move') return;
      if (outcome === 'dry-run') {
        if (cli.dryRun) {
          stats.renames++;
          stats.bytes += srcMeta.size;
        }
        return;
      }
      // The destination has it (copied now, or already): the source goes.
      if (outcome !== 'copied' && !(await cli.confirm('delete', f.rel, `size ${srcMeta.size}`))) return;
      await deleteFile(s);
      stats.checks++;
      stats.deletes++;
      if (outcome === 'copied') stats.renames++;
      log.info(`${f.rel}: Deleted`);
    } catch (err) {
      failed(f.rel, verb === 'move' ? 'move' : 'copy', err);
    }
  };

  // sync: what the destination has and the source does not
  const extra = opts.mode === 'sync' ? target.files.filter((f) => !srcNames.has(f.rel)) : [];
  let deleteAttempts = 0;
  let maxDeleteHit = false;
  const deleteExtra = async (f: TreeFile) => {
    if (cli.signal.aborted) throw cli.signal.reason;
    if (maxDeleteHit) return;
    stats.checks++;
    // rclone counts the delete, then compares the count with --max-delete
    if (!cli.dryRun && opts.maxDelete >= 0 && ++deleteAttempts > opts.maxDelete) {
      stats.deletes++;
      maxDeleteHit = true;
      return;
    }
    // with a backup, rclone's DeleteFileWithBackupDir: "move into backup dir" instead of "delete"
    if (!(await cli.confirm(backup ? 'move into backup dir' : 'delete', f.rel, `size ${f.size}`))) {
      if (cli.dryRun) stats.deletes++;
      return;
    }
    try {
      if (backup) await moveToBackup(cli, t, backup, dst, f, stats);
      else await deleteFile(endpointIn(dst, f.rel));
      stats.deletes++;
      log.info(`${f.rel}: ${backup ? 'Moved into backup dir' : 'Deleted'}`);
    } catch (err) {
      failed(f.rel, backup ? 'move into backup dir' : 'delete', err);
    }
  };
  const deleteAll = async () => {
    await forEachLimit(extra, opts.checkers, deleteExtra);
    if (maxDeleteHit) {
      stats.errors += 1;
      stats.fatal = true;
      lastError = new UserError('--max-delete threshold reached', EXIT.fatal);
      log.error('Got fatal error on delete: --max-delete threshold reached');
    }
  };

  try {
    if (opts.mode === 'sync' && opts.deleteMode === 'before') await deleteAll();
    if (!maxDeleteHit) {
      if (opts.mode === 'sync' && opts.deleteMode === 'during') await Promise.all([forEachLimit(source.files, opts.transfers, transferOne), deleteAll()]);
      else await forEachLimit(source.files, opts.transfers, transferOne);
    }
    if (opts.mode === 'sync' && opts.deleteMode === 'after') {
      if (stats.errors > 0) log.error(`${fsName(dst)}: not deleting files as there were IO errors`);
      else await deleteAll();
    }
    if (opts.mode === 'sync') {
      if (stats.errors > 0) log.error(`${fsName(dst)}: not deleting directories as there were IO errors`);
      else if (dst.kind === 'local') {
        const keep = new Set([...source.dirs, ...source.files.flatMap((f) => parentDirs(f.rel))]);
        await removeDirs(
          cli,
          dst,
          target.dirs.filter((d) => !keep.has(d)),
          stats,
        );
      }
    }
    if (opts.mode === 'move' && opts.deleteEmptySrcDirs) {
      if (stats.errors > 0) log.error(`${fsName(src)}: not deleting directories as there were IO errors`);
      else {
        const dirs = new Set([...source.dirs, ...source.files.flatMap((f) => parentDirs(f.rel))]);
        await removeDirs(cli, src, [...dirs], stats, src.kind === 'remote' ? source.markers : undefined);
      }
    }
  } finally {
    progress.stop();
  }
  if (stats.transfers === 0 && stats.renames === 0) log.info('There was nothing to transfer');
  cli.logStats(stats);

  if (stats.errors === 0) return stats;
  // copy, sync and move end alike, as in rclone (one code path there)
  const code = stats.fatal ? EXIT.fatal : failureExitCode(lastError);
  const what =
    stats.errors === 1 ? `Failed to ${verb}: ${errText(lastError)}` : `Failed to ${verb} with ${stats.errors} errors: last error was: ${errText(lastError)}`;
  throw new RunFailure(what, code, stats.errors, errText(lastError), stats.fatal);
}

/** Delete one file (a local unlink, or an object). */
export async function deleteFile(e: Endpoint): Promise<void> {
  if (e.kind === 'local') {
    await fsp.unlink(fsPath(e.file)).catch((err) => {
      throw localError('delete', e.file, err);
    });
    return;
  }
  await e.loc.backend.delete(e.bucket, [e.path]);
}

/**
 * Remove directories, deepest first, each when empty (a local rmdir; a remote directory is gone
 * with its last object, and its `dir/` marker, if any, is deleted). A non-empty one stays, quietly.
 */
async function removeDirs(cli: Cli, loc: Location, dirs: string[], stats: TransferStats, markers?: Set<string>): Promise<void> {
  const order = [...dirs].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? 1 : a > b ? -1 : 0));
  for (const d of order) {
    if (!(await cli.confirm('remove directory', d))) {
      if (cli.dryRun) stats.deletedDirs++;
      continue;
    }
    try {
      if (loc.kind === 'local') await fsp.rmdir(fsPath(path.join(loc.path, localRelPath(d))));
      else if (markers?.has(d)) await loc.backend.delete(loc.bucket, [`${[loc.path, d].filter((s) => s !== '').join('/')}/`]);
      stats.deletedDirs++;
      log.info(`${d}: Removing directory`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') log.debug(`${d}: not removed: ${code}`);
      else log.error(`${d}: Failed to rmdir: ${errText(err)}`);
    }
  }
}

/** Run a whole tree through the engine with copy's defaults (no deletes). */
export function copyOptions(transfers: number, checkers: number, compare: CompareOptions = {}, backup?: BackupArgs): TreeOptions {
  return { mode: 'copy', transfers, checkers, compare, deleteMode: 'after', maxDelete: -1, deleteEmptySrcDirs: false, backup };
}
