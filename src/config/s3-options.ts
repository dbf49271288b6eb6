// The resolved, typed form of the S3 options in option-table.ts, as the backend uses them.
// Sizes are bytes, durations milliseconds, the encoding a list of rclone encoder names.

export interface S3Options {
  provider: string;
  env_auth: boolean;
  access_key_id: string;
  secret_access_key: string;
  region: string;
  endpoint: string;
  location_constraint: string;
  acl: string;
  server_side_encryption: string;
  sse_kms_key_id: string;
  storage_class: string;
  bucket_acl: string;
  sse_customer_algorithm: string;
  sse_customer_key: string;
  sse_customer_key_md5: string;
  upload_cutoff: number;
  chunk_size: number;
  max_upload_parts: number;
  copy_cutoff: number;
  disable_checksum: boolean;
  shared_credentials_file: string;
  profile: string;
  session_token: string;
  upload_concurrency: number;
  force_path_style: boolean;
  v2_auth: boolean;
  use_accelerate_endpoint: boolean;
  leave_parts_on_error: boolean;
  list_chunk: number;
  no_check_bucket: boolean;
  encoding: string[];
  memory_pool_flush_time: number;
  memory_pool_use_mmap: boolean;
}
