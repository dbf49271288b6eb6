// --poll-interval: S3 tells no one about changes, so a mount learns of other clients' changes
// by listing again. Every interval, each directory this mount used since the last poll (a
// readdir, a lookup, an open in it) is listed once more, the most recently used first and at
// most MAX_DIRS of them (a `find` over a big tree must not turn into thousands of LISTs a
// minute later); directories nobody used cost nothing, so an idle mount sends no request. What
// changed loses its cached HEAD (Namespace.refreshUsed).
import type { Logger } from '../util/log.js';
import type { Namespace } from './namespace.js';

/** directories listed at once by one poll */
const CONCURRENCY = 4;
/** directories listed by one poll at most */
export const MAX_DIRS = 64;

export class ChangePoller {
  private readonly timer: NodeJS.Timeout;
  private last: number;
  private running = false;

  constructor(
    private readonly ns: Namespace,
    intervalMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
    this.timer = setInterval(() => void this.poll(), intervalMs);
    // the mount's own lifecycle keeps the process alive, not this timer
    this.timer.unref();
  }

  /** one poll (skipped while the previous one still runs: a slow server is not asked twice) */
  async poll(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const since = this.last;
    this.last = this.now();
    try {
      const { dirs, changed } = await this.ns.refreshUsed(since, { concurrency: CONCURRENCY, maxDirs: MAX_DIRS });
      if (dirs > 0) this.log.debug(`poll: listed ${dirs} directories used since the last poll, ${changed.length} names changed elsewhere`);
    } catch (err) {
      // a failed LIST leaves the cached listing as it was; the next poll tries again
      this.log.debug(`poll: ${(err as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
