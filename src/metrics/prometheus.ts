// A mount's snapshot in Prometheus' text exposition format (version 0.0.4: `# HELP`, `# TYPE`,
// then `name{label="value"} number` lines; a histogram as cumulative _bucket lines with an `le`
// label, _sum and _count). Written here rather than with prom-client: the format is these few
// rules, and every counter already lives in the layer that counts it (see README, Monitoring).
import type { HistogramSnapshot } from '../util/histogram.js';
import type { MountSnapshot } from './snapshot.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, string>;

/** a label value: backslash, double quote and newline escaped */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labelText(labels: Labels | undefined): string {
  if (!labels) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

class Exposition {
  private readonly lines: string[] = [];

  /** a metric family's header; its samples follow */
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, labels?: Labels): this {
    this.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  /** a family of one sample without labels */
  one(name: string, type: 'counter' | 'gauge', help: string, value: number): this {
    return this.family(name, type, help).sample(name, value);
  }

  histogram(name: string, h: HistogramSnapshot, labels: Labels): this {
    h.le.forEach((le, i) => this.sample(`${name}_bucket`, h.buckets[i]!, { ...labels, le: formatValue(le) }));
    this.sample(`${name}_bucket`, h.count, { ...labels, le: '+Inf' });
    this.sample(`${name}_sum`, h.sum, labels);
    return this.sample(`${name}_count`, h.count, labels);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** The metric names are listed in the README (Monitoring); a name, once there, keeps its meaning. */
export function renderPrometheus(s: MountSnapshot): string {
  const e = new Exposition();
  e.family('bucketfs_mount_info', 'gauge', 'The mount: bucketfs version, remote and mount point (always 1).').sample('bucketfs_mount_info', 1, {
    version: s.bucketfs,
    remote: s.remote,
    mountpoint: s.mountpoint,
  });

  // --- S3 requests
  e.family('bucketfs_s3_requests_total', 'counter', 'HTTP requests sent to S3, by S3 operation and HTTP status (or network/aborted: no answer).');
  for (const r of s.s3.requests) e.sample('bucketfs_s3_requests_total', r.count, { op: r.op, status: r.status });
  e.family('bucketfs_s3_request_duration_seconds', 'histogram', "Time from sending an S3 request to its answer's headers, by S3 operation.");
  for (const [op, h] of Object.entries(s.s3.durations)) e.histogram('bucketfs_s3_request_duration_seconds', h, { op });
  e.one('bucketfs_s3_requests_in_flight', 'gauge', 'S3 requests sent and not answered yet.', s.s3.inFlight);
  e.one('bucketfs_s3_retries_total', 'counter', 'S3 requests sent again after a failure (network, throttling, server errors).', s.s3.retries);
  e.family('bucketfs_s3_errors_total', 'counter', 'S3 operations that failed for good (after retries), by kind; not counted: NotFound, Aborted.');
  for (const [kind, n] of Object.entries(s.s3.errors)) e.sample('bucketfs_s3_errors_total', n ?? 0, { kind });
  e.one('bucketfs_s3_sent_bytes_total', 'counter', 'Bytes of S3 request bodies sent: uploaded data, parts, XML documents.', s.s3.bytesSent);
  e.one('bucketfs_s3_received_bytes_total', 'counter', 'Bytes of S3 response bodies received: downloaded data, listings, error documents.', s.s3.bytesReceived);

  // --- uploads
  const u = s.uploads;
  e.one('bucketfs_uploads_pending', 'gauge', 'Closed files whose data is not in the bucket yet (waiting for --vfs-write-back, or uploading).', u.pending);
  e.one('bucketfs_uploads_in_flight', 'gauge', 'File uploads running (or waiting for a --transfers slot).', u.inFlight);
  e.one('bucketfs_uploads_failing', 'gauge', 'Files whose last upload attempt failed, to be tried again.', u.failing);
  e.one('bucketfs_uploads_total', 'counter', 'Files uploaded.', u.completed);
  e.one('bucketfs_upload_failures_total', 'counter', 'File upload attempts that failed.', u.failedAttempts);
  e.one('bucketfs_files_open_for_writing', 'gauge', 'Files open for writing.', u.open);

  // --- caches
  const c = s.cache;
  e.family(
    'bucketfs_cache_disk_bytes',
    'gauge',
    'Bytes of cache files under --cache-dir: pending (not uploaded yet, or open), clean (uploaded copies kept for reading).',
  )
    .sample('bucketfs_cache_disk_bytes', c.pendingBytes, { state: 'pending' })
    .sample('bucketfs_cache_disk_bytes', c.cleanBytes, { state: 'clean' });
  e.one('bucketfs_cache_clean_files', 'gauge', 'Clean copies kept in the cache for reading.', c.cleanFiles);
  e.one('bucketfs_memory_limit_bytes', 'gauge', 'The --vfs-memory-limit in bytes: file data in memory, reads and upload buffers together.', c.memoryLimitBytes);
  e.one('bucketfs_read_memory_bytes', 'gauge', 'Downloaded file data in memory for readers.', c.readMemoryBytes);
  e.one(
    'bucketfs_read_memory_limit_bytes',
    'gauge',
    'What readers may hold now: the memory limit less the upload buffers (at least 4 MiB).',
    c.readMemoryLimitBytes,
  );
  e.one('bucketfs_upload_buffer_bytes', 'gauge', 'Part buffers of uploads streamed from sequential writes, in memory.', c.uploadBufferBytes);
  e.one('bucketfs_dir_cache_directories', 'gauge', 'Directory listings cached.', s.dirCache.directories);
  e.one('bucketfs_dir_cache_hits_total', 'counter', 'Lookups and directory reads answered from a cached listing.', s.dirCache.hits);
  e.one(
    'bucketfs_dir_cache_misses_total',
    'counter',
    'Lookups and directory reads that found no cached listing (a LIST or a probe followed).',
    s.dirCache.misses,
  );

  // --- files and FUSE
  const f = s.files;
  e.one('bucketfs_file_opens_total', 'counter', 'Files opened.', f.opens);
  e.one('bucketfs_open_handles', 'gauge', 'File handles open.', f.openHandles);
  e.one('bucketfs_file_read_bytes_total', 'counter', 'Bytes read by applications.', f.readBytes);
  e.one('bucketfs_file_written_bytes_total', 'counter', 'Bytes written by applications.', f.writtenBytes);
  e.family('bucketfs_fuse_request_duration_seconds', 'histogram', 'Time to answer one FUSE request, by operation (its _count: the requests).');
  for (const [op, h] of Object.entries(s.fuse.ops)) e.histogram('bucketfs_fuse_request_duration_seconds', h, { op });
  e.family('bucketfs_fuse_errors_total', 'counter', 'FUSE requests answered with an error, by operation and errno (ENOENT: a name that is not there).');
  for (const x of s.fuse.errors) e.sample('bucketfs_fuse_errors_total', x.count, { op: x.op, errno: x.errno });
  e.one('bucketfs_fuse_requests_in_flight', 'gauge', 'FUSE requests being answered.', s.fuse.inFlight);

  // --- the process (the names Prometheus' client libraries use)
  const p = s.process;
  e.one('process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.', p.cpuSeconds);
  e.one('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', p.residentBytes);
  e.one('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', p.startTime);
  e.one('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, in bytes.', p.heapUsedBytes);
  return e.text();
}
