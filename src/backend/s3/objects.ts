// Reading objects: HEAD and ranged GET, with the Glacier check.
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type GetObjectCommandOutput } from '@aws-sdk/client-s3';
import { BackendError } from './backend-error.js';
import { sendOptions, type BackendContext } from './context.js';
import { archivedMessage, isArchivedUnrestored, objectInfoFrom } from './metadata.js';
import { classify } from './retry.js';
import type { ObjectInfo, ReadOptions } from './types.js';

export function archivedError(op: string, path: string, storageClass: string | undefined, cause?: unknown): BackendError {
  const e = new BackendError('Archived', op, path, archivedMessage(storageClass, path), { status: 403, cause });
  // rclone's exact wording, without the "OP path:" prefix the other errors carry
  e.message = archivedMessage(storageClass, path);
  return e;
}

export async function headObject(ctx: BackendContext, bucket: string, path: string, signal?: AbortSignal): Promise<ObjectInfo | null> {
  return headKey(ctx, bucket, ctx.enc.keyFromPath(path, 'HEAD'), path, signal);
}

/** HEAD of a directory's `dir/` marker object (null: the directory has none) */
export function headDirMarker(ctx: BackendContext, bucket: string, dir: string): Promise<ObjectInfo | null> {
  return headKey(ctx, bucket, ctx.enc.dirPrefix(dir, 'HEAD'), dir);
}

async function headKey(ctx: BackendContext, bucket: string, key: string, path: string, signal?: AbortSignal): Promise<ObjectInfo | null> {
  try {
    const out = await ctx.run('HEAD', path, { bucket, idempotent: true, signal }, (s) =>
      ctx.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ...ctx.ssec() }), sendOptions(s)),
    );
    return objectInfoFrom(path, out, ctx.etagIsNotMd5);
  } catch (err) {
    // HEAD has no body: a missing bucket is also a bare 404, so only a 404 means "no object"
    if (err instanceof BackendError && err.kind === 'NotFound') return null;
    throw err;
  }
}

export async function readObject(ctx: BackendContext, bucket: string, path: string, opts: ReadOptions = {}): Promise<{ body: Readable; info: ObjectInfo }> {
  const key = ctx.enc.keyFromPath(path, 'GET');
  const offset = opts.offset ?? 0;
  if (opts.count === 0) {
    const info = await headObject(ctx, bucket, path, opts.signal);
    if (!info) throw new BackendError('NotFound', 'GET', path, 'object not found', { status: 404 });
    checkIfMatch(info, opts, path);
    return { body: Readable.from([]), info };
  }
  let range: string | undefined;
  if (offset > 0 || opts.count !== undefined) {
    range = `bytes=${offset}-${opts.count !== undefined ? offset + opts.count - 1 : ''}`;
  }
  let out: GetObjectCommandOutput;
  try {
    out = await ctx.run('GET', path, { bucket, idempotent: true, signal: opts.signal }, async (s) => {
      try {
        return await ctx.client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range, IfMatch: opts.ifMatch, ...ctx.ssec() }), sendOptions(s));
      } catch (err) {
        const c = classify(err);
        if (c.code === 'InvalidObjectState') {
          const sc = (err as { StorageClass?: string }).StorageClass;
          throw archivedError('GET', path, sc, err);
        }
        throw err;
      }
    });
  } catch (err) {
    // reading at or past the end (or any range of an empty object): an empty read, not an error
    if (err instanceof BackendError && (err.status === 416 || /InvalidRange/.test(String((err.cause as Error | undefined)?.name)))) {
      const info = await headObject(ctx, bucket, path, opts.signal);
      if (!info) throw new BackendError('NotFound', 'GET', path, 'object not found', { status: 404 });
      checkIfMatch(info, opts, path);
      return { body: Readable.from([]), info };
    }
    throw err;
  }
  const info = objectInfoFrom(path, out, ctx.etagIsNotMd5);
  const body = out.Body as Readable | undefined;
  if (isArchivedUnrestored(out.StorageClass, out.Restore)) {
    // a server that serves archived bytes anyway (moto, some clones) gets the same answer as AWS
    body?.destroy();
    throw archivedError('GET', path, out.StorageClass);
  }
  return { body: body ?? Readable.from([]), info };
}

function checkIfMatch(info: ObjectInfo, opts: ReadOptions, path: string): void {
  if (opts.ifMatch && opts.ifMatch.replace(/"/g, '') !== info.etag.replace(/"/g, '')) {
    throw new BackendError('PreconditionFailed', 'GET', path, 'the object changed (ETag no longer matches)', { status: 412 });
  }
}
