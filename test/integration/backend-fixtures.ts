// Shared set-up for the backend integration tests: rclone's default S3 options pointed at the
// test server, and a backend factory with a short retry budget so failures are fast.
import type { S3Options } from '../../src/config/s3-options.js';
import { createS3Backend, type CreateS3BackendOptions, type S3Backend } from '../../src/backend/s3/backend.js';
import { TEST_ACCESS_KEY, TEST_SECRET_KEY, type TestS3 } from '../helpers/s3-server.js';

export const MiB = 1024 * 1024;

export function defaultOptions(endpoint: string, over: Partial<S3Options> = {}): S3Options {
  return {
    provider: 'Other',
    env_auth: false,
    access_key_id: TEST_ACCESS_KEY,
    secret_access_key: TEST_SECRET_KEY,
    region: 'us-east-1',
    endpoint,
    location_constraint: '',
    acl: '',
    server_side_encryption: '',
    sse_kms_key_id: '',
    storage_class: '',
    bucket_acl: '',
    sse_customer_algorithm: '',
    sse_customer_key: '',
    sse_customer_key_md5: '',
    upload_cutoff: 200 * MiB,
    chunk_size: 5 * MiB,
    max_upload_parts: 10000,
    copy_cutoff: 4768 * MiB, // rclone's default (printed 4.656G)
    disable_checksum: false,
    shared_credentials_file: '',
    profile: '',
    session_token: '',
    upload_concurrency: 4,
    force_path_style: true,
    v2_auth: false,
    use_accelerate_endpoint: false,
    leave_parts_on_error: false,
    list_chunk: 1000,
    no_check_bucket: false,
    encoding: ['Slash', 'InvalidUtf8', 'Dot'],
    memory_pool_flush_time: 60_000,
    memory_pool_use_mmap: false,
    ...over,
  };
}

const quiet = { error: () => {}, notice: () => {}, info: () => {}, debug: () => {}, enabled: () => false };

export function backendFor(s3: TestS3, over: Partial<S3Options> = {}, extra: CreateS3BackendOptions = {}): S3Backend {
  return createS3Backend(defaultOptions(s3.endpoint, over), { log: quiet, retries: 4, retryBaseMs: 5, retryMaxDelayMs: 20, ...extra });
}

let n = 0;
/** A fresh bucket name per test, so tests never see each other's objects. */
export async function freshBucket(s3: TestS3, prefix = 'b'): Promise<string> {
  const name = `${prefix}-${process.pid}-${++n}`.toLowerCase();
  await s3.createBucket(name);
  return name;
}

export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}
