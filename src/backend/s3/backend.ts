// The S3 backend: S3BackendApi over one S3Client. Each operation lives in its own module;
// this class holds the shared context and does the bucket-level and small operations.
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  RestoreObjectCommand,
  type BucketCannedACL,
  type BucketLocationConstraint,
  type ListMultipartUploadsCommandOutput,
} from '@aws-sdk/client-s3';
import type { S3Options } from '../../config/s3-options.js';
import { addSecret, log as defaultLog, type Logger } from '../../util/log.js';
import { BackendError } from './backend-error.js';
import { buildClient, type BuiltClient, type ClientExtras } from './client.js';
import { BackendContext, sendOptions } from './context.js';
import { conditionsUnsupported } from './conditions.js';
import { copyObject, copySource } from './copy.js';
import { NameEncoder } from './encoding.js';
import { dirExists, listObjects, listPage, probeName } from './list.js';
import { formatMtime, md5Of, META_MTIME } from './metadata.js';
import { headDirMarker, headObject, readObject } from './objects.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';
import { RequestStats, countRequests } from './request-stats.js';
import { putObject } from './upload.js';
import type {
  BucketInfo,
  CopyOptions,
  CopyResult,
  DeleteResult,
  DeleteTarget,
  ListEntry,
  MultipartUploadInfo,
  ObjectInfo,
  PutOptions,
  ReadOptions,
  S3BackendApi,
} from './types.js';

export interface CreateS3BackendOptions {
  log?: Logger;
  /** retry policy overrides (tests shorten it) */
  retries?: number;
  retryBaseMs?: number;
  retryMaxDelayMs?: number;
  retryBudgetMs?: number;
  /** attempts and time for a refused connection (default 4 and 3 s) */
  retryRefusedAttempts?: number;
  retryRefusedBudgetMs?: number;
  /** custom DNS lookup for the HTTP agents (tests reach virtual-hosted bucket names with it) */
  lookup?: ClientExtras['lookup'];
  /** environment for credentials and AWS_CA_BUNDLE (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** clock for dir-marker mtimes (tests) */
  now?: () => bigint;
}

const DELETE_BATCH = 1000;

export class S3Backend implements S3BackendApi {
  readonly ctx: BackendContext;
  private readonly built: BuiltClient;
  /** every request this backend sent, for `bucketfs stats` and the metrics endpoint */
  readonly requestStats = new RequestStats();

  constructor(
    readonly options: S3Options,
    private readonly extra: CreateS3BackendOptions = {},
  ) {
    const log = extra.log ?? defaultLog;
    for (const s of [options.secret_access_key, options.session_token, options.sse_customer_key]) addSecret(s);
    // the SSE-C key travels base64-encoded in headers: never print that form either
    if (options.sse_customer_key) addSecret(Buffer.from(options.sse_customer_key, 'utf8').toString('base64'));
    if (options.sse_customer_algorithm && options.sse_customer_key_md5) {
      const computed = md5Of(Buffer.from(options.sse_customer_key, 'utf8')).toString('base64');
      if (computed !== options.sse_customer_key_md5) {
        throw new Error('sse_customer_key_md5 does not match the MD5 of sse_customer_key');
      }
    }
    this.built = buildClient(options, { lookup: extra.lookup, env: extra.env, log });
    const retry: RetryPolicy = {
      attempts: extra.retries ?? DEFAULT_RETRY.attempts,
      baseMs: extra.retryBaseMs ?? DEFAULT_RETRY.baseMs,
      maxDelayMs: extra.retryMaxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
      budgetMs: extra.retryBudgetMs ?? DEFAULT_RETRY.budgetMs,
      refusedAttempts: extra.retryRefusedAttempts ?? DEFAULT_RETRY.refusedAttempts,
      refusedBudgetMs: extra.retryRefusedBudgetMs ?? DEFAULT_RETRY.refusedBudgetMs,
    };
    countRequests(this.built.client, this.requestStats);
    this.ctx = new BackendContext(
      this.built.client,
      options,
      NameEncoder.fromNames(options.encoding),
      retry,
      log,
      this.built.endpointLabel,
      credentialsAnonymous(this.built.credentials),
      this.requestStats,
    );
  }

  /** The name codec (for callers that need keys, e.g. to print them). */
  get encoder(): NameEncoder {
    return this.ctx.enc;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const out = await this.ctx.run('LIST', '(buckets)', { idempotent: true }, (s) => this.ctx.client.send(new ListBucketsCommand({}), sendOptions(s)));
    return (out.Buckets ?? []).map((b) => ({ name: b.Name ?? '', ...(b.CreationDate ? { created: b.CreationDate } : {}) }));
  }

  async bucketExists(bucket: string): Promise<boolean> {
    try {
      await this.ctx.run('HEAD', bucket, { bucket, idempotent: true }, (s) => this.ctx.client.send(new HeadBucketCommand({ Bucket: bucket }), sendOptions(s)));
      return true;
    } catch (err) {
      if (err instanceof BackendError && (err.kind === 'NotFound' || err.kind === 'NoSuchBucket')) return false;
      throw err;
    }
  }

  async makeBucket(bucket: string): Promise<void> {
    const o = this.options;
    if (o.no_check_bucket) return;
    // rclone checks first: creating an existing bucket one does not own fails on some servers
    if (await this.bucketExists(bucket)) return;
    const acl = o.bucket_acl || o.acl;
    try {
      await this.ctx.run('MKDIR', bucket, { bucket, idempotent: true, write: true }, (s) =>
        this.ctx.client.send(
          new CreateBucketCommand({
            Bucket: bucket,
            ...(acl ? { ACL: acl as BucketCannedACL } : {}),
            ...(o.location_constraint ? { CreateBucketConfiguration: { LocationConstraint: o.location_constraint as BucketLocationConstraint } } : {}),
          }),
          sendOptions(s),
        ),
      );
    } catch (err) {
      const code = (err as BackendError).cause as { name?: string } | undefined;
      if (code?.name === 'BucketAlreadyOwnedByYou') return;
      throw err;
    }
  }

  async removeBucket(bucket: string): Promise<void> {
    await this.ctx.run('RMDIR', bucket, { bucket, idempotent: true, write: true }, (s) =>
      this.ctx.client.send(new DeleteBucketCommand({ Bucket: bucket }), sendOptions(s)),
    );
  }

  list(bucket: string, prefix: string, opts: { recursive: boolean; signal?: AbortSignal }): AsyncGenerator<ListEntry> {
    return listObjects(this.ctx, bucket, prefix, opts);
  }
  listPage(bucket: string, prefix: string, opts: { recursive: boolean; maxKeys: number }): Promise<{ entries: ListEntry[]; complete: boolean }> {
    return listPage(this.ctx, bucket, prefix, opts);
  }

  dirExists(bucket: string, dir: string): Promise<boolean> {
    return dirExists(this.ctx, bucket, dir);
  }

  probeName(bucket: string, path: string): Promise<{ isDir: boolean; siblings: ListEntry[]; complete: boolean }> {
    return probeName(this.ctx, bucket, path);
  }

  head(bucket: string, path: string): Promise<ObjectInfo | null> {
    return headObject(this.ctx, bucket, path);
  }

  read(bucket: string, path: string, opts?: ReadOptions): Promise<{ body: Readable; info: ObjectInfo }> {
    return readObject(this.ctx, bucket, path, opts);
  }

  put(bucket: string, path: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo> {
    return putObject(this.ctx, bucket, path, body, opts);
  }

  copy(srcBucket: string, srcPath: string, dstBucket: string, dstPath: string, opts?: CopyOptions): Promise<CopyResult> {
    return copyObject(this.ctx, { srcBucket, srcPath, dstBucket, dstPath, ...opts });
  }

  async setMtime(bucket: string, path: string, mtimeNs: bigint): Promise<void> {
    await copyObject(this.ctx, { srcBucket: bucket, srcPath: path, dstBucket: bucket, dstPath: path, mtimeNs, op: 'SETMTIME' });
  }

  async delete(bucket: string, targets: DeleteTarget[]): Promise<DeleteResult> {
    const failures: string[] = [];
    const kept: string[] = [];
    let firstKind: BackendError['kind'] | undefined;
    const all = targets.map((t) => (typeof t === 'string' ? { path: t, etag: undefined } : t));
    for (let i = 0; i < all.length; i += DELETE_BATCH) {
      const batch = all.slice(i, i + DELETE_BATCH);
      const byKey = new Map<string, string>();
      const objects = batch.map((t) => {
        const Key = this.ctx.enc.keyFromPath(t.path, 'DELETE');
        byKey.set(Key, t.path);
        return { Key, ...(t.etag ? { ETag: t.etag } : {}) };
      });
      const label = batch.length === 1 ? batch[0]!.path : `${batch.length} objects`;
      // an ETag per key: deleted only while still that version (S3's conditional delete)
      const send = (withEtags: boolean) =>
        this.ctx.run('DELETE', label, { bucket, idempotent: true, write: true }, (s) =>
          this.ctx.client.send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: withEtags ? objects : objects.map(({ Key }) => ({ Key })), Quiet: true },
            }),
            sendOptions(s),
          ),
        );
      const conditional = !this.ctx.conditionsRefused && objects.some((o) => o.ETag);
      const out = await send(conditional).catch((err: unknown) => {
        if (!conditionsUnsupported(this.ctx, conditional, err)) throw err;
        return send(false);
      });
      for (const e of out.Errors ?? []) {
        if (e.Code === 'NoSuchKey') continue;
        const path = (e.Key !== undefined ? byKey.get(e.Key) : undefined) ?? e.Key ?? '?';
        if (e.Code === 'PreconditionFailed') {
          kept.push(path);
          continue;
        }
        failures.push(`${path}: ${e.Code ?? 'error'}${e.Message ? ` (${e.Message})` : ''}`);
        if (!firstKind) firstKind = e.Code === 'AccessDenied' ? 'AccessDenied' : 'Other';
      }
    }
    if (failures.length) {
      const shown = failures.slice(0, 10).join('; ') + (failures.length > 10 ? `; and ${failures.length - 10} more` : '');
      throw new BackendError(
        firstKind ?? 'Other',
        'DELETE',
        all.length === 1 ? all[0]!.path : `${all.length} objects`,
        `${failures.length} not deleted: ${shown}`,
      );
    }
    return { kept };
  }

  /**
   * A zero-byte `dir/` object, as the S3 console and s3fs make them, typed
   * application/x-directory, with the creation time as X-Amz-Meta-Mtime so a listing-free stat
   * of the directory has a time. `opts`: the mtime and other metadata (mode, owners) to store
   * instead: a directory's attributes live in its marker.
   */
  async makeDirMarker(bucket: string, path: string, opts: { mtimeNs?: bigint; metadata?: Record<string, string> } = {}): Promise<void> {
    const dir = path.replace(/\/+$/, '');
    if (dir === '') return;
    const key = this.ctx.enc.keyFromPath(dir, 'MKDIR') + '/';
    const mtime = opts.mtimeNs ?? this.extra.now?.() ?? BigInt(Date.now()) * 1_000_000n;
    await this.ctx.run('MKDIR', dir, { bucket, idempotent: true, write: true }, (s) =>
      this.ctx.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: new Uint8Array(0),
          ContentLength: 0,
          ContentType: 'application/x-directory',
          Metadata: { ...opts.metadata, [META_MTIME]: formatMtime(mtime) },
          ...this.ctx.createParams(),
          ...this.ctx.ssec(),
        } as ConstructorParameters<typeof PutObjectCommand>[0]),
        sendOptions(s),
      ),
    );
  }

  headDirMarker(bucket: string, dir: string): Promise<ObjectInfo | null> {
    return headDirMarker(this.ctx, bucket, dir.replace(/\/+$/, ''));
  }

  /** The marker of `from` as the marker of `to`, its metadata (the directory's times, mode, owners) kept. */
  async copyDirMarker(bucket: string, from: string, to: string): Promise<void> {
    const src = this.ctx.enc.dirPrefix(from.replace(/\/+$/, ''), 'COPY');
    const dst = this.ctx.enc.dirPrefix(to.replace(/\/+$/, ''), 'COPY');
    await this.ctx.run('COPY', from, { bucket, idempotent: true, write: true }, (s) =>
      this.ctx.client.send(
        new CopyObjectCommand({
          Bucket: bucket,
          Key: dst,
          CopySource: copySource(bucket, src),
          MetadataDirective: 'COPY',
          ...this.ctx.createParams(),
          ...this.ctx.ssec(),
          ...this.ctx.ssecCopySource(),
        } as ConstructorParameters<typeof CopyObjectCommand>[0]),
        sendOptions(s),
      ),
    );
  }

  async listMultipartUploads(bucket: string, prefix = ''): Promise<MultipartUploadInfo[]> {
    const keyPrefix = prefix === '' ? '' : this.ctx.enc.keyFromPath(prefix.replace(/\/+$/, ''), 'LIST') + (prefix.endsWith('/') ? '/' : '');
    const result: MultipartUploadInfo[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const out: ListMultipartUploadsCommandOutput = await this.ctx.run('LIST', prefix || `${bucket}:`, { bucket, idempotent: true }, (s) =>
        this.ctx.client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: keyPrefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
            MaxUploads: Math.min(1000, this.options.list_chunk),
          }),
          sendOptions(s),
        ),
      );
      for (const u of out.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        const info: MultipartUploadInfo = { key: this.ctx.enc.pathFromKey(u.Key), uploadId: u.UploadId };
        if (u.Initiated) info.initiated = u.Initiated;
        if (u.StorageClass) info.storageClass = u.StorageClass;
        if (u.Owner) info.owner = { id: u.Owner.ID, displayName: u.Owner.DisplayName };
        if (u.Initiator) info.initiator = { id: u.Initiator.ID, displayName: u.Initiator.DisplayName };
        result.push(info);
      }
      if (!out.IsTruncated || (!out.NextKeyMarker && !out.NextUploadIdMarker)) break;
      keyMarker = out.NextKeyMarker;
      uploadIdMarker = out.NextUploadIdMarker;
    }
    return result;
  }

  async abortMultipartUpload(bucket: string, path: string, uploadId: string): Promise<void> {
    const key = this.ctx.enc.keyFromPath(path, 'ABORT');
    await this.ctx.run('ABORT', path, { bucket, idempotent: true, write: true }, (s) =>
      this.ctx.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), sendOptions(s)),
    );
  }

  async restore(bucket: string, path: string, opts: { days: number; tier: 'Standard' | 'Expedited' | 'Bulk'; description?: string }): Promise<void> {
    const key = this.ctx.enc.keyFromPath(path, 'RESTORE');
    await this.ctx.run('RESTORE', path, { bucket, idempotent: true, write: true }, (s) =>
      this.ctx.client.send(
        new RestoreObjectCommand({
          Bucket: bucket,
          Key: key,
          RestoreRequest: {
            Days: opts.days,
            GlacierJobParameters: { Tier: opts.tier },
            ...(opts.description ? { Description: opts.description } : {}),
          },
        }),
        sendOptions(s),
      ),
    );
  }

  /** Close the keep-alive sockets. */
  destroy(): void {
    this.built.client.destroy();
    this.built.agents.http.destroy();
    this.built.agents.https.destroy();
  }
}

function credentialsAnonymous(c: BuiltClient['credentials']): boolean | (() => boolean) {
  if (c.mode === 'env') return c.anonymous;
  return c.mode === 'anonymous';
}

export function createS3Backend(options: S3Options, opts?: CreateS3BackendOptions): S3Backend {
  return new S3Backend(options, opts);
}
