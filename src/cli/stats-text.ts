// `bucketfs stats` for a person: a mount's snapshot (src/metrics/snapshot.ts) as a few labelled
// lines, sizes and rates as rclone prints them (1.500 MiB, 2.000 MiB/s). `--json` prints the
// snapshot itself instead.
import type { MountSnapshot } from '../metrics/snapshot.js';
import { formatDuration } from '../config/units.js';
import { byteUnit, rateUnit } from './format.js';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** a latency, to a useful precision: 85µs, 2.4ms, 1.25s */
function latency(seconds: number): string {
  if (seconds < 0.001) return `${Math.round(seconds * 1e6)}µs`;
  if (seconds < 1) return `${(seconds * 1000).toFixed(1)}ms`;
  return `${seconds.toFixed(2)}s`;
}

/** `a 3, b 2, c 1`: the largest first, at most `max` (then …) */
function tally(entries: Array<[string, number]>, max = Infinity): string {
  const sorted = entries.filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = sorted.slice(0, max).map(([k, n]) => `${k} ${n}`);
  if (sorted.length > max) shown.push('…');
  return shown.join(', ');
}

function sumBy(entries: Array<{ count: number }>): number {
  return entries.reduce((n, e) => n + e.count, 0);
}

/** the lines `bucketfs stats MOUNTPOINT` prints */
export function formatStats(s: MountSnapshot): string[] {
  const u = s.uploads;
  const c = s.cache;
  const q = s.s3;

  const byOp = new Map<string, number>();
  const byClass = new Map<string, number>();
  for (const r of q.requests) {
    byOp.set(r.op, (byOp.get(r.op) ?? 0) + r.count);
    const cls = /^\d{3}$/.test(r.status) ? `${r.status[0]}xx` : r.status;
    byClass.set(cls, (byClass.get(cls) ?? 0) + r.count);
  }
  const requests = sumBy(q.requests);

  const s3Errors = tally(Object.entries(q.errors).map(([k, n]) => [k, n ?? 0]));
  const serious = s.fuse.errors.filter((e) => e.errno === 'EIO' || e.errno === 'ENOSPC' || e.errno === 'EDQUOT');
  const errors = [
    ...(s3Errors ? [`S3 ${s3Errors}`] : []),
    ...(u.failedAttempts > 0 ? [plural(u.failedAttempts, 'failed upload attempt')] : []),
    ...(serious.length > 0 ? [`FUSE ${tally(serious.map((e) => [`${e.errno} (${e.op})`, e.count]))}`] : []),
  ];

  const ops = Object.entries(s.fuse.ops);
  const fuseTotal = ops.reduce((n, [, h]) => n + h.count, 0);
  const busiest = ops
    .sort((a, b) => b[1].count - a[1].count)
    .slice(0, 6)
    .map(([op, h]) => `${op} ${h.count} (avg ${latency(h.sum / h.count)})`);
  const fuseErrors = new Map<string, number>();
  for (const e of s.fuse.errors) fuseErrors.set(e.errno, (fuseErrors.get(e.errno) ?? 0) + e.count);

  const r = s.rates;
  return [
    `Mount:       ${s.remote} on ${s.mountpoint} (pid ${s.pid}, bucketfs ${s.bucketfs}, up ${formatDuration(Math.floor(s.uptimeSeconds) * 1000)})`,
    `Uploads:     ${u.pending} pending, ${u.inFlight} in flight, ${u.failing} failing; ${u.completed} uploaded (${byteUnit(u.completedBytes)}), ` +
      `${plural(u.failedAttempts, 'failed attempt')}; ${plural(u.open, 'file')} open for writing`,
    `Cache:       on disk ${byteUnit(c.pendingBytes)} pending, ${byteUnit(c.cleanBytes)} clean (${plural(c.cleanFiles, 'file')}); ` +
      `in memory ${byteUnit(c.readMemoryBytes + c.uploadBufferBytes)} of ${byteUnit(c.memoryLimitBytes)}: ${byteUnit(c.readMemoryBytes)} read, ${byteUnit(c.uploadBufferBytes)} upload buffers`,
    `Dir cache:   ${plural(s.dirCache.directories, 'directory', 'directories')}, ${plural(s.dirCache.hits, 'hit')}, ${plural(s.dirCache.misses, 'miss', 'misses')}`,
    `Requests:    ${requests} to S3${requests > 0 ? ` (${tally([...byOp])}; ${tally([...byClass])})` : ''}, ${q.inFlight} in flight, ${plural(q.retries, 'retry', 'retries')}`,
    `Errors:      ${errors.length > 0 ? errors.join('; ') : 'none'}`,
    `Transfer:    ${byteUnit(q.bytesSent)} sent, ${byteUnit(q.bytesReceived)} received; ` +
      `now ${rateUnit(r.sentBytesPerSecond)} up, ${rateUnit(r.receivedBytesPerSecond)} down, ${r.requestsPerSecond.toFixed(1)} requests/s (last ${r.seconds < 10 ? r.seconds.toFixed(1) : Math.round(r.seconds)}s)`,
    `Files:       ${s.files.opens} opened, ${s.files.openHandles} open now; ${byteUnit(s.files.readBytes)} read, ${byteUnit(s.files.writtenBytes)} written`,
    `FUSE:        ${fuseTotal} requests, ${s.fuse.inFlight} in flight${busiest.length > 0 ? `: ${busiest.join(', ')}` : ''}` +
      (fuseErrors.size > 0 ? `; errors ${tally([...fuseErrors])}` : ''),
  ];
}
