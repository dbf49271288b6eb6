// Retries and error mapping: the one place that decides whether a failed request is tried
// again, and what a final failure is called.
//
// The SDK's own retry is switched off (maxAttempts 1 in client.ts) so the whole budget lives
// here: exponential backoff with full jitter (delay = random(0, min(cap, base·2^n))) for
// 5xx, 429, throttling codes, RequestTimeout and dropped/refused connections, bounded both by a
// number of attempts and by a total time (much smaller ones for a refused connection). Only
// idempotent operations are retried; the caller says which (a PutObject whose body is a one-shot
// stream is not).
import { BackendError, type BackendErrorKind } from './backend-error.js';

export interface RetryPolicy {
  /** total attempts, first included */
  attempts: number;
  /** backoff base */
  baseMs: number;
  /** cap on one delay */
  maxDelayMs: number;
  /** no new attempt starts once this much time has passed since the first */
  budgetMs: number;
  /**
   * A refused connection (nothing listening: a wrong endpoint or port, a server that is down) is
   * not going to heal within seconds: it gets at most this many attempts and this much time
   * (defaults 4 and 3 s), where resets, timeouts and server errors keep the whole budget.
   */
  refusedAttempts?: number;
  refusedBudgetMs?: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 10, baseMs: 200, maxDelayMs: 8_000, budgetMs: 30_000, refusedAttempts: 4, refusedBudgetMs: 3_000 };

const THROTTLE_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
]);
const TRANSIENT_CODES = new Set(['RequestTimeout', 'RequestTimeoutException', 'InternalError', 'ServiceUnavailable', 'OperationAborted']);

const NET_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending (broken pipe)',
  ETIMEDOUT: 'connection timed out',
  ESOCKETTIMEDOUT: 'connection timed out',
  ECONNABORTED: 'connection aborted',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EAI_AGAIN: 'temporary DNS failure',
  UND_ERR_SOCKET: 'connection closed',
};

/** What a failure is, independent of operation. */
export interface Classified {
  kind: BackendErrorKind;
  retryable: boolean;
  /** short description, never containing a secret */
  detail: string;
  status?: number;
  code?: string;
}

interface SdkLikeError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  cause?: unknown;
  errno?: string | number;
}

function netCode(err: SdkLikeError | undefined, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  if (typeof err.code === 'string' && NET_CODES[err.code]) return err.code;
  if (err.name === 'TimeoutError') return 'ETIMEDOUT';
  if (typeof err.message === 'string' && /socket hang up/i.test(err.message)) return 'ECONNRESET';
  return netCode(err.cause as SdkLikeError | undefined, depth + 1);
}

export function isAbortError(err: unknown): boolean {
  const e = err as SdkLikeError | undefined;
  return !!e && (e.name === 'AbortError' || e.code === 'ABORT_ERR');
}

/** Classify any thrown value from the SDK, the HTTP stack or our own code. */
export function classify(err: unknown): Classified {
  if (err instanceof BackendError) return { kind: err.kind, retryable: false, detail: err.message, status: err.status };
  const e = (err ?? {}) as SdkLikeError;
  if (isAbortError(err)) return { kind: 'Aborted', retryable: false, detail: 'aborted' };
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const generic = new Set(['Error', 'S3ServiceException', 'Unknown', 'UnknownError']);
  const code = e.Code ?? (e.name && !generic.has(e.name) ? e.name : undefined);
  const net = status === undefined ? netCode(e) : undefined;
  if (net) return { kind: 'Network', retryable: true, detail: NET_CODES[net]!, code: net };
  if (e.name === 'CredentialsProviderError') {
    return { kind: 'InvalidCredentials', retryable: false, detail: `no credentials: ${e.message ?? ''}`.trim() };
  }
  if (code && THROTTLE_CODES.has(code)) return { kind: 'Throttled', retryable: true, detail: `throttled (${code})`, status, code };
  if (status === 429) return { kind: 'Throttled', retryable: true, detail: `throttled (HTTP 429${code ? ' ' + code : ''})`, status, code };
  if (code && TRANSIENT_CODES.has(code)) return { kind: status && status >= 500 ? 'Server' : 'Network', retryable: true, detail: `${code}`, status, code };
  // a feature this server lacks (conditional writes on some S3 servers): asking again changes nothing
  if (status === 501 || code === 'NotImplemented')
    return { kind: 'Other', retryable: false, detail: `not implemented by this server (HTTP ${status ?? 501}${code ? ' ' + code : ''})`, status, code };
  if (status !== undefined && status >= 500)
    return { kind: 'Server', retryable: true, detail: `server error (HTTP ${status}${code ? ' ' + code : ''})`, status, code };
  switch (code) {
    case 'NoSuchKey':
    case 'NotFound':
    case 'NoSuchUpload':
      return { kind: 'NotFound', retryable: false, detail: code === 'NoSuchUpload' ? 'no such multipart upload' : 'object not found', status, code };
    case 'NoSuchBucket':
      return { kind: 'NoSuchBucket', retryable: false, detail: 'bucket not found', status, code };
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
      return {
        kind: 'InvalidCredentials',
        retryable: false,
        detail: `credentials rejected by the server (${code}): check access_key_id and secret_access_key`,
        status,
        code,
      };
    case 'AccessDenied':
    case 'Forbidden':
    case 'AllAccessDisabled':
      return { kind: 'AccessDenied', retryable: false, detail: `access denied (${code})`, status, code };
    case 'PreconditionFailed':
      return { kind: 'PreconditionFailed', retryable: false, detail: 'the object changed (ETag no longer matches)', status, code };
    case 'InvalidObjectState':
      return { kind: 'Archived', retryable: false, detail: 'object is archived', status, code };
    case 'EntityTooLarge':
      return { kind: 'TooLarge', retryable: false, detail: 'object too large (EntityTooLarge)', status, code };
    case 'KeyTooLongError':
      return { kind: 'InvalidName', retryable: false, detail: 'name too long for S3 (KeyTooLongError)', status, code };
  }
  if (status === 404) return { kind: 'NotFound', retryable: false, detail: 'not found', status, code };
  if (status === 403) return { kind: 'AccessDenied', retryable: false, detail: `access denied${code ? ` (${code})` : ''}`, status, code };
  if (status === 412) return { kind: 'PreconditionFailed', retryable: false, detail: 'the object changed (ETag no longer matches)', status, code };
  const msg = typeof e.message === 'string' && e.message && e.message !== 'UnknownError' ? e.message.split('\n')[0]! : '';
  const what = [code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  return { kind: 'Other', retryable: false, detail: [what, msg].filter(Boolean).join(': ') || String(err), status, code };
}

export interface CallContext {
  /** operation as shown to the user: GET, PUT, HEAD, LIST, COPY, ... */
  op: string;
  /** logical path (or bucket) the operation is about */
  path: string;
  bucket?: string;
  idempotent: boolean;
  signal?: AbortSignal;
  /** the S3 endpoint, named in network failures */
  endpoint: string;
  /** true when no credentials are configured: AccessDenied on a write gets a clearer message */
  anonymous?: boolean;
  write?: boolean;
}

/** Turn a classified failure into the BackendError the caller sees. */
export function toBackendError(c: Classified, ctx: CallContext, attempts: number, cause: unknown): BackendError {
  if (cause instanceof BackendError) return cause;
  let detail = c.detail;
  if (c.kind === 'NoSuchBucket' && ctx.bucket !== undefined) detail = `bucket "${ctx.bucket}" not found`;
  if (c.kind === 'AccessDenied' && ctx.anonymous) {
    detail = ctx.write
      ? 'access denied: anonymous access: writes need credentials'
      : 'access denied: anonymous access (no credentials configured) to an object that is not public';
  }
  if (attempts > 1) detail += ` after ${attempts} attempts`;
  if (c.kind === 'Network') detail += ` (${ctx.endpoint})`;
  return new BackendError(c.kind, ctx.op, ctx.path, detail, { status: c.status, cause });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Full-jitter exponential backoff delay before attempt n+1 (n = attempts done, ≥ 1). */
export function backoffDelay(policy: RetryPolicy, n: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseMs * 2 ** (n - 1));
  return Math.floor(random() * ceiling);
}

export type Logger = { debug: (m: string) => void; info: (m: string) => void };

/**
 * Run `fn` until it succeeds, fails with a non-retryable error, or the budget is spent.
 * Every failure leaves as a BackendError.
 */
export async function withRetry<T>(policy: RetryPolicy, ctx: CallContext, fn: (attempt: number) => Promise<T>, log?: Logger): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (ctx.signal?.aborted || isAbortError(err)) {
        throw new BackendError('Aborted', ctx.op, ctx.path, 'aborted', { cause: err });
      }
      const c = classify(err);
      const delay = backoffDelay(policy, attempt);
      const refused = c.code === 'ECONNREFUSED';
      const maxAttempts = refused ? Math.min(policy.attempts, policy.refusedAttempts ?? DEFAULT_RETRY.refusedAttempts!) : policy.attempts;
      const budgetMs = refused ? Math.min(policy.budgetMs, policy.refusedBudgetMs ?? DEFAULT_RETRY.refusedBudgetMs!) : policy.budgetMs;
      const canRetry = c.retryable && ctx.idempotent && attempt < maxAttempts && Date.now() - started + delay < budgetMs;
      if (!canRetry) throw toBackendError(c, ctx, attempt, err);
      log?.debug(`${ctx.op} ${ctx.path}: ${c.detail}, retrying in ${delay}ms (attempt ${attempt + 1}/${maxAttempts})`);
      try {
        await sleep(delay, ctx.signal);
      } catch (e) {
        throw new BackendError('Aborted', ctx.op, ctx.path, 'aborted', { cause: e });
      }
    }
  }
}
