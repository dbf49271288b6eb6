// Odd but legal write patterns through a real mount, each with a defined outcome: two handles
// on one file, renames of files being written or waiting for their upload, unlink of open
// files, rm -r of directories with pending uploads, O_EXCL races, the editor's save, a file
// truncated and rewritten under a reader, and mtimes before/after the upload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, useS3Bucket, waitFor, type Mounted, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'posix-bucket';
const MiB = 1024 * 1024;
/** write-back 1s: pending uploads exist long enough to act on them, and land quickly */
let m: Mounted;

const bucket = useS3Bucket(BUCKET, {
  async setup() {
    await putObject('edit/notes.txt', 'old notes\n');
    await putObject('rewrite.txt', 'version one: the old content of this file\n');
    await putObject('gone-while-read.txt', 'still here for the reader');
    await putObject('huge/kept.txt', 'kept as it is\n');
    await putObject('rmd/old.txt', 'listed by the mount');
    await putObject('rtgt/old.txt', 'listed by the mount');
    await putObject('rsrc/a.txt', 'the directory to move');
    m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--vfs-write-back', '1s', '--s3-chunk-size', '5M'] });
  },
  async teardown() {
    if (m) await m.unmount().catch(() => undefined);
  },
});
const { getObject, putObject, listKeys: keys } = bucket;

const mnt = (p: string) => path.join(m.mnt, p);

async function readRange(fh: fs.FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, offset);
  return buf.subarray(0, bytesRead);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let sentinels = 0;
/**
 * Wait until every upload due so far has started (and ended): a file closed now, after everything
 * the test did, goes through the same --vfs-write-back delay, and its timer is the last; once it is
 * stored and no request is in flight, any upload the earlier files were still due is visible at
 * the server. (A fixed sleep past the delay proves nothing on a slow machine.)
 */
async function afterWriteBack(): Promise<void> {
  const name = `sentinel/${++sentinels}.txt`;
  await fs.mkdir(mnt('sentinel'), { recursive: true });
  await fs.writeFile(mnt(name), 'written last');
  await waitFor(async () => (await getObject(name)) !== null, 20_000, `${name}, written last, to be uploaded`);
  await bucket.s3.settled();
}
const requestsFor = (key: string) => bucket.s3.requests.filter((r) => r.path === `/${BUCKET}/${key}`);

test("two handles writing one file: both writes land, in order, and each handle reads the other's", MOUNT_TEST, async () => {
  await fs.mkdir(mnt('two'));
  const a = await fs.open(mnt('two/f.bin'), 'w+');
  const b = await fs.open(mnt('two/f.bin'), 'r+');
  const model = Buffer.alloc(40_000);
  for (let i = 0; i < 20; i++) {
    const da = randomBytes(1000);
    const db = randomBytes(1000);
    await a.write(da, 0, 1000, i * 2000);
    await b.write(db, 0, 1000, i * 2000 + 1000);
    da.copy(model, i * 2000);
    db.copy(model, i * 2000 + 1000);
  }
  const seen = Buffer.alloc(40_000);
  await b.read(seen, 0, 40_000, 0);
  assert.ok(seen.equals(model));
  assert.equal((await a.stat()).size, 40_000);
  await a.close();
  await b.close();
  await waitFor(async () => (await getObject('two/f.bin'))?.equals(model) === true, 10_000, 'the upload');
});

test('rename of a file being written, and of one waiting for its upload: it lands at the new name, no stray old key', MOUNT_TEST, async () => {
  await fs.mkdir(mnt('ren'));
  bucket.s3.clearRequests();
  // open and being written (small: all of it still local)
  const fh = await fs.open(mnt('ren/writing.txt'), 'w');
  await fh.write('first half, ');
  await fs.rename(mnt('ren/writing.txt'), mnt('ren/renamed-while-open.txt'));
  await fh.write('second half');
  await fh.close();
  // closed, its upload pending
  await fs.writeFile(mnt('ren/pending.txt'), 'pending upload');
  await fs.rename(mnt('ren/pending.txt'), mnt('ren/moved-pending.txt'));
  // a stream well on its way (parts sent) when renamed
  const big = randomBytes(12 * MiB);
  const bh = await fs.open(mnt('ren/big.bin'), 'w');
  await bh.write(big, 0, 11 * MiB, 0);
  await fs.rename(mnt('ren/big.bin'), mnt('ren/big-moved.bin'));
  await bh.write(big, 11 * MiB, MiB, 11 * MiB);
  await bh.close();
  assert.deepEqual((await fs.readdir(mnt('ren'))).sort(), ['big-moved.bin', 'moved-pending.txt', 'renamed-while-open.txt']);
  assert.equal(await fs.readFile(mnt('ren/renamed-while-open.txt'), 'utf8'), 'first half, second half');
  const files = async () => (await keys('ren/')).filter((k) => !k.endsWith('/'));
  await waitFor(async () => (await files()).length === 3 && (await getObject('ren/moved-pending.txt')) !== null, 15_000, 'the uploads');
  await afterWriteBack();
  assert.deepEqual(await files(), ['ren/big-moved.bin', 'ren/moved-pending.txt', 'ren/renamed-while-open.txt']);
  assert.equal((await getObject('ren/renamed-while-open.txt'))?.toString(), 'first half, second half');
  assert.equal((await getObject('ren/moved-pending.txt'))?.toString(), 'pending upload');
  assert.ok((await getObject('ren/big-moved.bin'))?.equals(big));
  // the small ones moved locally: never uploaded under their old names
  assert.equal(requestsFor('ren/writing.txt').filter((r) => r.method === 'PUT').length, 0);
  assert.equal(requestsFor('ren/pending.txt').filter((r) => r.method === 'PUT').length, 0);
});

test('unlink of an open file: still readable and writable through the open handle, then gone; nothing uploaded', MOUNT_TEST, async () => {
  bucket.s3.clearRequests();
  const fh = await fs.open(mnt('unlinked.txt'), 'w+');
  await fh.write('written before the unlink. ');
  await fs.unlink(mnt('unlinked.txt'));
  await assert.rejects(fs.stat(mnt('unlinked.txt')), { code: 'ENOENT' });
  await fh.write('and after.');
  const buf = Buffer.alloc(100);
  const { bytesRead } = await fh.read(buf, 0, 100, 0);
  assert.equal(buf.subarray(0, bytesRead).toString(), 'written before the unlink. and after.');
  // (fstat of it is ENOENT: the kernel asks libfuse by inode, without the handle, and the inode has no name)
  await fh.close();
  await afterWriteBack();
  assert.equal(await getObject('unlinked.txt'), null);
  assert.equal(requestsFor('unlinked.txt').filter((r) => r.method === 'PUT' || r.type === 'MPc').length, 0);
  // an existing object unlinked while open for reading: the reader keeps reading it; the
  // object goes when the reader closes
  const rd = await fs.open(mnt('gone-while-read.txt'), 'r');
  await fs.unlink(mnt('gone-while-read.txt'));
  await assert.rejects(fs.stat(mnt('gone-while-read.txt')), { code: 'ENOENT' });
  assert.ok(!(await fs.readdir(m.mnt)).includes('gone-while-read.txt'));
  assert.equal((await readRange(rd, 0, 100)).toString(), 'still here for the reader');
  assert.notEqual(await getObject('gone-while-read.txt'), null, 'still in the bucket while open');
  await rd.close();
  await waitFor(async () => (await getObject('gone-while-read.txt')) === null, 5_000, 'the deferred delete');
});

test('rm -r of a directory whose files wait for their upload: nothing is uploaded afterwards', MOUNT_TEST, async () => {
  bucket.s3.clearRequests();
  await fs.mkdir(mnt('tree/sub'), { recursive: true });
  for (let i = 0; i < 5; i++) await fs.writeFile(mnt(`tree/sub/f${i}.txt`), `file ${i}`);
  await fs.writeFile(mnt('tree/top.txt'), 'top');
  assert.equal((await run('rm', ['-r', mnt('tree')])).code, 0);
  await assert.rejects(fs.stat(mnt('tree')), { code: 'ENOENT' });
  await afterWriteBack();
  assert.deepEqual(await keys('tree'), []);
  assert.equal(bucket.s3.requests.filter((r) => r.path.startsWith(`/${BUCKET}/tree/`) && r.method === 'PUT' && !r.path.endsWith('/')).length, 0);
});

test('O_CREAT|O_EXCL races between two processes: exactly one wins each name', MOUNT_TEST, async () => {
  await fs.mkdir(mnt('excl'));
  const py = [
    'import os, sys',
    'won = []',
    'for i in range(40):',
    '    try:',
    '        fd = os.open(os.path.join(sys.argv[1], "f%d" % i), os.O_WRONLY | os.O_CREAT | os.O_EXCL)',
    '        os.write(fd, sys.argv[2].encode())',
    '        os.close(fd)',
    '        won.append(i)',
    '    except FileExistsError:',
    '        pass',
    'print(" ".join(map(str, won)))',
  ].join('\n');
  const racer = (who: string) =>
    new Promise<number[]>((resolve, reject) => {
      const p = spawn('python3', ['-c', py, mnt('excl'), who], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('exit', (c) => (c === 0 ? resolve(out.trim() === '' ? [] : out.trim().split(' ').map(Number)) : reject(new Error(err))));
    });
  const [a, b] = await Promise.all([racer('A'), racer('B')]);
  assert.deepEqual(
    [...a, ...b].sort((x, y) => x - y),
    Array.from({ length: 40 }, (_, i) => i),
    `A won ${a.length}, B won ${b.length}`,
  );
  for (const i of a) assert.equal(await fs.readFile(mnt(`excl/f${i}`), 'utf8'), 'A');
  for (const i of b) assert.equal(await fs.readFile(mnt(`excl/f${i}`), 'utf8'), 'B');
});

test("the editor's save (write .file.swp, fsync, rename over file): one PUT of file, no request for the swap file", MOUNT_TEST, async () => {
  await fs.readdir(mnt('edit'));
  bucket.s3.clearRequests();
  const swp = await fs.open(mnt('edit/.notes.txt.swp'), 'w');
  await swp.write('new notes\n');
  await swp.sync();
  await swp.close();
  await fs.rename(mnt('edit/.notes.txt.swp'), mnt('edit/notes.txt'));
  assert.equal(await fs.readFile(mnt('edit/notes.txt'), 'utf8'), 'new notes\n');
  assert.deepEqual(await fs.readdir(mnt('edit')), ['notes.txt']);
  await waitFor(async () => (await getObject('edit/notes.txt'))?.toString() === 'new notes\n', 10_000, 'the upload');
  assert.deepEqual(await keys('edit/'), ['edit/notes.txt']);
  const changes = bucket.s3.requests.filter((r) => r.path.startsWith(`/${BUCKET}/edit/`) && !['GET', 'HEAD', 'LIST'].includes(r.type));
  assert.deepEqual(
    changes.map((r) => `${r.type} ${r.path}`),
    [`PUT /${BUCKET}/edit/notes.txt`],
  );
});

test('a file truncated to 0 and rewritten while another process reads it: the reader sees the new content, never a mix', MOUNT_TEST, async () => {
  const py = [
    'import os, sys',
    'fd = os.open(sys.argv[1], os.O_RDONLY)',
    'print(os.pread(fd, 100, 0).decode(), end="", flush=True)',
    'sys.stdin.readline()',
    'print(os.pread(fd, 100, 0).decode(), end="", flush=True)',
    'sys.stdin.readline()',
    'print(os.pread(fd, 100, 0).decode(), end="", flush=True)',
  ].join('\n');
  const reader = spawn('python3', ['-c', py, mnt('rewrite.txt')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  reader.stdout.on('data', (d: Buffer) => (out += d.toString()));
  try {
    await waitFor(() => out.includes('version one'), 10_000, 'the first read');
    // truncate to 0 and write the new content (shell-style: O_TRUNC)
    await fs.writeFile(mnt('rewrite.txt'), 'version two\n');
    reader.stdin.write('\n');
    await waitFor(() => out.split('\n').length >= 3, 10_000, 'the second read');
    // once uploaded, still the new content
    await waitFor(async () => (await getObject('rewrite.txt'))?.toString() === 'version two\n', 10_000, 'the upload');
    reader.stdin.write('\n');
    await waitFor(() => out.split('\n').length >= 4, 10_000, 'the third read');
    assert.deepEqual(out.split('\n').slice(0, 3), ['version one: the old content of this file', 'version two', 'version two']);
  } finally {
    reader.kill('SIGKILL');
  }
});

test('mtime: the last write, or what touch -d set, before and after the upload; size right while growing', MOUNT_TEST, async () => {
  const fh = await fs.open(mnt('times.txt'), 'w');
  await fh.write('a');
  assert.equal((await fs.stat(mnt('times.txt'))).size, 1);
  const t0 = Date.now();
  await sleep(20);
  await fh.write('bc');
  const st = await fs.stat(mnt('times.txt'));
  assert.equal(st.size, 3);
  assert.ok(st.mtimeMs >= t0, 'the mtime follows the last write');
  await fh.close();
  assert.equal((await run('touch', ['-m', '-d', '2019-01-02 03:04:05.5', mnt('times.txt')], { env: { ...process.env, TZ: 'UTC' } })).code, 0);
  const pending = (await fs.stat(mnt('times.txt'), { bigint: true })).mtimeNs;
  assert.equal(pending, 1_546_398_245_500_000_000n);
  bucket.s3.clearRequests();
  await waitFor(async () => (await getObject('times.txt'))?.toString() === 'abc', 10_000, 'the upload');
  assert.equal((await fs.stat(mnt('times.txt'), { bigint: true })).mtimeNs, pending, 'after the upload');
  const head = await bucket.headObject('times.txt');
  assert.equal(head.Metadata?.mtime, '1546398245.5');
  assert.equal(requestsFor('times.txt').filter((r) => r.type === 'COPY').length, 0, 'stored with the upload, no extra copy');
});

test('sizes no object can have (over 5 TiB): EFBIG from truncate, ftruncate and a write, and the stored file stays as it was', MOUNT_TEST, async () => {
  const huge = 999_999_999_999_999;
  // truncate(1) opens the file and calls ftruncate; truncate(2) by path goes its own way
  const r = await run('truncate', ['-s', String(huge), mnt('huge/kept.txt')]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /File too large/);
  await assert.rejects(fs.truncate(mnt('huge/kept.txt'), huge), { code: 'EFBIG' });
  const fh = await fs.open(mnt('huge/new.bin'), 'w');
  try {
    await assert.rejects(fh.write(Buffer.from('x'), 0, 1, 5 * 1024 ** 4), { code: 'EFBIG' });
    // 5 TiB exactly is the limit: one byte that ends there is taken (a sparse cache file)
    assert.equal((await fh.write(Buffer.from('y'), 0, 1, 5 * 1024 ** 4 - 1)).bytesWritten, 1);
    await fh.truncate(3);
    await fh.write(Buffer.from('abc'), 0, 3, 0);
  } finally {
    await fh.close();
  }
  assert.equal((await fs.stat(mnt('huge/kept.txt'))).size, 14);
  assert.equal(await fs.readFile(mnt('huge/kept.txt'), 'utf8'), 'kept as it is\n');
  await waitFor(async () => (await getObject('huge/new.bin'))?.toString() === 'abc', 10_000, 'the upload of new.bin');
  assert.equal((await getObject('huge/kept.txt'))?.toString(), 'kept as it is\n');
});

/** `dir` (seeded with old.txt) emptied through the mount, then new.txt put there behind its back */
async function emptiedHereFilledThere(dir: string): Promise<void> {
  assert.deepEqual(await fs.readdir(mnt(dir)), ['old.txt']);
  await fs.unlink(mnt(`${dir}/old.txt`));
  assert.deepEqual(await fs.readdir(mnt(dir)), [], 'our listing: empty');
  await putObject(`${dir}/new.txt`, 'put behind the mount');
}

test(
  'rmdir of a directory our listing shows empty while another client put an object there: ENOTEMPTY, the object stays and is listed',
  MOUNT_TEST,
  async () => {
    await emptiedHereFilledThere('rmd');
    await assert.rejects(fs.rmdir(mnt('rmd')), { code: 'ENOTEMPTY' });
    assert.equal((await getObject('rmd/new.txt'))?.toString(), 'put behind the mount', 'nothing lost');
    assert.deepEqual(await fs.readdir(mnt('rmd')), ['new.txt'], 'the next listing asks the server');
    assert.equal(await fs.readFile(mnt('rmd/new.txt'), 'utf8'), 'put behind the mount');
    // emptied through the mount, it goes
    await fs.unlink(mnt('rmd/new.txt'));
    await fs.rmdir(mnt('rmd'));
    await assert.rejects(fs.stat(mnt('rmd')), { code: 'ENOENT' });
    assert.deepEqual(await keys('rmd/'), []);
  },
);

test(
  'rename of a directory over one our listing shows empty while another client put an object there: ENOTEMPTY, nothing moved or lost',
  MOUNT_TEST,
  async () => {
    await emptiedHereFilledThere('rtgt');
    await assert.rejects(fs.rename(mnt('rsrc'), mnt('rtgt')), { code: 'ENOTEMPTY' });
    assert.deepEqual(await keys('rtgt/'), ['rtgt/new.txt']);
    assert.deepEqual(await keys('rsrc/'), ['rsrc/a.txt']);
    assert.deepEqual(await fs.readdir(mnt('rtgt')), ['new.txt']);
    // once it is really empty, the rename replaces it
    await fs.unlink(mnt('rtgt/new.txt'));
    await fs.rename(mnt('rsrc'), mnt('rtgt'));
    assert.equal(await fs.readFile(mnt('rtgt/a.txt'), 'utf8'), 'the directory to move');
    assert.deepEqual(await keys('rsrc/'), []);
  },
);
