// `bucketfs tree remote:path`: rclone's tree command (the text is made by tree-print.ts). One
// recursive listing of the location (rclone without --fast-list lists each directory), the
// filter flags applied; -D and -t need each object's X-Amz-Meta-Mtime: a HEAD per object,
// --checkers at a time, as rclone reads it.
import { writeFile } from 'node:fs/promises';
import { UserError, EXIT } from '../util/errors.js';
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { defineCommand } from './command.js';
import type { ObjectInfo } from '../backend/s3/types.js';
import { listLocation, mtimeOf, withHead, type Listed } from './listing.js';
import { renderTree, type TreeEntry, type TreeFlags } from './tree-print.js';

interface TreeArgs {
  remote: string;
  'dirs-only'?: boolean;
  size?: boolean;
  modtime?: boolean;
  protections?: boolean;
  quote?: boolean;
  color?: boolean;
  all?: boolean;
  'full-path'?: boolean;
  noindent?: boolean;
  noreport?: boolean;
  level?: number;
  sort?: string;
  'sort-modtime'?: boolean;
  'sort-reverse'?: boolean;
  unsorted?: boolean;
  dirsfirst?: boolean;
  output?: string;
  checkers?: number;
}

function flagsOf(a: TreeArgs): TreeFlags {
  const level = a.level ?? 0;
  if (!Number.isInteger(level) || level < 0)
    throw new UserError(`invalid argument ${JSON.stringify(String(a.level))} for "--level" flag: a whole number`, EXIT.usage);
  let sort: TreeFlags['sort'] = 'name';
  if (a.sort !== undefined) {
    const s = { name: 'name', size: 'size', mtime: 'mtime' }[a.sort];
    if (!s) throw new UserError(`tree --sort ${JSON.stringify(a.sort)}: bucketfs sorts by name, size or mtime (not version, ctime)`, EXIT.usage);
    sort = s as TreeFlags['sort'];
  }
  if (a['sort-modtime']) sort = 'mtime';
  if (a.unsorted) sort = 'none';
  return {
    dirsOnly: a['dirs-only'] === true,
    size: a.size === true,
    modTime: a.modtime === true,
    protections: a.protections === true,
    quote: a.quote === true,
    color: a.color === true,
    all: a.all === true,
    fullPath: a['full-path'] === true,
    noIndent: a.noindent === true,
    noReport: a.noreport === true,
    level,
    sort,
    dirsFirst: a.dirsfirst === true,
    reverse: a['sort-reverse'] === true,
  };
}

export const treeCommand = defineCommand<TreeArgs>({
  command: 'tree <remote>',
  describe: 'List the contents of the remote in a tree like fashion',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:[bucket[/path]]', demandOption: true })
      .option('all', { alias: 'a', type: 'boolean', describe: 'All files are listed (list . files too)' })
      .option('color', { alias: 'C', type: 'boolean', describe: 'Turn colorization on always' })
      .option('dirs-only', { alias: 'd', type: 'boolean', describe: 'List directories only' })
      .option('dirsfirst', { type: 'boolean', describe: 'List directories before files (-U disables)' })
      .option('full-path', { type: 'boolean', describe: 'Print the full path prefix for each file' })
      .option('level', { type: 'number', describe: 'Descend only level directories deep', requiresArg: true })
      .option('modtime', { alias: 'D', type: 'boolean', describe: 'Print the date of last modification.' })
      .option('noindent', { type: 'boolean', describe: "Don't print indentation lines" })
      .option('noreport', { type: 'boolean', describe: 'Turn off file/directory count at end of tree listing' })
      .option('output', { alias: 'o', type: 'string', describe: 'Output to file instead of stdout', requiresArg: true })
      .option('protections', { alias: 'p', type: 'boolean', describe: 'Print the protections for each file.' })
      .option('quote', { alias: 'Q', type: 'boolean', describe: 'Quote filenames with double quotes.' })
      .option('size', { alias: 's', type: 'boolean', describe: 'Print the size in bytes of each file.' })
      .option('sort', { type: 'string', describe: 'Select sort: name,size,mtime', requiresArg: true })
      .option('sort-modtime', { alias: 't', type: 'boolean', describe: 'Sort files by last modification time' })
      .option('sort-reverse', { alias: 'r', type: 'boolean', describe: 'Reverse the order of the sort' })
      .option('unsorted', { alias: 'U', type: 'boolean', describe: 'Leave files unsorted' }),
  async run(cli, args) {
    const flags = flagsOf(args);
    const loc = cli.remote(args.remote, 'tree');
    const entries: TreeEntry[] = [];
    // `remote:`: every bucket is a directory, empty ones too
    if (loc.bucket === '') for (const b of await loc.backend.listBuckets()) entries.push({ rel: b.name, dir: true, size: 0 });
    const needTime = flags.modTime || flags.sort === 'mtime';
    const listed = listLocation(loc, { recursive: true, signal: cli.signal });
    const items = needTime ? withHead(loc, listed, args.checkers ?? DEFAULT_CHECKERS) : listed;
    for await (const l of items as AsyncIterable<Listed & { info?: ObjectInfo; gone?: boolean }>) {
      const info = l.info;
      if (l.gone) continue;
      const dir = l.entry.kind === 'dir';
      entries.push({ rel: l.rel, dir, size: dir ? 0 : (info?.size ?? l.entry.size), ...(needTime && !dir ? { mtimeNs: mtimeOf(info, l.entry) } : {}) });
    }
    const text = renderTree(entries, flags);
    if (args.output !== undefined) await writeFile(args.output, text);
    else await cli.write(text);
  },
});
