// -P/--progress: transferred bytes, rate and ETA on stderr, redrawn in place on a terminal and
// printed as a plain line every few seconds otherwise (logs, CI), with a final line at the end.
// stdout stays clean for data (`bucketfs -P cat … > file`).
import { redact } from '../util/log.js';
import { byteUnit, formatEta, rateUnit } from './format.js';

export class Progress {
  private bytes = 0;
  private total: number | undefined = 0;
  private files = 0;
  private filesTotal = 0;
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;
  private lastPlain = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly enabled: boolean) {
    if (!enabled) return;
    this.timer = setInterval(() => this.draw(false), this.tty ? 500 : 1000);
    this.timer.unref();
  }

  /** Announce a transfer of `size` bytes (undefined: unknown, as for rcat from stdin). */
  addFile(size: number | undefined): void {
    this.filesTotal++;
    this.total = size === undefined || this.total === undefined ? undefined : this.total + size;
  }
  fileDone(): void {
    this.files++;
  }
  add(n: number): void {
    this.bytes += n;
  }

  /** A callback for backend.put's onProgress, which reports cumulative bytes of one transfer. */
  tracker(): (uploaded: number) => void {
    let last = 0;
    return (uploaded) => {
      if (uploaded > last) {
        this.add(uploaded - last);
        last = uploaded;
      }
    };
  }

  private line(): string {
    const secs = Math.max((Date.now() - this.started) / 1000, 0.001);
    const rate = this.bytes / secs;
    const total = this.total === undefined ? '' : ` / ${byteUnit(this.total)}`;
    const pct = this.total ? `, ${Math.floor((this.bytes * 100) / this.total)}%` : '';
    const eta = this.total !== undefined && rate > 0 ? formatEta((this.total - this.bytes) / rate) : '-';
    const files = this.filesTotal > 1 ? `, ${this.files}/${this.filesTotal} files` : '';
    return `Transferred: ${byteUnit(this.bytes)}${total}${pct}, ${rateUnit(rate)}, ETA ${eta}${files}, elapsed ${formatEta(secs)}`;
  }

  private draw(final: boolean): void {
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${redact(this.line())}${final ? '\n' : ''}`);
      return;
    }
    // Not a terminal: a line every 5 s at most, and the final one.
    const now = Date.now();
    if (!final && now - this.lastPlain < 5000) return;
    this.lastPlain = now;
    process.stderr.write(`${redact(this.line())}\n`);
  }

  stop(): void {
    if (!this.enabled) return;
    clearInterval(this.timer);
    this.draw(true);
  }
}
