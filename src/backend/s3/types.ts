// The contract between the S3 backend and everything above it (CLI commands, the VFS).
//
// Paths here are *logical* names: what a user or a filesystem sees, relative to the bucket
// root, '/'-separated, no leading slash. The backend alone encodes them into object keys
// (the `encoding` option) and decodes keys back; nothing above it ever sees a raw key.
// Modification times are nanoseconds since the epoch (bigint), because rclone stores them
// with nanosecond precision in X-Amz-Meta-Mtime and a JS Date would lose it.
import type { Readable } from 'node:stream';
import type { WriteCondition } from './conditions.js';
import type { RequestStats } from './request-stats.js';
export type { WriteCondition };

export interface BucketInfo {
  name: string;
  created?: Date;
}

/** One entry of a listing. LIST carries no user metadata, so no X-Amz-Meta-Mtime here. */
export interface ListEntry {
  /** 'dir' = a common prefix (delimiter listing) or a `dir/` marker object */
  kind: 'object' | 'dir';
  /** logical path relative to the bucket root, no trailing slash */
  path: string;
  size: number;
  lastModified?: Date;
  etag?: string;
  storageClass?: string;
  /** true when this 'dir' entry comes from a zero-byte `dir/` marker object */
  marker?: boolean;
  /** the key, for an entry whose path does not lead back to it under this encoding (the Dot
   *  rule makes the key "." read as "．", which is the key of a file named so): listed, never
   *  opened */
  unreachableKey?: string;
}

export interface ObjectInfo {
  path: string;
  size: number;
  lastModified: Date;
  /** from X-Amz-Meta-Mtime (rclone's format); null when absent or unparsable */
  mtimeNs: bigint | null;
  etag: string;
  storageClass?: string;
  contentType?: string;
  /** Cache-Control, Content-Disposition, Content-Encoding, Content-Language when set (rclone's system metadata) */
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  /** hex MD5 of the content when known: the ETag of a single-part upload, or X-Amz-Meta-Md5chksum */
  md5?: string;
  /** all user metadata, lower-case keys without the x-amz-meta- prefix */
  metadata: Record<string, string>;
  /** x-amz-restore header when present (Glacier restores) */
  restore?: string;
}

export interface CopyOptions {
  /** metadata to set (merged over the source's): the copy replaces its metadata */
  metadata?: Record<string, string>;
  /** X-Amz-Meta-Mtime to store with the copy (replaces its metadata) */
  mtimeNs?: bigint;
  /** the source's size when the caller knows it (a listing): a plain copy below copy_cutoff
   *  then needs no HEAD first */
  size?: number;
  /** copy only over this version of the target, or only where nothing is (as PutOptions.condition) */
  condition?: WriteCondition;
}

/** an object to delete: its path, or its path and the only version (ETag) it may be deleted as */
export type DeleteTarget = string | { path: string; etag?: string };

export interface DeleteResult {
  /** paths not deleted because they are no longer the version named (another client replaced them) */
  kept: string[];
}

/** what a server-side copy made */
export interface CopyResult {
  /** the new object's ETag, when the server said it */
  etag: string | undefined;
}

export interface PutOptions {
  /** total size when known; undefined = stream of unknown length (always multipart above one part) */
  size?: number;
  mtimeNs: bigint;
  contentType?: string;
  /** hex md5 of the whole content when the caller already knows it */
  md5?: string;
  /**
   * For a Readable body whose MD5 can be computed beforehand (a local file): computes it. The
   * backend calls it when it wants the MD5, as rclone hashes a local file before uploading it:
   * for a single PUT (Content-MD5, checked by the server) and for a multipart upload
   * (X-Amz-Meta-Md5chksum) unless disable_checksum.
   */
  hashMd5?: () => Promise<string | undefined>;
  /** extra user metadata to store (lower-case keys, no prefix) */
  metadata?: Record<string, string>;
  /**
   * Store only if the object is still this version (ifMatch: its ETag) or still absent
   * (ifNoneMatch): S3's conditional writes, on the PUT or on CompleteMultipartUpload; otherwise
   * a PreconditionFailed error (412), and nothing is stored.
   */
  condition?: WriteCondition;
  /**
   * A multipart upload whose completion was refused for its condition (its parts are all
   * uploaded, and may exist nowhere else: a stream): called to decide what happens instead of
   * failing. `retryWith`: complete again on this condition (the caller has moved the other
   * version out of the way); `stored`: the object is already ours (a completion retried after
   * it landed); null: fail as refused.
   */
  onRefused?: () => Promise<{ retryWith: WriteCondition } | { stored: ObjectInfo } | null>;
  /** abort the upload when this signal fires */
  signal?: AbortSignal;
  /** called as bytes are acknowledged by the server */
  onProgress?: (uploadedBytes: number) => void;
  /**
   * For a Readable body sent as one PutObject: how to get the same bytes again from the start.
   * With it the PUT is retried like a Buffer upload; without it a stream is sent once.
   */
  reopen?: () => Readable | Promise<Readable>;
  /**
   * For a Readable body of a multipart upload: called with each chunk the stream pushed that
   * went up as one part as it was (not copied), once the backend no longer uses it (the part
   * is uploaded, or failed for good), so the caller can reuse its memory for a later part.
   */
  onPartDone?: (part: Buffer) => void;
}

export interface ReadOptions {
  offset?: number;
  /** bytes to read; undefined = to the end */
  count?: number;
  /** fail with a PreconditionFailed-mapped error if the object's ETag is no longer this */
  ifMatch?: string;
  signal?: AbortSignal;
}

export interface MultipartUploadInfo {
  key: string; // logical path
  uploadId: string;
  initiated?: Date;
  storageClass?: string;
  owner?: { id?: string; displayName?: string };
  initiator?: { id?: string; displayName?: string };
}

export interface S3BackendApi {
  /** what the requests sent add up to (request-stats.ts); fakes in tests have none */
  readonly requestStats?: RequestStats;
  listBuckets(): Promise<BucketInfo[]>;
  /** create if missing (location_constraint, bucket_acl/acl); skipped when no_check_bucket */
  makeBucket(bucket: string): Promise<void>;
  removeBucket(bucket: string): Promise<void>;
  bucketExists(bucket: string): Promise<boolean>;
  /** prefix: logical dir ('' = bucket root). recursive=false → delimiter '/' listing with 'dir' entries */
  list(bucket: string, prefix: string, opts: { recursive: boolean; signal?: AbortSignal }): AsyncGenerator<ListEntry>;
  /** one LIST request of at most maxKeys keys; complete: nothing more to list */
  listPage(bucket: string, prefix: string, opts: { recursive: boolean; maxKeys: number }): Promise<{ entries: ListEntry[]; complete: boolean }>;
  /** anything below `dir/` (its marker, or any key): one LIST of one key */
  dirExists(bucket: string, dir: string): Promise<boolean>;
  /** a directory at `path`, and the objects named `path` + characters before '/' (list.ts probeName) */
  probeName(bucket: string, path: string): Promise<{ isDir: boolean; siblings: ListEntry[]; complete: boolean }>;
  /** null when the object does not exist */
  head(bucket: string, path: string): Promise<ObjectInfo | null>;
  /** ranged GET; throws the Glacier error for archived objects */
  read(bucket: string, path: string, opts?: ReadOptions): Promise<{ body: Readable; info: ObjectInfo }>;
  /** single PUT up to upload_cutoff when size is known, multipart otherwise */
  put(bucket: string, path: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo>;
  /** server-side copy, keeping metadata unless replaced (multipart copy above copy_cutoff); resolves to the copy's ETag (a copy of a multipart object gets a new one) */
  copy(srcBucket: string, srcPath: string, dstBucket: string, dstPath: string, opts?: CopyOptions): Promise<CopyResult>;
  /** update X-Amz-Meta-Mtime by a server-side copy onto itself */
  setMtime(bucket: string, path: string, mtimeNs: bigint): Promise<void>;
  /** DeleteObjects in batches of 1000; missing keys are not an error */
  /**
   * Delete objects (missing ones are not an error). A target with an ETag is deleted only while
   * it is still that version: the paths of those another client replaced are returned, kept.
   */
  delete(bucket: string, targets: DeleteTarget[]): Promise<DeleteResult>;
  /** zero-byte `path/` marker object */
  /** a `dir/` marker object, with this mtime and metadata (a directory's attributes) */
  makeDirMarker(bucket: string, path: string, opts?: { mtimeNs?: bigint; metadata?: Record<string, string> }): Promise<void>;
  /** HEAD of the `dir/` marker of a directory (null: none) */
  headDirMarker(bucket: string, dir: string): Promise<ObjectInfo | null>;
  /** copy the marker of `from` to `to`, metadata kept */
  copyDirMarker(bucket: string, from: string, to: string): Promise<void>;
  listMultipartUploads(bucket: string, prefix?: string): Promise<MultipartUploadInfo[]>;
  abortMultipartUpload(bucket: string, path: string, uploadId: string): Promise<void>;
  /** RestoreObject; `description` is RestoreRequest's Description (rclone's -o description) */
  restore(bucket: string, path: string, opts: { days: number; tier: 'Standard' | 'Expedited' | 'Bulk'; description?: string }): Promise<void>;
}
