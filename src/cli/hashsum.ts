// `bucketfs md5sum|sha1sum PATH` and `bucketfs hashsum HASH PATH`: one line per object (or local
// file), `hash  path`, as rclone 1.60 prints them. S3 keeps an MD5 only (the ETag of a single-part
// upload, or X-Amz-Meta-Md5chksum): an object with neither prints blanks where the hash would
// be; any other hash is read from the bytes with --download, and without it each object is an
// error ("hash unsupported"), exit 1, as rclone. --base64 prints the hash as rclone does (URL-safe
// base64, padded). Lines come in listing order (rclone prints them as its checkers finish).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import { etagMd5 } from '../backend/s3/metadata.js';
import { UserError, EXIT, describeError } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { mapOrdered } from './concurrency.js';
import type { Cli, Location } from './context.js';
import { walkLocal } from './tree.js';
import { objectsToActOn } from './listing.js';
import { fsPath } from './raw-names.js';
import { endpointIn, statLocal, type Endpoint } from './transfer.js';

/** A hash as rclone names it (its `hashsum` argument, lsjson's key) and as node:crypto does. */
export interface HashType {
  /** rclone's name: md5, sha1, sha256 */
  name: string;
  algorithm: string;
  /** bytes of the digest */
  bytes: number;
}

const HASHES: HashType[] = [
  { name: 'md5', algorithm: 'md5', bytes: 16 },
  { name: 'sha1', algorithm: 'sha1', bytes: 20 },
  { name: 'sha256', algorithm: 'sha256', bytes: 32 },
];
/** rclone's other hash names: known there, not computed here */
const RCLONE_ONLY = ['whirlpool', 'crc32', 'dropbox', 'hidrive', 'mailru', 'quickxor'];

export const MD5 = HASHES[0]!;

/** rclone's hash name parsing: case-insensitive, `SHA-1` as `sha1`. */
export function parseHashType(text: string): HashType {
  const n = text.toLowerCase().replace(/^sha-/, 'sha');
  const h = HASHES.find((x) => x.name === n);
  if (h) return h;
  if (RCLONE_ONLY.includes(n)) throw new UserError(`hash type ${JSON.stringify(text)} is not supported by bucketfs: use MD5, SHA-1 or SHA-256`, EXIT.usage);
  throw new UserError(`unknown hash type ${JSON.stringify(text)}: use MD5, SHA-1 or SHA-256`, EXIT.usage);
}

/** rclone's error for a hash the remote does not keep (hash.ErrUnsupported) */
export const HASH_UNSUPPORTED = 'hash unsupported: hash type not supported';

/** Hash the bytes of a stream. */
async function hashStream(src: AsyncIterable<Buffer>, h: HashType, signal: AbortSignal): Promise<string> {
  const d = createHash(h.algorithm);
  await pipeline(
    src,
    async (s: AsyncIterable<Buffer>) => {
      for await (const chunk of s) d.update(chunk);
    },
    { signal },
  );
  return d.digest('hex');
}

/**
 * The hash of one file, hex: read from the bytes for a local file or with `download`, else what
 * S3 keeps (MD5 only; '' when the object has none). `known` is an MD5 the listing already gave.
 * Throws HASH_UNSUPPORTED for another hash of an object without `download`.
 */
export async function hashOf(e: Endpoint, h: HashType, opts: { download: boolean; signal: AbortSignal; known?: string }): Promise<string> {
  if (e.kind === 'local') return hashStream(createReadStream(fsPath(e.file)), h, opts.signal);
  if (opts.download) {
    const { body } = await e.loc.backend.read(e.bucket, e.path, { signal: opts.signal });
    return hashStream(body as AsyncIterable<Buffer>, h, opts.signal);
  }
  if (h !== MD5) throw new UserError(HASH_UNSUPPORTED, EXIT.usage);
  if (opts.known) return opts.known;
  const info = await e.loc.backend.head(e.bucket, e.path);
  return info?.md5 ?? '';
}

/** A hex hash as rclone prints it: hex, or URL-safe base64 with padding (--base64). */
export function formatHash(hex: string, h: HashType, base64: boolean): string {
  if (!base64) return hex === '' ? ' '.repeat(h.bytes * 2) : hex;
  if (hex === '') return ' '.repeat(Math.ceil(h.bytes / 3) * 4);
  return Buffer.from(hex, 'hex').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The files under a location, relative path and endpoint (and the listing's MD5 for an object). */
export async function* filesUnder(loc: Location, signal: AbortSignal): AsyncGenerator<{ rel: string; e: Endpoint; size: number; md5?: string }> {
  if (loc.kind === 'local') {
    const one = await statLocal(loc.path);
    if (one) {
      yield { rel: loc.path.slice(loc.path.lastIndexOf('/') + 1), e: { kind: 'local', loc, file: loc.path }, size: one.size };
      return;
    }
    for (const f of (await walkLocal(loc.path, false, loc.filter)).files) yield { rel: f.rel, e: endpointIn(loc, f.rel), size: f.size };
    return;
  }
  for await (const l of objectsToActOn(loc, signal)) {
    yield { rel: l.rel, e: endpointIn(loc, l.rel), size: l.entry.size, md5: etagMd5(l.entry.etag) ?? undefined };
  }
}

async function hashsum(cli: Cli, h: HashType, spec: string, opts: { download: boolean; base64: boolean; checkers: number; what: string }): Promise<void> {
  const loc = cli.location(spec);
  if (loc.kind === 'remote' && loc.bucket === '')
    throw new UserError(`${opts.what} needs a bucket: ${JSON.stringify(spec)} names no bucket (use remote:bucket)`, EXIT.usage);
  const out = cli.lines();
  let errors = 0;
  let last = '';
  const results = mapOrdered(filesUnder(loc, cli.signal), opts.checkers, async (f) => {
    try {
      return { f, hash: await hashOf(f.e, h, { download: opts.download, signal: cli.signal, known: f.md5 }) };
    } catch (err) {
      if (cli.signal.aborted) throw err;
      return { f, error: describeError(err) };
    }
  });
  for await (const r of results) {
    if (r.error !== undefined) {
      errors++;
      last = r.error;
      log.error(`${r.f.rel}: ${r.error}`);
      continue;
    }
    await out.line(`${formatHash(r.hash, h, opts.base64)}  ${r.f.rel}`);
  }
  await out.flush();
  if (errors > 0) throw new UserError(`failed to ${opts.what} with ${errors} error${errors === 1 ? '' : 's'}: last error was: ${last}`, EXIT.usage);
}

interface HashArgs {
  remote: string;
  download?: boolean;
  base64?: boolean;
  checkers?: number;
}

const hashOptions = <T>(y: import('yargs').Argv<T>) =>
  y
    .positional('remote', { type: 'string', describe: 'remote:bucket/path or a local path', demandOption: true })
    .option('download', { type: 'boolean', describe: 'Download the file and hash it locally (S3 keeps only MD5)' })
    .option('base64', { type: 'boolean', describe: 'Output base64 encoded hashsum' });

export const md5sumCommand = defineCommand<HashArgs>({
  command: 'md5sum <remote>',
  describe: 'Produce an md5sum file for all the objects in the path',
  builder: (y) => hashOptions(y),
  run: (cli, a) =>
    hashsum(cli, MD5, a.remote, { download: a.download === true, base64: a.base64 === true, checkers: a.checkers ?? DEFAULT_CHECKERS, what: 'md5sum' }),
});

export const sha1sumCommand = defineCommand<HashArgs>({
  command: 'sha1sum <remote>',
  describe: 'Produce an sha1sum file for all the objects in the path (S3 objects need --download)',
  builder: (y) => hashOptions(y),
  run: (cli, a) =>
    hashsum(cli, parseHashType('sha1'), a.remote, {
      download: a.download === true,
      base64: a.base64 === true,
      checkers: a.checkers ?? DEFAULT_CHECKERS,
      what: 'sha1sum',
    }),
});

export const hashsumCommand = defineCommand<HashArgs & { hash: string }>({
  command: 'hashsum <hash> <remote>',
  describe: 'Produce a hashsum file for all the objects in the path: MD5, SHA-1 or SHA-256 (other than MD5 needs --download on S3)',
  builder: (y) => hashOptions(y.positional('hash', { type: 'string', describe: 'MD5, SHA-1 or SHA-256', demandOption: true })),
  run: (cli, a) =>
    hashsum(cli, parseHashType(a.hash), a.remote, {
      download: a.download === true,
      base64: a.base64 === true,
      checkers: a.checkers ?? DEFAULT_CHECKERS,
      what: 'hashsum',
    }),
});
