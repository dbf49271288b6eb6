// The option table: every option bucketfs understands, as data.
//
// Command-line flags, environment variable names, config-file keys, validation and
// the generated documentation (`bucketfs help options`, README) all come from here,
// so an option is added in exactly one place.
//
// Scope "s3" options are the backend options of rclone's S3 remote: they are read
// from a `[remote]` section of rclone.conf under `name`, from `--s3-<name>` flags
// (underscores become dashes), from RCLONE_S3_<NAME> and RCLONE_CONFIG_<REMOTE>_<NAME>.
// Scope "global" options are rclone's own top-level flags (`--<name>`, RCLONE_<NAME>).

export type OptionType = 'string' | 'bool' | 'int' | 'SizeSuffix' | 'Duration' | 'MultiEncoder';

export interface OptionSpec {
  /** config key, snake_case as rclone writes it */
  name: string;
  type: OptionType;
  /** default as rclone prints it ("" for an empty string, "5M", "1m0s", "false") */
  default: string;
  /**
   * The default's exact value, when the printed one is rounded: rclone's copy_cutoff default is
   * the Go constant 4768 MiB (4999610368 bytes), printed 4.656G, which would parse back to
   * 4999341932. Resolution uses this; documentation and `config show` print `default`.
   */
  defaultValue?: string;
  help: string;
  scope: 's3' | 'global';
  /** rclone lists it under "Advanced Options" */
  advanced?: boolean;
  /** never print the value (config show, logs, errors) */
  secret?: boolean;
  /** values rclone offers; only enforced where `exclusive` is set */
  examples?: string[];
  exclusive?: boolean;
  /** accepted for compatibility with rclone.conf, but without effect in bucketfs (the help says why) */
  noEffect?: boolean;
  /** lowest/highest accepted value for int and SizeSuffix (bytes) */
  min?: number;
  max?: number;
}

const GiB = 1024 ** 3;

export const PROVIDERS = [
  'AWS',
  'Alibaba',
  'Ceph',
  'DigitalOcean',
  'Dreamhost',
  'IBMCOS',
  'Minio',
  'Netease',
  'Scaleway',
  'StackPath',
  'Wasabi',
  'TencentCOS',
  'Other',
];

export const S3_OPTIONS: OptionSpec[] = [
  { scope: 's3', name: 'provider', type: 'string', default: '', help: 'Choose your S3 provider.', examples: PROVIDERS },
  {
    scope: 's3',
    name: 'env_auth',
    type: 'bool',
    default: 'false',
    help: 'Get AWS credentials from runtime (environment variables or EC2/ECS meta data if no env vars). Only applies if access_key_id and secret_access_key is blank.',
  },
  {
    scope: 's3',
    name: 'access_key_id',
    type: 'string',
    default: '',
    secret: true,
    help: 'AWS Access Key ID. Leave blank for anonymous access or runtime credentials.',
  },
  {
    scope: 's3',
    name: 'secret_access_key',
    type: 'string',
    default: '',
    secret: true,
    help: 'AWS Secret Access Key (password). Leave blank for anonymous access or runtime credentials.',
  },
  {
    scope: 's3',
    name: 'region',
    type: 'string',
    default: '',
    help: 'Region to connect to. Leave blank for an S3 clone without a region (Ceph); "other-v2-signature" selects v2 signatures, which bucketfs refuses.',
  },
  {
    scope: 's3',
    name: 'endpoint',
    type: 'string',
    default: '',
    help: 'Endpoint for S3 API. Leave blank if using AWS to use the default endpoint for the region.',
  },
  {
    scope: 's3',
    name: 'location_constraint',
    type: 'string',
    default: '',
    help: 'Location constraint - must be set to match the Region. Used when creating buckets only.',
  },
  {
    scope: 's3',
    name: 'acl',
    type: 'string',
    default: '',
    help: 'Canned ACL used when creating buckets and storing or copying objects.',
    examples: ['private', 'public-read', 'public-read-write', 'authenticated-read', 'bucket-owner-read', 'bucket-owner-full-control'],
  },
  {
    scope: 's3',
    name: 'server_side_encryption',
    type: 'string',
    default: '',
    help: 'The server-side encryption algorithm used when storing this object in S3.',
    examples: ['', 'AES256', 'aws:kms'],
    exclusive: true,
  },
  { scope: 's3', name: 'sse_kms_key_id', type: 'string', default: '', help: 'If using KMS ID you must provide the ARN of Key.' },
  {
    scope: 's3',
    name: 'storage_class',
    type: 'string',
    default: '',
    help: 'The storage class to use when storing new objects in S3.',
    examples: ['', 'STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'GLACIER', 'DEEP_ARCHIVE', 'INTELLIGENT_TIERING'],
  },
  {
    scope: 's3',
    advanced: true,
    name: 'bucket_acl',
    type: 'string',
    default: '',
    help: 'Canned ACL used when creating buckets. If unset, acl is used.',
    examples: ['private', 'public-read', 'public-read-write', 'authenticated-read'],
  },
  {
    scope: 's3',
    advanced: true,
    name: 'sse_customer_algorithm',
    type: 'string',
    default: '',
    help: 'If using SSE-C, the server-side encryption algorithm used when storing this object in S3.',
    examples: ['', 'AES256'],
    exclusive: true,
  },
  {
    scope: 's3',
    advanced: true,
    name: 'sse_customer_key',
    type: 'string',
    default: '',
    secret: true,
    help: 'If using SSE-C you must provide the secret encryption key used to encrypt/decrypt your data.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'sse_customer_key_md5',
    type: 'string',
    default: '',
    help: 'If using SSE-C you must provide the secret encryption key MD5 checksum (computed from the key when blank).',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'upload_cutoff',
    type: 'SizeSuffix',
    default: '200M',
    min: 0,
    max: 5 * GiB,
    help: 'Cutoff for switching to chunked upload. Any files larger than this will be uploaded in chunks of chunk_size. The minimum is 0 and the maximum is 5GB.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'chunk_size',
    type: 'SizeSuffix',
    default: '5M',
    min: 5 * 1024 * 1024,
    max: 5 * GiB,
    help: 'Chunk size to use for uploading. Files larger than upload_cutoff and streams of unknown size are uploaded as multipart uploads in parts of this size; upload_concurrency parts are buffered in memory per transfer.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'max_upload_parts',
    type: 'int',
    default: '10000',
    min: 1,
    max: 10000,
    help: 'Maximum number of parts in a multipart upload. The chunk size grows for large files of known size to stay below it.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'copy_cutoff',
    type: 'SizeSuffix',
    default: '4.656G',
    defaultValue: '4768M',
    min: 0,
    max: 5 * GiB,
    help: 'Cutoff for switching to multipart copy. Larger server-side copies are done in parts of this size. The minimum is 0 and the maximum is 5GB.',
  },
  { scope: 's3', advanced: true, name: 'disable_checksum', type: 'bool', default: 'false', help: "Don't store MD5 checksum with object metadata." },
  {
    scope: 's3',
    advanced: true,
    name: 'shared_credentials_file',
    type: 'string',
    default: '',
    help: 'Path to the shared credentials file (env_auth = true). Empty: AWS_SHARED_CREDENTIALS_FILE, then $HOME/.aws/credentials.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'profile',
    type: 'string',
    default: '',
    help: 'Profile to use in the shared credentials file (env_auth = true). Empty: AWS_PROFILE, then "default".',
  },
  { scope: 's3', advanced: true, name: 'session_token', type: 'string', default: '', secret: true, help: 'An AWS session token.' },
  {
    scope: 's3',
    advanced: true,
    name: 'upload_concurrency',
    type: 'int',
    default: '4',
    min: 1,
    help: 'Concurrency for multipart uploads: the number of chunks of the same file that are uploaded concurrently.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'force_path_style',
    type: 'bool',
    default: 'true',
    help: 'If true use path style access if false use virtual hosted style. AWS, Alibaba and Netease always use virtual hosted style.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'v2_auth',
    type: 'bool',
    default: 'false',
    help: 'If true use v2 authentication. Not supported by bucketfs (the AWS SDK signs with v4 only): setting it is an error.',
  },
  { scope: 's3', advanced: true, name: 'use_accelerate_endpoint', type: 'bool', default: 'false', help: 'If true use the AWS S3 accelerated endpoint.' },
  {
    scope: 's3',
    advanced: true,
    name: 'leave_parts_on_error',
    type: 'bool',
    default: 'false',
    help: 'If true avoid calling abort upload on a failure, leaving all successfully uploaded parts on S3 for manual recovery.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'list_chunk',
    type: 'int',
    default: '1000',
    min: 1,
    help: 'Size of listing chunk (MaxKeys of each ListObjectsV2 request).',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'no_check_bucket',
    type: 'bool',
    default: 'false',
    help: "If set don't attempt to check the bucket exists or create it.",
  },
  {
    scope: 's3',
    advanced: true,
    name: 'encoding',
    type: 'MultiEncoder',
    default: 'Slash,InvalidUtf8,Dot',
    help: "The encoding for object names (see rclone's encoding section).",
  },
  {
    scope: 's3',
    advanced: true,
    name: 'memory_pool_flush_time',
    type: 'Duration',
    default: '1m0s',
    noEffect: true,
    help: 'How often internal memory buffer pools will be flushed. bucketfs keeps no buffer pool (upload buffers are freed by the Node garbage collector as soon as their part is sent): accepted, no effect.',
  },
  {
    scope: 's3',
    advanced: true,
    name: 'memory_pool_use_mmap',
    type: 'bool',
    default: 'false',
    noEffect: true,
    help: 'Whether to use mmap buffers in internal memory pool. Node.js cannot mmap anonymous memory and bucketfs keeps no pool: accepted, no effect (buffers come from the Node heap either way).',
  },
];

export function findS3Option(name: string): OptionSpec | undefined {
  return S3_OPTIONS.find((o) => o.name === name);
}

/** `chunk_size` → `--s3-chunk-size` */
export function s3FlagName(o: OptionSpec): string {
  return `s3-${o.name.replace(/_/g, '-')}`;
}

/** `chunk_size` → `RCLONE_S3_CHUNK_SIZE` */
export function s3EnvName(o: OptionSpec): string {
  return `RCLONE_S3_${o.name.toUpperCase()}`;
}

/** (`my-remote`, `chunk_size`) → `RCLONE_CONFIG_MY-REMOTE_CHUNK_SIZE` as rclone builds it (upper-cased, dashes kept) */
export function remoteEnvName(remote: string, o: OptionSpec): string {
  return `RCLONE_CONFIG_${remote.toUpperCase()}_${o.name.toUpperCase()}`;
}
