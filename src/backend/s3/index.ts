// Public surface of the S3 backend.
export { createS3Backend, S3Backend, type CreateS3BackendOptions } from './backend.js';
export { BackendError, type BackendErrorKind } from './backend-error.js';
export { NameEncoder, logicalNameFromBytes, logicalNameToBytes, maskFromNames } from './encoding.js';
export { formatMtime, parseMtime } from './metadata.js';
export type * from './types.js';
