// `bucketfs check SRC DST`: compare the files under two locations (local↔remote, remote↔remote)
// as rclone 1.60 does, logging what it logs: one ERROR line per file missing on a side or
// differing (size first, then MD5; --size-only stops at the size; --download compares the bytes
// and, as rclone 1.60, logs nothing for a file whose bytes differ), then its NOTICE summary,
// each line naming the side as rclone names it ("S3 bucket b path p", "Local file system at
// /abs"). Any difference is exit code 1. A file without an MD5 on one side (a multipart upload
// without X-Amz-Meta-Md5chksum) counts as matching and as a hash that could not be checked.
import path from 'node:path';
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { mapOrdered } from './concurrency.js';
import type { Cli, Location } from './context.js';
import { MD5, filesUnder, hashOf } from './hashsum.js';
import type { Endpoint } from './transfer.js';

interface CheckArgs {
  source: string;
  dest: string;
  'one-way'?: boolean;
  'size-only'?: boolean;
  download?: boolean;
  checkers?: number;
}

/** rclone's Fs.String() of a location, as its check messages name the sides. */
export function fsName(loc: Location): string {
  if (loc.kind === 'local') return `Local file system at ${path.resolve(loc.path)}`;
  if (loc.bucket === '') return 'S3 root';
  return loc.path === '' ? `S3 bucket ${loc.bucket}` : `S3 bucket ${loc.bucket} path ${loc.path}`;
}

interface Side {
  e: Endpoint;
  size: number;
  md5?: string;
}

async function index(loc: Location, cli: Cli): Promise<Map<string, Side>> {
  const m = new Map<string, Side>();
  for await (const f of filesUnder(loc, cli.signal)) m.set(f.rel, { e: f.e, size: f.size, md5: f.md5 });
  return m;
}

/** Whether the bytes of two files are the same (--download), read side by side. */
async function sameBytes(a: Endpoint, b: Endpoint, signal: AbortSignal): Promise<boolean> {
  // Both hashed as they stream: the same MD5 of the same size is the same content for a check.
  const [x, y] = await Promise.all([hashOf(a, MD5, { download: true, signal }), hashOf(b, MD5, { download: true, signal })]);
  return x === y;
}

type Verdict = 'match' | 'nohash' | 'size' | 'md5' | 'bytes';

export const checkCommand = defineCommand<CheckArgs>({
  command: 'check <source> <dest>',
  describe: 'Check that the files in the source and destination match (size and MD5); exit code 1 on differences',
  builder: (y) =>
    y
      .positional('source', { type: 'string', describe: 'local path or remote:bucket/path', demandOption: true })
      .positional('dest', { type: 'string', describe: 'local path or remote:bucket/path', demandOption: true })
      .option('one-way', { type: 'boolean', describe: 'Check one way only, source files must exist on remote' })
      .option('size-only', { type: 'boolean', describe: 'Only compare the sizes, not the hashes' })
      .option('download', { type: 'boolean', describe: 'Check by downloading rather than by hash' }),
  async run(cli, args) {
    const src = cli.location(args.source);
    const dst = cli.location(args.dest);
    for (const [loc, spec] of [
      [src, args.source],
      [dst, args.dest],
    ] as const) {
      if (loc.kind === 'remote' && loc.bucket === '')
        throw new UserError(`check needs a bucket: ${JSON.stringify(spec)} names no bucket (use remote:bucket)`, EXIT.usage);
    }
    const [a, b] = await Promise.all([index(src, cli), index(dst, cli)]);
    const srcName = fsName(src);
    const dstName = fsName(dst);
    let dstMissing = 0;
    let srcMissing = 0;
    const both: string[] = [];
    const names = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    for (const rel of names) {
      if (!b.has(rel)) {
        dstMissing++;
        log.error(`${rel}: file not in ${dstName}`);
      } else if (!a.has(rel)) {
        if (args['one-way']) continue;
        srcMissing++;
        log.error(`${rel}: file not in ${srcName}`);
      } else both.push(rel);
    }
    const verdicts = mapOrdered(both, args.checkers ?? DEFAULT_CHECKERS, async (rel): Promise<[string, Verdict]> => {
      const x = a.get(rel)!;
      const y = b.get(rel)!;
      if (x.size !== y.size) return [rel, 'size'];
      if (args['size-only']) return [rel, 'match'];
      if (args.download) return [rel, (await sameBytes(x.e, y.e, cli.signal)) ? 'match' : 'bytes'];
      const opts = { download: false, signal: cli.signal };
      const [hx, hy] = await Promise.all([hashOf(x.e, MD5, { ...opts, known: x.md5 }), hashOf(y.e, MD5, { ...opts, known: y.md5 })]);
      if (hx === '' || hy === '') return [rel, 'nohash'];
      return [rel, hx === hy ? 'match' : 'md5'];
    });
    let differ = 0;
    let matches = 0;
    let noHashes = 0;
    for await (const [rel, v] of verdicts) {
      if (v === 'match' || v === 'nohash') {
        matches++;
        if (v === 'nohash') noHashes++;
        continue;
      }
      differ++;
      if (v === 'size') log.error(`${rel}: sizes differ`);
      else if (v === 'md5') log.error(`${rel}: md5 differ`);
    }
    const differences = dstMissing + srcMissing + differ;
    if (dstMissing > 0) log.notice(`${dstName}: ${dstMissing} files missing`);
    if (srcMissing > 0) log.notice(`${srcName}: ${srcMissing} files missing`);
    log.notice(`${dstName}: ${differences} differences found`);
    if (differences > 0) log.notice(`${dstName}: ${differences} errors while checking`);
    if (noHashes > 0) log.notice(`${dstName}: ${noHashes} hashes could not be checked`);
    if (matches > 0) log.notice(`${dstName}: ${matches} matching files`);
    if (differences > 0) throw new UserError(`${differences} differences found`, EXIT.usage);
  },
});
