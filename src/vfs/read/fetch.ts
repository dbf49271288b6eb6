// One download into a ReadSource: either a single ranged GET of about the bytes a random read
// asked for, or a stream of ranged GETs (sizes from chunk-policy.ts) that follows a sequential
// reader, staying at most aheadLimit() bytes ahead of the furthest byte its reader asked for.
// The sizes and the limit grow with what the reader consumed (`want(end, consumed)`), never
// with the stream's own progress, and readers of other parts of the file do not move them.
//
// Data lands in blocks (about 1 MiB of body chunks, kept without copying) of the global
// BlockCache as it arrives, so readers waiting for a byte are woken as soon as it is there (the
// first byte of a file never waits for a chunk).
// Bodies are consumed with 'data' events and the throttle is checked synchronously per chunk:
// a stream far enough ahead pauses its body (the connection stays open) until its reader comes
// closer, and starts its next GET only once the reader is within half the limit.
// Every GET carries If-Match with the pinned ETag: a changed object fails the GET (412) instead
// of delivering bytes of another version.
import type { Readable } from 'node:stream';
import type { S3BackendApi } from '../../backend/s3/types.js';
import type { Logger } from '../../util/log.js';
import { streamGetSize, type ChunkSettings } from './chunk-policy.js';
import { BLOCK_SIZE, type Block, type BlockCache, type BlockOwner } from './block-cache.js';

export { BLOCK_SIZE };
/** a stream waiting this long for its reader to come back is ended (its connection freed) */
export const STREAM_IDLE_MS = 10_000;
/** a read that is not sequential waits for a GET in flight only if its byte is this close */
export const ATTACH_DISTANCE = 1024 * 1024;

export interface FetchTarget extends BlockOwner {
  backend: S3BackendApi;
  bucket: string;
  /** logical backend path (may change when we rename the file) */
  key(): string;
  etag: string;
  size: number;
  cache: BlockCache;
  settings: ChunkSettings;
  log: Logger;
  /** a new block was allocated at `start` and must be indexed */
  addBlock(block: Block): void;
  /** a stream's block grew over [from, block.end): smaller blocks it now covers can go */
  supersede(block: Block, from: number): void;
  /** how far a stream may run ahead of a reader that consumed `consumed` bytes */
  aheadFor(consumed: number): number;
  /** counts bytes and GETs for --stats */
  stats: { bytesDownloaded: number; gets: number };
}

interface Waiter {
  at: number;
  resolve: () => void;
}

export class Fetch {
  /** next byte this fetch will receive */
  pos: number;
  /** end of the GET in flight (= pos between the GETs of a stream) */
  getEnd: number;
  /** furthest byte the sequential reader(s) asked this fetch for (exclusive) */
  private demand: number;
  /** bytes the reader(s) of this stream consumed: sizes its GETs and its read-ahead */
  private consumed: number;
  done = false;
  error: unknown = undefined;
  private readonly waiters: Waiter[] = [];
  /** the furthest byte a waiter waits for (-1: none) */
  private maxWait = -1;
  private readonly ctrl = new AbortController();
  /** a stream waiting to start its next GET */
  private wakeStream: (() => void) | undefined;
  /** the body of the GET in flight, while paused by the throttle */
  private paused: Readable | undefined;
  /** ends the GET in flight (abort) */
  private endGet: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private block: Block | undefined;
  /** resolves when the fetch has ended (successfully or not; see `error`) */
  readonly finished: Promise<void>;

  constructor(
    private readonly t: FetchTarget,
    readonly start: number,
    /** exclusive end: the requested range for a single GET, where a stream stops */
    readonly end: number,
    readonly streaming: boolean,
    /** bytes the reader had consumed when the stream started */
    consumed: number,
    /** what the reader asked for so far (a read-ahead stream starts past it) */
    demand = start,
  ) {
    this.pos = start;
    this.getEnd = start;
    this.demand = demand;
    this.consumed = consumed;
    this.finished = this.run().then(
      () => this.finish(undefined),
      (err) => this.finish(err),
    );
  }

  /** Could this stream deliver `pos` to a sequential reader soon (within its read-ahead reach)? */
  reaches(pos: number): boolean {
    if (this.done || pos < this.pos || pos >= this.end) return false;
    if (!this.streaming) return true;
    return pos - this.pos <= Math.max(this.t.aheadFor(this.consumed), BLOCK_SIZE);
  }

  /** Is `pos` in the GET in flight now, and close enough to wait for? (for non-sequential reads) */
  inFlight(pos: number): boolean {
    return !this.done && pos >= this.pos && pos < this.getEnd && pos - this.pos <= ATTACH_DISTANCE;
  }

  /** A sequential reader wants the bytes up to `end` and has consumed `consumed`: let the stream go on. */
  want(end: number, consumed?: number): void {
    if (consumed !== undefined && consumed > this.consumed) this.consumed = consumed;
    if (end > this.demand) this.demand = end;
    this.idleTimer?.refresh();
    this.kick();
  }

  /** Resolves once byte `at` has arrived, or the fetch has ended (successfully or not). */
  waitFor(at: number): Promise<void> {
    if (this.done || this.pos > at) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push({ at, resolve });
      if (at > this.maxWait) {
        this.maxWait = at;
        this.kick();
      }
    });
  }

  abort(): void {
    if (!this.done) this.ctrl.abort();
    this.endGet?.();
    this.wakeStream?.();
  }

  // --- throttle -------------------------------------------------------------------------------

  /** pause the body of the GET in flight: far enough ahead, and no reader waits for more */
  private overLimit(): boolean {
    return this.streaming && this.maxWait < this.pos && this.pos - this.demand > this.t.aheadFor(this.consumed);
  }

  /** may a stream start its next GET: its reader is closer than half the limit (or waits for it) */
  private mayStartGet(): boolean {
    return !this.streaming || this.maxWait >= this.pos || this.pos - this.demand < this.t.aheadFor(this.consumed) / 2;
  }

  /** resume a paused body: the reader came a quarter of the limit closer (not every 128 KiB) */
  private mayResume(): boolean {
    return this.maxWait >= this.pos || this.pos - this.demand <= (this.t.aheadFor(this.consumed) * 3) / 4;
  }

  private kick(): void {
    if (this.paused && this.mayResume()) {
      const body = this.paused;
      this.paused = undefined;
      this.stopIdle();
      body.resume();
    }
    if (this.wakeStream && this.mayStartGet()) this.wakeStream();
  }

  private startIdle(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.t.log.debug(`${this.t.key()}: read-ahead stream idle, stopping at ${this.pos}`);
        this.abort();
      }, STREAM_IDLE_MS);
      this.idleTimer.unref();
    }
  }

  private stopIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    let max = -1;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.at < this.pos) {
        this.waiters.splice(i, 1);
        w.resolve();
      } else if (w.at > max) max = w.at;
    }
    this.maxWait = max;
  }

  private finish(err: unknown): void {
    this.done = true;
    if (this.block) this.block.filling = false;
    this.stopIdle();
    if (err !== undefined && !this.ctrl.signal.aborted) this.error = err;
    this.maxWait = -1;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  // --- downloading ----------------------------------------------------------------------------

  private async run(): Promise<void> {
    let previous = 0;
    while (this.pos < this.end && !this.ctrl.signal.aborted) {
      let count: number;
      if (this.streaming) {
        if (!this.mayStartGet()) await this.waitToStart();
        if (this.ctrl.signal.aborted) return;
        count = streamGetSize(this.t.settings, previous, this.consumed, this.end - this.pos);
        previous = count;
      } else {
        count = this.end - this.pos;
      }
      await this.get(this.pos, count);
    }
  }

  /** Hold a stream until its reader comes close enough; end it if the reader is gone. */
  private async waitToStart(): Promise<void> {
    this.startIdle();
    while (!this.mayStartGet() && !this.ctrl.signal.aborted) {
      await new Promise<void>((resolve) => (this.wakeStream = resolve));
      this.wakeStream = undefined;
    }
    this.stopIdle();
  }

  private async get(offset: number, count: number): Promise<void> {
    const end = offset + count;
    this.getEnd = end;
    this.t.stats.gets++;
    try {
      const { body } = await this.t.backend.read(this.t.bucket, this.t.key(), {
        offset,
        count,
        ...(this.t.etag ? { ifMatch: this.t.etag } : {}),
        signal: this.ctrl.signal,
      });
      try {
        await this.consume(body, end);
      } finally {
        this.paused = undefined;
        this.endGet = undefined;
        // a body read to its end leaves its keep-alive connection to the next GET; destroying
        // one that has not ended (aborted, or stopped early) closes the connection
        if (!body.readableEnded) body.destroy();
      }
    } finally {
      this.getEnd = this.pos;
    }
    if (this.pos < end && !this.ctrl.signal.aborted) {
      throw new Error(`short read of ${this.t.key()}: got ${this.pos - offset} of ${count} bytes at ${offset}`);
    }
  }

  private consume(body: Readable, end: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        body.off('data', onData);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onEnd);
        this.stopIdle();
        if (err !== undefined && !this.ctrl.signal.aborted) reject(err);
        else resolve();
      };
      const onData = (chunk: Buffer) => {
        if (settled) return;
        this.ingest(chunk, end);
        if (this.ctrl.signal.aborted) return settle();
        // all the bytes are here: 'end' follows at once (waiting for it keeps the connection)
        if (this.pos >= end) return;
        if (this.overLimit()) {
          body.pause();
          this.paused = body;
          this.startIdle();
        }
      };
      const onEnd = () => settle();
      const onError = (err: unknown) => settle(err);
      this.endGet = () => settle();
      body.on('data', onData);
      body.once('end', onEnd);
      body.once('error', onError);
      body.once('close', onEnd);
      if (this.ctrl.signal.aborted) settle();
    });
  }

  /** Add one chunk of a body to the blocks (starting a new one as needed) and wake waiting readers. */
  private ingest(chunk: Buffer, end: number): void {
    const n = Math.min(chunk.length, end - this.pos);
    if (n <= 0) return;
    let b = this.block;
    if (!b || !b.live || b.filled >= BLOCK_SIZE) {
      if (b) b.filling = false;
      b = this.t.cache.allocate(this.t, this.pos);
      this.block = b;
      this.t.addBlock(b);
    }
    const from = this.pos;
    this.t.cache.append(b, n === chunk.length ? chunk : chunk.subarray(0, n));
    this.pos += n;
    if (this.streaming && b.live) this.t.supersede(b, from);
    this.t.stats.bytesDownloaded += n;
    this.notify();
  }
}
