// Public surface of the S3 backend.
export { createS3Backend, S3Backend, type CreateS3BackendOptions } from './backend.js';
export { BackendError, type BackendErrorKind } from './backend-error.js';
export { NameEncoder, maskFromNames } from './encoding.js';
export { logicalNameFromBytes, logicalNameToBytes } from './utf8.js';
export { formatMtime, parseMtime } from './metadata.js';
export type * from './types.js';
