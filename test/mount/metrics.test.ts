// A running mount says what it is doing: --metrics-addr serves Prometheus' text format at
// /metrics, and `bucketfs stats MOUNTPOINT` (over the mount's stats socket, no flag needed) prints
// the same state for a person or as JSON. The counters are checked against what the operations
// demand and against the test server's own log of the requests it received.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { bucketfs } from '../helpers/run.js';
import { byteUnit } from '../../src/cli/format.js';
import { freePort } from '../helpers/s3-server.js';
import { MOUNT_TEST, isMounted, mount, mountFails, tempDir, useS3Bucket, usingMount, waitFor } from '../helpers/mount.js';
import { mountSocketDirs, prepareSocketDir, socketName } from '../../src/metrics/socket-path.js';
import type { MountSnapshot } from '../../src/metrics/snapshot.js';

const BUCKET = 'metrics-bucket';
const MiB = 1024 * 1024;
const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await s3.putObject(BUCKET, 'seed/data.bin', Buffer.alloc(300_000, 's'));
    await s3.putObject(BUCKET, 'seed/rewrite.bin', Buffer.alloc(100_000, 'r'));
  },
});

/** the test server's request types (s3-server.ts requestType) for the S3 operations */
const SERVER_TYPE: Record<string, string> = {
  GetObject: 'GET',
  PutObject: 'PUT',
  HeadObject: 'HEAD',
  HeadBucket: 'HEAD',
  ListObjectsV2: 'LIST',
  ListMultipartUploads: 'LIST',
  CopyObject: 'COPY',
  UploadPartCopy: 'COPY',
  DeleteObject: 'DEL',
  DeleteObjects: 'DEL',
  CreateMultipartUpload: 'MPc',
  UploadPart: 'MPp',
  CompleteMultipartUpload: 'MPf',
  AbortMultipartUpload: 'MPabort',
};

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format → samples (and every line must be a comment or a sample) */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

/** the sum of the samples of `name` whose labels include `where` */
function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

async function scrape(port: number): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** requests by server type, as the mount counted them */
function mountCounts(samples: Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples.filter((x) => x.name === 'bucketfs_s3_requests_total')) {
    const t = SERVER_TYPE[s.labels.op!] ?? `?${s.labels.op}`;
    out[t] = (out[t] ?? 0) + s.value;
  }
  return out;
}

function sorted(o: Record<string, number>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
}

async function statsJson(mnt: string): Promise<MountSnapshot> {
  const r = await bucketfs(['stats', '--json', mnt], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as MountSnapshot;
}

test('/metrics counts what the operations demand, and its requests and bytes match the server log', MOUNT_TEST, async () => {
  const port = await freePort();
  bucket.s3.clearRequests();
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0', '--metrics-addr', `127.0.0.1:${port}`] });
  await usingMount(m, async () => {
    const N = 5;
    await fs.mkdir(path.join(m.mnt, 'out'));
    await bucket.s3.settled();
    const before = await scrape(port);
    const serverBefore = bucket.s3.counts();
    for (let i = 0; i < N; i++) await fs.writeFile(path.join(m.mnt, 'out', `f${i}.txt`), `file ${i}\n`.repeat(100 + i));
    await bucket.s3.settled();
    const after = await scrape(port);

    // --vfs-write-back 0: each close uploads its file, one PUT each
    const puts = (s: Sample[]) => total(s, 'bucketfs_s3_requests_total', { op: 'PutObject' });
    assert.equal(puts(after) - puts(before), N, 'one PutObject per file');
    assert.equal((bucket.s3.counts().PUT ?? 0) - (serverBefore.PUT ?? 0), N, 'the server saw as many');
    assert.equal(total(after, 'bucketfs_uploads_total') - total(before, 'bucketfs_uploads_total'), N);
    assert.equal(total(after, 'bucketfs_uploads_pending'), 0);
    const creates = (s: Sample[]) => total(s, 'bucketfs_fuse_request_duration_seconds_count', { op: 'create' });
    assert.equal(creates(after) - creates(before), N, 'one FUSE create per file');
    const writes = (s: Sample[]) => total(s, 'bucketfs_fuse_request_duration_seconds_count', { op: 'write' });
    assert.ok(writes(after) - writes(before) >= N);
    const written = (s: Sample[]) => total(s, 'bucketfs_file_written_bytes_total');
    let bytes = 0;
    for (let i = 0; i < N; i++) bytes += `file ${i}\n`.length * (100 + i);
    assert.equal(written(after) - written(before), bytes);

    // a read of an object the mount has not seen: its bytes come in
    const data = await fs.readFile(path.join(m.mnt, 'seed', 'data.bin'));
    assert.equal(data.length, 300_000);
    // a rename (copy + delete) and a delete
    await fs.rename(path.join(m.mnt, 'out', 'f0.txt'), path.join(m.mnt, 'out', 'moved.txt'));
    await fs.unlink(path.join(m.mnt, 'out', 'f1.txt'));
    await fs.readdir(path.join(m.mnt, 'out'));
    await bucket.s3.settled();

    // every request the server received, the mount counted, under the same type; and their bytes
    const server = bucket.s3.requests;
    let final: Sample[] = [];
    // (a request's answer reaches the mount just after the server has sent it)
    await waitFor(
      async () => {
        final = await scrape(port);
        return sorted(mountCounts(final)) === sorted(bucket.s3.counts());
      },
      10_000,
      'the counts to match',
    ).catch(() => undefined);
    assert.equal(sorted(mountCounts(final)), sorted(bucket.s3.counts()));
    assert.ok((mountCounts(final).GET ?? 0) >= 1 && (mountCounts(final).COPY ?? 0) >= 1 && (mountCounts(final).DEL ?? 0) >= 1);
    for (const status of new Set(server.map((r) => String(r.status)))) {
      assert.equal(
        total(final, 'bucketfs_s3_requests_total', { status }),
        server.filter((r) => String(r.status) === status).length,
        `requests answered ${status}`,
      );
    }
    assert.equal(
      total(final, 'bucketfs_s3_sent_bytes_total'),
      server.reduce((n, r) => n + r.bytesIn, 0),
      'request bodies',
    );
    assert.equal(
      total(final, 'bucketfs_s3_received_bytes_total'),
      server.reduce((n, r) => n + r.bytesOut, 0),
      'response bodies',
    );
    assert.ok(total(final, 'bucketfs_s3_received_bytes_total') >= 300_000);
    // a histogram per S3 operation and per FUSE operation, consistent in itself
    assert.equal(total(final, 'bucketfs_s3_request_duration_seconds_count'), server.length);
    for (const op of ['getattr', 'create', 'write', 'read', 'rename', 'unlink', 'readdir']) {
      const count = total(final, 'bucketfs_fuse_request_duration_seconds_count', { op });
      assert.ok(count > 0, `FUSE ${op} counted`);
      assert.equal(total(final, 'bucketfs_fuse_request_duration_seconds_bucket', { op, le: '+Inf' }), count);
    }
    assert.ok(total(final, 'bucketfs_dir_cache_hits_total') + total(final, 'bucketfs_dir_cache_misses_total') > 0);
    assert.equal(total(final, 'bucketfs_s3_errors_total'), 0);
    assert.equal(total(final, 'bucketfs_mount_info', { remote: `moto:${BUCKET}`, mountpoint: m.mnt }), 1);
    assert.match(m.stderr(), new RegExp(`serving Prometheus metrics on http://127\\.0\\.0\\.1:${port}/metrics`));
  });
});

test('one memory budget: parallel writers and readers stay within --vfs-memory-limit, the readers giving way to the uploads', MOUNT_TEST, async () => {
  const LIMIT = 40 * MiB;
  const CHUNK = 5 * MiB; // the default chunk_size
  const WRITERS = 4;
  const reads = [randomBytes(20 * MiB), randomBytes(20 * MiB)];
  for (const [i, data] of reads.entries()) await bucket.putObject(`budget/in${i}.bin`, data);
  const writes = Array.from({ length: WRITERS }, () => randomBytes(20 * MiB));
  const src = await tempDir('budget-src');
  for (const [i, data] of writes.entries()) await fs.writeFile(path.join(src, `out${i}.bin`), data);
  const port = await freePort();
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-memory-limit', '40M', '--vfs-write-back', '0', '--metrics-addr', `127.0.0.1:${port}`] });
  await usingMount(m, async () => {
    assert.match(m.stdout() + m.stderr(), /file data in memory at most 40M \(--vfs-memory-limit\)/, 'the start-up line names the budget');
    let sampling = true;
    const seen = { reads: 0, uploads: 0, both: 0, readShareMin: Infinity, samples: 0 };
    const sampler = (async () => {
      while (sampling) {
        const x = await scrape(port);
        const r = total(x, 'bucketfs_read_memory_bytes');
        const u = total(x, 'bucketfs_upload_buffer_bytes');
        assert.equal(total(x, 'bucketfs_memory_limit_bytes'), LIMIT);
        seen.reads = Math.max(seen.reads, r);
        seen.uploads = Math.max(seen.uploads, u);
        seen.both = Math.max(seen.both, r + u);
        if (u > 0) seen.readShareMin = Math.min(seen.readShareMin, total(x, 'bucketfs_read_memory_limit_bytes'));
        seen.samples++;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    try {
      await fs.mkdir(path.join(m.mnt, 'budget-out'));
      const got = await Promise.all([
        ...reads.map((_, i) => fs.readFile(path.join(m.mnt, 'budget', `in${i}.bin`))),
        ...writes.map((_, i) => fs.copyFile(path.join(src, `out${i}.bin`), path.join(m.mnt, 'budget-out', `out${i}.bin`)).then(() => null)),
      ]);
      for (const [i, data] of reads.entries()) assert.ok(got[i]?.equals(data), `in${i}.bin read whole and right`);
    } finally {
      sampling = false;
      await sampler;
    }
    for (const [i, data] of writes.entries()) assert.ok((await bucket.getObject(`budget-out/out${i}.bin`))?.equals(data), `out${i}.bin stored whole and right`);
    const slack = WRITERS * CHUNK; // one buffer per stream over the budget (a stream holding none never waits)
    assert.ok(seen.samples >= 5, `${seen.samples} samples`);
    assert.ok(seen.uploads > 0 && seen.reads > 0, `both used memory: ${JSON.stringify(seen)}`);
    assert.ok(seen.uploads <= LIMIT / 2 + slack, `upload buffers at most half the budget (+ one buffer per stream): ${JSON.stringify(seen)}`);
    assert.ok(seen.both <= LIMIT + slack + 4 * MiB, `reads and uploads together within the budget: ${JSON.stringify(seen)}`);
    assert.ok(seen.readShareMin < LIMIT, `the readers' share shrank while uploads held buffers: ${JSON.stringify(seen)}`);
  });
});

test('bucketfs stats: a file waiting for --vfs-write-back 1h shows as pending (text, JSON, /metrics); the unmount uploads it', MOUNT_TEST, async () => {
  const port = await freePort();
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1h', '--metrics-addr', `127.0.0.1:${port}`] });
  await usingMount(m, async () => {
    // a rewrite of part of an object: a cache file on the cache disk
    const fh = await fs.open(path.join(m.mnt, 'seed', 'rewrite.bin'), 'r+');
    await fh.write(Buffer.from('XY'), 0, 2, 1000);
    await fh.close();

    const s = await statsJson(m.mnt);
    assert.equal(s.mountpoint, m.mnt);
    assert.equal(s.remote, `moto:${BUCKET}`);
    assert.equal(s.uploads.pending, 1);
    assert.equal(s.uploads.completed, 0);
    assert.ok(s.cache.pendingBytes >= 2, `${s.cache.pendingBytes} bytes pending on the cache disk`);
    const r = await bucketfs(['stats', m.mnt], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, new RegExp(`^Mount: +moto:${BUCKET} on ${m.mnt} \\(pid ${m.proc.pid}, `, 'm'));
    assert.match(r.stdout, /^Uploads: +1 pending, 0 in flight, 0 failing; 0 uploaded/m);
    assert.match(r.stdout, new RegExp(`^Cache: +on disk ${byteUnit(s.cache.pendingBytes).replace('.', '\\.')} pending`, 'm'));
    assert.match(r.stdout, /^Errors: +none$/m);
    for (const label of ['Dir cache', 'Requests', 'Transfer', 'Files', 'FUSE']) assert.match(r.stdout, new RegExp(`^${label}: +\\S`, 'm'));
    const metrics = await scrape(port);
    assert.equal(total(metrics, 'bucketfs_uploads_pending'), 1);
    assert.equal(total(metrics, 'bucketfs_cache_disk_bytes', { state: 'pending' }), s.cache.pendingBytes);
    assert.equal((await bucket.getObject('seed/rewrite.bin'))?.subarray(1000, 1002).toString(), 'rr', 'not uploaded while pending');
  });
  assert.equal((await bucket.getObject('seed/rewrite.bin'))?.subarray(1000, 1002).toString(), 'XY', 'uploaded at the unmount');
});

test(
  'bucketfs stats follows an upload: pending and in flight while the server holds its PUT, 0 pending once it lands (after a retry)',
  MOUNT_TEST,
  async () => {
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1s'] });
    await usingMount(m, async () => {
      await bucket.s3.withFault(
        (req) => (req.method === 'PUT' && req.path.endsWith('/held.txt') ? 'hang' : undefined),
        async () => {
          await fs.writeFile(path.join(m.mnt, 'held.txt'), 'held\n');
          // the PUT reaches the server and is held there: whatever the time, the file is pending
          await waitFor(() => bucket.s3.inFlight('PUT').length === 1, 30_000, 'the held PUT');
          const held = await statsJson(m.mnt);
          assert.equal(held.uploads.pending, 1);
          assert.equal(held.uploads.inFlight, 1);
          assert.equal(held.s3.inFlight, 1);
          const r = await bucketfs(['stats', m.mnt], { timeoutMs: 30_000 });
          assert.match(r.stdout, /^Uploads: +1 pending, 1 in flight, /m);
          // the connection dropped: the PUT is sent again, and lands
          bucket.s3.releaseHung();
        },
      );
      let s: MountSnapshot | undefined;
      await waitFor(
        async () => {
          s = await statsJson(m.mnt);
          return s.uploads.pending === 0;
        },
        60_000,
        'no upload pending',
      );
      assert.equal(s!.uploads.completed, 1);
      assert.equal(s!.uploads.inFlight, 0);
      assert.ok(s!.s3.retries >= 1, 'the dropped PUT was retried');
      assert.ok(s!.s3.requests.some((q) => q.op === 'PutObject' && q.status === 'network'));
      assert.equal((await bucket.getObject('held.txt'))?.toString(), 'held\n');
      const r = await bucketfs(['stats', m.mnt], { timeoutMs: 30_000 });
      assert.match(r.stdout, /^Uploads: +0 pending, 0 in flight, 0 failing; 1 uploaded/m);
    });
  },
);

/** a unix socket file at `file` whose process was killed (SIGKILL: it could not remove it) */
async function deadSocket(file: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(file)}, () => console.log('up'))`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', () => reject(new Error(`the socket process exited before listening on ${file}`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

test(
  'the stats socket: owner only while mounted, gone after the unmount (then stats says no mount); those of killed mounts go at the next mount',
  MOUNT_TEST,
  async () => {
    const uid = process.getuid!();
    // the directory the mount will choose, with two sockets of killed mounts: one from two minutes ago, one from now
    let dir: string | undefined;
    for (const d of mountSocketDirs(uid, process.env)) if (!dir && (await prepareSocketDir(d, uid)) === undefined) dir = d;
    assert.ok(dir);
    const old = path.join(dir, `mount-${'0'.repeat(15)}1.sock`);
    const young = path.join(dir, `mount-${'0'.repeat(15)}2.sock`);
    await deadSocket(old);
    await deadSocket(young);
    const past = new Date(Date.now() - 120_000);
    await fs.utimes(old, past, past);

    const m = await mount(bucket.s3, `moto:${BUCKET}`);
    const file = path.join(dir, socketName(m.mnt));
    try {
      await usingMount(m, async () => {
        const st = await fs.lstat(file);
        assert.ok(st.isSocket());
        assert.equal(st.mode & 0o777, 0o600);
        assert.equal(st.uid, uid);
        assert.equal((await fs.stat(dir!)).mode & 0o777, 0o700);
        await waitFor(async () => (await fs.stat(old).catch(() => null)) === null, 30_000, 'the old dead socket to be removed');
        assert.ok(await fs.stat(young), 'a dead socket younger than a minute stays (its mount may be starting)');
      });
    } finally {
      await fs.rm(young, { force: true });
    }
    assert.equal(await fs.stat(file).catch(() => null), null, 'the socket is removed at the unmount');
    const r = await bucketfs(['stats', m.mnt], { timeoutMs: 30_000 });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `bucketfs: ${m.mnt} is not a bucketfs mount\n`);
  },
);

test('bucketfs stats of a path that is no bucketfs mount: one line, exit 1', MOUNT_TEST, async () => {
  const dir = await tempDir();
  for (const p of [dir, path.join(dir, 'missing'), '/proc']) {
    const r = await bucketfs(['stats', p], { timeoutMs: 30_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `bucketfs: ${p} is not a bucketfs mount\n`);
  }
});

test(
  '--metrics-addr that cannot be had (bad syntax, port in use, no such address) is one line naming the flag: nothing sent, nothing mounted',
  MOUNT_TEST,
  async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as net.AddressInfo).port;
    try {
      const cases: Array<[string, string]> = [
        ['nonsense', 'bucketfs: --metrics-addr: invalid "nonsense": expected HOST:PORT or :PORT, e.g. 127.0.0.1:9100'],
        ['127.0.0.1:99999', 'bucketfs: --metrics-addr: invalid "127.0.0.1:99999": the port must be 0 to 65535'],
        [`127.0.0.1:${busyPort}`, `bucketfs: --metrics-addr 127.0.0.1:${busyPort}: the address is in use (another program, or another mount, listens there)`],
        // TEST-NET-3 (RFC 5737): never an address of this machine
        ['203.0.113.1:9100', 'bucketfs: --metrics-addr 203.0.113.1:9100: no such address on this machine'],
      ];
      for (const [addr, line] of cases) {
        const mnt = await tempDir('bucketfs-mnt-');
        bucket.s3.clearRequests();
        const r = await mountFails(bucket.s3, `moto:${BUCKET}`, mnt, ['--cache-dir', await tempDir(), '--metrics-addr', addr]);
        assert.equal(r.code, 1, `${addr}: ${r.stderr}`);
        assert.equal(r.stderr, `${line}\n`);
        assert.equal(bucket.s3.requests.length, 0, `${addr}: no request was sent`);
        assert.ok(!isMounted(mnt));
      }
    } finally {
      busy.close();
    }
  },
);
