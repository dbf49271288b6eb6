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
import { addCompareFlags, checkersOf, compareOptions, copyOptions, transferTree, type CompareArgs } from './tree.js';
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
): Promise<void> {
  await transferTree(cli, src, dst, copyOptions(transfers, checkers, compare));
}

/** Copy one file to an exact destination path (copyto, and copy of a single file). */
export async function copyOne(cli: Cli, src: Endpoint, srcMeta: FileMeta, dst: Endpoint, opts: CopyFileOptions = {}): Promise<Outcome> {
  const progress = new Progress(cli.progress);
  try {
    return await new Transferer(cli, progress).copyFile(src, srcMeta, dst, undefined, opts);
  } finally {
    progress.stop();
  }
}

export const copyCommand = defineCommand<{ source: string; dest: string; transfers: number } & CompareArgs>({
  retry: true,
  command: 'copy <source> <dest>',
  describe: 'Copy files from source to dest, skipping identical files',
  builder: (y) =>
    addCompareFlags(
      y
        .positional('source', { type: 'string', describe: 'local path or remote:bucket/path', demandOption: true })
        .positional('dest', { type: 'string', describe: 'local path or remote:bucket/path (a directory)', demandOption: true }),
    ),
  async run(cli, args) {
    const src = cli.location(args.source);
    const dst = cli.location(args.dest);
    const kind = await sourceKind(src);
    if (kind.kind === 'missing') throw new UserError(`copy ${args.source}: directory not found`, EXIT.notFound);
    if (kind.kind === 'file') {
      const name = src.kind === 'local' ? path.basename(src.path) : path.posix.basename(src.path);
      await copyOne(cli, endpointIn(src, ''), kind.meta, endpointIn(dst, name), { compare: compareOptions(args) });
      return;
    }
    await copyTree(cli, src, dst, args.transfers, checkersOf(args), compareOptions(args));
  },
});
