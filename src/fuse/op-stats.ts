// What the kernel asked of the mount: each FUSE operation's count and answer times (a histogram
// per operation), the errors answered by errno, and the requests being answered right now. Kept
// by the Replier of ops.ts, which every request passes through; read by `bucketfs stats` and the
// metrics endpoint.
import { Histogram, type HistogramSnapshot } from '../util/histogram.js';

export interface FuseOpStatsSnapshot {
  /** answer times by operation (its count is the number of requests) */
  ops: Record<string, HistogramSnapshot>;
  /** requests answered with an error, by operation and errno name (ENOENT for a name that is not there, EIO, …) */
  errors: Array<{ op: string; errno: string; count: number }>;
  /** requests received and not answered yet */
  inFlight: number;
}

export class FuseOpStats {
  private readonly ops = new Map<string, Histogram>();
  private readonly errors = new Map<string, { op: string; errno: string; count: number }>();
  inFlight = 0;

  /** One request of `op` was answered after `seconds`, with `errno` when it failed. */
  done(op: string, seconds: number, errno?: string): void {
    let h = this.ops.get(op);
    if (!h) this.ops.set(op, (h = new Histogram()));
    h.observe(seconds);
    if (errno === undefined) return;
    const key = `${op} ${errno}`;
    const e = this.errors.get(key);
    if (e) e.count++;
    else this.errors.set(key, { op, errno, count: 1 });
  }

  snapshot(): FuseOpStatsSnapshot {
    const ops: Record<string, HistogramSnapshot> = {};
    for (const [op, h] of this.ops) ops[op] = h.snapshot();
    return { ops, errors: [...this.errors.values()].map((e) => ({ ...e })), inFlight: this.inFlight };
  }
}
