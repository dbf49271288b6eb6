// A clock for unit tests: time moves only when the test says so (advance), and timers fire in
// order of their due time as it passes. Implements the VFS's Clock (src/vfs/clock.ts).
import type { Clock, Timer } from '../../src/vfs/clock.js';

interface Pending {
  due: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<Timer, Pending>();

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    const handle: Timer = {};
    this.timers.set(handle, { due: this.t + Math.max(0, ms), seq: this.seq++, fn });
    return handle;
  }

  clearTimeout(t: Timer): void {
    this.timers.delete(t);
  }

  /** timers not fired yet */
  get pending(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way (in order). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [Timer, Pending] | undefined;
      for (const e of this.timers) if (e[1].due <= end && (!next || e[1].due < next[1].due || (e[1].due === next[1].due && e[1].seq < next[1].seq))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].due);
      next[1].fn();
    }
    this.t = end;
  }
}
