// A latency histogram with fixed buckets, as Prometheus exposes them (cumulative counts per upper
// bound, a sum and a count). Written for hot paths: every FUSE request and every S3 request
// observes one value, so an observation is a short scan of a small array and two additions; no
// allocation, no label lookup (each histogram belongs to one operation, found by its caller).

/**
 * Upper bounds in seconds, 100 µs to 30 s in steps of about ×2.5: a getattr answered from memory
 * (tens of µs) lands in the first bucket, a round trip to a distant bucket in the middle, an
 * upload at close(2) of a big file near the end.
 */
export const LATENCY_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What a histogram holds, in the form both /metrics and `bucketfs stats --json` print. */
export interface HistogramSnapshot {
  /** upper bounds in seconds (the last, +Inf, is implied) */
  le: number[];
  /** cumulative counts: observations ≤ le[i]; `count` is the +Inf bucket */
  buckets: number[];
  /** seconds, all observations together */
  sum: number;
  count: number;
}

export class Histogram {
  /** per bucket (not cumulative), the last one for values above every bound */
  private readonly counts: number[];
  private sum = 0;
  private total = 0;

  constructor(private readonly bounds: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.total++;
  }

  snapshot(): HistogramSnapshot {
    const buckets: number[] = [];
    let n = 0;
    for (let i = 0; i < this.bounds.length; i++) buckets.push((n += this.counts[i]!));
    return { le: [...this.bounds], buckets, sum: this.sum, count: this.total };
  }
}
