// Mount flags that change what bucketfs sends to or reads from the server, each proved by the
// requests the server received (or what it stored): --no-checksum, --transfers,
// --vfs-read-chunk-size, --no-modtime.
// Every test compares with the default (or another value), so it fails when the flag is ignored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { mount, useS3Bucket, waitFor, type Mounted } from '../helpers/mount.js';
import type { RecordedRequest } from '../helpers/s3-server.js';

const BUCKET = 'flags-io-bucket';
const MiB = 1024 * 1024;
/** a FUSE deadlock fails the test instead of hanging the run */
const TEST_TIMEOUT_MS = 180_000;
const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await s3.putObject(BUCKET, 'big.bin', Buffer.alloc(12 * MiB, 'b'));
  },
});

async function stopped(m: Mounted): Promise<void> {
  const r = await m.unmount();
  assert.equal(r.code, 0, m.stderr());
}

/** Write `size` bytes to `file` out of order (the tail first), so the write goes through a cache file. */
async function writeOutOfOrder(file: string, size: number): Promise<void> {
  const code =
    'import os, sys\nn = int(sys.argv[2])\nfd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\nos.pwrite(fd, b"t" * 10, n - 10)\nos.pwrite(fd, b"h" * (n - 10), 0)\nos.close(fd)';
  const r = await run('python3', ['-c', code, file, String(size)], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
}

const requestsFor = (key: string, type: string): RecordedRequest[] => bucket.s3.requests.filter((r) => r.type === type && r.path === `/${BUCKET}/${key}`);

test('--no-checksum: an upload from the cache carries no Content-MD5 (the default computes one)', { timeout: TEST_TIMEOUT_MS }, async () => {
  // 17 MiB: above the size that is uploaded from memory (always hashed), below upload_cutoff (one PUT)
  const seen: Record<string, string | undefined> = {};
  for (const [name, flags] of [
    ['default', []],
    ['no-checksum', ['--no-checksum']],
  ] as const) {
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0', ...flags] });
    try {
      await writeOutOfOrder(path.join(m.mnt, `${name}.bin`), 17 * MiB);
    } finally {
      await stopped(m);
    }
    const puts = requestsFor(`${name}.bin`, 'PUT');
    assert.equal(puts.length, 1, `${name}: one PUT`);
    seen[name] = puts[0]!.headers['content-md5'];
  }
  assert.ok(seen.default, 'the default upload sends Content-MD5');
  assert.equal(seen['no-checksum'], undefined, '--no-checksum sends none');
  assert.equal((await bucket.getObject('no-checksum.bin'))?.length, 17 * MiB);
});

/** The most requests of `list` that were in flight at the same time at the server. */
function maxInFlight(list: RecordedRequest[]): number {
  const events = list
    .flatMap(
      (r) =>
        [
          [r.startedAt, 1],
          [r.endedAt || Infinity, -1],
        ] as const,
    )
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (now += d));
  return max;
}

test(
  '--transfers: at most that many background uploads of big files run at once; small files go up four times as wide',
  { timeout: TEST_TIMEOUT_MS },
  async () => {
    const peak: Record<string, number> = {};
    for (const transfers of ['2', '5', 'small']) {
      // above 1 MiB a file takes a --transfers slot; at or below, a small file's slot (4 × --transfers)
      const size = transfers === 'small' ? 4 * 1024 : 2 * MiB;
      const files = transfers === 'small' ? 12 : 6;
      const prefix = `t${transfers}-`;
      // each upload takes 800 ms at the server, so the uploads of one write-back round overlap
      bucket.s3.faultHook = (r) => (r.type === 'PUT' && r.path.startsWith(`/${BUCKET}/${prefix}`) ? { delayMs: 800 } : undefined);
      const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1s', '--transfers', transfers === 'small' ? '2' : transfers] });
      const ours = () => bucket.s3.requests.filter((r) => r.type === 'PUT' && r.path.startsWith(`/${BUCKET}/${prefix}`));
      try {
        await Promise.all(Array.from({ length: files }, (_, i) => writeOutOfOrder(path.join(m.mnt, `${prefix}${i}.bin`), size)));
        await waitFor(() => ours().filter((r) => r.endedAt > 0).length === files, 30_000, 'the write-back uploads');
      } finally {
        bucket.s3.faultHook = undefined;
        await m.unmount();
      }
      const puts = ours();
      assert.equal(puts.length, files, `--transfers ${transfers}: one upload per file`);
      peak[transfers] = maxInFlight(puts);
    }
    assert.equal(peak['2'], 2, `--transfers 2: ${peak['2']} at once`);
    assert.ok(peak['5']! >= 3, `--transfers 5: ${peak['5']} at once`);
    assert.equal(peak.small, 8, `--transfers 2, small files: ${peak.small} at once`);
  },
);

test('--transfers also bounds the uploads of pending files at unmount (big files; small ones four times as wide)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const prefix = 'unmount-';
  bucket.s3.faultHook = (r) => (r.type === 'PUT' && r.path.startsWith(`/${BUCKET}/${prefix}`) ? { delayMs: 800 } : undefined);
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '10m', '--transfers', '2'] });
  try {
    await Promise.all(Array.from({ length: 6 }, (_, i) => writeOutOfOrder(path.join(m.mnt, `${prefix}${i}.bin`), 2 * MiB)));
  } finally {
    // every file is still pending: the unmount uploads them all
    await m.unmount();
    bucket.s3.faultHook = undefined;
  }
  const puts = bucket.s3.requests.filter((r) => r.type === 'PUT' && r.path.startsWith(`/${BUCKET}/${prefix}`));
  assert.equal(puts.length, 6);
  assert.equal(maxInFlight(puts), 2);
});

/** Lengths of the ranged GETs of `key` (an open-ended range counts to the end of the object). */
function getLengths(key: string, size: number): number[] {
  return requestsFor(key, 'GET').map((r) => {
    const m = /bytes=(\d+)-(\d*)/.exec(r.headers.range ?? '');
    if (!m) return size;
    return (m[2] ? Number(m[2]) + 1 : size) - Number(m[1]);
  });
}

test('--vfs-read-chunk-size: a sequential read asks for ranges of at most that size (growing up to it)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const largest: Record<string, number> = {};
  for (const chunk of ['1M', '4M']) {
    const m = await mount(bucket.s3, `moto:${BUCKET}`, {
      flags: ['--vfs-read-chunk-size', chunk, '--vfs-read-chunk-size-limit', chunk, '--buffer-size', '1M'],
    });
    bucket.s3.clearRequests();
    try {
      assert.equal((await fs.readFile(path.join(m.mnt, 'big.bin'))).length, 12 * MiB);
    } finally {
      await stopped(m);
    }
    const lengths = getLengths('big.bin', 12 * MiB);
    assert.equal(
      lengths.reduce((a, b) => a + b, 0),
      12 * MiB,
      `chunk ${chunk}: each byte fetched once (${lengths.join(', ')})`,
    );
    largest[chunk] = Math.max(...lengths);
  }
  assert.deepEqual(largest, { '1M': MiB, '4M': 4 * MiB });
});

/** The mtime stored with `key` (X-Amz-Meta-Mtime, seconds), if any. */
async function storedMtime(key: string): Promise<number | undefined> {
  const v = (await bucket.headObject(key)).Metadata?.mtime;
  return v === undefined ? undefined : Number(v);
}

// rclone's --no-modtime: the VFS neither shows the stored modification time nor sets it
// (utimens); uploads still carry one, as every rclone upload to S3 does.
test('--no-modtime: a stored mtime is not shown, and setting one (touch -d) stores nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
  const shown: Record<string, number> = {};
  for (const [name, flags] of [
    ['default', []],
    ['no-modtime', ['--no-modtime']],
  ] as const) {
    const key = `dated-${name}.txt`;
    await bucket.s3.withDirectClient(async (c) => {
      await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'd', Metadata: { mtime: '1500000000' } }));
    });
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0', ...flags] });
    try {
      const p = path.join(m.mnt, key);
      shown[name] = (await fs.stat(p)).mtimeMs;
      const r = await run('touch', ['-m', '-d', '@978307200', p]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await stopped(m);
    }
  }
  assert.equal(shown.default, 1500000000 * 1000, 'the default shows the stored mtime');
  assert.ok(
    Math.abs(shown['no-modtime']! - Date.now()) < 3600_000,
    `--no-modtime shows the server's LastModified, not the stored mtime (${new Date(shown['no-modtime']!).toISOString()})`,
  );
  assert.equal(await storedMtime('dated-default.txt'), 978307200, 'the default stores the new mtime');
  assert.equal(await storedMtime('dated-no-modtime.txt'), 1500000000, '--no-modtime leaves the stored one as it was');
});
