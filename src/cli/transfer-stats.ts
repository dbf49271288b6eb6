// The counters of a copy, sync or move, and rclone's final stats block made of them (what
// rclone prints at the end at INFO level, -v, or at NOTICE under --dry-run):
//
//   Transferred:   	          5 B / 5 B, 100%, 0 B/s, ETA -
//   Errors:                 1 (retrying may help)
//   Checks:                 4 / 4, 100%
//   Deleted:                2 (files), 2 (dirs)
//   Renamed:                2
//   Transferred:            2 / 2, 100%
//   Elapsed time:         0.0s
//
// Lines whose counters are zero are left out, as rclone leaves them out. What counts where
// follows rclone: a file found on both sides is a check, every delete is a check too, a copy
// (or one skipped by --dry-run) is a transfer, a move is a rename.
import { log } from '../util/log.js';
import { byteUnit, rateUnit } from './format.js';

export class TransferStats {
  bytes = 0;
  checks = 0;
  transfers = 0;
  deletes = 0;
  deletedDirs = 0;
  renames = 0;
  errors = 0;
  fatal = false;
  private readonly started = Date.now();

  /** rclone's stats block, with its leading and trailing newline */
  block(now = Date.now()): string {
    const secs = (now - this.started) / 1000;
    const pad = (n: number | string) => String(n).padStart(10);
    const lines = [
      `Transferred:   \t${byteUnit(this.bytes).padStart(13)} / ${byteUnit(this.bytes)}, ${percent(this.bytes, this.bytes)}, ${rateUnit(secs > 0 ? this.bytes / secs : 0)}, ETA -`,
    ];
    if (this.errors > 0) lines.push(`Errors:        ${pad(this.errors)} (${this.fatal ? 'fatal error encountered' : 'retrying may help'})`);
    if (this.checks > 0) lines.push(`Checks:        ${pad(this.checks)} / ${this.checks}, ${percent(this.checks, this.checks)}`);
    if (this.deletes > 0 || this.deletedDirs > 0) lines.push(`Deleted:       ${pad(this.deletes)} (files), ${this.deletedDirs} (dirs)`);
    if (this.renames > 0) lines.push(`Renamed:       ${pad(this.renames)}`);
    if (this.transfers > 0) lines.push(`Transferred:   ${pad(this.transfers)} / ${this.transfers}, ${percent(this.transfers, this.transfers)}`);
    lines.push(`Elapsed time:  ${pad(elapsed(secs))}s`);
    return `\n${lines.join('\n')}\n`;
  }

  /** Log the block as rclone does at the end of a run: INFO, or NOTICE under --dry-run. */
  logFinal(dryRun: boolean): void {
    if (dryRun) log.notice(this.block());
    else log.info(this.block());
  }
}

/** rclone's percent(): `-` when there is no total */
function percent(a: number, b: number): string {
  if (a < 0 || b <= 0) return '-';
  return `${Math.floor((a * 100) / b + 0.5)}%`;
}

/** rclone's elapsed time before its `s`: tenths of a second, `2.3`, `1m2.3`, `1h2m3.4` */
function elapsed(secs: number): string {
  const tenths = Math.floor(secs * 10);
  const h = Math.floor(tenths / 36000);
  const m = Math.floor((tenths % 36000) / 600);
  const s = ((tenths % 600) / 10).toFixed(1);
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}
