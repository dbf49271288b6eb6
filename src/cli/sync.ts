// `bucketfs sync SRC DST`, `move SRC DST` and `moveto SRC DST`: rclone's commands, on the engine
// of copy (tree.ts): one listing of each side, one comparison rule, one transfer loop.
//
// - sync makes DST identical to SRC: new and changed files are copied, files DST has and SRC
//   does not are deleted (--delete-after by default, --delete-before, --delete-during), never
//   when something failed; --max-delete N.
// - move copies, then deletes each source file (within one remote: a server-side copy and a
//   delete); --delete-empty-src-dirs. moveto moves one file to exactly DST (a directory SRC is
//   moved as by move).
import path from 'node:path';
import type { Argv } from 'yargs';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import type { Cli, GlobalArgs, Location } from './context.js';
import { addBackupFlags, parentOf, planFileBackup, type BackupArgs } from './backup.js';
import { oneFile, sourceKind } from './copy.js';
import { addCompareFlags, checkNotOverlapping, checkersOf, compareOptions, transferTree, type CompareArgs, type DeleteMode } from './tree.js';
import { endpointIn } from './transfer.js';

interface TreeArgs extends CompareArgs, BackupArgs {
  source: string;
  dest: string;
  transfers: number;
}

function positionals<T>(y: Argv<T>, dest: string): Argv<T> {
  return y
    .positional('source', { type: 'string', describe: 'local path or remote:bucket/path', demandOption: true })
    .positional('dest', { type: 'string', describe: dest, demandOption: true }) as Argv<T>;
}

function baseName(loc: Location): string {
  return loc.kind === 'local' ? path.basename(loc.path) : path.posix.basename(loc.path);
}

function deleteMode(args: { 'delete-before'?: boolean; 'delete-during'?: boolean; 'delete-after'?: boolean }): DeleteMode {
  const given = (['before', 'during', 'after'] as const).filter((m) => args[`delete-${m}`] === true);
  if (given.length > 1) throw new UserError('Only one of --delete-before, --delete-during or --delete-after can be used.', EXIT.usage);
  return given[0] ?? 'after';
}

function maxDeleteOf(v: unknown): number {
  if (v === undefined) return -1;
  const n = Number(v);
  if (typeof v !== 'number' || !Number.isInteger(n) || n < -1)
    throw new UserError(`invalid argument ${JSON.stringify(String(v))} for "--max-delete" flag: a whole number (-1: no limit)`, EXIT.usage);
  return n;
}

export const syncCommand = defineCommand<TreeArgs & { 'delete-before'?: boolean; 'delete-during'?: boolean; 'delete-after'?: boolean; 'max-delete'?: number }>({
  retry: true,
  command: 'sync <source> <dest>',
  describe: 'Make dest identical to source, changing dest only (files not in source are deleted)',
  builder: (y) =>
    addBackupFlags(addCompareFlags(positionals(y, 'local path or remote:bucket/path (a directory)')))
      .option('delete-before', { type: 'boolean', describe: 'When synchronizing, delete files on destination before transferring' })
      .option('delete-during', { type: 'boolean', describe: 'When synchronizing, delete files during transfer' })
      .option('delete-after', { type: 'boolean', describe: 'When synchronizing, delete files on destination after transferring (default)' })
      .option('max-delete', { type: 'number', describe: 'When synchronizing, limit the number of deletes (default -1: no limit)', requiresArg: true }),
  async run(cli, args) {
    const mode = deleteMode(args);
    const maxDelete = maxDeleteOf(args['max-delete']);
    await intoDirectory(cli, 'sync', args, { deleteMode: mode, maxDelete, deleteEmptySrcDirs: false });
  },
});

/**
 * sync and move of SRC into the directory DST: a directory source as a tree, a file source as
 * the one file of its directory (nothing else is deleted), a missing source refused.
 */
async function intoDirectory(
  cli: Cli,
  verb: 'sync' | 'move',
  args: TreeArgs & GlobalArgs,
  tree: { deleteMode: DeleteMode; maxDelete: number; deleteEmptySrcDirs: boolean },
): Promise<void> {
  const src = cli.location(args.source);
  const dst = cli.location(args.dest);
  checkNotOverlapping(src, dst, verb);
  const kind = await sourceKind(src);
  if (kind.kind === 'missing') throw new UserError(`Failed to ${verb}: ${args.source}: directory not found`, EXIT.notFound);
  if (kind.kind === 'file') {
    const name = baseName(src);
    const backup = planFileBackup(cli, verb, parentOf(src), dst, args);
    await oneFile(cli, verb, endpointIn(src, ''), kind.meta, endpointIn(dst, name), name, args, backup && { backup, dir: dst, rel: name });
    return;
  }
  await transferTree(cli, src, dst, {
    mode: verb,
    transfers: args.transfers,
    checkers: checkersOf(args),
    compare: compareOptions(args),
    backup: args,
    ...tree,
  });
}

type MoveArgs = TreeArgs & { 'delete-empty-src-dirs'?: boolean };

function moveBuilder(dest: string) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs' builder type, as in command.ts
  return (y: Argv<any>) =>
    addBackupFlags(addCompareFlags(positionals(y, dest))).option('delete-empty-src-dirs', { type: 'boolean', describe: 'Delete empty source dirs after move' });
}

async function moveTree(cli: Cli, src: Location, dst: Location, args: MoveArgs & GlobalArgs): Promise<void> {
  await transferTree(cli, src, dst, {
    mode: 'move',
    transfers: args.transfers,
    checkers: checkersOf(args),
    compare: compareOptions(args),
    deleteMode: 'after',
    maxDelete: -1,
    deleteEmptySrcDirs: args['delete-empty-src-dirs'] === true,
    backup: args,
  });
}

export const moveCommand = defineCommand<MoveArgs>({
  retry: true,
  command: 'move <source> <dest>',
  describe: 'Move files from source to dest (copy, then delete the source files)',
  builder: moveBuilder('local path or remote:bucket/path (a directory)'),
  async run(cli, args) {
    await intoDirectory(cli, 'move', args, { deleteMode: 'after', maxDelete: -1, deleteEmptySrcDirs: args['delete-empty-src-dirs'] === true });
  },
});

export const movetoCommand = defineCommand<MoveArgs>({
  retry: true,
  command: 'moveto <source> <dest>',
  describe: 'Move a file or directory from source to exactly dest',
  builder: moveBuilder('local path or remote:bucket/path (the new name)'),
  async run(cli, args) {
    const src = cli.location(args.source);
    const dst = cli.location(args.dest);
    checkNotOverlapping(src, dst, 'moveto');
    const kind = await sourceKind(src);
    if (kind.kind === 'missing') throw new UserError(`moveto ${args.source}: file not found`, EXIT.fileNotFound);
    if (kind.kind === 'dir') {
      await moveTree(cli, src, dst, args);
      return;
    }
    if (dst.kind === 'remote' && (dst.bucket === '' || dst.path === '')) {
      throw new UserError(`moveto ${args.dest}: the destination must be a file path (remote:bucket/path/to/file)`, EXIT.usage);
    }
    const dir = parentOf(dst);
    const backup = planFileBackup(cli, 'moveto', parentOf(src), dir, args);
    // "NAME: Copied (…) to: NEW" when the name changes, as rclone
    const rel = baseName(dst);
    await oneFile(cli, 'move', endpointIn(src, ''), kind.meta, endpointIn(dst, ''), baseName(src), args, backup && { backup, dir, rel }, rel);
  },
});
