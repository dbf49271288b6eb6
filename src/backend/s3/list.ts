// Listing: ListObjectsV2 pages of list_chunk keys, decoded to logical names.
//
// Delimiter listing (recursive = false): common prefixes become 'dir' entries, objects 'object'
// entries. The zero-byte `dir/` marker of the listed directory itself is not an entry of it.
// Recursive listing: every object, and `x/` marker objects as 'dir' entries with marker: true
// (directories implied only by deeper keys are not synthesised: callers derive them from paths).
//
// Keys are requested with encoding-type=url, as rclone does, because XML 1.0 cannot carry
// control characters that keys may hold; they are decoded only when the server says it encoded
// them (some S3 clones ignore the parameter).
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import { sendOptions, type BackendContext } from './context.js';
import type { ListEntry } from './types.js';
import { Once } from '../../util/once.js';

/** S3's url encoding-type is form encoding: '+' is a space. */
export function urlDecodeKey(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

export async function* listObjects(
  ctx: BackendContext,
  bucket: string,
  dir: string,
  opts: { recursive: boolean; signal?: AbortSignal },
): AsyncGenerator<ListEntry> {
  const logicalDir = dir.replace(/^\/+|\/+$/g, '');
  const prefix = ctx.enc.dirPrefix(logicalDir, 'LIST');
  const seenDirs = new Set<string>();
  let token: string | undefined;
  do {
    const page = await requestPage(ctx, bucket, logicalDir, prefix, { ...opts, maxKeys: ctx.opts.list_chunk, token });
    yield* showable(ctx, bucket, pageEntries(ctx, page, logicalDir, prefix, seenDirs));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** One LIST request of at most `maxKeys` keys: the entries, and whether that was all of them. */
export async function listPage(
  ctx: BackendContext,
  bucket: string,
  dir: string,
  opts: { recursive: boolean; maxKeys: number; signal?: AbortSignal },
): Promise<{ entries: ListEntry[]; complete: boolean }> {
  const logicalDir = dir.replace(/^\/+|\/+$/g, '');
  const prefix = ctx.enc.dirPrefix(logicalDir, 'LIST');
  const page = await requestPage(ctx, bucket, logicalDir, prefix, opts);
  return { entries: [...showable(ctx, bucket, pageEntries(ctx, page, logicalDir, prefix, new Set()))], complete: !page.IsTruncated };
}

/** Whether anything exists below `dir/` (a marker or any key): one LIST of one key. */
export async function dirExists(ctx: BackendContext, bucket: string, dir: string, signal?: AbortSignal): Promise<boolean> {
  const logicalDir = dir.replace(/^\/+|\/+$/g, '');
  const page = await requestPage(ctx, bucket, logicalDir, ctx.enc.dirPrefix(logicalDir, 'LIST'), {
    recursive: true,
    maxKeys: 1,
    ...(signal ? { signal } : {}),
  });
  return (page.KeyCount ?? 0) > 0 || (page.Contents?.length ?? 0) > 0 || (page.CommonPrefixes?.length ?? 0) > 0;
}

/**
 * What exists at `path` besides a plain object, from one LIST of the keys that start with its
 * key (delimited at '/'): a directory (keys below `path/`, or its marker), and the objects whose
 * names extend its name with characters that sort before '/' (`name.rclonelink`, `name.txt`,
 * `name-2`). Key order puts all of those before `path/`; `complete` is false when the page ended
 * before it (more than `maxKeys` such names), and then neither answer is known.
 */
export async function probeName(
  ctx: BackendContext,
  bucket: string,
  path: string,
  maxKeys = 32,
): Promise<{ isDir: boolean; siblings: ListEntry[]; complete: boolean }> {
  const logicalPath = path.replace(/^\/+|\/+$/g, '');
  const slash = logicalPath.lastIndexOf('/');
  const parent = slash < 0 ? '' : logicalPath.slice(0, slash);
  const page = await requestPage(ctx, bucket, logicalPath, ctx.enc.keyFromPath(logicalPath, 'LIST'), { recursive: false, maxKeys });
  const entries = [...showable(ctx, bucket, pageEntries(ctx, page, parent, ctx.enc.dirPrefix(parent, 'LIST'), new Set()))];
  const isDir = entries.some((e) => e.kind === 'dir' && e.path === logicalPath);
  const siblings = entries.filter((e) => e.kind === 'object' && e.path !== logicalPath);
  return { isDir, siblings, complete: !page.IsTruncated || isDir };
}

function requestPage(
  ctx: BackendContext,
  bucket: string,
  logicalDir: string,
  prefix: string,
  opts: { recursive: boolean; maxKeys: number; token?: string | undefined; signal?: AbortSignal | undefined },
): Promise<ListObjectsV2CommandOutput> {
  return ctx.run('LIST', logicalDir === '' ? bucket : logicalDir, { bucket, idempotent: true, signal: opts.signal }, (signal) =>
    ctx.client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix || undefined,
        Delimiter: opts.recursive ? undefined : '/',
        MaxKeys: opts.maxKeys,
        ContinuationToken: opts.token,
        EncodingType: 'url',
      }),
      sendOptions(signal),
    ),
  );
}

/** a name no filesystem can show (an empty segment, from keys like "a//b") is left out, with one NOTICE */
function* showable(ctx: BackendContext, bucket: string, entries: ListEntry[]): Generator<ListEntry> {
  for (const e of entries) {
    if (e.path.split('/').some((s) => s === '')) {
      // (a common prefix names the keys below it: "a//" for "a//b")
      const what = e.kind === 'dir' ? `the keys under ${JSON.stringify(`${e.path}/`)}` : `the key ${JSON.stringify(e.path)}`;
      noticeOnce(ctx, bucket, what, 'an empty name in the path cannot be shown: skipped (any S3 client reads such keys)');
      continue;
    }
    yield e;
  }
}

/**
 * What to say of a key that decodes to another key's name (unreachableKey): the same words from
 * the mount and from every command that skips it.
 */
export function unreachableKeyNotice(bucket: string, key: string): string {
  return `${bucket}/${key}: under this --s3-encoding its name would be another key's: skipped; with --s3-encoding Slash,InvalidUtf8 (without Dot) the mount and bucketfs cat/copy reach it`;
}

/** keys already named in a NOTICE (a listing is read again and again) */
const noticed = new Once();

function noticeOnce(ctx: BackendContext, bucket: string, what: string, why: string): void {
  if (noticed.first(`${bucket}\0${what}`)) ctx.log.notice(`${bucket}: ${what}: ${why}`);
}

/**
 * A relative key → its logical path, each segment decoded once; `reachable` is false when a
 * segment's name does not lead back to it: with the Dot encoding, rclone's default, the keys "."
 * and ".." read as "．" and "．．", which are the keys of files named so. Such an entry can be
 * listed (as rclone lists it) but not opened: it is marked (unreachableKey). Only a segment that
 * decoding changed is encoded again to check.
 */
function decodeRel(ctx: BackendContext, rel: string): { path: string; reachable: boolean } {
  let reachable = true;
  const names = rel.split('/').map((seg) => {
    const name = ctx.enc.decodeSegment(seg);
    if (reachable && name !== seg) {
      try {
        reachable = ctx.enc.encodeSegment(name) === seg;
      } catch {
        reachable = false;
      }
    }
    return name;
  });
  return { path: names.join('/'), reachable };
}

/** One page's entries: common prefixes and `x/` markers as directories (once per listing), objects. */
function pageEntries(ctx: BackendContext, page: ListObjectsV2CommandOutput, logicalDir: string, prefix: string, seenDirs: Set<string>): ListEntry[] {
  const decodeKey = page.EncodingType === 'url' ? urlDecodeKey : (s: string) => s;
  const entries: ListEntry[] = [];
  for (const cp of page.CommonPrefixes ?? []) {
    if (!cp.Prefix) continue;
    const rel = relativeName(decodeKey(cp.Prefix), prefix);
    if (rel === null) continue;
    const d = decodeRel(ctx, rel.replace(/\/$/, ''));
    const path = join(logicalDir, d.path);
    if (!seenDirs.has(path)) {
      seenDirs.add(path);
      entries.push({ kind: 'dir', path, size: 0, ...(d.reachable ? {} : { unreachableKey: decodeKey(cp.Prefix) }) });
    }
  }
  for (const obj of page.Contents ?? []) {
    if (obj.Key === undefined) continue;
    const rel = relativeName(decodeKey(obj.Key), prefix);
    if (rel === null || rel === '') continue; // the listed directory's own marker
    const marker = rel.endsWith('/');
    const d = decodeRel(ctx, marker ? rel.slice(0, -1) : rel);
    const unreachableKey = d.reachable ? undefined : decodeKey(obj.Key);
    if (marker) {
      const path = join(logicalDir, d.path);
      if (seenDirs.has(path)) {
        // already a common prefix in this listing: just note that a marker exists
        const e = entries.find((x) => x.kind === 'dir' && x.path === path);
        if (e) e.marker = true;
        continue;
      }
      seenDirs.add(path);
      entries.push({
        kind: 'dir',
        path,
        size: 0,
        marker: true,
        ...(unreachableKey !== undefined ? { unreachableKey } : {}),
        ...(obj.LastModified ? { lastModified: obj.LastModified } : {}),
      });
      continue;
    }
    const entry: ListEntry = { kind: 'object', path: join(logicalDir, d.path), size: obj.Size ?? 0 };
    if (obj.LastModified) entry.lastModified = obj.LastModified;
    if (obj.ETag) entry.etag = obj.ETag;
    if (obj.StorageClass) entry.storageClass = obj.StorageClass;
    if (unreachableKey !== undefined) entry.unreachableKey = unreachableKey;
    entries.push(entry);
  }
  return entries;
}

function relativeName(key: string, prefix: string): string | null {
  if (!key.startsWith(prefix)) return null;
  return key.slice(prefix.length);
}

function join(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
