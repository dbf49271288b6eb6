// Uploads: one PutObject below upload_cutoff, a multipart upload otherwise.
//
// What is stored follows rclone:
//  - X-Amz-Meta-Mtime always (metadata.ts format);
//  - single PUT: Content-MD5 when the MD5 is known (a Buffer body is hashed; a stream only when
//    the caller passes opts.md5), so the server checks the bytes;
//  - multipart: X-Amz-Meta-Md5chksum (base64 MD5) when the MD5 is known BEFORE the upload
//    starts — metadata cannot be added after — and disable_checksum is off. A Buffer body is
//    hashed first, and so is a stream the caller can hash beforehand (opts.hashMd5: a local
//    file, as rclone hashes a local file first); a stream of unknown content cannot be, so
//    streamed uploads carry no md5chksum unless the caller knows it (opts.md5), exactly as
//    rclone's streaming uploads (rcat, mount) have none;
//  - with SSE-C/SSE-KMS the ETag of a single PUT is not the MD5, so md5chksum is stored there too.
//
// The multipart engine is our own rather than lib-storage's Upload because it has to: grow the
// part size for known sizes like rclone; stop a stream of unknown size at chunk_size ×
// max_upload_parts with a clear error (lib-storage hard-codes 10000 parts); retry each part
// through the one retry policy; send SSE-C on every part; abort (or deliberately not, with
// leave_parts_on_error) on any failure.
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { BackendError } from './backend-error.js';
import { conditionHeaders, conditionsUnsupported, isRefusedCondition, type WriteCondition } from './conditions.js';
import { sendOptions, type BackendContext } from './context.js';
import { formatMtime, md5HexToBase64, md5Of, META_MD5, META_MTIME } from './metadata.js';
import { contentTypeFor } from './mime.js';
import { maxStreamSize, partSizeFor, useMultipart } from './part-size.js';
import { formatSizeBinary } from '../../config/units.js';
import type { ObjectInfo, PutOptions } from './types.js';

/** refused completions of one multipart upload that onRefused may answer before it fails */
const MAX_REFUSALS = 8;

interface Prepared {
  key: string;
  path: string;
  bucket: string;
  contentType: string;
  metadata: Record<string, string>;
  opts: PutOptions;
}

export async function putObject(ctx: BackendContext, bucket: string, path: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo> {
  if (opts.signal?.aborted) throw new BackendError('Aborted', 'PUT', path, 'aborted');
  const signal = opts.signal;
  if (Buffer.isBuffer(body) || !signal) return put(ctx, bucket, path, body, opts);
  // A stream may keep the upload waiting for input (a pipe, a terminal) rather than for the
  // server, where no request's abort signal reaches: the abort ends the stream itself, which
  // fails the read in progress, and the multipart upload (if any) is aborted as for any failure.
  const onAbort = () => body.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await put(ctx, bucket, path, body, opts);
  } catch (err) {
    if (signal.aborted && !(err instanceof BackendError && err.kind === 'Aborted')) {
      throw new BackendError('Aborted', 'PUT', path, 'aborted', { cause: err });
    }
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function put(ctx: BackendContext, bucket: string, path: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo> {
  const key = ctx.enc.keyFromPath(path, 'PUT');
  const size = Buffer.isBuffer(body) ? body.length : opts.size;
  if (Buffer.isBuffer(body) && opts.size !== undefined && opts.size !== body.length) {
    throw new BackendError('Other', 'PUT', path, `size ${opts.size} given for a body of ${body.length} bytes`);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata[k.toLowerCase()] = v;
  metadata[META_MTIME] = formatMtime(opts.mtimeNs);
  const p: Prepared = { key, path, bucket, contentType: opts.contentType || contentTypeFor(path), metadata, opts };
  const multipart = useMultipart(size, ctx.opts.upload_cutoff);
  let md5 = opts.md5;
  if (!md5 && opts.hashMd5 && !Buffer.isBuffer(body) && size !== undefined && (!multipart || !ctx.opts.disable_checksum)) {
    md5 = await opts.hashMd5();
  }

  if (!multipart) {
    if (Buffer.isBuffer(body)) return putSingle(ctx, p, body, md5Of(body).toString('hex'));
    return putSingle(ctx, p, body, md5, size);
  }
  const partSize = partSizeFor(size, ctx.opts.max_upload_parts, ctx.opts.chunk_size);
  if (Buffer.isBuffer(body)) {
    return putMultipart(ctx, p, bufferParts(body, partSize), partSize, size, md5 ?? md5Of(body).toString('hex'));
  }
  if (size === undefined) {
    // A stream of unknown length that fits in one part goes up as a single PUT, as the AWS
    // upload managers (and so rclone) do: 1 request instead of 3, and Content-MD5 checked.
    const parts = streamParts(body, partSize, path);
    const first = await parts.next();
    const firstBuf = first.done ? Buffer.alloc(0) : first.value;
    const second = first.done ? first : await parts.next();
    if (second.done) return putSingle(ctx, p, firstBuf, md5Of(firstBuf).toString('hex'));
    return putMultipart(ctx, p, prepend([firstBuf, second.value], parts), partSize, undefined, opts.md5);
  }
  return putMultipart(ctx, p, streamParts(body, partSize, path), partSize, size, md5);
}

async function putSingle(ctx: BackendContext, p: Prepared, body: Buffer | Readable, md5Hex: string | undefined, size?: number): Promise<ObjectInfo> {
  try {
    return await putSingleOnce(ctx, p, body, md5Hex, size);
  } catch (err) {
    // refused for its condition by a server without conditional writes: again without
    if (!(Buffer.isBuffer(body) || p.opts.reopen) || !conditionsUnsupported(ctx, !!p.opts.condition, err)) throw err;
    return putSingleOnce(ctx, p, Buffer.isBuffer(body) ? body : await p.opts.reopen!(), md5Hex, size);
  }
}

async function putSingleOnce(ctx: BackendContext, p: Prepared, body: Buffer | Readable, md5Hex: string | undefined, size?: number): Promise<ObjectInfo> {
  const md5b64 = md5Hex ? md5HexToBase64(md5Hex) : null;
  const metadata = { ...p.metadata };
  if (md5b64 && ctx.etagIsNotMd5 && !ctx.opts.disable_checksum) metadata[META_MD5] = md5b64;
  const replayable = Buffer.isBuffer(body) || !!p.opts.reopen;
  const length = Buffer.isBuffer(body) ? body.length : size;
  let attemptNo = 0;
  let current = body;
  const out = await ctx.run('PUT', p.path, { bucket: p.bucket, idempotent: replayable, write: true, signal: p.opts.signal }, async (signal) => {
    let b: Buffer | Readable = current;
    if (!Buffer.isBuffer(current) && attemptNo++ > 0) {
      // a retry: the previous stream is spent; start again from a fresh one
      current.destroy();
      b = current = await p.opts.reopen!();
    }
    return ctx.client.send(
      new PutObjectCommand({
        Bucket: p.bucket,
        Key: p.key,
        Body: b,
        ContentLength: length,
        ContentType: p.contentType,
        Metadata: metadata,
        ...(md5b64 ? { ContentMD5: md5b64 } : {}),
        ...conditionHeaders(ctx, p.opts.condition),
        ...ctx.createParams(),
        ...ctx.ssec(),
      } as ConstructorParameters<typeof PutObjectCommand>[0]),
      sendOptions(signal),
    );
  });
  p.opts.onProgress?.(length ?? 0);
  return resultInfo(ctx, p, length ?? 0, out.ETag, md5Hex, metadata);
}

function resultInfo(
  ctx: BackendContext,
  p: Prepared,
  size: number,
  etag: string | undefined,
  md5Hex: string | undefined,
  metadata: Record<string, string>,
): ObjectInfo {
  const info: ObjectInfo = {
    path: p.path,
    size,
    // the server's LastModified is not in PUT responses; the upload just finished
    lastModified: new Date(),
    mtimeNs: p.opts.mtimeNs,
    etag: etag ?? '',
    contentType: p.contentType,
    metadata,
  };
  if (ctx.opts.storage_class) info.storageClass = ctx.opts.storage_class;
  if (md5Hex && (metadata[META_MD5] || (!ctx.etagIsNotMd5 && etag && !etag.includes('-')))) info.md5 = md5Hex.toLowerCase();
  return info;
}

function* bufferParts(body: Buffer, partSize: number): Generator<Buffer> {
  for (let off = 0; off < body.length; off += partSize) yield body.subarray(off, Math.min(off + partSize, body.length));
}

/** Cut a stream into partSize buffers (the last one shorter); yields at least one buffer. */
async function* streamParts(stream: Readable, partSize: number, path: string): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let len = 0;
  let yielded = false;
  try {
    for await (const chunk of stream) {
      let b: Buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array | string);
      while (b.length > 0) {
        const take = Math.min(partSize - len, b.length);
        pending.push(b.subarray(0, take));
        len += take;
        b = b.subarray(take);
        if (len === partSize) {
          // a chunk that is a whole part already (the mount's streams push exactly that) goes
          // as it is: a pushed chunk belongs to the consumer, and a copy would double the memory
          const part = pending.length === 1 ? pending[0]! : Buffer.concat(pending, len);
          pending = [];
          len = 0;
          yielded = true;
          yield part;
        }
      }
    }
  } catch (err) {
    if (err instanceof BackendError) throw err;
    throw new BackendError('Other', 'PUT', path, `reading the data to upload failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  // the last part: as it is when it was one chunk (the mount's streams push it so), no copy
  if (len > 0 || !yielded) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, len);
}

async function* prepend<T>(first: T[], rest: AsyncIterator<T> | Iterator<T>): AsyncGenerator<T> {
  yield* first;
  for (;;) {
    const n = await rest.next();
    if (n.done) return;
    yield n.value;
  }
}

async function putMultipart(
  ctx: BackendContext,
  p: Prepared,
  parts: AsyncIterable<Buffer> | Iterable<Buffer>,
  partSize: number,
  size: number | undefined,
  md5Hex: string | undefined,
): Promise<ObjectInfo> {
  const o = ctx.opts;
  const metadata = { ...p.metadata };
  const md5b64 = md5Hex ? md5HexToBase64(md5Hex) : null;
  if (md5b64 && !o.disable_checksum) metadata[META_MD5] = md5b64;
  const uploadId = await createUpload(ctx, p, metadata);
  ctx.log.debug(`PUT ${p.path}: multipart upload ${uploadId}, part size ${formatSizeBinary(partSize)}`);
  try {
    const { completed, total } = await uploadParts(ctx, p, uploadId, parts, partSize);
    if (size !== undefined && total !== size) {
      throw new BackendError('Other', 'PUT', p.path, `the data to upload was ${total} bytes, ${size} expected`);
    }
    completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
    const complete = (condition: WriteCondition | undefined) =>
      ctx.run('PUT', p.path, { bucket: p.bucket, idempotent: true, write: true, signal: p.opts.signal }, (s) =>
        ctx.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: p.bucket,
            Key: p.key,
            UploadId: uploadId,
            MultipartUpload: { Parts: completed },
            ...conditionHeaders(ctx, condition),
          }),
          sendOptions(s),
        ),
      );
    let condition = p.opts.condition;
    let done;
    for (let refusals = 0; ; refusals++) {
      try {
        done = await complete(condition);
        break;
      } catch (err) {
        if (conditionsUnsupported(ctx, !!condition, err)) {
          condition = undefined;
          continue;
        }
        // refused for its condition: the caller may make room (keep the other version
        // elsewhere) and name the condition to complete on instead; the parts are kept
        if (!p.opts.onRefused || !condition || !isRefusedCondition(err) || refusals >= MAX_REFUSALS) throw err;
        const next = await p.opts.onRefused();
        if (next === null) throw err;
        if ('stored' in next) return next.stored;
        condition = next.retryWith;
      }
    }
    return resultInfo(ctx, p, total, done.ETag, md5Hex, metadata);
  } catch (err) {
    if (o.leave_parts_on_error) {
      ctx.log.notice(`PUT ${p.path}: upload failed, leaving multipart upload ${uploadId} on the server (leave_parts_on_error)`);
    } else {
      await abortUpload(ctx, p.bucket, p.key, p.path, uploadId);
    }
    if (err instanceof BackendError) throw err;
    throw new BackendError('Other', 'PUT', p.path, (err as Error)?.message ?? String(err), { cause: err });
  }
}

async function createUpload(ctx: BackendContext, p: Prepared, metadata: Record<string, string>): Promise<string> {
  const create = await ctx.run('PUT', p.path, { bucket: p.bucket, idempotent: true, write: true, signal: p.opts.signal }, (s) =>
    ctx.client.send(
      new CreateMultipartUploadCommand({
        Bucket: p.bucket,
        Key: p.key,
        ContentType: p.contentType,
        Metadata: metadata,
        ...ctx.createParams(),
        ...ctx.ssec(),
      } as ConstructorParameters<typeof CreateMultipartUploadCommand>[0]),
      sendOptions(s),
    ),
  );
  return create.UploadId!;
}

/** Uploads the parts as they come, --s3-upload-concurrency at a time; the first failure ends it. */
async function uploadParts(
  ctx: BackendContext,
  p: Prepared,
  uploadId: string,
  parts: AsyncIterable<Buffer> | Iterable<Buffer>,
  partSize: number,
): Promise<{ completed: CompletedPart[]; total: number }> {
  const o = ctx.opts;
  const completed: CompletedPart[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let uploaded = 0;
  let total = 0;
  let partNumber = 0;
  for await (const buf of parts as AsyncIterable<Buffer>) {
    if (failure) break;
    if (p.opts.signal?.aborted) throw new BackendError('Aborted', 'PUT', p.path, 'aborted');
    if (++partNumber > o.max_upload_parts) {
      const most = formatSizeBinary(maxStreamSize(o.max_upload_parts, partSize));
      throw new BackendError(
        'TooLarge',
        'PUT',
        p.path,
        `upload exceeds ${o.max_upload_parts} parts of ${formatSizeBinary(partSize)} (${most}): increase --s3-chunk-size`,
      );
    }
    total += buf.length;
    const n = partNumber;
    const task = uploadPart(ctx, p, uploadId, n, buf).then(
      (etag) => {
        completed.push({ PartNumber: n, ETag: etag });
        uploaded += buf.length;
        p.opts.onProgress?.(uploaded);
      },
      (err) => {
        failure ??= err;
      },
    );
    // the part's buffer is the caller's again (a stream reuses it for a later part)
    const tracked: Promise<void> = task.finally(() => {
      inflight.delete(tracked);
      p.opts.onPartDone?.(buf);
    });
    inflight.add(tracked);
    if (inflight.size >= Math.max(1, o.upload_concurrency)) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (failure) throw failure;
  return { completed, total };
}

async function uploadPart(ctx: BackendContext, p: Prepared, uploadId: string, partNumber: number, buf: Buffer): Promise<string> {
  const md5 = md5Of(buf).toString('base64');
  const out = await ctx.run(`PUT part ${partNumber}`, p.path, { bucket: p.bucket, idempotent: true, write: true, signal: p.opts.signal }, (s) =>
    ctx.client.send(
      new UploadPartCommand({
        Bucket: p.bucket,
        Key: p.key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: buf,
        ContentLength: buf.length,
        ContentMD5: md5,
        ...ctx.ssec(),
      } as ConstructorParameters<typeof UploadPartCommand>[0]),
      sendOptions(s),
    ),
  );
  return out.ETag!;
}

export async function abortUpload(ctx: BackendContext, bucket: string, key: string, path: string, uploadId: string, op = 'PUT'): Promise<void> {
  try {
    await ctx.run('ABORT', path, { bucket, idempotent: true, write: true }, (s) =>
      ctx.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), sendOptions(s)),
    );
  } catch (err) {
    // the upload's own error matters more; this one is only logged
    ctx.log.error(`${op} ${path}: could not abort multipart upload ${uploadId}: ${(err as Error).message}`);
  }
}
