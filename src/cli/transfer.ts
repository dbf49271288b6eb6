// File transfers for copy, copyto, sync and move (the tree engine is tree.ts), between local paths and remotes in every direction, as
// rclone does them:
//
// - A file is skipped when the destination has the same size and the same modification time
//   (rclone's default check). Times are compared at the coarser precision of the two sides:
//   1 ns for S3 objects carrying X-Amz-Meta-Mtime and for local files, 1 s for objects that only
//   have LastModified. When the size matches but the time does not, equal MD5s mean only the
//   time is updated (a server-side copy onto itself, or utimes) instead of moving the data.
// - Uploads carry the local file's mtime (stat with bigint: nanoseconds) as X-Amz-Meta-Mtime,
//   and its MD5, computed first as rclone does (Content-MD5 of a single PUT, X-Amz-Meta-Md5chksum
//   of a multipart upload), so `rclone md5sum`/`rclone check` see the same hashes.
// - Downloads go to a temporary file next to the destination, renamed into place when
//   complete, so an interrupted download never leaves a truncated file under the real name;
//   the mtime is then set to the nanosecond (see setLocalMtime).
// - Remote to remote on the same remote is a server-side copy, which keeps the metadata.
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, promises as fsp } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { BackendError } from '../backend/s3/backend-error.js';
import { etagMd5 } from '../backend/s3/metadata.js';
import type { ObjectInfo } from '../backend/s3/types.js';
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import type { Cli, LocalLocation, Location, RemoteLocation } from './context.js';
import { dateToNs, nsToSecondsString } from './format.js';
import type { Progress } from './progress.js';
import { fsPath, localRelPath } from './raw-names.js';

const NS_PER_S = 1_000_000_000n;

/** One side of a transfer: a local file path, or an object of a remote location. */
export type Endpoint = { kind: 'local'; loc: LocalLocation; file: string } | { kind: 'remote'; loc: RemoteLocation; bucket: string; path: string };

export interface FileMeta {
  size: number;
  mtimeNs: bigint;
  /** the resolution of mtimeNs: 1 ns, or 1 s for an object without X-Amz-Meta-Mtime */
  precisionNs: bigint;
  /** hex MD5 when known without reading the data */
  md5?: string;
}

export function describe(e: Endpoint): string {
  return e.kind === 'local' ? e.file : `${e.loc.target.remote}:${e.bucket}/${e.path}`;
}

export function endpointIn(loc: Location, rel: string): Endpoint {
  // a logical relative path (from a listing) names a local file by rclone's local encoding
  if (loc.kind === 'local') return { kind: 'local', loc, file: rel === '' ? loc.path : path.join(loc.path, localRelPath(rel)) };
  const p = [loc.path, rel].filter((s) => s !== '').join('/');
  return { kind: 'remote', loc, bucket: loc.bucket, path: p };
}

export async function statLocal(file: string): Promise<FileMeta | null> {
  try {
    const st = await fsp.stat(fsPath(file), { bigint: true });
    if (!st.isFile()) return null;
    return { size: Number(st.size), mtimeNs: st.mtimeNs, precisionNs: 1n };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw localError('stat', file, err);
  }
}

export function metaFromInfo(info: ObjectInfo): FileMeta {
  const md5 = info.md5 ?? etagMd5(info.etag) ?? undefined;
  if (info.mtimeNs !== null) return { size: info.size, mtimeNs: info.mtimeNs, precisionNs: 1n, md5 };
  return { size: info.size, mtimeNs: dateToNs(info.lastModified), precisionNs: NS_PER_S, md5 };
}

export async function statEndpoint(e: Endpoint): Promise<FileMeta | null> {
  if (e.kind === 'local') return statLocal(e.file);
  const info = await e.loc.backend.head(e.bucket, e.path);
  return info ? metaFromInfo(info) : null;
}

/** A filesystem error as a one-line UserError naming the file. */
export function localError(op: string, file: string, err: unknown): UserError {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
    ENOSPC: 'no space left on device',
    EROFS: 'read-only file system',
  };
  const code = e.code === 'ENOENT' ? EXIT.fileNotFound : 2;
  return new UserError(`${op} ${file}: ${(e.code && why[e.code]) ?? e.message?.split('\n')[0] ?? String(err)}`, code, { cause: err });
}

/**
 * Set a local file's atime and mtime to `ns` exactly. Node's fs.utimes takes seconds as a
 * double, which keeps only about a microsecond of a current date; when that is not exact,
 * coreutils touch finishes the job (utimensat with full nanoseconds) on the file opened here and
 * given as its standard output (`touch -`), so any file name, even one not valid UTF-8, works.
 */
export async function setLocalMtime(file: string, ns: bigint): Promise<void> {
  const secs = Number(ns) / 1e9;
  const p = fsPath(file);
  try {
    await fsp.utimes(p, secs, secs);
    const st = await fsp.stat(p, { bigint: true });
    if (st.mtimeNs === ns) return;
    const fh = await fsp.open(p, 'r');
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('touch', ['-c', '-d', `@${nsToSecondsString(ns)}`, '-'], { stdio: ['ignore', fh.fd, 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`touch failed: ${stderr.trim() || `exit ${code}`}`))));
      });
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw localError('set modification time of', file, err);
  }
}

async function md5OfLocal(file: string, signal: AbortSignal): Promise<string> {
  const h = createHash('md5');
  await pipeline(
    createReadStream(fsPath(file)),
    async (src: AsyncIterable<Buffer>) => {
      for await (const chunk of src) h.update(chunk);
    },
    { signal },
  );
  return h.digest('hex');
}

async function md5Of(e: Endpoint, meta: FileMeta, signal: AbortSignal): Promise<string | undefined> {
  if (meta.md5) return meta.md5;
  if (e.kind === 'local') return md5OfLocal(e.file, signal);
  return undefined;
}

/** Counts bytes through a stream for -P. */
/** A download whose bytes do not have the object's MD5 (rclone's post copy check; exit code 1). */
export class CorruptedTransferError extends UserError {
  constructor(want: string, have: string) {
    super(`corrupted on transfer: md5 hash differ ${JSON.stringify(want)} vs ${JSON.stringify(have)}`, 1);
    this.name = 'CorruptedTransferError';
  }
}

/** Counts the bytes passing for the progress (and feeds them to `hash`, when given). */
function counter(progress: Progress, hash?: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      progress.add(chunk.length);
      hash?.update(chunk);
      cb(null, chunk);
    },
  });
}

export type Outcome = 'copied' | 'skipped' | 'updated' | 'dry-run';

/**
 * rclone's rules for "the destination already has it" (copy, sync, move): by default the same
 * size and modification time (same size, other time, same MD5: only the time is set);
 * --size-only: the same size; --checksum: the same size and MD5 (the size alone when a side has
 * no MD5); --update: a newer destination is kept, one of the same time too when the size is the
 * same; --ignore-existing: any destination file is kept.
 */
export interface CompareOptions {
  sizeOnly?: boolean;
  checksum?: boolean;
  update?: boolean;
  ignoreExisting?: boolean;
  /** remote modification times are the server's LastModified (no HEAD) */
  useServerModtime?: boolean;
  /** no MD5 check of a download against the object's MD5 */
  ignoreChecksum?: boolean;
}

export interface CopyFileOptions {
  label?: string;
  action?: string;
  compare?: CompareOptions;
  /** the destination's name when it differs from the label: rclone's "Copied (…) to: NAME" */
  to?: string;
  /**
   * Run once the destination is to be replaced, before the copy is asked for (--backup-dir moves
   * it away first), given the destination's metadata; the destination is then gone: "Copied (new)".
   */
  beforeReplace?: (dstMeta: FileMeta) => Promise<void>;
}

export class Transferer {
  private readonly buckets = new Map<string, Promise<void>>();

  constructor(
    private readonly cli: Cli,
    private readonly progress: Progress,
  ) {}

  /** Create the destination bucket once, when the first upload finds it missing. */
  ensureBucket(loc: RemoteLocation, bucket: string): Promise<void> {
    const key = `${loc.backendKey}\n${bucket}`;
    let p = this.buckets.get(key);
    if (!p) {
      p = loc.backend.makeBucket(bucket);
      this.buckets.set(key, p);
    }
    return p;
  }

  /**
   * Copy `src` to `dst` unless the destination already has it, by `opts.compare`'s rule (see
   * CompareOptions). `srcMeta` must describe the source; `dstMeta` is the destination's
   * metadata, null when it does not exist, undefined to look it up here. `opts.label` names the
   * file in log lines (rclone's path relative to the command's root; default: the destination
   * path), `opts.action` is the verb of the --dry-run / -i gate ("copy", or "move").
   */
  async copyFile(src: Endpoint, srcMeta: FileMeta, dst: Endpoint, dstMeta?: FileMeta | null, opts: CopyFileOptions = {}): Promise<Outcome> {
    const name = opts.label ?? (dst.kind === 'local' ? dst.file : dst.path);
    const cmp = opts.compare ?? {};
    const action = opts.action ?? 'copy';
    if (dstMeta === undefined) dstMeta = await statEndpoint(dst);
    if (dstMeta) {
      const window = srcMeta.precisionNs > dstMeta.precisionNs ? srcMeta.precisionNs : dstMeta.precisionNs;
      let sizeOnly = cmp.sizeOnly === true;
      if (cmp.ignoreExisting) {
        log.debug(`${name}: Destination exists, skipping`);
        return 'skipped';
      }
      if (cmp.update) {
        const dt = dstMeta.mtimeNs / window - srcMeta.mtimeNs / window;
        if (dt > 0n) {
          log.debug(`${name}: Destination is newer than source, skipping`);
          return 'skipped';
        }
        // Equal times: the size decides (unless --checksum); an older destination is compared as usual.
        if (dt === 0n && !cmp.checksum) sizeOnly = true;
      }
      if (sizeOnly) {
        if (dstMeta.size === srcMeta.size) {
          log.debug(`${name}: Sizes identical`);
          return 'skipped';
        }
      } else if (cmp.checksum) {
        if (dstMeta.size === srcMeta.size) {
          const [a, b] = await Promise.all([md5Of(src, srcMeta, this.cli.signal), md5Of(dst, dstMeta, this.cli.signal)]);
          // No hash on one side: the size alone decides, as rclone falls back to --size-only.
          if (!a || !b || a === b) {
            log.debug(`${name}: ${a && b ? 'Size and MD5 of src and dst objects identical' : 'Sizes identical (no MD5 to compare)'}`);
            return 'skipped';
          }
        }
      } else if (dstMeta.size === srcMeta.size) {
        if (sameTime(srcMeta.mtimeNs, dstMeta.mtimeNs, window)) {
          log.debug(`${name}: Size and modification time the same (differ by less than ${window} ns): Unchanged skipping`);
          return 'skipped';
        }
        // Same size, other time: equal content only needs the time set (no data moved).
        const [a, b] = await Promise.all([md5Of(src, srcMeta, this.cli.signal), md5Of(dst, dstMeta, this.cli.signal)]);
        if (a && b && a === b && srcMeta.precisionNs === 1n) {
          if (!(await this.cli.confirm('update modification time', name))) return 'dry-run';
          if (dst.kind === 'local') await setLocalMtime(dst.file, srcMeta.mtimeNs);
          else await dst.loc.backend.setMtime(dst.bucket, dst.path, srcMeta.mtimeNs);
          log.info(`${name}: Updated modification time in destination`);
          return 'updated';
        }
      }
    }
    if (dstMeta && opts.beforeReplace) {
      await opts.beforeReplace(dstMeta);
      dstMeta = null;
    }
    if (!(await this.cli.confirm(action, name, `size ${srcMeta.size}`))) return 'dry-run';
    this.progress.addFile(srcMeta.size);
    const serverSide = await this.transfer(src, srcMeta, dst, cmp.ignoreChecksum === true);
    this.progress.fileDone();
    const to = opts.to !== undefined && opts.to !== name ? ` to: ${opts.to}` : '';
    log.info(`${name}: Copied (${serverSide ? 'server-side copy' : dstMeta ? 'replaced existing' : 'new'})${to}`);
    return 'copied';
  }

  /** Move the data; true when it was a server-side copy. */
  private async transfer(src: Endpoint, srcMeta: FileMeta, dst: Endpoint, ignoreChecksum: boolean): Promise<boolean> {
    const signal = this.cli.signal;
    if (dst.kind === 'remote') {
      if (src.kind === 'remote' && src.loc.backendKey === dst.loc.backendKey) {
        // Server-side: no data through this machine; metadata (mtime, md5) is kept.
        await this.withBucket(dst, () =>
          dst.loc.backend.copy(src.bucket, src.path, dst.bucket, dst.path, srcMeta.precisionNs === 1n ? { mtimeNs: srcMeta.mtimeNs } : undefined),
        );
        this.progress.add(srcMeta.size);
        return true;
      }
      await this.withBucket(dst, async () => {
        const raw = src.kind === 'local' ? createReadStream(fsPath(src.file)) : (await src.loc.backend.read(src.bucket, src.path, { signal })).body;
        if (src.kind === 'local') raw.on('error', () => {}); // surfaced by put as its own failure
        // --bwlimit: the bytes sent (remote → remote through here: counted once, as sent)
        const body = this.cli.throttle(raw, 'up');
        await dst.loc.backend.put(dst.bucket, dst.path, body, {
          size: srcMeta.size,
          mtimeNs: srcMeta.mtimeNs,
          md5: srcMeta.md5,
          // as rclone: a local file is hashed first (Content-MD5, or X-Amz-Meta-Md5chksum when multipart)
          ...(src.kind === 'local'
            ? {
                hashMd5: () =>
                  md5OfLocal(src.file, signal).catch((err: unknown) => {
                    if ((err as Error).name === 'AbortError') throw err;
                    throw localError('read', src.file, err);
                  }),
              }
            : {}),
          signal,
          onProgress: this.progress.tracker(),
        });
      });
      return false;
    }
    // To a local file: write a temporary sibling, rename into place, then set the time.
    const dir = path.dirname(dst.file);
    await fsp.mkdir(fsPath(dir), { recursive: true }).catch((err) => {
      throw localError('mkdir', dir, err);
    });
    const tmp = path.join(dir, `.${path.basename(dst.file)}.${randomBytes(4).toString('hex')}.partial`);
    try {
      const body = src.kind === 'local' ? createReadStream(fsPath(src.file)) : (await src.loc.backend.read(src.bucket, src.path, { signal })).body;
      // the post copy check: a download's MD5 against the one the object has (rclone's; not with
      // --ignore-checksum, nor for an object without one: a multipart upload by another tool)
      const want = src.kind === 'remote' && !ignoreChecksum ? srcMeta.md5 : undefined;
      const hash = want ? createHash('md5') : undefined;
      // --bwlimit: the bytes received (local → local: counted as received)
      await pipeline(this.cli.throttle(body, 'down'), counter(this.progress, hash), createWriteStream(fsPath(tmp)), { signal });
      const got = (await fsp.stat(fsPath(tmp))).size;
      if (got !== srcMeta.size) {
        throw new UserError(`copy ${describe(src)}: received ${got} bytes, expected ${srcMeta.size}: the source changed during the transfer`, 2);
      }
      const have = hash?.digest('hex');
      if (want && have !== want) throw new CorruptedTransferError(want, have ?? '');
      await fsp.rename(fsPath(tmp), fsPath(dst.file));
    } catch (err) {
      await fsp.rm(fsPath(tmp), { force: true });
      if (err instanceof UserError || err instanceof BackendError) throw err;
      if ((err as Error).name === 'AbortError') throw signal.reason ?? err;
      throw localError('write', dst.file, err);
    }
    await setLocalMtime(dst.file, srcMeta.mtimeNs);
    return false;
  }

  /** Run an upload; if the bucket turns out not to exist, create it once and try again. */
  private async withBucket(dst: Endpoint & { kind: 'remote' }, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof BackendError) || err.kind !== 'NoSuchBucket') throw err;
      await this.ensureBucket(dst.loc, dst.bucket);
      await fn();
    }
  }
}

function sameTime(a: bigint, b: bigint, window: bigint): boolean {
  if (window <= 1n) return a === b;
  // Coarser side: compare whole units (an object's LastModified has whole seconds).
  const fa = a / window;
  const fb = b / window;
  return fa === fb;
}
