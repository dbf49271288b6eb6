// The one error type the backend throws. Callers decide on `kind` alone (the CLI prints
// `message`, the FUSE layer maps `kind` to an errno in its single errno table); the
// message already names the operation and the logical path, and never a secret.

export type BackendErrorKind =
  | 'NotFound' // NoSuchKey, 404
  | 'NoSuchBucket'
  | 'AccessDenied' // 403, bad credentials, anonymous write
  | 'InvalidCredentials' // InvalidAccessKeyId, SignatureDoesNotMatch
  | 'PreconditionFailed' // If-Match failed: the object changed under us
  | 'Archived' // object in GLACIER / DEEP_ARCHIVE, restore first
  | 'TooLarge' // stream exceeds chunk_size × max_upload_parts
  | 'InvalidName' // a name the encoding cannot express, or a key too long
  | 'Network' // connection refused/reset/timeout after retries
  | 'Throttled' // SlowDown after retries
  | 'Server' // 5xx after retries
  | 'Aborted' // caller's AbortSignal
  | 'Other';

export class BackendError extends Error {
  readonly kind: BackendErrorKind;
  readonly operation: string;
  readonly path: string;
  readonly status?: number;
  constructor(kind: BackendErrorKind, operation: string, path: string, detail: string, opts?: { status?: number; cause?: unknown }) {
    super(`${operation} ${path}: ${detail}`, { cause: opts?.cause });
    this.name = 'BackendError';
    this.kind = kind;
    this.operation = operation;
    this.path = path;
    this.status = opts?.status;
  }
}
