// The directory cache against changes made by other clients, SIGHUP, and the ETag pinning of
// open files (an object overwritten under a reader: EIO, never a mix of two versions).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { TestS3 } from '../helpers/s3-server.js';
import { boto3 } from '../helpers/run.js';
import { cleanupMounts, mount, sighup, waitFor, type Mounted, MOUNT_TEST, MOUNT_HOOK } from '../helpers/mount.js';

const BUCKET = 'cache-bucket';
const MiB = 1024 * 1024;
let s3: TestS3;
let m: Mounted;
/** --dir-cache-time: long enough that the first half of the first test never runs out of it */
const DIR_CACHE_MS = 8000;
const versionA = Buffer.alloc(24 * MiB, 'A');
const versionB = Buffer.alloc(24 * MiB, 'B');

before(async () => {
  s3 = await TestS3.start();
  await s3.createBucket(BUCKET);
  const c = s3.directClient();
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'dir/first.txt', Body: '1' }));
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'pinned.bin', Body: versionA }));
  c.destroy();
  // a small read-ahead so the test's second read must reach the server
  m = await mount(s3, `moto:${BUCKET}`, { flags: ['--dir-cache-time', `${DIR_CACHE_MS / 1000}s`, '--buffer-size', '1M'] });
}, MOUNT_HOOK);

after(async () => {
  if (m) await m.unmount().catch(() => undefined);
  await cleanupMounts();
  await s3?.stop();
}, MOUNT_HOOK);

test('a file added by another client appears after --dir-cache-time, not before', MOUNT_TEST, async () => {
  // listings of dir/ (a lookup's one-key probe of dir/, without a delimiter, is not one)
  const dirLists = () => s3.requests.filter((r) => r.type === 'LIST' && r.query.prefix === 'dir/' && r.query.delimiter === '/');
  s3.clearRequests();
  assert.deepEqual(await fs.readdir(path.join(m.mnt, 'dir')), ['first.txt']);
  assert.equal(dirLists().length, 1, 'the first readdir lists dir/');
  const listedAt = dirLists()[0]!.startedAt;
  await boto3(s3.directEndpoint, `s3.put_object(Bucket="${BUCKET}", Key="dir/second.txt", Body=b"2")`);
  // not before: the cached listing, and no LIST reached the server
  assert.deepEqual(await fs.readdir(path.join(m.mnt, 'dir')), ['first.txt'], 'still the cached listing');
  await assert.rejects(fs.stat(path.join(m.mnt, 'dir/second.txt')), { code: 'ENOENT' });
  assert.equal(dirLists().length, 1, `no LIST within --dir-cache-time (${Math.round(performance.now() - listedAt)} ms after the first)`);
  // after: it appears, listed again no earlier than --dir-cache-time after the first LIST
  await waitFor(async () => (await fs.readdir(path.join(m.mnt, 'dir'))).includes('second.txt'), DIR_CACHE_MS + 15_000, 'second.txt to appear');
  assert.deepEqual((await fs.readdir(path.join(m.mnt, 'dir'))).sort(), ['first.txt', 'second.txt']);
  assert.equal(await fs.readFile(path.join(m.mnt, 'dir/second.txt'), 'utf8'), '2');
  const again = dirLists()[1];
  assert.ok(again, 'listed again');
  assert.ok(again.startedAt - listedAt >= DIR_CACHE_MS, `listed again ${Math.round(again.startedAt - listedAt)} ms after the first LIST`);
});

test("SIGHUP makes other clients' changes visible at once", MOUNT_TEST, async () => {
  await fs.readdir(path.join(m.mnt, 'dir'));
  await boto3(
    s3.directEndpoint,
    `s3.put_object(Bucket="${BUCKET}", Key="dir/third.txt", Body=b"3")\ns3.delete_object(Bucket="${BUCKET}", Key="dir/first.txt")`,
  );
  await sighup(m);
  assert.deepEqual((await fs.readdir(path.join(m.mnt, 'dir'))).sort(), ['second.txt', 'third.txt']);
});

test('our own changes are visible at once: create, delete, rename of a directory with cached children', MOUNT_TEST, async () => {
  await fs.mkdir(path.join(m.mnt, 'own'));
  await fs.writeFile(path.join(m.mnt, 'own/a.txt'), 'a');
  assert.deepEqual(await fs.readdir(path.join(m.mnt, 'own')), ['a.txt']);
  await fs.rename(path.join(m.mnt, 'own'), path.join(m.mnt, 'own2'));
  assert.deepEqual(await fs.readdir(path.join(m.mnt, 'own2')), ['a.txt']);
  await fs.unlink(path.join(m.mnt, 'own2/a.txt'));
  assert.deepEqual(await fs.readdir(path.join(m.mnt, 'own2')), []);
  assert.ok(!(await fs.readdir(m.mnt)).includes('own'));
});

/** A reader in another process: reads 1 MiB at 0, waits for a line on stdin, then reads 4 KiB at `at`. */
function pausedReader(file: string, at: number) {
  const code = [
    'import os, sys',
    'fd = os.open(sys.argv[1], os.O_RDONLY)',
    'first = os.pread(fd, 1048576, 0)',
    'print("first", first[:1].decode(), flush=True)',
    'sys.stdin.readline()',
    'try:',
    '    data = os.pread(fd, 4096, int(sys.argv[2]))',
    '    print("second", data[:1].decode(), len(data), flush=True)',
    'except OSError as e:',
    '    print("errno", e.errno, flush=True)',
  ].join('\n');
  const p = spawn('python3', ['-c', code, file, String(at)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const line = (prefix: string) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const l = out.split('\n').find((x) => x.startsWith(prefix) || x.startsWith('errno'));
        if (l) return resolve(l);
        setTimeout(check, 20);
      };
      p.once('exit', (c) => setTimeout(() => reject(new Error(`reader exited ${c}: ${out}`)), 100));
      check();
    });
  return { p, line, go: () => p.stdin.write('\n') };
}

test('an object overwritten while open and mid-read: the next read is EIO, never the other version', MOUNT_TEST, async () => {
  const r = pausedReader(path.join(m.mnt, 'pinned.bin'), 20 * MiB);
  try {
    assert.equal(await r.line('first'), 'first A');
    await boto3(s3.directEndpoint, `s3.put_object(Bucket="${BUCKET}", Key="pinned.bin", Body=b"B" * ${versionB.length})`);
    r.go();
    assert.equal(await r.line('errno'), 'errno 5');
  } finally {
    r.p.kill('SIGKILL');
  }
  assert.match(m.stderr(), /changed on the server while open for reading/);
  // a new open sees the new version (after the listing is refreshed)
  await sighup(m);
  const fh = await fs.open(path.join(m.mnt, 'pinned.bin'), 'r');
  const buf = Buffer.alloc(4);
  await fh.read(buf, 0, 4, 20 * MiB);
  await fh.close();
  assert.equal(buf.toString(), 'BBBB');
});

test('a handle opened from a stale listing that has read nothing yet re-pins to the current version', MOUNT_TEST, async () => {
  // the mount's cached metadata says version B; replace it with C behind its back
  await fs.stat(path.join(m.mnt, 'pinned.bin'));
  await boto3(s3.directEndpoint, `s3.put_object(Bucket="${BUCKET}", Key="pinned.bin", Body=b"C" * ${versionB.length})`);
  const fh = await fs.open(path.join(m.mnt, 'pinned.bin'), 'r');
  const buf = Buffer.alloc(4);
  await fh.read(buf, 0, 4, 5 * MiB);
  await fh.close();
  assert.equal(buf.toString(), 'CCCC');
});

test(
  'a multipart object renamed through the mount while another handle reads it: the reader goes on (the copy has a new ETag, the same bytes), no error',
  MOUNT_TEST,
  async () => {
    // written through the mount: a streamed multipart upload (24 MiB, 5 MiB parts), whose ETag
    // ("…-5") the single-request copy of the rename does not keep
    await fs.writeFile(path.join(m.mnt, 'multi.bin'), Buffer.alloc(24 * MiB, 'M'));
    const before = (await s3.headObject(BUCKET, 'multi.bin')).ETag ?? '';
    assert.match(before, /-\d+"?$/, 'a multipart ETag');
    const errorsBefore = m.stderr().split('changed on the server while open').length;
    const r = pausedReader(path.join(m.mnt, 'multi.bin'), 20 * MiB);
    try {
      assert.equal(await r.line('first'), 'first M');
      await fs.rename(path.join(m.mnt, 'multi.bin'), path.join(m.mnt, 'multi-renamed.bin'));
      const after = (await s3.headObject(BUCKET, 'multi-renamed.bin')).ETag ?? '';
      assert.notEqual(after, before, 'the copy has another ETag');
      r.go();
      assert.equal(await r.line('second'), 'second M 4096');
    } finally {
      r.p.kill('SIGKILL');
    }
    assert.equal(m.stderr().split('changed on the server while open').length, errorsBefore, 'no error logged');
  },
);
