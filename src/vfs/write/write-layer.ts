// The contract between the VFS and whatever keeps data written through the mount until it is
// in the bucket. This implementation (staged-writes.ts) stages each file in a local
// file and uploads it whole on flush/fsync/release; the write-back layer (streaming multipart,
// cache files for random writes, a journal for crash recovery) replaces it behind the same
// interface, so nothing above this file changes.
import type { ObjectInfo } from '../../backend/s3/types.js';

/** The written state of one path, shared by every handle that has it open for writing. */
export interface WriteFile {
  /** mount-relative path (follows renames) */
  readonly rel: string;
  /** current size including unflushed writes */
  readonly size: number;
  /** modification time to show and to store (last write, or a utimens while pending) */
  readonly mtimeNs: bigint;
  /** true when written data has not reached the bucket yet */
  readonly dirty: boolean;
  write(data: Buffer, offset: number): Promise<number>;
  /** read-your-writes: the bytes as written, uploaded or not */
  read(dst: Buffer, offset: number, length: number): Promise<number>;
  truncate(size: number): Promise<void>;
  /** utimens while data is pending: stored with the upload instead of a separate copy.
   *  false when nothing is pending (the caller then sets the stored object's mtime). */
  setMtime(mtimeNs: bigint): boolean;
  /** upload pending data now; rejects when the upload fails (the data stays pending) */
  flush(): Promise<void>;
}

export interface OpenWriteOptions {
  /** the file is new (create(2)): starts empty and is uploaded even if nothing is written */
  create: boolean;
  /** O_TRUNC: start empty */
  truncate: boolean;
}

export interface WriteLayer {
  /** the pending state of `rel`, if it is open for writing */
  get(rel: string): WriteFile | undefined;
  /** open (or share) the write state of `rel`; each open is matched by one release */
  open(rel: string, opts: OpenWriteOptions): Promise<WriteFile>;
  /** one handle closed; the last one uploads what is pending and frees the state */
  release(file: WriteFile): Promise<void>;
  /** `rel` was unlinked: whatever is pending for it must not be uploaded */
  discard(rel: string): void;
  /** `from` (a file or a directory) was renamed to `to`: pending files follow */
  renamed(from: string, to: string): void;
  /** every pending file below `dir` ('' = all): flushed first by rename, unmount, sync */
  pendingBelow(dir: string): WriteFile[];
  /** upload everything pending (unmount, SIGTERM); rejects if any upload failed */
  flushAll(): Promise<void>;
  /** remove local staging state (after flushAll at unmount) */
  close(): Promise<void>;
}

/** What a write layer calls when an upload lands, so listings show the new object at once. */
export type UploadedHook = (rel: string, info: ObjectInfo) => void;
