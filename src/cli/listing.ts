// Listing helpers shared by ls, lsl, lsd, lsf, size, cat, delete and copy: paths relative to the
// location given on the command line (as rclone prints them), `remote:` meaning every bucket,
// and a location naming a single object listing just that object.
import path from 'node:path/posix';
import type { ListEntry, ObjectInfo } from '../backend/s3/types.js';
import type { RemoteLocation } from './context.js';
import { mapOrdered } from './concurrency.js';
import { unreachableKeyNotice } from '../backend/s3/list.js';
import { log } from '../util/log.js';
import { dateToNs, nowNs } from './format.js';
import { DEFAULT_CHECKERS } from '../config/defaults.js';
import type { Filter } from './filter.js';

export interface Listed {
  /** path relative to the location given (bucket/path for `remote:`) */
  rel: string;
  /** bucket and path of the object or directory */
  bucket: string;
  path: string;
  entry: ListEntry;
  /** a directory a filtered recursive listing adds for the keys under it */
  implied?: true;
}

/** `dir` for prefix listings: list(bucket, prefix) returns paths relative to the bucket root. */
function relativeTo(prefix: string, p: string): string {
  return prefix === '' ? p : p.slice(prefix.length + 1);
}

/**
 * Objects (and, with `dirs`, directories) under the location, recursively or one level.
 * When the location names an object rather than a directory, that object alone is listed
 * (rel = its base name), as rclone does for `rclone ls remote:bucket/file`.
 */
export async function* listLocation(loc: RemoteLocation, opts: { recursive: boolean; signal?: AbortSignal; all?: boolean }): AsyncGenerator<Listed> {
  const items = listUnfiltered(loc, opts);
  if (opts.all || !loc.filter?.active) yield* items;
  else yield* filterListing(loc, loc.filter, items, opts.recursive);
}

/**
 * A listing through the filter flags (filter.ts), as rclone's walk gives it: a directory is listed
 * when the directory rules let it and every directory above it be entered, and it is within
 * --max-depth; an object when its directory is reached and the file rules, size and age pass.
 * A recursive listing (one LIST of every key) also gets the directories it implies, each once
 * before its first entry, even when every file in them is filtered out (rclone lists those too).
 * --min-age/--max-age need each object's modification time: a HEAD per object.
 */
async function* filterListing(loc: RemoteLocation, filter: Filter, items: AsyncIterable<Listed>, recursive: boolean): AsyncGenerator<Listed> {
  const dirOk = new Map<string, boolean>();
  const shown = new Set<string>();
  const reached = filter.usesModTime
    ? mapOrdered(items, DEFAULT_CHECKERS, async (l) => {
        if (l.entry.kind !== 'object') return { l, mtimeMs: undefined };
        const info = await loc.backend.head(l.bucket, l.path);
        return { l, mtimeMs: Number(mtimeOf(info ?? undefined, l.entry) / 1_000_000n) };
      })
    : (async function* () {
        for await (const l of items) yield { l, mtimeMs: undefined as number | undefined };
      })();
  for await (const { l, mtimeMs } of reached) {
    const isDir = l.entry.kind === 'dir';
    if (recursive) {
      for (const d of parentDirs(l.rel)) {
        if (shown.has(d)) continue;
        shown.add(d);
        if (filter.reachable(d, true, dirOk)) {
          yield {
            rel: d,
            bucket: l.bucket,
            path: l.path.slice(0, Math.max(0, l.path.length - (l.rel.length - d.length))),
            entry: { kind: 'dir', path: d, size: -1 },
            implied: true,
          };
        }
      }
    }
    if (isDir) {
      if (shown.has(l.rel)) continue;
      shown.add(l.rel);
      if (filter.reachable(l.rel, true, dirOk)) yield l;
    } else if (filter.reachable(l.rel, false, dirOk) && filter.includeFile(l.rel, l.entry.size, mtimeMs)) yield l;
  }
}

async function* listUnfiltered(loc: RemoteLocation, opts: { recursive: boolean; signal?: AbortSignal }): AsyncGenerator<Listed> {
  if (loc.bucket === '') {
    // `remote:` — every bucket, paths prefixed with the bucket name.
    for (const b of await loc.backend.listBuckets()) {
      if (!opts.recursive) {
        yield { rel: b.name, bucket: b.name, path: '', entry: { kind: 'dir', path: '', size: 0, lastModified: b.created } };
        continue;
      }
      for await (const entry of loc.backend.list(b.name, '', { recursive: true, signal: opts.signal })) {
        yield { rel: `${b.name}/${entry.path}`, bucket: b.name, path: entry.path, entry };
      }
    }
    return;
  }
  let any = false;
  // One directory level is printed sorted by name, as rclone sorts directory listings (S3 pages
  // give the common prefixes apart from the objects); recursive listings stream in key order.
  const level: Listed[] = [];
  for await (const entry of loc.backend.list(loc.bucket, loc.path, { recursive: opts.recursive, signal: opts.signal })) {
    // The directory's own marker (`dir/`) is not an entry of its listing.
    if (entry.path === loc.path) continue;
    any = true;
    const l = { rel: relativeTo(loc.path, entry.path), bucket: loc.bucket, path: entry.path, entry };
    if (opts.recursive) yield l;
    else level.push(l);
  }
  level.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  yield* level;
  if (!any && loc.path !== '') {
    const info = await loc.backend.head(loc.bucket, loc.path);
    if (info) {
      yield {
        rel: path.basename(loc.path),
        bucket: loc.bucket,
        path: loc.path,
        entry: { kind: 'object', path: loc.path, size: info.size, lastModified: info.lastModified, etag: info.etag, storageClass: info.storageClass },
      };
    }
  }
}

/** Objects only (directory markers skipped), recursively. */
export async function* listObjects(loc: RemoteLocation, signal?: AbortSignal): AsyncGenerator<Listed> {
  for await (const l of listLocation(loc, { recursive: true, signal })) {
    if (l.entry.kind === 'object') yield l;
  }
}

/**
 * Objects to read, change or delete, recursively: a key whose name under this encoding is another
 * key's (unreachableKey) is listed by ls (as rclone lists it) but would act on that other key
 * here, so it is left out with one NOTICE saying how to reach it.
 */
export async function* objectsToActOn(loc: RemoteLocation, signal?: AbortSignal): AsyncGenerator<Listed> {
  for await (const l of listObjects(loc, signal)) {
    if (l.entry.unreachableKey !== undefined) log.notice(unreachableKeyNotice(l.bucket, l.entry.unreachableKey));
    else yield l;
  }
}

/** The object's modification time: X-Amz-Meta-Mtime when set, else LastModified. */
export function mtimeOf(info: ObjectInfo | undefined, entry: ListEntry): bigint {
  if (info?.mtimeNs != null) return info.mtimeNs;
  if (info) return dateToNs(info.lastModified);
  return entry.lastModified ? dateToNs(entry.lastModified) : nowNs();
}

/**
 * Each listed object with its HEAD response (for X-Amz-Meta-Mtime, which LIST does not carry),
 * `limit` HEADs in flight, in listing order. Objects deleted meanwhile are dropped.
 */
export async function* withHead(
  loc: RemoteLocation,
  items: AsyncIterable<Listed>,
  limit: number,
  need: (l: Listed) => boolean = (l) => l.entry.kind === 'object',
): AsyncGenerator<Listed & { info?: ObjectInfo; gone?: boolean }> {
  yield* mapOrdered(items, limit, async (l) => {
    if (!need(l)) return l;
    const info = await loc.backend.head(l.bucket, l.path);
    return info ? { ...l, info } : { ...l, gone: true };
  });
}

/** Parent directories of a path, outermost first: `a/b/c` → [`a`, `a/b`]. */
export function parentDirs(p: string): string[] {
  const parts = p.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}
