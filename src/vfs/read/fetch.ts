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
//
// One GET at a time is as fast as it gets where the server is close and the mount's CPU is the
// limit (every extra request costs CPU on both sides). Where one connection is slower than the
// reader (a distant server, per-connection bandwidth as on AWS), the reader waits. So a stream
// watches how much of its time its reader spent waiting over each PARALLEL_WINDOW consumed: over
// STARVED_FRACTION adds a lane (up to MAX_PARALLEL_GETS), under FED_FRACTION takes one away (lanes.ts).
// With several lanes, consecutive ranged GETs of about a quarter of the read-ahead limit each
// are in flight at once, each filling its own blocks, all within the same limit: a GET starts
// only while its end is within aheadFor() of what the reader asked for. The first window is the
// ramp of small GETs (waiting is expected there) and is not judged; until the first verdict a
// stream's GETs are at most PARALLEL_WINDOW, so that no huge GET is in flight when the stream goes
// parallel (a GET is never cut short: the bytes in flight on its connection would be wasted).
// The next stream of the same object starts with the lanes the last one ended with.
// Every GET carries If-Match with the pinned ETag: a changed object fails the GET (412) instead
// of delivering bytes of another version.
import type { Readable } from 'node:stream';
import { Lanes, PARALLEL_WINDOW } from './lanes.js';
import type { MountedBucket } from '../bucket.js';
import type { ObjectInfo } from '../../backend/s3/types.js';
import type { Logger } from '../../util/log.js';
import { streamGetSize, type ChunkSettings } from './chunk-policy.js';
import { BLOCK_SIZE, type Block, type BlockCache, type BlockOwner } from './block-cache.js';

export { BLOCK_SIZE };
/** a stream waiting this long for its reader to come back is ended (its connection freed) */
export const STREAM_IDLE_MS = 10_000;
/** a read that is not sequential waits for a GET in flight only if its byte is this close */
export const ATTACH_DISTANCE = 1024 * 1024;
/** once parallel, a stream's GETs are at most its read-ahead limit divided by this */
export const PARALLEL_SPLIT = 4;
/** GETs in parallel are at least this large (a smaller read-ahead limit keeps one GET at a time) */
export const MIN_PARALLEL_GET = 4 * 1024 * 1024;
/**
 * A GET whose first byte took this long comes from a distant server: the stream's next GET is
 * asked for while it still runs, once it will end within its own first-byte time, so that the
 * next request's round trip overlaps this body instead of following it (the ramp of small GETs
 * at the start of a read would otherwise cost a round trip each). Next door, one at a time.
 */
export const PIPELINE_MIN_TTFB_MS = 10;

export interface FetchTarget extends BlockOwner {
  bucket: MountedBucket;
  /** mount path (may change when we rename the file) */
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
  /** a GET's response headers arrived: what they say about the object */
  seen(info: ObjectInfo): void;
  /** the lanes the last stream of this object ended with: the next one starts there */
  streamLanes: number;
}

interface Waiter {
  at: number;
  resolve: () => void;
}

/** One ranged GET of a fetch: [start, end), received up to pos. */
interface Part {
  readonly start: number;
  readonly end: number;
  pos: number;
  /** the block its bytes go to */
  block: Block | undefined;
  /** its body, while paused by the throttle */
  paused: Readable | undefined;
  /** ends the GET (abort) */
  endGet: (() => void) | undefined;
  /** when it was asked for, and when its first byte came (0: not yet) */
  askedAt: number;
  firstAt: number;
}

export class Fetch {
  /** next byte this fetch will receive in order: every byte before it has arrived */
  pos: number;
  /** end of the GETs in flight (= pos when none is) */
  getEnd: number;
  /** where the next GET starts */
  private issued: number;
  /** GETs in flight (and ones ended early), by start: consecutive */
  private readonly parts: Part[] = [];
  /** block of the last GET, which the GET right after it may go on filling */
  private tailBlock: Block | undefined;
  /** furthest byte the sequential reader(s) asked this fetch for (exclusive) */
  private demand: number;
  /** bytes the reader(s) of this stream consumed: sizes its GETs and its read-ahead */
  private consumed: number;
  done = false;
  error: unknown = undefined;
  /** the error of a GET that failed (the others are then aborted) */
  private failure: unknown = undefined;
  /** how many GETs may be in flight at once (grows while the reader starves) */
  private readonly lanes: Lanes;
  private readonly waiters: Waiter[] = [];
  /** the furthest byte a waiter waits for (-1: none) */
  private maxWait = -1;
  private readonly ctrl = new AbortController();
  /** a stream waiting to start its next GET */
  private wakeStream: (() => void) | undefined;
  private waiting = false;
  private idleTimer: NodeJS.Timeout | undefined;
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
    this.issued = start;
    this.demand = demand;
    this.consumed = consumed;
    this.lanes = new Lanes(streaming ? t.streamLanes : 1, consumed);
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
    if (this.streaming) {
      const grown = this.lanes.consumedTo(this.consumed, () => this.t.settings.chunkSize > 0 && this.t.aheadFor(this.consumed) >= 2 * MIN_PARALLEL_GET);
      if (grown)
        this.t.log.debug(`${this.t.key()}: reader waited ${grown.waitedPct}% of the last ${PARALLEL_WINDOW >> 20} MiB: ${this.lanes.count} GETs at once`);
    }
    this.kick();
  }

  /** size of the GETs of a parallel stream */
  private pieceSize(): number {
    return Math.max(MIN_PARALLEL_GET, Math.floor(this.t.aheadFor(this.consumed) / PARALLEL_SPLIT));
  }

  /** Resolves once byte `at` has arrived, or the fetch has ended (successfully or not). */
  waitFor(at: number): Promise<void> {
    if (this.done || this.has(at)) return Promise.resolve();
    return new Promise((resolve) => {
      this.lanes.waiting();
      this.waiters.push({ at, resolve });
      if (at > this.maxWait) {
        this.maxWait = at;
        this.kick();
      }
    });
  }

  abort(): void {
    if (!this.done) this.ctrl.abort();
    for (const p of this.parts) p.endGet?.();
    this.wakeStream?.();
  }

  /** has byte `at` arrived? */
  private has(at: number): boolean {
    if (at < this.pos) return true;
    for (const p of this.parts) if (at >= p.start && at < p.pos) return true;
    return false;
  }

  /** the first byte not yet received in order, and the end of what was asked for */
  private advance(): void {
    let pos = this.issued;
    for (const p of this.parts) {
      if (p.pos < p.end) {
        pos = p.pos;
        break;
      }
    }
    this.pos = pos;
    this.getEnd = this.issued;
  }

  // --- throttle -------------------------------------------------------------------------------

  /** pause the body of a GET: far enough ahead, and no reader waits for its bytes or later ones */
  private overLimit(p: Part): boolean {
    return this.streaming && this.maxWait < p.pos && p.pos - this.demand > this.t.aheadFor(this.consumed);
  }

  /** resume a paused body: the reader came a quarter of the limit closer (not every 128 KiB) */
  private mayResume(p: Part): boolean {
    return this.maxWait >= p.pos || p.pos - this.demand <= (this.t.aheadFor(this.consumed) * 3) / 4;
  }

  /** consecutive GETs may be in flight at once (the reader starved with one) */
  private parallel(): boolean {
    return this.streaming && this.lanes.count > 1;
  }

  /** size of the stream's next GET (previous: the size of the last one, 0 for the first) */
  private nextSize(previous: number): number {
    const size = streamGetSize(this.t.settings, previous, this.consumed, this.end - this.issued);
    // until the first verdict, no GET so large that the stream could not go parallel soon
    if (!this.lanes.verdict && this.lanes.count === 1) return Math.min(size, PARALLEL_WINDOW);
    if (!this.parallel()) return size;
    return Math.max(1, Math.min(size, this.pieceSize()));
  }

  /** may a stream start its next GET (of `size` bytes)? */
  private mayStartGet(size: number): boolean {
    if (!this.streaming) return this.parts.length === 0;
    const ahead = this.t.aheadFor(this.consumed);
    const lanes = this.parallel() ? Math.max(1, Math.min(this.lanes.count, Math.floor(ahead / Math.max(1, size)))) : 1;
    if (this.parts.length >= lanes) return lanes === 1 && this.parts.length === 1 && this.pipelines(this.parts[0]!);
    // a reader waits for bytes no GET asked for yet
    if (this.maxWait >= this.issued) return true;
    // one at a time: its reader is closer than half the limit
    if (this.parts.length === 0) return this.issued - this.demand < ahead / 2;
    // another one while some are in flight: all of it within the limit
    return this.issued + size - this.demand <= ahead;
  }

  /** At a distance: `p`, the one GET in flight, ends within its first-byte time (see PIPELINE_MIN_TTFB_MS). */
  private pipelines(p: Part): boolean {
    if (p.firstAt === 0 || p.pos <= p.start) return false;
    const firstByteMs = p.firstAt - p.askedAt;
    if (firstByteMs < PIPELINE_MIN_TTFB_MS) return false;
    const remainingMs = ((p.end - p.pos) * (performance.now() - p.firstAt)) / (p.pos - p.start);
    return remainingMs <= firstByteMs;
  }

  private kick(): void {
    for (const p of this.parts) {
      if (p.paused && this.mayResume(p)) {
        const body = p.paused;
        p.paused = undefined;
        body.resume();
      }
    }
    this.updateIdle();
    this.wakeStream?.();
  }

  /** the idle timer runs while nothing downloads (every GET paused, or none started) */
  private updateIdle(): void {
    if (this.done) return this.stopIdle();
    let stalled = this.waiting || this.parts.length > 0;
    for (const p of this.parts) if (!p.paused) stalled = false;
    if (stalled) this.startIdle();
    else this.stopIdle();
  }

  private startIdle(): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      this.t.log.debug(`${this.t.key()}: read-ahead stream idle, stopping at ${this.pos}`);
      this.abort();
    }, STREAM_IDLE_MS);
    this.idleTimer.unref();
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
      if (this.has(w.at)) {
        this.waiters.splice(i, 1);
        w.resolve();
      } else if (w.at > max) max = w.at;
    }
    this.maxWait = max;
    if (this.waiters.length === 0) this.lanes.fed();
  }

  private finish(err: unknown): void {
    this.done = true;
    if (this.streaming) this.t.streamLanes = this.lanes.count;
    for (const p of this.parts) if (p.block) p.block.filling = false;
    if (this.tailBlock) this.tailBlock.filling = false;
    this.tailBlock = undefined;
    this.stopIdle();
    if (err !== undefined && (err === this.failure || !this.ctrl.signal.aborted)) this.error = err;
    this.maxWait = -1;
    this.lanes.fed();
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  // --- downloading ----------------------------------------------------------------------------

  private async run(): Promise<void> {
    if (!this.streaming) {
      await this.get(this.issue(this.end - this.start));
      return;
    }
    let previous = 0;
    const running = new Set<Promise<void>>();
    while (this.issued < this.end && !this.ctrl.signal.aborted) {
      const size = this.nextSize(previous);
      if (!this.mayStartGet(size)) {
        await this.waitToStart();
        continue;
      }
      previous = size;
      const part = this.issue(size);
      const got: Promise<void> = this.get(part)
        .catch((err) => this.fail(err))
        .finally(() => {
          running.delete(got);
          this.wakeStream?.();
        });
      running.add(got);
    }
    await Promise.all(running);
    if (this.failure !== undefined) throw this.failure;
  }

  /** A GET failed: the fetch fails with its error, and the other GETs are stopped. */
  private fail(err: unknown): void {
    if (this.ctrl.signal.aborted || this.failure !== undefined) return;
    this.failure = err;
    this.abort();
  }

  /** Hold a stream until something changes (its reader moved, a GET ended); the idle timer ends it if the reader is gone. */
  private async waitToStart(): Promise<void> {
    this.waiting = true;
    this.updateIdle();
    await new Promise<void>((resolve) => (this.wakeStream = resolve));
    this.wakeStream = undefined;
    this.waiting = false;
    this.updateIdle();
  }

  /** The next GET: `count` bytes from `issued`. */
  private issue(count: number): Part {
    const start = this.issued;
    const part: Part = {
      start,
      end: start + count,
      pos: start,
      block: undefined,
      paused: undefined,
      endGet: undefined,
      askedAt: performance.now(),
      firstAt: 0,
    };
    // the GET right after the last one goes on filling its block
    const tail = this.tailBlock;
    this.tailBlock = undefined;
    if (tail) {
      if (tail.live && tail.end === start && tail.filled < BLOCK_SIZE) part.block = tail;
      else tail.filling = false;
    }
    this.parts.push(part);
    this.issued = part.end;
    this.advance();
    return part;
  }

  private async get(part: Part): Promise<void> {
    const count = part.end - part.start;
    this.t.stats.gets++;
    try {
      const { body, info } = await this.t.bucket.read(this.t.key(), {
        offset: part.start,
        count,
        ...(this.t.etag ? { ifMatch: this.t.etag } : {}),
        signal: this.ctrl.signal,
      });
      this.t.seen(info);
      try {
        await this.consume(part, body);
      } finally {
        part.paused = undefined;
        part.endGet = undefined;
        // a body read to its end leaves its keep-alive connection to the next GET; destroying
        // one that has not ended (aborted, or stopped early) closes the connection
        if (!body.readableEnded) body.destroy();
      }
    } finally {
      if (part.pos >= part.end) {
        const i = this.parts.indexOf(part);
        if (i >= 0) this.parts.splice(i, 1);
        // the last GET so far: the next one may go on filling its block
        if (part.block) {
          if (part.end === this.issued && !this.done) this.tailBlock = part.block;
          else part.block.filling = false;
        }
        this.advance();
      }
      this.updateIdle();
    }
    if (part.pos < part.end && !this.ctrl.signal.aborted) {
      throw new Error(`short read of ${this.t.key()}: got ${part.pos - part.start} of ${part.end - part.start} bytes at ${part.start}`);
    }
  }

  private consume(part: Part, body: Readable): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        body.off('data', onData);
        body.off('end', onEnd);
        body.off('error', onError);
        body.off('close', onEnd);
        part.paused = undefined;
        if (err !== undefined && !this.ctrl.signal.aborted) reject(err);
        else resolve();
      };
      const onData = (chunk: Buffer) => {
        if (settled) return;
        if (part.firstAt === 0) part.firstAt = performance.now();
        this.ingest(part, chunk);
        // a stream held back may now ask for its next GET ahead of this one's end
        if (this.waiting && this.parts.length === 1 && this.pipelines(part)) this.wakeStream?.();
        if (this.ctrl.signal.aborted) return settle();
        // all the bytes are here: 'end' follows at once (waiting for it keeps the connection)
        if (part.pos >= part.end) return;
        if (this.overLimit(part)) {
          body.pause();
          part.paused = body;
          this.updateIdle();
        }
      };
      const onEnd = () => settle();
      const onError = (err: unknown) => settle(err);
      part.endGet = () => settle();
      body.on('data', onData);
      body.once('end', onEnd);
      body.once('error', onError);
      body.once('close', onEnd);
      if (this.ctrl.signal.aborted) settle();
    });
  }

  /** Add one chunk of a body to the part's blocks (starting a new one as needed) and wake waiting readers. */
  private ingest(part: Part, chunk: Buffer): void {
    const n = Math.min(chunk.length, part.end - part.pos);
    if (n <= 0) return;
    let b = part.block;
    if (!b || !b.live || b.filled >= BLOCK_SIZE || b.end !== part.pos) {
      if (b) b.filling = false;
      b = this.t.cache.allocate(this.t, part.pos);
      part.block = b;
      this.t.addBlock(b);
    }
    const from = part.pos;
    this.t.cache.append(b, n === chunk.length ? chunk : chunk.subarray(0, n));
    part.pos += n;
    if (this.streaming && b.live) this.t.supersede(b, from);
    this.t.stats.bytesDownloaded += n;
    if (from === this.pos) this.advance();
    this.notify();
  }
}
