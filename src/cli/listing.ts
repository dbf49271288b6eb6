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

export interface Listed {
  /** path relative to the location given (bucket/path for `remote:`) */
  rel: string;
  /** bucket and path of the object or directory */
  bucket: string;
  path: string;
  entry: ListEntry;
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
export async function* listLocation(loc: RemoteLocation, opts: { recursive: boolean; signal?: AbortSignal }): AsyncGenerator<Listed> {
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
