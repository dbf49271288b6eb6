// The simple write path: each file open for writing is staged in a local file under
// <cache-dir>/staging/, and uploaded whole with one backend.put when a handle is flushed
// (close(2)), fsync'ed or released with data pending. Correct for any write pattern (random
// offsets, rewrites, truncates) and read-your-writes, at the price of a local copy and an
// upload at close. The write-back layer of the next issue replaces it behind WriteLayer.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { S3BackendApi } from '../../backend/s3/types.js';
import type { Logger } from '../../util/log.js';
import type { MountRoot } from '../paths.js';
import { isSelfOrBelow, rebase } from '../paths.js';
import { msToNs } from '../namespace.js';
import type { OpenWriteOptions, UploadedHook, WriteFile, WriteLayer } from './write-layer.js';

/** Files up to this size are uploaded from memory (one read of the stage file), larger ones streamed. */
const IN_MEMORY_UPLOAD = 8 * 1024 * 1024;

export interface StagedDeps {
  backend: S3BackendApi;
  root: MountRoot;
  cacheDir: string;
  noChecksum: boolean;
  log: Logger;
  onUploaded: UploadedHook;
  now?: () => number;
}

class StagedFile implements WriteFile {
  size = 0;
  dirty = false;
  refs = 0;
  discarded = false;
  mtimeNs: bigint;
  /** running MD5 while writes are strictly sequential from 0; null once they are not */
  private md5: Hash | null = createHash('md5');
  private md5Pos = 0;
  private uploading: Promise<void> | null = null;
  ready: Promise<void> = Promise.resolve();

  constructor(
    public rel: string,
    readonly stagePath: string,
    private readonly fh: fs.FileHandle,
    private readonly deps: StagedDeps,
  ) {
    this.mtimeNs = msToNs((deps.now ?? Date.now)());
  }

  private now(): bigint {
    return msToNs((this.deps.now ?? Date.now)());
  }

  async write(data: Buffer, offset: number): Promise<number> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
    if (this.md5 && offset === this.md5Pos) {
      this.md5.update(data);
      this.md5Pos += data.length;
    } else this.md5 = null;
    this.size = Math.max(this.size, offset + data.length);
    this.dirty = true;
    this.mtimeNs = this.now();
    return data.length;
  }

  async read(dst: Buffer, offset: number, length: number): Promise<number> {
    const n = Math.min(length, this.size - offset);
    if (n <= 0) return 0;
    let done = 0;
    while (done < n) {
      const { bytesRead } = await this.fh.read(dst, done, n - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    // bytes past the stage file's end but inside `size` (a truncate up) read as zeros
    if (done < n) dst.fill(0, done, n);
    return n;
  }

  async truncate(size: number): Promise<void> {
    await this.fh.truncate(size);
    this.size = size;
    this.dirty = true;
    this.mtimeNs = this.now();
    if (size === 0) {
      this.md5 = createHash('md5');
      this.md5Pos = 0;
    } else if (size !== this.md5Pos) this.md5 = null;
  }

  setMtime(mtimeNs: bigint): boolean {
    // Shown at once either way; stored with the upload still to come (or running: it is then
    // redone with the new time), otherwise the caller changes the stored object's mtime.
    this.mtimeNs = mtimeNs;
    if (!this.dirty && !this.uploading) return false;
    this.dirty = true;
    return true;
  }

  /** Fill the stage file with the object's current content (open for writing without O_TRUNC). */
  async loadExisting(): Promise<void> {
    const key = this.deps.root.toBackend(this.rel);
    const { body, info } = await this.deps.backend.read(this.deps.root.bucket, key);
    let pos = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        let done = 0;
        while (done < chunk.length) done += (await this.fh.write(chunk, done, chunk.length - done, pos + done)).bytesWritten;
        pos += chunk.length;
      }
    } finally {
      body.destroy();
    }
    if (pos !== info.size) throw new Error(`${this.rel}: download for rewriting was short (${pos} of ${info.size} bytes)`);
    this.size = info.size;
    if (info.mtimeNs !== null) this.mtimeNs = info.mtimeNs;
    this.md5 = null;
  }

  async flush(): Promise<void> {
    await this.ready;
    // one upload at a time per file; writes arriving during an upload make it dirty again
    while (this.uploading) await this.uploading.catch(() => undefined);
    if (!this.dirty || this.discarded) return;
    this.dirty = false;
    const p = this.upload();
    this.uploading = p;
    try {
      await p;
    } catch (err) {
      this.dirty = true;
      throw err;
    } finally {
      this.uploading = null;
    }
  }

  private async upload(): Promise<void> {
    const size = this.size;
    const key = this.deps.root.toBackend(this.rel);
    const body =
      size <= IN_MEMORY_UPLOAD ? await this.readAll(size) : createReadStream(this.stagePath, { start: 0, end: size - 1, highWaterMark: 1024 * 1024 });
    const md5 = !this.deps.noChecksum && this.md5 && this.md5Pos === size ? this.md5.copy().digest('hex') : undefined;
    const t0 = Date.now();
    const info = await this.deps.backend.put(this.deps.root.bucket, key, body, { size, mtimeNs: this.mtimeNs, ...(md5 ? { md5 } : {}) });
    this.deps.log.info(`${this.rel}: uploaded ${size} bytes in ${Date.now() - t0}ms`);
    if (!this.discarded) this.deps.onUploaded(this.rel, info);
  }

  private async readAll(size: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(size);
    const n = await this.read(buf, 0, size);
    return n === size ? buf : buf.subarray(0, n);
  }

  async close(keep: boolean): Promise<void> {
    await this.fh.close().catch(() => undefined);
    if (!keep) await fs.rm(this.stagePath, { force: true });
  }
}

export class StagedWrites implements WriteLayer {
  private readonly files = new Map<string, StagedFile>();
  /** paths whose write state is being created (stage file opened, content loaded) */
  private readonly opening = new Map<string, Promise<StagedFile>>();
  private readonly dir: string;
  private dirReady: Promise<void> | undefined;

  constructor(private readonly deps: StagedDeps) {
    // one directory per mount process, so two mounts sharing a cache dir never collide
    this.dir = path.join(deps.cacheDir, 'staging', `${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  get(rel: string): WriteFile | undefined {
    return this.files.get(rel);
  }

  async open(rel: string, opts: OpenWriteOptions): Promise<WriteFile> {
    const existing = this.files.get(rel);
    if (existing) {
      existing.refs++;
      try {
        await existing.ready;
        if (opts.truncate) await existing.truncate(0);
      } catch (err) {
        existing.refs--;
        throw err;
      }
      return existing;
    }
    // another open of the same path is creating its state: wait, then share it
    const creating = this.opening.get(rel);
    if (creating) {
      await creating.catch(() => undefined);
      return this.open(rel, opts);
    }
    const p = this.createFile(rel, opts);
    this.opening.set(rel, p);
    try {
      return await p;
    } finally {
      this.opening.delete(rel);
    }
  }

  private async createFile(rel: string, opts: OpenWriteOptions): Promise<StagedFile> {
    this.dirReady ??= fs.mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    await this.dirReady;
    const stagePath = path.join(this.dir, randomBytes(8).toString('hex'));
    const fh = await fs.open(stagePath, 'w+', 0o600);
    const f = new StagedFile(rel, stagePath, fh, this.deps);
    f.refs = 1;
    this.files.set(rel, f);
    if (opts.create || opts.truncate) {
      f.dirty = true;
      return f;
    }
    f.ready = f.loadExisting();
    try {
      await f.ready;
    } catch (err) {
      if (this.files.get(rel) === f) this.files.delete(rel);
      await f.close(false);
      throw err;
    }
    return f;
  }

  async release(file: WriteFile): Promise<void> {
    const f = file as StagedFile;
    f.refs = Math.max(0, f.refs - 1);
    if (f.refs > 0) return;
    try {
      await f.flush();
    } catch (err) {
      // keep it pending (and its stage file): flushAll at unmount tries again
      this.deps.log.error(`${f.rel}: upload failed, data kept in ${f.stagePath}: ${(err as Error).message}`);
      throw err;
    }
    // reopened while we were uploading: still in use
    if (f.refs > 0) return;
    if (this.files.get(f.rel) === f) this.files.delete(f.rel);
    await f.close(false);
  }

  discard(rel: string): void {
    const f = this.files.get(rel);
    if (!f) return;
    f.discarded = true;
    f.dirty = false;
    this.files.delete(rel);
    if (f.refs === 0) void f.close(false);
  }

  renamed(from: string, to: string): void {
    for (const [rel, f] of [...this.files]) {
      if (!isSelfOrBelow(rel, from)) continue;
      this.files.delete(rel);
      f.rel = rebase(rel, from, to);
      this.files.set(f.rel, f);
    }
  }

  pendingBelow(dir: string): WriteFile[] {
    return [...this.files.values()].filter((f) => isSelfOrBelow(f.rel, dir));
  }

  async flushAll(): Promise<void> {
    const files = [...this.files.values()];
    const results = await Promise.allSettled(files.map((f) => f.flush()));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') this.deps.log.error(`${files[i]!.rel}: upload failed, data kept in ${files[i]!.stagePath}: ${(r.reason as Error).message}`);
    }
    if (failed.length > 0) throw failed[0]!.reason;
  }

  async close(): Promise<void> {
    let keep = false;
    for (const f of this.files.values()) {
      keep ||= f.dirty;
      await f.close(f.dirty);
    }
    this.files.clear();
    if (!keep) await fs.rm(this.dir, { recursive: true, force: true });
  }
}
