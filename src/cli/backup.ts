// rclone 1.60's --backup-dir DIR, --suffix SUFFIX and --suffix-keep-extension for copy, sync and
// move: a destination file that would be overwritten or (sync) deleted is moved away first, to
// DIR under its relative path, its name with SUFFIX added (before the extension with
// --suffix-keep-extension). --suffix alone renames in place, next to the file.
//
// The rules are rclone's operations.BackupDir: DIR on the same remote as the destination,
// overlapping neither the destination nor the source unless the filters exclude it; each
// refusal a fatal error (exit 7, no retry). The move is rclone's Move: a rename for a local
// destination; on S3, which has none, a server-side copy then a delete (Transferer.copyFile and
// deleteFile, as move does it), each through the --dry-run / -i gate with rclone's verbs, and
// counted in the stats block as rclone counts them.
import { joinFlagValues } from './flag-values.js';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { EXIT, RunFailure } from '../util/errors.js';
import { log } from '../util/log.js';
import type { Cli, Location } from './context.js';
import { dateToNs } from './format.js';
import { fsPath } from './raw-names.js';
import { etagMd5 } from '../backend/s3/metadata.js';
import type { TransferStats } from './transfer-stats.js';
import { endpointIn, localError, type Endpoint, type FileMeta, type Transferer } from './transfer.js';

export interface BackupArgs {
  'backup-dir'?: string;
  suffix?: string;
  'suffix-keep-extension'?: boolean;
}

export function addBackupFlags<T>(y: Argv<T>): Argv<T & BackupArgs> {
  return y
    .option('backup-dir', { type: 'string', requiresArg: true, describe: 'Make backups into hierarchy based in DIR (same remote as the destination)' })
    .option('suffix', { type: 'string', requiresArg: true, describe: 'Suffix to add to changed files (alone: renamed next to them)' })
    .option('suffix-keep-extension', { type: 'boolean', describe: 'Preserve the extension when using --suffix' }) as Argv<T & BackupArgs>;
}

/** Where replaced and deleted files of one run go. */
export interface Backup {
  /** the root the relative paths are placed under: DIR, or the destination itself (--suffix alone) */
  root: Location;
  suffix: string;
  keepExtension: boolean;
}

/** A file of the destination, as a listing describes it (see TreeFile in tree.ts). */
export interface ListedFile {
  rel: string;
  size: number;
  meta?: FileMeta;
  lastModified?: Date;
  etag?: string;
}

/** A repeated flag keeps its last value, as with rclone's pflag. */
const last = <T>(v: T | T[] | undefined): T | undefined => (Array.isArray(v) ? v[v.length - 1] : v);

/** Go's path.Ext: from the last dot of the last element (".bashrc" is all extension). */
function goExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}

/** rclone 1.60's SuffixName: `a/b.txt` → `a/b.txt-S`, or `a/b-S.txt` keeping the (last) extension. */
export function suffixName(rel: string, suffix: string, keepExtension: boolean): string {
  if (suffix === '') return rel;
  if (!keepExtension) return rel + suffix;
  const ext = goExt(rel);
  return rel.slice(0, rel.length - ext.length) + suffix + ext;
}

/** rclone's SameConfig: the same remote (and options); all local paths are one remote. */
function sameRemote(a: Location, b: Location): boolean {
  if (a.kind === 'local' || b.kind === 'local') return a.kind === b.kind;
  return a.backendKey === b.backendKey;
}

/** rclone's fixRoot: the root of a side with one trailing slash (local: absolute). */
function rootOf(loc: Location): string {
  const r = loc.kind === 'local' ? path.resolve(loc.path) : [loc.bucket, loc.path].filter((s) => s !== '').join('/');
  return r.endsWith('/') ? r : `${r}/`;
}

/**
 * rclone's OverlappingFilterCheck(backup, other): the backup root inside the other side (or the
 * same) overlaps unless a directory on the way down is excluded by the filters; the other side
 * inside the backup root always overlaps.
 */
function overlaps(cli: Cli, backup: Location, other: Location): boolean {
  if (!sameRemote(backup, other)) return false;
  const b = rootOf(backup);
  const o = rootOf(other);
  if (!b.startsWith(o)) return o.startsWith(b);
  const parts = b
    .slice(o.length)
    .split('/')
    .filter((s) => s !== '');
  const f = cli.filter;
  if (!f.active) return true;
  for (let i = 1; i <= parts.length; i++) if (!f.includeDir(parts.slice(0, i).join('/'))) return false;
  return true;
}

/** A refusal of the flags: rclone's fatal error (exit 7, "Fatal error received - not attempting retries"). */
function fatal(cli: Cli, verb: string, text: string): RunFailure {
  const stats = cli.statsForRun();
  stats.errors++;
  stats.fatal = true;
  cli.logStats(stats);
  return new RunFailure(`Failed to ${verb}: ${text}`, EXIT.fatal, 1, text, true);
}

/**
 * The backup of a copy/sync/move of the tree `src` into `dst`, checked as rclone checks it
 * before anything is listed; undefined when neither --backup-dir nor --suffix is given.
 */
export function planBackup(cli: Cli, verb: string, src: Location, dst: Location, args: BackupArgs): Backup | undefined {
  const dir = last(args['backup-dir']) ?? '';
  const suffix = last(args.suffix) ?? '';
  const keepExtension = last(args['suffix-keep-extension']) === true;
  if (dir === '') return suffix === '' ? undefined : { root: dst, suffix, keepExtension };
  const root = cli.location(dir);
  if (!sameRemote(root, dst)) throw fatal(cli, verb, 'parameter to --backup-dir has to be on the same remote as destination');
  if (overlaps(cli, root, dst)) throw fatal(cli, verb, "destination and parameter to --backup-dir mustn't overlap");
  if (overlaps(cli, root, src)) throw fatal(cli, verb, "source and parameter to --backup-dir mustn't overlap");
  return { root, suffix, keepExtension };
}

/** What the copy to the backup needs to know of a listed destination file. */
function metaOf(f: ListedFile): FileMeta {
  if (f.meta) return f.meta;
  // whole seconds: the server-side copy then keeps the object's metadata as it is
  return { size: f.size, mtimeNs: f.lastModified ? dateToNs(f.lastModified) : 0n, precisionNs: 1_000_000_000n, md5: etagMd5(f.etag ?? '') ?? undefined };
}

/**
 * Move one file of the destination `dst` into the backup, as rclone's MoveBackupDir: asks
 * "move" (a skip counts as rclone's dry-run move: a check, a rename and the bytes), then a local
 * rename ("Moved (server-side)"), or a server-side copy ("copy" asked, "Copied (server-side
 * copy)") and a delete ("delete" asked, "Deleted"). " to: NAME" when the name changes.
 */
export async function moveToBackup(cli: Cli, t: Transferer, b: Backup, dst: Location, f: ListedFile, stats: TransferStats): Promise<void> {
  const name = suffixName(f.rel, b.suffix, b.keepExtension);
  const to = name === f.rel ? '' : ` to: ${name}`;
  const from = endpointIn(dst, f.rel);
  const target = endpointIn(b.root, name);
  stats.checks++;
  if (!(await cli.confirm('move', f.rel, `size ${f.size}`))) {
    stats.renames++;
    stats.bytes += f.size;
    return;
  }
  if (from.kind === 'local') {
    await renameLocal(from, target);
    stats.renames++;
    stats.bytes += f.size;
    log.info(`${f.rel}: Moved (server-side)${to}`);
    return;
  }
  const outcome = await t.copyFile(from, metaOf(f), target, null, { label: f.rel, action: 'copy', to: name });
  // Declined at -i: the file stays where it is (rclone would go on and delete it, backup or not).
  if (outcome !== 'copied') return;
  stats.transfers++;
  stats.bytes += f.size;
  stats.checks++;
  if (!(await cli.confirm('delete', f.rel, `size ${f.size}`))) return;
  await from.loc.backend.delete(from.bucket, [from.path]);
  stats.deletes++;
  stats.renames++;
  log.info(`${f.rel}: Deleted`);
}

async function renameLocal(from: Endpoint & { kind: 'local' }, to: Endpoint): Promise<void> {
  if (to.kind !== 'local') throw new Error('internal error: a local file backed up to a remote');
  await fsp.mkdir(fsPath(path.dirname(to.file)), { recursive: true }).catch((err) => {
    throw localError('mkdir', path.dirname(to.file), err);
  });
  await fsp.rename(fsPath(from.file), fsPath(to.file)).catch((err) => {
    throw localError('rename', from.file, err);
  });
}

/** `--suffix -2024` and `--backup-dir -dir` as `--suffix=-2024`, as rclone reads them (flag-values.ts). */
export function joinBackupValues(args: string[]): string[] {
  return joinFlagValues(args, (a) => (a === '--suffix' || a === '--backup-dir' ? a : undefined));
}

/** The directory a single file is in, as rclone's Fs of a file argument (for copyto/moveto). */
export function parentOf(loc: Location): Location {
  if (loc.kind === 'local') return { ...loc, path: path.dirname(path.resolve(loc.path)) };
  const i = loc.path.lastIndexOf('/');
  return { ...loc, path: i < 0 ? '' : loc.path.slice(0, i) };
}

/**
 * The backup of a single file (copyto, moveto, copy/sync/move of a file) from the directory
 * `srcDir` into the directory `dstDir`, as rclone 1.60's moveOrCopyFile checks it (its errors
 * prefixed "creating Fs for --backup-dir failed: "): DIR on the destination's remote and, without
 * --suffix, neither the destination's directory nor the source's; no overlap rule. Undefined
 * when neither --backup-dir nor --suffix is given.
 */
export function planFileBackup(cli: Cli, verb: string, srcDir: Location, dstDir: Location, args: BackupArgs): Backup | undefined {
  const dir = last(args['backup-dir']) ?? '';
  const suffix = last(args.suffix) ?? '';
  const keepExtension = last(args['suffix-keep-extension']) === true;
  if (dir === '') return suffix === '' ? undefined : { root: dstDir, suffix, keepExtension };
  const root = cli.location(dir);
  const refuse = (text: string) => fatal(cli, verb, `creating Fs for --backup-dir failed: ${text}`);
  if (!sameRemote(root, dstDir)) throw refuse('parameter to --backup-dir has to be on the same remote as destination');
  if (suffix === '') {
    const same = (a: Location, b: Location) => sameRemote(a, b) && rootOf(a) === rootOf(b);
    if (same(dstDir, root)) throw refuse("destination and parameter to --backup-dir mustn't be the same");
    if (same(srcDir, root)) throw refuse("source and parameter to --backup-dir mustn't be the same");
  }
  return { root, suffix, keepExtension };
}

/** What copyOne needs to back up the file it replaces: the plan, the destination's directory and name in it. */
export interface FileBackup {
  backup: Backup;
  dir: Location;
  rel: string;
  stats: TransferStats;
}
