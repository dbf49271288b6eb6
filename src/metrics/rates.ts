// Throughput over the last few seconds, for `bucketfs stats`: a few totals (bytes sent, received,
// requests) are sampled every couple of seconds, and a rate is the growth since the oldest sample
// kept. (Prometheus computes its own rates from the counters; this is for a person asking now.)

export interface Rates {
  /** the seconds the rates were measured over */
  seconds: number;
  /** per second, in the order of the totals sampled */
  perSecond: number[];
}

interface Sample {
  at: number;
  values: number[];
}

export class RateWindow {
  private readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;
  /** samples kept (the oldest is where the rates start) */
  private readonly keep: number;

  constructor(
    /** the totals to follow (counters: they only grow) */
    private readonly read: () => number[],
    private readonly intervalMs = 2_000,
    /** rates are measured over about this long */
    windowMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.keep = Math.max(1, Math.round(windowMs / intervalMs));
    this.sample();
    // a sample every few seconds costs nothing, and must not keep a finished process alive
    this.timer = setInterval(() => this.sample(), intervalMs).unref();
  }

  private sample(): void {
    this.samples.push({ at: this.now(), values: this.read() });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  rates(): Rates {
    const first = this.samples[0]!;
    const values = this.read();
    const seconds = (this.now() - first.at) / 1000;
    return { seconds, perSecond: values.map((v, i) => (seconds > 0 ? (v - (first.values[i] ?? 0)) / seconds : 0)) };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
