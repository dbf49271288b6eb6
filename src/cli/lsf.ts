// `bucketfs lsf remote:path`: names for scripts, directories with a trailing slash, fields
// chosen by --format (p path, s size, t modification time, h MD5) joined by --separator.
// HEAD requests (for X-Amz-Meta-Mtime, or the MD5 of multipart uploads) are made only when the
// format asks for them.
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { etagMd5 } from '../backend/s3/metadata.js';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import { dateToNs, formatLsf, nowNs } from './format.js';
import { listLocation, mtimeOf, parentDirs, withHead, type Listed } from './listing.js';

interface LsfArgs {
  remote: string;
  format: string;
  separator: string;
  'dir-slash': boolean;
  recursive?: boolean;
  'files-only'?: boolean;
  'dirs-only'?: boolean;
  absolute?: boolean;
  csv?: boolean;
  hash: string;
  checkers?: number;
}

/**
 * A recursive listing in rclone 1.60's order (its walk over one recursive LIST): the objects in
 * key order, then every directory, the ones they imply and the markers, once each, sorted. (With
 * --max-depth rclone walks level by level with its checkers in parallel, an order that changes
 * from run to run; the same order is used here.) One level: as listed.
 */
async function* withDirs(items: AsyncIterable<Listed>, recursive: boolean): AsyncGenerator<Listed> {
  if (!recursive) return yield* items;
  const dirs = new Map<string, Listed>();
  for await (const l of items) {
    for (const d of parentDirs(l.rel)) {
      if (!dirs.has(d)) dirs.set(d, { rel: d, bucket: l.bucket, path: '', entry: { kind: 'dir', path: d, size: -1 } });
    }
    if (l.entry.kind !== 'dir') yield l;
    else if (!dirs.has(l.rel)) dirs.set(l.rel, l);
  }
  for (const d of [...dirs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) yield dirs.get(d)!;
}

export const lsfCommand = defineCommand<LsfArgs>({
  command: 'lsf <remote>',
  describe: 'List directories and objects in the path formatted for parsing',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true })
      .option('format', { alias: 'F', type: 'string', default: 'p', describe: 'Output format: p path, s size, t modification time, h hash' })
      .option('separator', { alias: 's', type: 'string', default: ';', describe: 'Separator for the items in the format' })
      .option('dir-slash', { alias: 'd', type: 'boolean', default: true, describe: 'Append a slash to directory names' })
      .option('recursive', { alias: 'R', type: 'boolean', describe: 'Recurse into the listing' })
      .option('files-only', { type: 'boolean', describe: 'Only list files' })
      .option('dirs-only', { type: 'boolean', describe: 'Only list directories' })
      .option('absolute', { type: 'boolean', describe: 'Put a leading / in front of path names' })
      .option('csv', { type: 'boolean', describe: 'Output in CSV format' })
      .option('hash', { type: 'string', default: 'MD5', describe: 'Use this hash when h is used in the format (MD5 only: S3 stores no other)' }),
  async run(cli, args) {
    const format = args.format;
    if (format === '' || /[^psth]/.test(format)) {
      throw new UserError(`invalid --format ${JSON.stringify(format)}: use the letters p (path), s (size), t (modification time), h (hash)`, EXIT.usage);
    }
    if (format.includes('h') && args.hash.toUpperCase() !== 'MD5') {
      throw new UserError(`--hash ${JSON.stringify(args.hash)} is not available on S3: only MD5 is`, EXIT.usage);
    }
    const loc = cli.remote(args.remote, 'lsf');
    const wantTime = format.includes('t');
    const wantHash = format.includes('h');
    const opts = { dirSlash: args['dir-slash'], absolute: args.absolute === true, csv: args.csv === true };
    const rows = withDirs(listLocation(loc, { recursive: args.recursive === true, signal: cli.signal }), args.recursive === true);
    // HEAD only objects whose time or MD5 the listing cannot give.
    const need = (l: Listed) => l.entry.kind === 'object' && (wantTime || (wantHash && !etagMd5(l.entry.etag)));
    const out = cli.lines();
    const now = nowNs();
    for await (const l of withHead(loc, rows, args.checkers ?? DEFAULT_CHECKERS, need)) {
      if (l.gone) continue;
      const isDir = l.entry.kind === 'dir';
      if ((isDir && args['files-only']) || (!isDir && args['dirs-only'])) continue;
      const mtimeNs = !wantTime ? undefined : isDir ? (l.entry.lastModified ? dateToNs(l.entry.lastModified) : now) : mtimeOf(l.info, l.entry);
      const md5 = isDir || !wantHash ? undefined : (etagMd5(l.entry.etag) ?? l.info?.md5 ?? undefined);
      // a directory's size is -1 for a bucket and in a recursive listing (where rclone's S3 backend makes them up from the keys), 0 in a listing of one level
      const size = isDir ? (loc.bucket === '' || args.recursive === true ? -1 : 0) : (l.info?.size ?? l.entry.size);
      await out.line(formatLsf({ path: l.rel, isDir, size, mtimeNs, md5 }, format, args.separator, opts));
    }
    await out.flush();
  },
});
