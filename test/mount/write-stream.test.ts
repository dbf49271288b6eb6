// Sequential writes through a real mount stream into multipart uploads while they are written;
// small files are one PUT; failures are EIO (or EFBIG past chunk_size × max_upload_parts) at
// close, with a log line, and never a truncated object.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, usingMount, waitFor, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'stream-bucket';
const MiB = 1024 * 1024;
const bucket = useS3Bucket(BUCKET);
const { getObject } = bucket;

async function headMeta(key: string): Promise<Record<string, string> | null> {
  try {
    return (await bucket.headObject(key)).Metadata ?? {};
  } catch {
    return null;
  }
}

const forKey = (key: string) => (r: { path: string }) => r.path === `/${BUCKET}/${key}`;

/**
 * dd writing `dest` (bs=1M) from a fifo this test feeds: the test decides how fast the bytes
 * come. finish() closes the fifo and checks that dd exited 0.
 */
async function ddFromFifo(dest: string): Promise<{ w: fs.FileHandle; finish: () => Promise<void> }> {
  const fifo = path.join(await tempDir(), 'fifo');
  assert.equal((await run('mkfifo', [fifo])).code, 0);
  const dd = spawn('dd', [`if=${fifo}`, `of=${dest}`, 'bs=1M', 'iflag=fullblock', 'status=none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let ddErr = '';
  dd.stderr.on('data', (d: Buffer) => (ddErr += d.toString()));
  const ddExit = new Promise<number | null>((r) => dd.once('exit', (c) => r(c)));
  const w = await fs.open(fifo, 'w');
  return {
    w,
    finish: async () => {
      await w.close();
      assert.equal(await ddExit, 0, ddErr);
    },
  };
}

test('a 64 MiB dd streams into a multipart upload while it is written; 13 parts of 5 MiB; memory not the file', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--s3-chunk-size', '5M', '--s3-upload-concurrency', '2'] });
  await usingMount(m, async () => {
    const data = randomBytes(64 * MiB);
    bucket.s3.clearRequests();
    const { w, finish } = await ddFromFifo(path.join(m.mnt, 'big.bin'));
    // the first 24 MiB: parts go up while dd is still reading from the fifo
    await w.write(data, 0, 24 * MiB);
    await waitFor(() => bucket.s3.requests.some((r) => r.type === 'MPp' && forKey('big.bin')(r)), 20_000, 'part uploads while the file is still being written');
    const midway = bucket.s3.counts(forKey('big.bin'));
    assert.equal(midway.MPf ?? 0, 0, 'not completed before the close');
    assert.equal(await headMeta('big.bin'), null, 'no object before the close');
    await w.write(data, 24 * MiB, 40 * MiB);
    await finish();
    const counts = bucket.s3.counts(forKey('big.bin'));
    assert.equal(counts.MPc, 1);
    assert.equal(counts.MPp, 13, `13 parts of 5 MiB for 64 MiB: ${JSON.stringify(counts)}`);
    assert.equal(counts.MPf, 1);
    assert.equal(counts.PUT ?? 0, 0);
    const stored = await getObject('big.bin');
    assert.ok(stored?.equals(data), 'the object holds exactly what was written');
    assert.equal((await fs.stat(path.join(m.mnt, 'big.bin'))).size, data.length);
    assert.ok((await fs.readFile(path.join(m.mnt, 'big.bin'))).equals(data));
    assert.match((await headMeta('big.bin'))?.mtime ?? '', /^\d+(\.\d+)?$/, 'X-Amz-Meta-Mtime stored with the stream');
  });
});

test(
  'a slow streamed dd (> 1 s) stores the time its upload started: no COPY, stat the same while writing, after close and after a remount',
  MOUNT_TEST,
  async () => {
    const flags = ['--s3-chunk-size', '5M', '--s3-upload-concurrency', '2'];
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    const file = path.join(m.mnt, 'slow.bin');
    let shown: bigint;
    await usingMount(m, async () => {
      const data = randomBytes(64 * MiB);
      bucket.s3.clearRequests();
      const t0 = Date.now();
      const { w, finish } = await ddFromFifo(file);
      // 4 MiB every 150 ms: about 2.4 s of writing, the upload started after the second batch
      let whileWriting: bigint | undefined;
      for (let off = 0; off < data.length; off += 4 * MiB) {
        await w.write(data, off, 4 * MiB);
        await new Promise((r) => setTimeout(r, 150));
        if (off === 32 * MiB) {
          await waitFor(() => bucket.s3.requests.some((r) => r.type === 'MPp' && forKey('slow.bin')(r)), 20_000, 'part uploads while writing');
          whileWriting = (await fs.stat(file, { bigint: true })).mtimeNs;
        }
      }
      await finish();
      assert.ok(Date.now() - t0 > 1500, 'the writes took more than a second');
      const counts = bucket.s3.counts(forKey('slow.bin'));
      assert.equal(counts.MPf, 1, JSON.stringify(counts));
      assert.equal(counts.COPY ?? 0, 0, `no server-side copy for an implicit mtime: ${JSON.stringify(counts)}`);
      assert.equal(bucket.s3.counts().COPY ?? 0, 0);
      assert.ok((await getObject('slow.bin'))?.equals(data), 'the object holds exactly what was written');
      shown = (await fs.stat(file, { bigint: true })).mtimeNs;
      assert.equal(shown, whileWriting, 'stat after close shows what it showed while the stream was uploading');
      const startMs = Number(shown / 1_000_000n);
      assert.ok(startMs >= t0 - 1000 && startMs <= Date.now(), `an mtime of this upload (${startMs}, t0 ${t0})`);
      // what the object stores is exactly that
      const meta = (await headMeta('slow.bin'))?.mtime ?? '';
      assert.match(meta, /^\d+(\.\d+)?$/);
      const [sec, frac = ''] = meta.split('.');
      assert.equal(BigInt(sec!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0')), shown, `X-Amz-Meta-Mtime ${meta}`);
    });
    assert.equal(bucket.s3.counts().COPY ?? 0, 0, 'no copy at unmount either');
    const again = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    await usingMount(again, async () => {
      assert.equal((await fs.stat(path.join(again.mnt, 'slow.bin'), { bigint: true })).mtimeNs, shown, 'the same mtime after a remount');
    });
  },
);

test('a file smaller than one part is one PUT at close (write-back 0), or one PUT after --vfs-write-back', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0'] });
  await usingMount(m, async () => {
    bucket.s3.clearRequests();
    const data = randomBytes(300_000);
    await fs.writeFile(path.join(m.mnt, 'small.bin'), data);
    const writes = bucket.s3.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');
    assert.deepEqual(
      writes.map((r) => r.type),
      ['PUT'],
      'one PUT, no multipart',
    );
    assert.ok(writes[0]!.headers['content-md5'], 'with Content-MD5');
    assert.ok((await getObject('small.bin'))?.equals(data));
    // an empty file is an (empty) object too
    await fs.writeFile(path.join(m.mnt, 'empty.txt'), '');
    assert.equal((await getObject('empty.txt'))?.length, 0);
  });

  const wb = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1s'] });
  await usingMount(wb, async () => {
    bucket.s3.clearRequests();
    const t0 = Date.now();
    await fs.writeFile(path.join(wb.mnt, 'later.txt'), 'written now, uploaded later\n');
    assert.equal(bucket.s3.counts(forKey('later.txt')).PUT ?? 0, 0, 'close returns before the upload');
    assert.equal(await fs.readFile(path.join(wb.mnt, 'later.txt'), 'utf8'), 'written now, uploaded later\n');
    assert.equal((await fs.stat(path.join(wb.mnt, 'later.txt'))).size, 28);
    await waitFor(async () => (await getObject('later.txt')) !== null, 10_000, 'the write-back upload');
    assert.ok(Date.now() - t0 >= 900, 'uploaded after the write-back delay');
    assert.equal(bucket.s3.counts(forKey('later.txt')).PUT, 1);
  });
});

test('a stream past chunk_size × max_upload_parts fails with EFBIG naming --s3-chunk-size; nothing is stored, the old object stays', MOUNT_TEST, async () => {
  await bucket.putObject('limited.bin', 'previous version');
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--s3-chunk-size', '5M', '--s3-max-upload-parts', '2'] });
  await usingMount(m, async () => {
    const r = await run('dd', ['if=/dev/zero', `of=${path.join(m.mnt, 'limited.bin')}`, 'bs=1M', 'count=12', 'status=none']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /File too large/);
    assert.match(m.stderr(), /--s3-chunk-size/);
    assert.equal((await getObject('limited.bin'))?.toString(), 'previous version');
    const r2 = await run('dd', ['if=/dev/zero', `of=${path.join(m.mnt, 'new-limited.bin')}`, 'bs=1M', 'count=12', 'status=none']);
    assert.notEqual(r2.code, 0);
    assert.equal(await getObject('new-limited.bin'), null, 'no truncated object');
    // what fits still works
    const ok = await run('dd', ['if=/dev/zero', `of=${path.join(m.mnt, 'fits.bin')}`, 'bs=1M', 'count=10', 'status=none']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((await getObject('fits.bin'))?.length, 10 * MiB);
  });
});

test('failed uploads: EIO at close and a log line; a small file stays in the cache and is uploaded by a later retry', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '0', '--s3-chunk-size', '5M'] });
  let failing = true;
  const refuse = (req: { method: string; path: string }) =>
    failing && req.path.includes('/fail') && req.method === 'PUT' ? { status: 400, code: 'InvalidRequest' } : undefined;
  try {
    await bucket.s3.withFault(refuse, async () => {
      // a small file: one PUT at close, refused
      const py = [
        'import os, sys',
        'fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)',
        'os.write(fd, b"x" * 1000)',
        'try:',
        '    os.close(fd)',
        '    print("closed")',
        'except OSError as e:',
        '    print("errno", e.errno)',
      ].join('\n');
      const r = await run('python3', ['-c', py, path.join(m.mnt, 'fail-small.txt')]);
      assert.equal(r.stdout.trim(), 'errno 5');
      assert.match(m.stderr(), /fail-small\.txt: upload failed/);
      // still there for readers, and uploaded once the server accepts it again
      assert.equal((await fs.readFile(path.join(m.mnt, 'fail-small.txt'))).length, 1000);
      failing = false;
      await waitFor(async () => (await getObject('fail-small.txt'))?.length === 1000, 15_000, 'the retry of the failed upload');

      // a stream: a part refused mid-way is EIO (on a write or at close), and no object appears
      failing = true;
      const dd = await run('dd', ['if=/dev/zero', `of=${path.join(m.mnt, 'fail-stream.bin')}`, 'bs=1M', 'count=16', 'status=none']);
      assert.notEqual(dd.code, 0);
      assert.match(dd.stderr, /Input\/output error/);
      assert.equal(await getObject('fail-stream.bin'), null);
      failing = false;
    });
  } finally {
    await m.unmount();
  }
});

test('rsync -a of a big file: streamed under its temporary name, then one server-side copy that also carries the mtime', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--s3-chunk-size', '5M', '--vfs-write-back', '1s'] });
  await usingMount(m, async () => {
    const dir = await tempDir();
    const data = randomBytes(12 * MiB);
    await fs.writeFile(path.join(dir, 'big-rsync.bin'), data);
    assert.equal(
      (await run('touch', ['-m', '-d', '2021-06-07 08:09:10.123456789', path.join(dir, 'big-rsync.bin')], { env: { ...process.env, TZ: 'UTC' } })).code,
      0,
    );
    await fs.mkdir(path.join(m.mnt, 'rs'));
    bucket.s3.clearRequests();
    const r = await run('rsync', ['-a', path.join(dir, 'big-rsync.bin'), path.join(m.mnt, 'rs/')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await getObject('rs/big-rsync.bin'))?.equals(data));
    assert.equal((await headMeta('rs/big-rsync.bin'))?.mtime, '1623053350.123456789');
    // rsync's fchmod 0600 then 0644 of its temporary file: stored by that same copy
    assert.equal((await headMeta('rs/big-rsync.bin'))?.mode, '100644');
    assert.equal((await fs.stat(path.join(m.mnt, 'rs/big-rsync.bin'), { bigint: true })).mtimeNs, 1_623_053_350_123_456_789n);
  });
  // the unmount flushed whatever was still due (past any write-back delay): no late fix-up copy
  const copies = bucket.s3.requests.filter((q) => q.type === 'COPY');
  assert.equal(copies.length, 1, `one copy (the rename), carrying the mtime: ${copies.map((q) => q.path).join(', ')}`);
  assert.equal(bucket.s3.counts().MPc, 1);
});
