// A file written sequentially from offset 0, streamed into the bucket as it is written.
//
// Bytes collect in one part buffer of chunk_size. When it is full and more bytes come, the part
// is handed to backend.put() (size unknown: the backend's own multipart engine, which uploads
// upload_concurrency parts at a time and stops at max_upload_parts). The hand-over is pulled by
// the backend: the Readable given to put() has highWaterMark 0 and a part is pushed only when
// the backend asks for the next one, so a write waits while upload_concurrency parts are in
// flight and the next one is full. Memory per stream: about chunk_size × (upload_concurrency + 1).
//
// Part buffers are recycled: the backend hands each part back once it is uploaded (onPartDone),
// and the next part is filled in it, so a long stream allocates about upload_concurrency + 2
// buffers of chunk_size in all rather than a fresh one per part — freed part buffers are external
// memory the GC collects late (V8 waits for tens of MiB of it), which showed as peak RSS.
//
// Nothing is sent before the first part is full, so a file smaller than one part stays here
// until close and goes up as one PUT (by the caller, from takeBuffer()).
//
// Bytes not yet handed over can still be rewritten, read and cut (overwrite/readBuffered/
// shrink); bytes already handed over cannot: the owner then commits the stream (finish) or
// gives it up (abort), see item.ts.
import { Readable } from 'node:stream';
import type { ObjectInfo, PutOptions, S3BackendApi } from '../../backend/s3/types.js';

const MIN_BUFFER = 4 * 1024;

/**
 * The part buffers of every stream of a mount together (those being filled, those uploading,
 * and spare ones kept for the next part): for --stats, and one budget for all writers. A new
 * stream goes to a cache file instead of memory above it (item.ts), and a stream under way waits
 * for a part buffer while the budget is full (its writer waits: backpressure, as a slow disk
 * gives), so N parallel writers hold about the budget, not N × chunk_size × (upload_concurrency
 * + 2). A stream that holds no buffer never waits (every stream can make progress).
 *
 * Buffers are passed on rather than freed: while anyone waits, a stream's spare buffers and the
 * buffers of parts just uploaded go to a shared pool that the waiting streams take from. Freed
 * part buffers are external memory that V8 reclaims late, so dropping and allocating them again
 * would raise the process's RSS rather than bound it.
 */
export class StreamMemory {
  private used = 0;
  private waiters: Array<() => void> = [];
  private readonly holders = new Set<{ trimFree(): void }>();
  /** spare part buffers any stream under way may take (counted in `used`) */
  private pool: Buffer[] = [];

  constructor(
    readonly budget = Number.POSITIVE_INFINITY,
    /** told the bytes held after every change (the mount's budget gives reads the rest) */
    private readonly onChange?: (held: number) => void,
  ) {}

  get bytes(): number {
    return this.used;
  }

  /** someone waits for room: spare buffers go to the pool rather than stay with their stream */
  get contended(): boolean {
    return this.waiters.length > 0;
  }

  take(n: number): void {
    this.used += n;
    this.onChange?.(this.used);
  }

  give(n: number): void {
    this.used -= n;
    this.onChange?.(this.used);
    this.wake();
  }

  /** a spare buffer for whichever stream needs one (freed when no stream is under way) */
  offer(b: Buffer): void {
    if (this.holders.size === 0) return this.give(b.length);
    this.pool.push(b);
    this.wake();
  }

  /** a spare buffer of `size` bytes from the pool, if there is one */
  takeSpare(size: number): Buffer | undefined {
    const i = this.pool.findIndex((b) => b.length === size);
    return i < 0 ? undefined : this.pool.splice(i, 1)[0];
  }

  /** a buffer came back, or room was made: waiters look again */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  join(s: { trimFree(): void }): void {
    this.holders.add(s);
  }

  leave(s: { trimFree(): void }): void {
    this.holders.delete(s);
    if (this.holders.size > 0 || this.pool.length === 0) return;
    // no stream under way: the pool's buffers are freed
    const n = this.pool.reduce((sum, b) => sum + b.length, 0);
    this.pool = [];
    this.give(n);
  }

  /** whether `n` more bytes fit the budget */
  fits(n: number): boolean {
    return this.used + n <= this.budget;
  }

  /** Wait for a buffer to come back or room to be made (other streams pass on their spares first). */
  async wait(): Promise<void> {
    for (const h of this.holders) h.trimFree();
    if (this.pool.length > 0) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

/**
 * What a stream's upload starts with, asked for when it starts: the user metadata (mode,
 * owners), the condition its completion is sent with (the version it replaces, or absence), and
 * what to do when the server refuses that completion (PutOptions.onRefused).
 */
export type StartOptions = () => Pick<PutOptions, 'metadata' | 'condition' | 'onRefused'>;
const nothing: StartOptions = () => ({});

export interface StreamTarget {
  backend: S3BackendApi;
  bucket: string;
  partSize: number;
  /** every stream's part buffers together (for stats and the memory budget) */
  memory: StreamMemory;
}

export class StreamUpload {
  private cur: Buffer | null = null;
  /** chunk_size buffers of parts the backend is done with, to fill again */
  private free: Buffer[] = [];
  /** the ArrayBuffers of the part buffers handed to the backend (only those come back to `free`) */
  private readonly lent = new Set<ArrayBufferLike>();
  /** all bytes handed over (finish) */
  private ended = false;
  /** valid bytes in cur */
  curLen = 0;
  /** bytes handed to the backend */
  pushed = 0;
  private readable: Readable | undefined;
  private put: Promise<ObjectInfo> | undefined;
  private wanted = false;
  private waiter: { resolve: () => void; reject: (e: unknown) => void } | null = null;
  private readonly ac = new AbortController();
  /** the upload failed (or was aborted): every later operation reports it */
  failed: unknown = undefined;
  /** X-Amz-Meta-Mtime sent with the multipart upload (fixed when it starts) */
  storedMtimeNs: bigint | undefined;
  /** bytes of the buffers this stream holds: being filled, spare, and lent to the backend */
  private owned = 0;

  constructor(private readonly t: StreamTarget) {}

  get size(): number {
    return this.pushed + this.curLen;
  }

  /** true once bytes were handed to the backend */
  get started(): boolean {
    return this.put !== undefined;
  }

  get bufferBytes(): number {
    return (this.cur?.length ?? 0) + this.free.length * this.t.partSize;
  }

  private async ensureCapacity(n: number): Promise<void> {
    const cap = this.cur?.length ?? 0;
    if (cap >= n) return;
    // small files grow their buffer; once parts are flowing, each part gets its full size at
    // once, in the buffer of a part already uploaded when there is one
    let next = this.pushed > 0 ? this.t.partSize : Math.max(MIN_BUFFER, cap);
    while (next < n) next *= 2;
    next = Math.min(next, this.t.partSize);
    for (;;) {
      if (!this.cur && this.free.length > 0) {
        this.cur = this.free.pop()!;
        return;
      }
      if (this.pushed === 0) break;
      // a stream under way: a spare of another stream, or a new buffer within the budget of
      // all streams, or wait (a stream holding nothing never waits)
      const spare = this.cur ? undefined : this.t.memory.takeSpare(next);
      if (spare) {
        this.owned += spare.length;
        this.cur = spare;
        return;
      }
      if (this.t.memory.fits(next - cap) || this.owned === 0) break;
      await this.t.memory.wait();
      if (this.failed) throw this.failed;
    }
    // its own memory (not a slice of Node's shared pool): handed back by the backend as it is
    const b = Buffer.allocUnsafeSlow(next);
    if (this.cur && this.curLen > 0) this.cur.copy(b, 0, 0, this.curLen);
    this.t.memory.take(next - cap);
    this.owned += next - cap;
    this.cur = b;
  }

  /** The backend is done with a part we pushed: its buffer takes a later part here, or another stream's. */
  private partDone(part: Buffer): void {
    if (!this.lent.delete(part.buffer)) return;
    const b = Buffer.from(part.buffer, 0, this.t.partSize);
    if (this.failed || this.ended || this.t.memory.contended) return this.passOn(b);
    this.free.push(b);
    this.t.memory.wake();
  }

  /** a full-size buffer of ours goes to the shared pool (or is freed when no stream is under way) */
  private passOn(b: Buffer): void {
    this.owned -= b.length;
    this.t.memory.offer(b);
  }

  /** let go of `n` bytes of buffers */
  private letGo(n: number): void {
    this.owned -= n;
    this.t.memory.give(n);
  }

  /** Pass the spare buffers on (another stream waits for room). */
  trimFree(): void {
    const free = this.free;
    this.free = [];
    for (const b of free) this.passOn(b);
  }

  private dropBuffer(): void {
    const cur = this.cur;
    this.cur = null;
    this.curLen = 0;
    if (cur) {
      if (cur.length === this.t.partSize && this.pushed > 0) this.passOn(cur);
      else this.letGo(cur.length);
    }
    this.trimFree();
  }

  /** Append at the end; waits while the backend is not ready for the next part. */
  async append(data: Buffer, key: () => string, mtimeNs: () => bigint, start: StartOptions = nothing): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.failed) throw this.failed;
      if (this.curLen === this.t.partSize) await this.pushPart(key, mtimeNs, start);
      const n = Math.min(this.t.partSize - this.curLen, data.length - off);
      await this.ensureCapacity(this.curLen + n);
      data.copy(this.cur!, this.curLen, off, off + n);
      this.curLen += n;
      off += n;
    }
  }

  async appendZeros(n: number, key: () => string, mtimeNs: () => bigint, start: StartOptions = nothing): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.failed) throw this.failed;
      if (this.curLen === this.t.partSize) await this.pushPart(key, mtimeNs, start);
      const k = Math.min(this.t.partSize - this.curLen, left);
      await this.ensureCapacity(this.curLen + k);
      this.cur!.fill(0, this.curLen, this.curLen + k);
      this.curLen += k;
      left -= k;
    }
  }

  /** Rewrite bytes still in the buffer (offset >= pushed, offset + length <= size). */
  overwrite(data: Buffer, offset: number): void {
    data.copy(this.cur!, offset - this.pushed);
  }

  /** Cut to `size` (>= pushed). */
  shrink(size: number): void {
    this.curLen = size - this.pushed;
  }

  /** Read bytes still in the buffer (offset >= pushed). */
  readBuffered(dst: Buffer, offset: number, length: number): number {
    const from = offset - this.pushed;
    const n = Math.max(0, Math.min(length, this.curLen - from));
    if (n > 0) this.cur!.copy(dst, 0, from, from + n);
    return n;
  }

  /** The buffered bytes (a copy-free view), for a stream that never started. */
  buffered(): Buffer {
    return this.cur ? this.cur.subarray(0, this.curLen) : Buffer.alloc(0);
  }

  /** Forget the buffer (after its bytes were stored elsewhere). */
  release(): void {
    this.dropBuffer();
  }

  private begin(key: string, mtimeNs: bigint, opts: Pick<PutOptions, 'metadata' | 'condition' | 'onRefused'>): void {
    this.readable = new Readable({
      objectMode: true,
      highWaterMark: 0,
      read: () => {
        this.wanted = true;
        const w = this.waiter;
        this.waiter = null;
        w?.resolve();
      },
    });
    this.storedMtimeNs = mtimeNs;
    // a stream under way shares the budget: asked to let spare buffers go while others wait
    this.t.memory.join(this);
    this.put = this.t.backend.put(this.t.bucket, key, this.readable, {
      mtimeNs,
      ...opts,
      signal: this.ac.signal,
      onPartDone: (part) => this.partDone(part),
    });
    this.put.catch((err: unknown) => {
      this.failed ??= err;
      const w = this.waiter;
      this.waiter = null;
      w?.reject(err);
    });
  }

  private async waitDemand(): Promise<void> {
    while (!this.wanted) {
      if (this.failed) throw this.failed;
      await new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
    }
    if (this.failed) throw this.failed;
  }

  private async pushPart(key: () => string, mtimeNs: () => bigint, start: StartOptions): Promise<void> {
    if (!this.put) this.begin(key(), mtimeNs(), start());
    await this.waitDemand();
    this.readable!.push(this.handOver());
  }

  /** cur as the next part, out of our hands (and our accounting) until the backend returns it */
  private handOver(): Buffer {
    const cur = this.cur!;
    const part = cur.subarray(0, this.curLen);
    // a full-size buffer comes back (partDone) and stays counted while the backend has it; a
    // smaller one (the last part of a small stream) is let go now
    if (cur.length === this.t.partSize) this.lent.add(cur.buffer);
    else this.letGo(cur.length);
    this.cur = null;
    this.curLen = 0;
    this.pushed += part.length;
    this.wanted = false;
    return part;
  }

  /** Hand over the rest and wait for the object (started streams only). */
  async finish(): Promise<ObjectInfo> {
    if (!this.put) throw new Error('finish() of a stream that never started');
    if (this.failed) throw this.failed;
    if (this.curLen > 0) {
      await this.waitDemand();
      // the Readable holds the last part now; our accounting lets go of it
      this.readable!.push(this.handOver());
    }
    this.ended = true;
    this.dropBuffer();
    this.t.memory.leave(this);
    this.readable!.push(null);
    return this.put.finally(() => this.dropLent());
  }

  /** Give up: nothing of this stream becomes an object. Resolves once the backend has stopped. */
  async abort(): Promise<void> {
    this.failed ??= new Error('stream aborted');
    this.ac.abort();
    this.readable?.destroy();
    const w = this.waiter;
    this.waiter = null;
    w?.reject(this.failed);
    await this.put?.catch(() => undefined);
    this.dropBuffer();
    this.dropLent();
    this.t.memory.leave(this);
  }

  /** The upload is over: a buffer the backend did not hand back is no longer used either. */
  private dropLent(): void {
    if (this.lent.size === 0) return;
    const n = this.lent.size * this.t.partSize;
    this.lent.clear();
    this.letGo(n);
  }
}
