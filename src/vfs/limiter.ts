// A counting semaphore: at most `limit` tasks of one kind run at once (the HEAD prefetches of a
// getattr storm, the background uploads of the write-back), the rest wait in FIFO order.

export class Limiter {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly limit: number) {
    if (limit < 1) throw new Error('Limiter needs a limit of at least 1');
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the first waiter, so `running` never overshoots.
    if (this.running >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    else this.running++;
    try {
      return await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.running--;
    }
  }

  get active(): number {
    return this.running;
  }
  get waiting(): number {
    return this.queue.length;
  }
}
