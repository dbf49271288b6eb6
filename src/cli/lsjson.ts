// `bucketfs lsjson remote:path`: the listing as rclone 1.60 prints it, one JSON object per line
// between `[` and `]`, with rclone's fields in its order (Path, Name, Size, MimeType, ModTime,
// IsDir, Hashes, Tier, IsBucket, Metadata).
//
// rclone's S3 backend shapes what is printed: a one-level listing gives the common prefixes as
// directories (size 0, modified now); a recursive one (-R) gives the objects in key order, then
// the directories they imply, sorted, size -1, all modified at the same moment ("now"); the
// zero-byte `dir/` markers themselves are not listed by -R. The MIME type and the modification
// time (X-Amz-Meta-Mtime) come from a HEAD of each object, as rclone makes one; --no-mimetype
// with --no-modtime lists without any.
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { etagMd5, parseMtime } from '../backend/s3/metadata.js';
import type { ObjectInfo } from '../backend/s3/types.js';
import { UserError, EXIT } from '../util/errors.js';
import { defineCommand } from './command.js';
import { dateToNs, formatRfc3339Ns, goJson, nowNs } from './format.js';
import { listLocation, mtimeOf, parentDirs, withHead, type Listed } from './listing.js';

interface LsjsonArgs {
  remote: string;
  recursive?: boolean;
  hash?: boolean;
  metadata?: boolean;
  'dirs-only'?: boolean;
  'files-only'?: boolean;
  'no-modtime'?: boolean;
  'no-mimetype'?: boolean;
  original?: boolean;
  encrypted?: boolean;
  checkers?: number;
}

/** rclone's ListJSONItem, fields in its order (encoding/json writes struct fields in declaration order). */
interface Item {
  Path: string;
  Name: string;
  Size: number;
  MimeType: string | undefined;
  ModTime: string;
  IsDir: boolean;
  Hashes?: { md5: string } | undefined;
  Tier?: string;
  IsBucket?: true | undefined;
  Metadata?: Record<string, string> | undefined;
}

/**
 * rclone 1.60's S3 metadata of an object (Object.Metadata): the user metadata but md5chksum,
 * `mtime` as RFC 3339, content-type, btime (the object's LastModified), the system headers that
 * are set, and tier when the HEAD names a storage class. Keys sorted, as Go writes a map.
 */
export function s3Metadata(info: ObjectInfo): Record<string, string> {
  const m: Record<string, string> = {};
  for (const [k, v] of Object.entries(info.metadata)) {
    if (k === 'md5chksum') continue;
    if (k === 'mtime') {
      const ns = parseMtime(v);
      if (ns !== null) m.mtime = formatRfc3339Ns(ns, true);
      continue;
    }
    m[k] = v;
  }
  if (info.contentType) m['content-type'] = info.contentType;
  m.btime = formatRfc3339Ns(dateToNs(info.lastModified), true);
  const system: [string, string | undefined][] = [
    ['cache-control', info.cacheControl],
    ['content-disposition', info.contentDisposition],
    ['content-encoding', info.contentEncoding],
    ['content-language', info.contentLanguage],
    ['tier', info.storageClass],
  ];
  for (const [k, v] of system) if (v) m[k] = v;
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** A recursive listing as rclone's walk gives it: objects only, then the directories they imply, sorted. */
async function* recursiveListing(items: AsyncIterable<Listed>, dirs: Set<string>): AsyncGenerator<Listed> {
  for await (const l of items) {
    if (l.implied) dirs.add(l.rel);
    if (l.entry.kind !== 'object') continue;
    for (const d of parentDirs(l.rel)) dirs.add(d);
    yield l;
  }
}

export const lsjsonCommand = defineCommand<LsjsonArgs>({
  command: 'lsjson <remote>',
  describe: 'List directories and objects in the path in JSON format',
  builder: (y) =>
    y
      .positional('remote', { type: 'string', describe: 'remote:bucket/path', demandOption: true })
      .option('recursive', { alias: 'R', type: 'boolean', describe: 'Recurse into the listing' })
      .option('hash', { type: 'boolean', describe: 'Include hashes in the output (MD5: S3 stores no other; may take longer)' })
      .option('metadata', { alias: 'M', type: 'boolean', describe: 'Include metadata in the output (one HEAD per object)' })
      .option('dirs-only', { type: 'boolean', describe: 'Show only directories in the listing' })
      .option('files-only', { type: 'boolean', describe: 'Show only files in the listing' })
      .option('no-modtime', { type: 'boolean', describe: "Don't read the modification time (can speed things up)" })
      .option('no-mimetype', { type: 'boolean', describe: "Don't read the mime type (can speed things up)" })
      .option('original', { type: 'boolean', describe: 'Show the ID of the underlying object (S3 has none: no effect)' })
      .option('encrypted', { type: 'boolean', describe: 'Show the encrypted names (crypt remotes only: refused here)' }),
  async run(cli, args) {
    if (args.encrypted) throw new UserError('lsjson --encrypted applies to crypt remotes only, and bucketfs has none', EXIT.usage);
    const loc = cli.remote(args.remote, 'lsjson');
    const recursive = args.recursive === true;
    const wantTime = args['no-modtime'] !== true;
    const wantMime = args['no-mimetype'] !== true;
    const wantHash = args.hash === true;
    const wantMeta = args.metadata === true;
    // rclone prints the opening bracket before it lists (a missing bucket then fails after it)
    await cli.write('[\n');
    const dirs = new Set<string>();
    const listed = listLocation(loc, { recursive, signal: cli.signal });
    const rows = recursive && loc.bucket !== '' ? recursiveListing(listed, dirs) : listed;
    const need = (l: Listed) =>
      l.entry.kind === 'object' && args['dirs-only'] !== true && (wantTime || wantMime || wantMeta || (wantHash && !etagMd5(l.entry.etag)));
    const out = cli.lines();
    // each item ends its line with a comma once the next one comes, the last without
    let pending: string | undefined;
    const emit = async (item: Item) => {
      if (pending !== undefined) await out.line(pending + ',');
      pending = goJson(item);
    };
    const now = nowNs();
    // undefined fields are left out, as Go's omitempty leaves them (JSON.stringify keeps the order of the others)
    const dirItem = (rel: string, size: number, modNs: bigint, bucket: boolean): Item => ({
      Path: rel,
      Name: baseName(rel),
      Size: size,
      MimeType: wantMime ? 'inode/directory' : undefined,
      ModTime: wantTime ? formatRfc3339Ns(modNs) : '',
      IsDir: true,
      IsBucket: bucket ? true : undefined,
    });
    for await (const l of withHead(loc, rows, args.checkers ?? DEFAULT_CHECKERS, need)) {
      if (l.gone) continue;
      if (l.entry.kind === 'dir') {
        if (args['files-only']) continue;
        const bucket = loc.bucket === '';
        const mod = bucket && l.entry.lastModified ? dateToNs(l.entry.lastModified) : now;
        await emit(dirItem(l.rel, bucket || recursive ? -1 : 0, mod, bucket));
        continue;
      }
      if (args['dirs-only']) continue;
      const md5 = wantHash ? (l.info ? l.info.md5 : etagMd5(l.entry.etag)) : undefined;
      const item: Item = {
        Path: l.rel,
        Name: baseName(l.rel),
        Size: l.info?.size ?? l.entry.size,
        MimeType: (wantMime && l.info?.contentType) || undefined,
        ModTime: wantTime ? formatRfc3339Ns(mtimeOf(l.info, l.entry)) : '',
        IsDir: false,
        Hashes: md5 ? { md5 } : undefined,
        Tier: l.info?.storageClass ?? l.entry.storageClass ?? 'STANDARD',
        Metadata: wantMeta && l.info ? s3Metadata(l.info) : undefined,
      };
      await emit(item);
    }
    if (!args['files-only']) {
      // one moment for every implied directory, as rclone's walk stamps them
      const at = nowNs();
      for (const d of [...dirs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) await emit(dirItem(d, -1, at, false));
    }
    if (pending !== undefined) await out.line(pending);
    await out.line(']');
    await out.flush();
  },
});
