// When background uploads run: one timer per item (the write-back delay after its last close,
// or a retry's backoff), at most --transfers uploads at once, and the count of failures that
// sets the backoff. Timers run on the injected clock, so tests can drive them.
//
// A small file is one PUT read from its cache file: it holds no part buffers and its time is
// the round trip, not the bandwidth. Small files therefore go up SMALL_WIDTH × --transfers at
// once (a thousand files from `tar x` or `cp -r` at a distant bucket), in slots of their own;
// bigger files take the --transfers slots.
//
// What an upload does when its timer fires is the write-back layer's (`fire`); this only keeps
// the times and the slots.
import type { Clock, Timer } from '../clock.js';
import { Limiter } from '../limiter.js';

export const MAX_RETRY_MS = 5 * 60_000;
/** files up to this size are small uploads */
export const SMALL_UPLOAD = 1024 * 1024;
/** small uploads at once, per --transfers */
export const SMALL_WIDTH = 4;

export interface UploadQueueOptions<T> {
  clock: Clock;
  /** uploads at once (--transfers) */
  transfers: number;
  /** first retry delay, doubling up to MAX_RETRY_MS */
  retryBaseMs: number;
  /** the timer of `item` fired */
  fire(item: T): void;
}

/** Slots for uploads: --transfers for big files, SMALL_WIDTH times as many for small ones. */
export class UploadSlots {
  private readonly big: Limiter;
  private readonly small: Limiter;

  constructor(transfers: number) {
    this.big = new Limiter(Math.max(1, transfers));
    this.small = new Limiter(Math.max(1, transfers) * SMALL_WIDTH);
  }

  /** Run one upload of `size` bytes in its kind of slot. */
  run<R>(size: number, task: () => Promise<R>): Promise<R> {
    return (size <= SMALL_UPLOAD ? this.small : this.big).run(task);
  }
}

export class UploadQueue<T> {
  private readonly timers = new Map<T, Timer>();
  private readonly failures = new Map<T, number>();
  private readonly slots: UploadSlots;
  private active = 0;
  private closed = false;

  constructor(private readonly o: UploadQueueOptions<T>) {
    this.slots = new UploadSlots(o.transfers);
  }

  /** (Re)start the timer of `item`: it fires after `delayMs`. */
  schedule(item: T, delayMs: number): void {
    if (this.closed) return;
    this.cancel(item);
    const t = this.o.clock.setTimeout(() => {
      this.timers.delete(item);
      this.o.fire(item);
    }, delayMs);
    this.timers.set(item, t);
  }

  cancel(item: T): void {
    const t = this.timers.get(item);
    if (t === undefined) return;
    this.o.clock.clearTimeout(t);
    this.timers.delete(item);
  }

  isScheduled(item: T): boolean {
    return this.timers.has(item);
  }

  /** Run one upload of `size` bytes in a slot (a --transfers slot, or a small file's). */
  async run<R>(size: number, task: () => Promise<R>): Promise<R> {
    this.active++;
    try {
      return await this.slots.run(size, task);
    } finally {
      this.active--;
    }
  }

  /** uploads running or waiting for a slot */
  get running(): number {
    return this.active;
  }

  /** One more failure of `item`: returns the delay before its next attempt. */
  failed(item: T): number {
    const n = (this.failures.get(item) ?? 0) + 1;
    this.failures.set(item, n);
    return this.backoff(n);
  }

  /** items whose last attempt failed (and has not succeeded since) */
  get failing(): number {
    return this.failures.size;
  }

  failureCount(item: T): number {
    return this.failures.get(item) ?? 0;
  }

  /** `item` was uploaded (or is gone): its failures are forgotten. */
  succeeded(item: T): void {
    this.failures.delete(item);
  }

  /** Forget `item` altogether. */
  forget(item: T): void {
    this.cancel(item);
    this.failures.delete(item);
  }

  backoff(failures: number): number {
    return Math.min(MAX_RETRY_MS, this.o.retryBaseMs * 2 ** Math.max(0, failures - 1));
  }

  /** No timer fires any more. */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) this.o.clock.clearTimeout(t);
    this.timers.clear();
  }
}
