// An async mutex: one holder at a time, waiters served in order.

export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private holders = 0;
  private waiting = 0;

  /** Resolves with the release function once the lock is ours. */
  async acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => mine);
    this.waiting++;
    await prev;
    this.waiting--;
    this.holders++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.holders--;
      release();
    };
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  get locked(): boolean {
    return this.holders > 0;
  }

  get queued(): number {
    return this.waiting;
  }
}
