// `bucketfs copy SRC DST`: copy the files under SRC into the directory DST, skipping those the
// destination already has (same size and modification time), local↔remote in both directions
// and remote→remote (server-side on the same remote). SRC may also be a single file, which is
// copied into DST under its own name. Nothing is deleted at the destination.
import { promises as fsp, type Dirent } from 'node:fs';
import path from 'node:path';
import { BackendError } from '../backend/s3/backend-error.js';
import type { ListEntry } from '../backend/s3/types.js';
import { UserError, EXIT } from '../util/errors.js';
import { log } from '../util/log.js';
import { defineCommand } from './command.js';
import { forEachLimit } from '../util/concurrency.js';
import type { Cli, Location, RemoteLocation } from './context.js';
import { oneLine, exitCodeOf } from './edge.js';
import { listObjects, objectsToActOn } from './listing.js';
import { Progress } from './progress.js';
import { logicalNameFromBytes } from '../backend/s3/utf8.js';
import { fsPath, nameFromBytes } from './raw-names.js';
import { Transferer, endpointIn, localError, metaFromInfo, statEndpoint, statLocal, type Endpoint, type FileMeta, type Outcome } from './transfer.js';

/** A file to copy: its path relative to the source root, and what the source listing told. */
interface SourceFile {
  rel: string;
  /** local files: stat result; remote: undefined (HEAD when needed) */
  meta?: FileMeta;
  /** remote: size from the listing */
  size: number;
}

/**
 * Regular files under a local directory, recursively, paths relative to it ('/'-separated). Names
 * are read as bytes: one that is not valid UTF-8 is kept exactly (raw-names.ts), as rclone does.
 */
export async function walkLocal(root: string): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    // name: the logical name (rclone's standard name); file: the local name (escaped bytes kept)
    let entries: Array<{ name: string; file: string; isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean }>;
    try {
      const raw = (await fsp.readdir(fsPath(dir), { withFileTypes: true, encoding: 'buffer' })) as unknown as Array<Dirent & { name: Buffer }>;
      entries = raw.map((e) => ({
        name: nameFromBytes(e.name),
        file: logicalNameFromBytes(e.name),
        isDirectory: () => e.isDirectory(),
        isFile: () => e.isFile(),
        isSymbolicLink: () => e.isSymbolicLink(),
      }));
    } catch (err) {
      throw localError('read directory', dir, err);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const full = path.join(dir, e.file);
      if (e.isDirectory()) await walk(full, r);
      else if (e.isFile()) {
        const meta = await statLocal(full);
        if (meta) out.push({ rel: r, meta, size: meta.size });
        else log.notice(`${r}: vanished from the source during the copy: skipped`);
      } else if (e.isSymbolicLink()) log.notice(`${r}: Can't follow symlink without -L/--copy-links: skipped`);
      else log.notice(`${r}: not a regular file: skipped`);
    }
  };
  await walk(root, '');
  return out;
}

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

/** Objects already at a remote destination directory, by relative path (one recursive LIST). */
async function remoteIndex(loc: RemoteLocation, signal: AbortSignal): Promise<Map<string, ListEntry>> {
  const map = new Map<string, ListEntry>();
  try {
    for await (const l of listObjects(loc, signal)) map.set(l.rel, l.entry);
  } catch (err) {
    // A destination bucket that does not exist yet is created by the first upload.
    if (err instanceof BackendError && err.kind === 'NoSuchBucket') return map;
    throw err;
  }
  return map;
}

export interface CopySummary {
  copied: number;
  updated: number;
  skipped: number;
  errors: number;
}

/** Copy the tree under `src` into `dst`. Per-file errors are logged and counted; the first one is rethrown at the end. */
export async function copyTree(cli: Cli, src: Location, dst: Location, transfers: number): Promise<CopySummary> {
  if (dst.kind === 'remote' && dst.bucket === '') throw new UserError(`${dst.display}: the destination needs a bucket (remote:bucket/path)`, EXIT.usage);
  let files: SourceFile[] = [];
  if (src.kind === 'local') files = await walkLocal(src.path);
  else {
    for await (const l of objectsToActOn(src, cli.signal)) files.push({ rel: l.rel, size: l.entry.size });
    // Bucket-based listings cannot tell an empty directory from a mistyped one: say so rather than copy nothing.
    if (files.length === 0 && src.path !== '') throw new UserError(`${src.display}: directory not found`, EXIT.notFound);
  }

  const index = dst.kind === 'remote' ? await remoteIndex(dst, cli.signal) : undefined;
  const progress = new Progress(cli.progress);
  const t = new Transferer(cli, progress);
  const summary: CopySummary = { copied: 0, updated: 0, skipped: 0, errors: 0 };
  let firstError: unknown;

  try {
    await forEachLimit(files, transfers, async (f) => {
      if (cli.signal.aborted) throw cli.signal.reason;
      const s = endpointIn(src, f.rel);
      const d = endpointIn(dst, f.rel);
      try {
        const srcMeta = f.meta ?? (await statEndpoint(s));
        if (!srcMeta) {
          log.notice(`${f.rel}: vanished from the source during the copy: skipped`);
          return;
        }
        let dstMeta: FileMeta | null | undefined;
        if (index) {
          const e = index.get(f.rel);
          // Only a same-size destination needs its time (a HEAD); otherwise the size settles it.
          if (!e) dstMeta = null;
          else if (e.size !== srcMeta.size) dstMeta = { size: e.size, mtimeNs: 0n, precisionNs: 1n };
        }
        count(summary, await t.copyFile(s, srcMeta, d, dstMeta));
      } catch (err) {
        if (cli.signal.aborted) throw err;
        summary.errors++;
        firstError ??= err;
        log.error(`${f.rel}: Failed to copy: ${oneLine(err instanceof Error ? err.message : String(err))}`);
      }
    });
  } finally {
    progress.stop();
  }
  log.info(`copied ${summary.copied}, updated ${summary.updated}, unchanged ${summary.skipped}, failed ${summary.errors} of ${files.length} file(s)`);
  if (files.length === 0) log.notice('There was nothing to transfer');
  if (firstError !== undefined) {
    if (summary.errors === 1 && files.length === 1) throw firstError;
    throw new UserError(
      `copy: ${summary.errors} of ${files.length} file(s) failed (first: ${firstError instanceof Error ? firstError.message : String(firstError)})`,
      exitCodeOf(firstError),
    );
  }
  return summary;
}

function count(s: CopySummary, o: Outcome): void {
  if (o === 'copied') s.copied++;
  else if (o === 'updated') s.updated++;
  else if (o === 'skipped') s.skipped++;
}

/** Copy one file to an exact destination path (copyto, and copy of a single file). */
export async function copyOne(cli: Cli, src: Endpoint, srcMeta: FileMeta, dst: Endpoint): Promise<void> {
  const progress = new Progress(cli.progress);
  try {
    await new Transferer(cli, progress).copyFile(src, srcMeta, dst);
  } finally {
    progress.stop();
  }
}

export const copyCommand = defineCommand<{ source: string; dest: string; transfers: number }>({
  command: 'copy <source> <dest>',
  describe: 'Copy files from source to dest, skipping identical files',
  builder: (y) =>
    y
      .positional('source', { type: 'string', describe: 'local path or remote:bucket/path', demandOption: true })
      .positional('dest', { type: 'string', describe: 'local path or remote:bucket/path (a directory)', demandOption: true }),
  async run(cli, args) {
    const src = cli.location(args.source);
    const dst = cli.location(args.dest);
    const kind = await sourceKind(src);
    if (kind.kind === 'missing') throw new UserError(`copy ${args.source}: directory not found`, EXIT.notFound);
    if (kind.kind === 'file') {
      const name = src.kind === 'local' ? path.basename(src.path) : path.posix.basename(src.path);
      await copyOne(cli, endpointIn(src, ''), kind.meta, endpointIn(dst, name));
      return;
    }
    await copyTree(cli, src, dst, args.transfers);
  },
});
