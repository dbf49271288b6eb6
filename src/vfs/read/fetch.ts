// One download into a ReadSource: either a single ranged GET of exactly the bytes a random read
// asked for, or a stream of ranged GETs (sizes from chunk-policy.ts) that follows a sequential
// reader, staying at most aheadLimit() bytes ahead of the furthest byte asked for.
//
// Data lands in 1 MiB blocks of the global BlockCache as it arrives, so readers waiting for a
// byte are woken as soon as it is there (the first byte of a file never waits for a chunk).
// Every GET carries If-Match with the pinned ETag: a changed object fails the GET (412) instead
// of delivering bytes of another version.
import type { Readable } from 'node:stream';
import type { S3BackendApi } from '../../backend/s3/types.js';
import type { Logger } from '../../util/log.js';
import { aheadLimit, nextGetSize, type ChunkSettings } from './chunk-policy.js';
import type { Block, BlockCache, BlockOwner } from './block-cache.js';

export const BLOCK_SIZE = 1024 * 1024;
/** a stream waiting this long for its reader to come back is ended (its connection freed) */
export const STREAM_IDLE_MS = 10_000;

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
  /** furthest byte any reader has asked this fetch for (exclusive) */
  private demand: number;
  done = false;
  error: unknown = undefined;
  private readonly waiters: Waiter[] = [];
  private readonly ctrl = new AbortController();
  private wakeStream: (() => void) | undefined;
  private block: Block | undefined;

  constructor(
    private readonly t: FetchTarget,
    readonly start: number,
    /** exclusive end: the requested range for a single GET, the file size for a stream */
    readonly end: number,
    readonly streaming: boolean,
    /** bytes the reader had read sequentially when the stream started (ramp-up) */
    private readonly runBytesAtStart: number,
  ) {
    this.pos = start;
    this.demand = start;
    void this.run().then(
      () => this.finish(undefined),
      (err) => this.finish(err),
    );
  }

  /** Could this fetch deliver `pos` soon? (a stream only within its read-ahead reach) */
  covers(pos: number): boolean {
    if (this.done || pos < this.pos || pos >= this.end) return false;
    if (!this.streaming) return true;
    return pos - this.pos <= Math.max(aheadLimit(this.t.settings, this.runBytes), BLOCK_SIZE);
  }

  private get runBytes(): number {
    return this.runBytesAtStart + (this.pos - this.start);
  }

  /** A reader wants the bytes up to `end`: let a throttled stream go on. */
  want(end: number): void {
    if (end > this.demand) {
      this.demand = end;
      this.wakeStream?.();
    }
  }

  /** Resolves once byte `at` has arrived, or the fetch has ended (successfully or not). */
  waitFor(at: number): Promise<void> {
    if (this.done || this.pos > at) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ at, resolve }));
  }

  abort(): void {
    if (!this.done) this.ctrl.abort();
    this.wakeStream?.();
  }

  private notify(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.at < this.pos) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  private finish(err: unknown): void {
    this.done = true;
    if (err !== undefined && !this.ctrl.signal.aborted) this.error = err;
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private async run(): Promise<void> {
    let previous = 0;
    while (this.pos < this.end && !this.ctrl.signal.aborted) {
      let count: number;
      if (this.streaming) {
        await this.throttle();
        if (this.ctrl.signal.aborted) return;
        count = nextGetSize(this.t.settings, previous, this.runBytes, this.end - this.pos);
        previous = count;
      } else {
        count = this.end - this.pos;
      }
      await this.get(this.pos, count);
    }
  }

  /** Hold a stream while it is far enough ahead of its reader; end it if the reader is gone. */
  private async throttle(): Promise<void> {
    while (this.pos - this.demand > aheadLimit(this.t.settings, this.runBytes) && !this.ctrl.signal.aborted) {
      const idle = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), STREAM_IDLE_MS);
        this.wakeStream = () => {
          clearTimeout(timer);
          resolve(false);
        };
      });
      this.wakeStream = undefined;
      if (idle) {
        this.t.log.debug(`${this.t.key()}: read-ahead stream idle, stopping at ${this.pos}`);
        this.ctrl.abort();
      }
    }
  }

  private async get(offset: number, count: number): Promise<void> {
    const end = offset + count;
    this.t.stats.gets++;
    const { body } = await this.t.backend.read(this.t.bucket, this.t.key(), {
      offset,
      count,
      ...(this.t.etag ? { ifMatch: this.t.etag } : {}),
      signal: this.ctrl.signal,
    });
    try {
      await this.consume(body, end);
    } finally {
      body.destroy();
    }
    if (this.pos < end && !this.ctrl.signal.aborted) {
      throw new Error(`short read of ${this.t.key()}: got ${this.pos - offset} of ${count} bytes at ${offset}`);
    }
  }

  private async consume(body: Readable, end: number): Promise<void> {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      let off = 0;
      while (off < chunk.length && this.pos < end) {
        let b = this.block;
        if (!b || b.filled === b.buf.length || !b.live) {
          b = this.t.cache.allocate(this.t, this.pos, Math.min(BLOCK_SIZE, end - this.pos));
          this.block = b;
          this.t.addBlock(b);
        }
        const n = Math.min(chunk.length - off, b.buf.length - b.filled, end - this.pos);
        chunk.copy(b.buf, b.filled, off, off + n);
        b.filled += n;
        off += n;
        this.pos += n;
      }
      this.t.stats.bytesDownloaded += chunk.length;
      this.notify();
      if (this.ctrl.signal.aborted) return;
      if (this.pos >= end) return;
      if (this.streaming) await this.throttle();
    }
  }
}
