// How many GETs of one read-ahead stream may be in flight at once (see fetch.ts): judged once per
// PARALLEL_WINDOW the reader consumed, from the share of that window's time the reader spent
// waiting. Over STARVED_FRACTION adds a lane, under FED_FRACTION takes one away. The first window
// (the ramp of small GETs, where waiting is expected) is not judged.

/** most GETs of one stream in flight at once */
export const MAX_PARALLEL_GETS = 4;
/** the reader consumed this much since the last verdict: judge again */
export const PARALLEL_WINDOW = 8 * 1024 * 1024;
/** a reader waiting more than this share of a window starves: one more lane */
export const STARVED_FRACTION = 0.5;
/** a reader waiting less than this share of a window is fed: one lane fewer */
export const FED_FRACTION = 0.1;

export class Lanes {
  /** how many GETs may be in flight at once */
  count: number;
  /** a window was judged: GETs may grow past PARALLEL_WINDOW */
  verdict = false;
  /** since when a reader has been waiting (-1: none is) */
  private waitSince = -1;
  /** milliseconds readers waited in the current window */
  private waitedMs = 0;
  /** the first window has begun (the ramp before it is not judged) */
  private windowStarted = false;
  /** the current window: when it began, and the bytes consumed then */
  private windowT0 = performance.now();
  private windowConsumed: number;

  constructor(start: number, consumed: number) {
    this.count = Math.max(1, Math.min(MAX_PARALLEL_GETS, start));
    this.windowConsumed = consumed;
  }

  /** a reader started waiting for bytes */
  waiting(): void {
    if (this.waitSince < 0) this.waitSince = performance.now();
  }

  /** no reader waits any more: count the time it did */
  fed(): void {
    if (this.waitSince < 0) return;
    this.waitedMs += performance.now() - this.waitSince;
    this.waitSince = -1;
  }

  /**
   * The reader consumed `consumed` bytes of the stream. At the end of a window: a verdict.
   * `mayGrow` says whether a lane more could help (the read-ahead has room for two GETs);
   * returns the new lane count when one was added (for the log), else undefined.
   */
  consumedTo(consumed: number, mayGrow: () => boolean): { waitedPct: number } | undefined {
    if (consumed - this.windowConsumed < PARALLEL_WINDOW) return undefined;
    if (!this.windowStarted) {
      this.startWindow(consumed);
      return undefined;
    }
    const now = performance.now();
    const waited = this.waitedMs + (this.waitSince >= 0 ? now - this.waitSince : 0);
    const elapsed = now - this.windowT0;
    this.startWindow(consumed);
    this.verdict = true;
    if (elapsed <= 0) return undefined;
    if (waited / elapsed < FED_FRACTION) {
      // the stream keeps well ahead: one lane fewer (each GET costs CPU on both sides)
      if (this.count > 1) this.count--;
      return undefined;
    }
    if (this.count >= MAX_PARALLEL_GETS || waited / elapsed <= STARVED_FRACTION || !mayGrow()) return undefined;
    this.count++;
    return { waitedPct: Math.round((100 * waited) / elapsed) };
  }

  /** Start a window: forget the waiting so far. */
  private startWindow(consumed: number): void {
    const now = performance.now();
    this.windowT0 = now;
    this.windowConsumed = consumed;
    this.waitedMs = 0;
    if (this.waitSince >= 0) this.waitSince = now;
    this.windowStarted = true;
  }
}
