// `bucketfs copy SRC DST`: copy the files under SRC into the directory DST, skipping those the
// destination already has (same size and modification time), local↔remote in both directions
// and remote→remote (server-side on the same remote). SRC may also be a single file, which is
// copied into DST under its own name. Nothing is deleted at the destination.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import type { Cli, Location } from './context.js';
import { Progress } from './progress.js';
import { fsPath } from './raw-names.js';
import { log } from '../util/log.js';
import { addBackupFlags, moveToBackup, parentOf, planFileBackup, type Backup, type BackupArgs, type FileBackup } from './backup.js';
import { addCompareFlags, checkersOf, compareOptions, copyOptions, deleteFile, transferTree, type CompareArgs } from './tree.js';
import {
  Transferer,
  endpointIn,
  localError,
  metaFromInfo,
  statLocal,
  type CompareOptions,
  type CopyFileOptions,
  type Endpoint,
  type FileMeta,
  type Outcome,
} from './transfer.js';

type SourceKind = { kind: 'file'; meta: FileMeta } | { kind: 'dir' } | { kind: 'missing' };

/** Is the source a single file or a directory? */
export async function sourceKind(loc: Location): Promise<SourceKind> {
  if (loc.kind === 'local') {
    try {
      const st = await fsp.stat(fsPath(loc.path));
      if (st.isDirectory()) return { kind: 'dir' };
      const meta = await statLocal(loc.path);
      return meta ? { kind: 'file', meta } : { kind: 'missing' };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
      throw localError('stat', loc.path, err);
    }
  }
  if (loc.bucket === '') throw new UserError(`${loc.display}: copying whole remotes (every bucket) is not supported: name a bucket`, EXIT.usage);
  if (loc.path === '') return { kind: 'dir' };
  const info = await loc.backend.head(loc.bucket, loc.path);
  return info ? { kind: 'file', meta: metaFromInfo(info) } : { kind: 'dir' };
}

/** Copy the tree under `src` into `dst` (the engine in tree.ts, nothing deleted). */
export async function copyTree(
  cli: Cli,
  src: Location,
  dst: Location,
  transfers: number,
  checkers = DEFAULT_CHECKERS,
  compare: CompareOptions = {},
  backup?: BackupArgs,
): Promise<void> {
  await transferTree(cli, src, dst, copyOptions(transfers, checkers, compare, backup));
}

/**
 * Copy one file to an exact destination path (copyto, and copy of a single file); with `backup`
 * (--backup-dir, --suffix), a destination about to be replaced is moved away first.
 */
export async function copyOne(cli: Cli, src: Endpoint, srcMeta: FileMeta, dst: Endpoint, opts: CopyFileOptions = {}, backup?: FileBackup): Promise<Outcome> {
  const progress = new Progress(cli.progress);
  try {
    const t = new Transferer(cli, progress);
    const beforeReplace = backup
      ? (meta: FileMeta) => moveToBackup(cli, t, backup.backup, backup.dir, { rel: backup.rel, size: meta.size, meta }, backup.stats)
      : undefined;
    return await t.copyFile(src, srcMeta, dst, undefined, { ...opts, beforeReplace });
  } finally {
    progress.stop();
  }
}

/**
 * One file: copied to `dst` (unless it has it), then, for a move, deleted at the source. The
 * stats block and rclone's failure message as for a tree. `verb` 'sync' is a copy (copy,
 * copyto, sync); with `backup`, a destination about to be replaced is moved away first.
 */
export async function oneFile(
  cli: Cli,
  verb: 'sync' | 'move',
  src: Endpoint,
  meta: FileMeta,
  dst: Endpoint,
  label: string,
  args: CompareArgs,
  backup?: { backup: Backup; dir: Location; rel: string },
  to?: string,
): Promise<void> {
  const stats = cli.statsForRun();
  try {
    const outcome = await copyOne(
      cli,
      src,
      meta,
      dst,
      { label, action: verb === 'move' ? 'move' : 'copy', compare: compareOptions(args), to },
      backup && { ...backup, stats },
    );
    // rclone counts a check for a copy only when nothing is transferred; a move always has one
    if (verb === 'move' || outcome !== 'copied') stats.checks++;
    if (outcome === 'copied' || (outcome === 'dry-run' && cli.dryRun)) {
      if (verb === 'move') stats.renames++;
      if (verb !== 'move' || outcome === 'copied') stats.transfers++;
      stats.bytes += meta.size;
    }
    if (verb === 'move' && outcome !== 'dry-run') {
      if (outcome === 'copied' || (await cli.confirm('delete', label, `size ${meta.size}`))) {
        await deleteFile(src);
        stats.checks++;
        stats.deletes++;
        log.info(`${label}: Deleted`);
      }
    }
  } catch (err) {
    stats.errors++;
    cli.logStats(stats);
    throw err;
  }
  cli.logStats(stats);
}

export const copyCommand = defineCommand<{ source: string; dest: string; transfers: number } & CompareArgs & BackupArgs>({
  retry: true,
  command: 'copy <source> <dest>',
  describe: 'Copy files from source to dest, skipping identical files',
  builder: (y) =>
    addBackupFlags(
      addCompareFlags(
        y
          .positional('source', { type: 'string', describe: 'local path or remote:bucket/path', demandOption: true })
          .positional('dest', { type: 'string', describe: 'local path or remote:bucket/path (a directory)', demandOption: true }),
      ),
    ),
  async run(cli, args) {
    const src = cli.location(args.source);
    const dst = cli.location(args.dest);
    const kind = await sourceKind(src);
    if (kind.kind === 'missing') throw new UserError(`copy ${args.source}: directory not found`, EXIT.notFound);
    if (kind.kind === 'file') {
      const name = src.kind === 'local' ? path.basename(src.path) : path.posix.basename(src.path);
      const backup = planFileBackup(cli, 'copy', parentOf(src), dst, args);
      // with a backup, as rclone: its log lines and stats block (oneFile)
      if (backup) await oneFile(cli, 'sync', endpointIn(src, ''), kind.meta, endpointIn(dst, name), name, args, { backup, dir: dst, rel: name });
      else await copyOne(cli, endpointIn(src, ''), kind.meta, endpointIn(dst, name), { compare: compareOptions(args) });
      return;
    }
    await copyTree(cli, src, dst, args.transfers, checkersOf(args), compareOptions(args), args);
  },
});
