// Server-side copies, and setMtime (a copy of an object onto itself with new metadata).
//
// Below copy_cutoff one CopyObject; at or above it a multipart copy (UploadPartCopy ranges of
// copy_cutoff bytes, grown like upload parts to stay within max_upload_parts), as rclone.
// Metadata is kept (MetadataDirective COPY) unless the caller replaces some: then the whole set
// is sent again (REPLACE) together with Content-Type and the other content headers, because
// REPLACE drops whatever is not re-sent. A multipart copy always sends the metadata itself:
// CreateMultipartUpload cannot copy it. The acl and storage_class options apply to copies too
// (S3 writes a fresh ACL on every copy).
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { BackendError } from './backend-error.js';
import { sendOptions, type BackendContext } from './context.js';
import { formatMtime, isArchivedUnrestored, META_MTIME } from './metadata.js';
import { archivedError } from './objects.js';
import { partSizeFor } from './part-size.js';
import { abortUpload } from './upload.js';
import { classify } from './retry.js';
import { conditionHeaders, conditionsUnsupported, type WriteCondition } from './conditions.js';
import type { CopyResult } from './types.js';

/** URL-encoded x-amz-copy-source, '/' kept, as rclone's pathEscape. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export interface CopyRequest {
  srcBucket: string;
  srcPath: string;
  dstBucket: string;
  dstPath: string;
  /** metadata to set (merged over the source's); present → REPLACE */
  metadata?: Record<string, string>;
  mtimeNs?: bigint;
  op?: string;
  /** the source's size, when the caller knows it (a listing): a plain copy (metadata kept)
   *  below copy_cutoff then needs no HEAD first: one request, one round trip */
  size?: number;
  /** only over this version of the target, or only where nothing is (If-Match / If-None-Match) */
  condition?: WriteCondition;
}

export async function copyObject(ctx: BackendContext, req: CopyRequest): Promise<CopyResult> {
  const op = req.op ?? 'COPY';
  const srcKey = ctx.enc.keyFromPath(req.srcPath, op);
  const dstKey = ctx.enc.keyFromPath(req.dstPath, op);
  const replace = req.metadata !== undefined || req.mtimeNs !== undefined;
  const source = copySource(req.srcBucket, srcKey);
  if (!replace && req.size !== undefined && !(req.size > 0 && req.size >= ctx.opts.copy_cutoff)) {
    return copyInOne(ctx, req, op, source, dstKey, null);
  }
  const head: HeadObjectCommandOutput = await ctx.run(op, req.srcPath, { bucket: req.srcBucket, idempotent: true }, (s) =>
    ctx.client.send(new HeadObjectCommand({ Bucket: req.srcBucket, Key: srcKey, ...ctx.ssec() }), sendOptions(s)),
  );
  if (isArchivedUnrestored(head.StorageClass, head.Restore)) throw archivedError(op, req.srcPath, head.StorageClass);
  const size = head.ContentLength ?? 0;
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(head.Metadata ?? {})) metadata[k.toLowerCase()] = v;
  for (const [k, v] of Object.entries(req.metadata ?? {})) metadata[k.toLowerCase()] = v;
  if (req.mtimeNs !== undefined) metadata[META_MTIME] = formatMtime(req.mtimeNs);
  const contentHeaders = {
    ...(head.ContentType ? { ContentType: head.ContentType } : {}),
    ...(head.CacheControl ? { CacheControl: head.CacheControl } : {}),
    ...(head.ContentDisposition ? { ContentDisposition: head.ContentDisposition } : {}),
    ...(head.ContentEncoding ? { ContentEncoding: head.ContentEncoding } : {}),
    ...(head.ContentLanguage ? { ContentLanguage: head.ContentLanguage } : {}),
    ...(head.ExpiresString ? { ExpiresString: head.ExpiresString } : {}),
  };
  if (size > 0 && size >= ctx.opts.copy_cutoff) return multipartCopy(ctx, req, op, source, dstKey, size, metadata, contentHeaders);
  return copyInOne(ctx, req, op, source, dstKey, replace ? { metadata, contentHeaders } : null);
}

/** One CopyObject: the source's metadata kept (`replaced` null), or replaced by what is given. */
async function copyInOne(
  ctx: BackendContext,
  req: CopyRequest,
  op: string,
  source: string,
  dstKey: string,
  replaced: { metadata: Record<string, string>; contentHeaders: Record<string, string> } | null,
): Promise<CopyResult> {
  let condition = req.condition;
  const once = () =>
    ctx.run(op, req.dstPath, { bucket: req.dstBucket, idempotent: true, write: true }, async (s) => {
      try {
        return await ctx.client.send(
          new CopyObjectCommand({
            Bucket: req.dstBucket,
            Key: dstKey,
            CopySource: source,
            MetadataDirective: replaced ? 'REPLACE' : 'COPY',
            ...conditionHeaders(ctx, condition),
            ...(replaced ? { Metadata: replaced.metadata, ...replaced.contentHeaders } : {}),
            ...ctx.createParams(),
            ...ctx.ssec(),
            ...ctx.ssecCopySource(),
          } as ConstructorParameters<typeof CopyObjectCommand>[0]),
          sendOptions(s),
        );
      } catch (err) {
        if (classify(err).code === 'InvalidObjectState') throw archivedError(op, req.srcPath, (err as { StorageClass?: string }).StorageClass, err);
        throw err;
      }
    });
  const out = await once().catch((err: unknown) => {
    if (!conditionsUnsupported(ctx, !!condition, err)) throw err;
    condition = undefined;
    return once();
  });
  return { etag: out.CopyObjectResult?.ETag };
}

async function multipartCopy(
  ctx: BackendContext,
  req: CopyRequest,
  op: string,
  source: string,
  dstKey: string,
  size: number,
  metadata: Record<string, string>,
  contentHeaders: Record<string, string>,
): Promise<CopyResult> {
  const o = ctx.opts;
  const create = await ctx.run(op, req.dstPath, { bucket: req.dstBucket, idempotent: true, write: true }, (s) =>
    ctx.client.send(
      new CreateMultipartUploadCommand({
        Bucket: req.dstBucket,
        Key: dstKey,
        Metadata: metadata,
        ...contentHeaders,
        ...ctx.createParams(),
        ...ctx.ssec(),
      } as ConstructorParameters<typeof CreateMultipartUploadCommand>[0]),
      sendOptions(s),
    ),
  );
  const uploadId = create.UploadId!;
  try {
    const parts = await copyParts(ctx, req, op, source, dstKey, uploadId, size);
    const complete = (condition: WriteCondition | undefined) =>
      ctx.run(op, req.dstPath, { bucket: req.dstBucket, idempotent: true, write: true }, (s) =>
        ctx.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: req.dstBucket,
            Key: dstKey,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts },
            ...conditionHeaders(ctx, condition),
          }),
          sendOptions(s),
        ),
      );
    const done = await complete(req.condition).catch((err: unknown) => {
      if (!conditionsUnsupported(ctx, !!req.condition, err)) throw err;
      return complete(undefined);
    });
    return { etag: done.ETag };
  } catch (err) {
    if (!o.leave_parts_on_error) await abortUpload(ctx, req.dstBucket, dstKey, req.dstPath, uploadId, op);
    if (err instanceof BackendError) throw err;
    throw new BackendError('Other', op, req.dstPath, (err as Error)?.message ?? String(err), { cause: err });
  }
}

/** UploadPartCopy of every --copy-cutoff sized range, --s3-upload-concurrency at a time. */
async function copyParts(
  ctx: BackendContext,
  req: CopyRequest,
  op: string,
  source: string,
  dstKey: string,
  uploadId: string,
  size: number,
): Promise<CompletedPart[]> {
  const o = ctx.opts;
  const partSize = partSizeFor(size, o.max_upload_parts, Math.max(1, o.copy_cutoff));
  const count = Math.ceil(size / partSize);
  const parts: CompletedPart[] = new Array(count);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const start = i * partSize;
      const end = Math.min(size, start + partSize) - 1;
      const out = await ctx.run(`${op} part ${i + 1}`, req.dstPath, { bucket: req.dstBucket, idempotent: true, write: true }, (s) =>
        ctx.client.send(
          new UploadPartCopyCommand({
            Bucket: req.dstBucket,
            Key: dstKey,
            UploadId: uploadId,
            PartNumber: i + 1,
            CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`,
            ...ctx.ssec(),
            ...ctx.ssecCopySource(),
          } as ConstructorParameters<typeof UploadPartCopyCommand>[0]),
          sendOptions(s),
        ),
      );
      parts[i] = { PartNumber: i + 1, ETag: out.CopyPartResult?.ETag };
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, Math.max(1, o.upload_concurrency)) }, worker));
  return parts;
}
