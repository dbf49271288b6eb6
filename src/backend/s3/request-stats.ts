// What a backend's requests add up to, for `bucketfs stats` and the metrics endpoint: every HTTP
// request by S3 operation and answer, the bytes sent and received, the time to each answer, the
// retries, and the operations that failed for good.
//
// Requests are counted by a middleware on the client itself, the innermost one: it sees each
// HTTP request exactly once (the SDK's own retries are off, client.ts; ours call send() again and
// are counted again), with its raw status, before any deserializer has read the body. The bytes
// of a response body are counted as they arrive from the socket (below), so a download stopped
// half-way counts what was received, not its Content-Length. Nothing here is on the path of the
// data itself: a few additions per request.
import type { S3Client } from '@aws-sdk/client-s3';
import { Histogram, type HistogramSnapshot } from '../../util/histogram.js';
import type { BackendErrorKind } from './backend-error.js';
import { classify } from './retry.js';

/** One row of the request counts. */
export interface RequestCount {
  /** the S3 operation: GetObject, PutObject, UploadPart, ListObjectsV2, … */
  op: string;
  /** the HTTP status of the answer ("200", "404"), or why there was none ("network", "aborted") */
  status: string;
  count: number;
}

export interface RequestStatsSnapshot {
  requests: RequestCount[];
  /** requests sent and not answered yet */
  inFlight: number;
  /** request bodies sent (object data, parts, XML documents) */
  bytesSent: number;
  /** response bodies received (object data, listings, error documents) */
  bytesReceived: number;
  /** requests sent again by the retry policy (retry.ts) after a failure */
  retries: number;
  /** operations that failed for good (after their retries), by kind; not NotFound, not Aborted */
  errors: Partial<Record<BackendErrorKind, number>>;
  /** time to the answer's headers, by S3 operation */
  durations: Record<string, HistogramSnapshot>;
}

export class RequestStats {
  private readonly counts = new Map<string, RequestCount>();
  private readonly durations = new Map<string, Histogram>();
  private readonly errorKinds = new Map<BackendErrorKind, number>();
  inFlight = 0;
  /** requests answered or failed, all operations together */
  total = 0;
  bytesSent = 0;
  bytesReceived = 0;
  retries = 0;

  count(op: string, status: string): void {
    this.total++;
    const key = `${op} ${status}`;
    const c = this.counts.get(key);
    if (c) c.count++;
    else this.counts.set(key, { op, status, count: 1 });
  }

  timed(op: string, seconds: number): void {
    let h = this.durations.get(op);
    if (!h) this.durations.set(op, (h = new Histogram()));
    h.observe(seconds);
  }

  /**
   * An operation failed for good. A NotFound is an answer (an existence check answered no, as
   * for every new name created), and an Aborted one was stopped by bucketfs itself (a read-ahead
   * no longer wanted): neither is an error of the mount.
   */
  failed(kind: BackendErrorKind): void {
    if (kind === 'NotFound' || kind === 'Aborted') return;
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }

  snapshot(): RequestStatsSnapshot {
    const durations: Record<string, HistogramSnapshot> = {};
    for (const [op, h] of this.durations) durations[op] = h.snapshot();
    return {
      requests: [...this.counts.values()].map((c) => ({ ...c })),
      inFlight: this.inFlight,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      retries: this.retries,
      errors: Object.fromEntries(this.errorKinds),
      durations,
    };
  }
}

interface RawRequest {
  headers?: Record<string, string>;
  body?: unknown;
}
interface RawResponse {
  statusCode?: number;
  body?: unknown;
}

/** the bytes of a request body: its Content-Length, else the length of a body held in memory */
function bodyLength(req: RawRequest | undefined): number {
  const declared = Number(req?.headers?.['content-length'] ?? req?.headers?.['Content-Length']);
  if (Number.isFinite(declared) && declared >= 0) return declared;
  const b = req?.body;
  if (typeof b === 'string') return Buffer.byteLength(b);
  if (b instanceof Uint8Array) return b.byteLength;
  return 0;
}

/**
 * Count the bytes of a response body as the HTTP parser hands them over: Node's parser calls the
 * IncomingMessage's push() with each chunk it receives, whoever reads the body and whenever.
 * Wrapping that one method of this one object counts received bytes without a listener (which
 * would change how the stream flows) and without a stream in between (which would copy nothing,
 * but add a hop for every chunk of every download).
 */
function countBody(body: unknown, stats: RequestStats): void {
  if (body instanceof Uint8Array) {
    stats.bytesReceived += body.byteLength;
    return;
  }
  const s = body as { push?: (chunk: unknown, encoding?: BufferEncoding) => boolean; readableLength?: number } | undefined;
  if (!s || typeof s.push !== 'function') return;
  // the parser goes on with the body in the same pass that announced the headers: what arrived
  // with them is already buffered (and nobody has read it yet)
  stats.bytesReceived += s.readableLength ?? 0;
  const push = s.push;
  s.push = function (this: unknown, chunk: unknown, encoding?: BufferEncoding) {
    if (chunk instanceof Uint8Array) stats.bytesReceived += chunk.byteLength;
    else if (typeof chunk === 'string') stats.bytesReceived += Buffer.byteLength(chunk, encoding);
    return push.call(this, chunk, encoding);
  };
}

/** What became of a request that got no answer: "network" (refused, reset, timed out), "aborted", "error". */
function noAnswer(err: unknown): string {
  const kind = classify(err).kind;
  return kind === 'Network' ? 'network' : kind === 'Aborted' ? 'aborted' : 'error';
}

/** Count every request `client` sends into `stats` (see the top of this file). */
export function countRequests(client: S3Client, stats: RequestStats): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = (context.commandName ?? 'Unknown').replace(/Command$/, '');
      stats.bytesSent += bodyLength(args.request as RawRequest);
      stats.inFlight++;
      const t0 = performance.now();
      try {
        const out = await next(args);
        const res = out.response as RawResponse | undefined;
        stats.count(op, String(res?.statusCode ?? 'error'));
        countBody(res?.body, stats);
        return out;
      } catch (err) {
        stats.count(op, noAnswer(err));
        throw err;
      } finally {
        stats.inFlight--;
        stats.timed(op, (performance.now() - t0) / 1000);
      }
    },
    // innermost: after the deserializer (its step, low priority), right before the HTTP handler
    { step: 'deserialize', name: 'bucketfsRequestStats', priority: 'low' },
  );
}
