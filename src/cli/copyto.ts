// `bucketfs copyto SRC DST`: copy one file to exactly the path DST (copy would put it inside DST),
// skipping it when DST already has the same size and modification time. A directory SRC is
// copied like `copy`.
import path from 'node:path';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import { copyOne, copyTree, oneFile, sourceKind } from './copy.js';
import type { Location } from './context.js';
import { addBackupFlags, parentOf, planFileBackup, type BackupArgs } from './backup.js';
import { addCompareFlags, checkersOf, compareOptions, type CompareArgs } from './tree.js';
import { endpointIn } from './transfer.js';

const baseOf = (loc: Location): string => (loc.kind === 'local' ? path.basename(loc.path) : path.posix.basename(loc.path));

export const copytoCommand = defineCommand<{ source: string; dest: string; transfers: number } & CompareArgs & BackupArgs>({
  retry: true,
  command: 'copyto <source> <dest>',
  describe: 'Copy a file from source to dest, skipping it if identical',
  builder: (y) =>
    addBackupFlags(
      addCompareFlags(
        y
          .positional('source', { type: 'string', describe: 'local path or remote:bucket/path', demandOption: true })
          .positional('dest', { type: 'string', describe: 'local path or remote:bucket/path (the new name)', demandOption: true }),
      ),
    ),
  async run(cli, args) {
    const src = cli.location(args.source);
    const dst = cli.location(args.dest);
    const kind = await sourceKind(src);
    if (kind.kind === 'missing') throw new UserError(`copyto ${args.source}: file not found`, EXIT.fileNotFound);
    if (kind.kind === 'dir') {
      await copyTree(cli, src, dst, args.transfers, checkersOf(args), compareOptions(args), args);
      return;
    }
    if (dst.kind === 'remote' && (dst.bucket === '' || dst.path === '')) {
      throw new UserError(`copyto ${args.dest}: the destination must be a file path (remote:bucket/path/to/file)`, EXIT.usage);
    }
    const dir = parentOf(dst);
    const backup = planFileBackup(cli, 'copyto', parentOf(src), dir, args);
    const rel = baseOf(dst);
    // with a backup, as rclone: "NAME: Copied (…) to: NEW", its stats block (oneFile)
    if (backup) await oneFile(cli, 'sync', endpointIn(src, ''), kind.meta, endpointIn(dst, ''), baseOf(src), args, { backup, dir, rel }, rel);
    else await copyOne(cli, endpointIn(src, ''), kind.meta, endpointIn(dst, ''), { compare: compareOptions(args) });
  },
});
