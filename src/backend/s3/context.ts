// What every S3 operation module shares: the client, the options, the name encoder, and the
// one way to send a request (through the retry policy, mapped to BackendError).
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Options } from '../../config/s3-options.js';
import type { Logger } from '../../util/log.js';
import type { NameEncoder } from './encoding.js';
import { withRetry, type RetryPolicy } from './retry.js';
import { BackendError } from './backend-error.js';
import { RequestStats } from './request-stats.js';

export interface RunOptions {
  bucket?: string;
  /** safe to send again after a failure (GET, HEAD, LIST, DELETE, copies, PUT from a Buffer, parts) */
  idempotent: boolean;
  /** a write: an AccessDenied on an anonymous client then says credentials are needed */
  write?: boolean;
  signal?: AbortSignal;
}

/**
 * The options of a client.send(): none without a signal, so the client's cached middleware
 * stack is used (cacheMiddleware, see client.ts: the SDK resolves the stack again for every
 * send that has options).
 */
export function sendOptions(signal: AbortSignal | undefined): { abortSignal: AbortSignal } | undefined {
  return signal ? { abortSignal: signal } : undefined;
}

export class BackendContext {
  constructor(
    readonly client: S3Client,
    readonly opts: S3Options,
    readonly enc: NameEncoder,
    readonly retry: RetryPolicy,
    readonly log: Logger,
    readonly endpoint: string,
    /** no credentials: blank keys, or env_auth that found none (known after the first request) */
    private readonly isAnonymous: boolean | (() => boolean),
    /** what the requests add up to (request-stats.ts): retries and failures are counted here */
    readonly stats: RequestStats = new RequestStats(),
  ) {}

  /** the server refused a conditional write (If-Match / If-None-Match): uploads go without */
  conditionsRefused = false;

  get anonymous(): boolean {
    return typeof this.isAnonymous === 'function' ? this.isAnonymous() : this.isAnonymous;
  }

  /** The ETag is not the content MD5 when objects are encrypted with SSE-C or SSE-KMS. */
  get etagIsNotMd5(): boolean {
    return !!this.opts.sse_customer_algorithm || this.opts.server_side_encryption === 'aws:kms';
  }

  /** Run one S3 request (or a short sequence) with retries; failures become BackendError. */
  async run<T>(op: string, path: string, o: RunOptions, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    try {
      return await withRetry(
        this.retry,
        { op, path, bucket: o.bucket, idempotent: o.idempotent, write: o.write, signal: o.signal, endpoint: this.endpoint, anonymous: this.anonymous },
        (attempt) => {
          if (attempt > 1) this.stats.retries++;
          return fn(o.signal);
        },
        this.log,
      );
    } catch (err) {
      this.stats.failed(err instanceof BackendError ? err.kind : 'Other');
      throw err;
    }
  }

  /** SSE-C request parameters for the object itself (PUT, GET, HEAD, multipart create/part). */
  ssec(): { SSECustomerAlgorithm?: string; SSECustomerKey?: string } {
    const o = this.opts;
    if (!o.sse_customer_algorithm) return {};
    // A Buffer makes the SDK base64-encode the raw key and compute the key MD5 itself (the
    // sse_customer_key_md5 option is then only a cross-check, see backend.ts).
    return { SSECustomerAlgorithm: o.sse_customer_algorithm, SSECustomerKey: Buffer.from(o.sse_customer_key, 'utf8') as unknown as string };
  }

  /** SSE-C parameters describing the copy source. */
  ssecCopySource(): { CopySourceSSECustomerAlgorithm?: string; CopySourceSSECustomerKey?: string } {
    const o = this.opts;
    if (!o.sse_customer_algorithm) return {};
    return {
      CopySourceSSECustomerAlgorithm: o.sse_customer_algorithm,
      CopySourceSSECustomerKey: Buffer.from(o.sse_customer_key, 'utf8') as unknown as string,
    };
  }

  /** Server-side encryption (SSE-S3 / SSE-KMS) parameters for object creation. */
  sse(): { ServerSideEncryption?: string; SSEKMSKeyId?: string } {
    const o = this.opts;
    const out: { ServerSideEncryption?: string; SSEKMSKeyId?: string } = {};
    if (o.server_side_encryption) out.ServerSideEncryption = o.server_side_encryption;
    if (o.sse_kms_key_id) out.SSEKMSKeyId = o.sse_kms_key_id;
    return out;
  }

  /** acl + storage class + encryption for anything that creates an object. */
  createParams(): { ACL?: string; StorageClass?: string; ServerSideEncryption?: string; SSEKMSKeyId?: string } {
    const o = this.opts;
    return {
      ...(o.acl ? { ACL: o.acl } : {}),
      ...(o.storage_class ? { StorageClass: o.storage_class } : {}),
      ...this.sse(),
    };
  }
}
