// The pieces of a mount's metrics that need no mount: --metrics-addr's syntax, the Prometheus text
// format (escaping, histograms), the throughput window, the socket's place, the `stats` text.
// test/mount/metrics.test.ts proves the counters themselves on a real mount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatListenAddress, parseListenAddress } from '../../src/config/listen-address.js';
import { resolveMountOptions } from '../../src/config/mount-options.js';
import { Histogram } from '../../src/util/histogram.js';
import { renderPrometheus } from '../../src/metrics/prometheus.js';
import { RateWindow } from '../../src/metrics/rates.js';
import { mountSocketDirs, socketName, statsSocketDirs } from '../../src/metrics/socket-path.js';
import type { MountSnapshot } from '../../src/metrics/snapshot.js';
import { formatStats } from '../../src/cli/stats-text.js';

test('--metrics-addr: HOST:PORT, [IPv6]:PORT, :PORT (every interface); anything else names the flag', () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:9100'), { host: '127.0.0.1', port: 9100 });
  assert.deepEqual(parseListenAddress('localhost:0'), { host: 'localhost', port: 0 });
  assert.deepEqual(parseListenAddress('[::1]:9100'), { host: '::1', port: 9100 });
  assert.deepEqual(parseListenAddress(':9100'), { host: '', port: 9100 });
  assert.equal(formatListenAddress({ host: '::1', port: 9100 }), '[::1]:9100');
  for (const bad of ['9100', '127.0.0.1', 'host:port', '::1:9100', 'a b:1', '1.2.3.4:65536']) assert.throws(() => parseListenAddress(bad), /invalid/, bad);
  assert.equal(resolveMountOptions({}, {}).metricsAddr, undefined, 'off by default');
  assert.deepEqual(resolveMountOptions({}, { RCLONE_METRICS_ADDR: ':9100' }).metricsAddr, { host: '', port: 9100 });
  assert.throws(() => resolveMountOptions({ metrics_addr: 'x' }, {}), /^UserError: --metrics-addr: invalid "x"/);
});

function snapshot(over: Partial<MountSnapshot> = {}): MountSnapshot {
  const h = new Histogram();
  h.observe(0.00005);
  h.observe(0.003);
  h.observe(99);
  return {
    bucketfs: '0.1.0',
    pid: 42,
    remote: 'moto:b',
    mountpoint: '/mnt/a "b"\\c\nd',
    mountedAt: '2026-01-01T00:00:00.000Z',
    uptimeSeconds: 75.5,
    uploads: { pending: 2, inFlight: 1, failing: 0, open: 1, completed: 7, completedBytes: 3 * 1024 * 1024, failedAttempts: 1 },
    cache: {
      pendingBytes: 1536,
      cleanBytes: 0,
      cleanFiles: 0,
      memoryLimitBytes: 256 * 1024 * 1024,
      readMemoryBytes: 4096,
      readMemoryLimitBytes: 128 * 1024 * 1024,
      uploadBufferBytes: 8192,
    },
    dirCache: { directories: 3, hits: 10, misses: 1 },
    files: { opens: 9, openHandles: 1, reads: 4, readBytes: 100, writes: 5, writtenBytes: 200 },
    s3: {
      requests: [
        { op: 'PutObject', status: '200', count: 7 },
        { op: 'PutObject', status: 'network', count: 1 },
        { op: 'HeadObject', status: '404', count: 3 },
      ],
      inFlight: 0,
      bytesSent: 3 * 1024 * 1024,
      bytesReceived: 512,
      retries: 1,
      errors: { Throttled: 2 },
      durations: { PutObject: h.snapshot() },
    },
    fuse: { ops: { getattr: h.snapshot() }, errors: [{ op: 'getattr', errno: 'ENOENT', count: 3 }], inFlight: 0 },
    rates: { seconds: 10, sentBytesPerSecond: 2048, receivedBytesPerSecond: 0, requestsPerSecond: 1.25 },
    process: { residentBytes: 1000, heapUsedBytes: 500, cpuSeconds: 1.5, startTime: 1700000000 },
    ...over,
  };
}

test('the Prometheus text format: HELP and TYPE per family, escaped label values, cumulative histogram buckets up to +Inf', () => {
  const text = renderPrometheus(snapshot());
  const lines = text.split('\n');
  assert.equal(lines.at(-1), '', 'ends with a newline');
  assert.ok(lines.includes('bucketfs_mount_info{version="0.1.0",remote="moto:b",mountpoint="/mnt/a \\"b\\"\\\\c\\nd"} 1'));
  assert.ok(lines.includes('# TYPE bucketfs_s3_requests_total counter'));
  assert.ok(lines.includes('bucketfs_s3_requests_total{op="PutObject",status="network"} 1'));
  assert.ok(lines.includes('bucketfs_s3_errors_total{kind="Throttled"} 2'));
  assert.ok(lines.includes('bucketfs_uploads_pending 2'));
  assert.ok(lines.includes('bucketfs_cache_disk_bytes{state="pending"} 1536'));
  // 50 µs, 3 ms, 99 s: in the first bucket, from the 5 ms bucket on, and only in +Inf
  assert.ok(lines.includes('bucketfs_fuse_request_duration_seconds_bucket{op="getattr",le="0.0001"} 1'));
  assert.ok(lines.includes('bucketfs_fuse_request_duration_seconds_bucket{op="getattr",le="0.0025"} 1'));
  assert.ok(lines.includes('bucketfs_fuse_request_duration_seconds_bucket{op="getattr",le="0.005"} 2'));
  assert.ok(lines.includes('bucketfs_fuse_request_duration_seconds_bucket{op="getattr",le="30"} 2'));
  assert.ok(lines.includes('bucketfs_fuse_request_duration_seconds_bucket{op="getattr",le="+Inf"} 3'));
  assert.ok(lines.includes('bucketfs_fuse_request_duration_seconds_count{op="getattr"} 3'));
  assert.ok(lines.some((l) => /^bucketfs_fuse_request_duration_seconds_sum\{op="getattr"\} 99\.0030/.test(l)));
  // every family is declared once, before its samples
  const declared = new Set<string>();
  for (const l of lines) {
    const t = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(l);
    if (t) {
      assert.ok(!declared.has(t[1]!), `${t[1]} declared twice`);
      declared.add(t[1]!);
    } else if (l !== '' && !l.startsWith('# HELP ')) {
      const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0];
      assert.ok(declared.has(name) || declared.has(name.replace(/_(bucket|sum|count)$/, '')), `${l}: no TYPE before it`);
    }
  }
});

test('throughput: the growth of the totals over the samples kept, per second', () => {
  let now = 0;
  const totals = [0, 0];
  const w = new RateWindow(
    () => [...totals],
    2_000,
    10_000,
    () => now,
  );
  try {
    totals[0] = 1000;
    now = 500;
    assert.deepEqual(w.rates(), { seconds: 0.5, perSecond: [2000, 0] }, 'before a second sample: since the first');
    // a sample every 2 s (driven by hand: the timer is real), five kept: the window is 10 s
    for (let t = 2_000; t <= 20_000; t += 2_000) {
      now = t;
      totals[0] += 4000;
      (w as unknown as { sample(): void }).sample();
    }
    now = 21_000;
    assert.deepEqual(w.rates(), { seconds: 9, perSecond: [(4 * 4000) / 9, 0] });
  } finally {
    w.stop();
  }
});

test('the stats socket: a short name per mount point, in the runtime directory, /run/bucketfs (root) or /tmp/bucketfs-UID', () => {
  assert.match(socketName('/mnt/a'), /^mount-[0-9a-f]{16}\.sock$/);
  assert.notEqual(socketName('/mnt/a'), socketName('/mnt/b'));
  assert.deepEqual(mountSocketDirs(1000, { XDG_RUNTIME_DIR: '/run/user/1000' }), ['/run/user/1000/bucketfs', '/tmp/bucketfs-1000']);
  assert.deepEqual(mountSocketDirs(0, {}), ['/run/bucketfs', '/tmp/bucketfs-0']);
  assert.deepEqual(mountSocketDirs(1000, { XDG_RUNTIME_DIR: 'relative' }), ['/tmp/bucketfs-1000']);
  // stats looks where the mount would have put it, also for root asking about a user's mount
  assert.deepEqual(statsSocketDirs(1000, 1000, { XDG_RUNTIME_DIR: '/run/user/1000' }), ['/run/user/1000/bucketfs', '/tmp/bucketfs-1000']);
  assert.deepEqual(statsSocketDirs(1000, 0, { XDG_RUNTIME_DIR: '/run/user/0' }), ['/run/user/1000/bucketfs', '/tmp/bucketfs-1000']);
  assert.deepEqual(statsSocketDirs(0, 0, {}), ['/run/user/0/bucketfs', '/run/bucketfs', '/tmp/bucketfs-0']);
});

test('bucketfs stats as text: one labelled line per subject', () => {
  const lines = formatStats(snapshot({ mountpoint: '/mnt/x' }));
  assert.deepEqual(
    lines.map((l) => l.split(':')[0]),
    ['Mount', 'Uploads', 'Cache', 'Dir cache', 'Requests', 'Errors', 'Transfer', 'Files', 'FUSE'],
  );
  assert.equal(lines[0], 'Mount:       moto:b on /mnt/x (pid 42, bucketfs 0.1.0, up 1m15s)');
  assert.equal(lines[1], 'Uploads:     2 pending, 1 in flight, 0 failing; 7 uploaded (3 MiB), 1 failed attempt; 1 file open for writing');
  assert.equal(lines[2], 'Cache:       on disk 1.500 KiB pending, 0 B clean (0 files); in memory 12 KiB of 256 MiB: 4 KiB read, 8 KiB upload buffers');
  assert.equal(lines[3], 'Dir cache:   3 directories, 10 hits, 1 miss');
  assert.equal(lines[4], 'Requests:    11 to S3 (PutObject 8, HeadObject 3; 2xx 7, 4xx 3, network 1), 0 in flight, 1 retry');
  assert.equal(lines[5], 'Errors:      S3 Throttled 2; 1 failed upload attempt');
  assert.equal(lines[6], 'Transfer:    3 MiB sent, 512 B received; now 2 KiB/s up, 0 B/s down, 1.3 requests/s (last 10s)');
  assert.equal(lines[8], 'FUSE:        3 requests, 0 in flight: getattr 3 (avg 33.00s); errors ENOENT 3');
});
