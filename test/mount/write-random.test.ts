// Writes that are not a sequential stream go through a local cache file: random writes,
// rewrites, truncates, appends to existing objects, a stream that turns random. Every pattern
// is checked byte for byte against a local model file, through the mount, in the bucket, and
// after a remount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, type Mounted, MOUNT_TEST } from '../helpers/mount.js';
import { prng } from '../helpers/rng.js';

const BUCKET = 'random-bucket';
const MiB = 1024 * 1024;
let cacheDir: string;

const bucket = useS3Bucket(BUCKET, {
  async setup() {
    cacheDir = await tempDir('bucketfs-cache-');
  },
});
const { getObject, putObject } = bucket;

function mountWith(flags: string[] = []): Promise<Mounted> {
  return mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cacheDir, '--s3-chunk-size', '5M', ...flags] });
}

async function readRange(fh: fs.FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

test(
  'thousands of random writes, rewrites, truncates, appends and reads on an existing object match a local model, through the mount, in the bucket and after a remount',
  MOUNT_TEST,
  async () => {
    const seed = Number(process.env.BUCKETFS_TEST_SEED ?? Date.now() % 1_000_000);
    const rnd = prng(seed);
    const initial = randomBytes(3 * MiB + 12345);
    await putObject('rand.bin', initial);
    const local = await tempDir();
    const modelPath = path.join(local, 'model.bin');
    await fs.writeFile(modelPath, initial);

    let m = await mountWith();
    const file = path.join(m.mnt, 'rand.bin');
    const fh = await fs.open(file, 'r+');
    const model = await fs.open(modelPath, 'r+');
    const reader = await fs.open(file, 'r');
    let size = initial.length;
    const counts = { write: 0, append: 0, truncate: 0, read: 0, stat: 0 };
    try {
      for (let i = 0; i < 3000; i++) {
        const p = rnd.next();
        if (p < 0.55) {
          const len = rnd.next() < 0.9 ? rnd.int(1, 16 * 1024) : rnd.int(16 * 1024, 300 * 1024);
          const off = rnd.int(0, size + 64 * 1024);
          const data = randomBytes(len);
          await fh.write(data, 0, len, off);
          await model.write(data, 0, len, off);
          size = Math.max(size, off + len);
          counts.write++;
        } else if (p < 0.65) {
          const data = randomBytes(rnd.int(1, 8192));
          await fh.write(data, 0, data.length, size);
          await model.write(data, 0, data.length, size);
          size += data.length;
          counts.append++;
        } else if (p < 0.7 || size > 8 * MiB) {
          const q = rnd.next();
          const to = q < 0.03 ? 0 : q < 0.2 ? rnd.int(Math.floor(size / 2), size) : rnd.int(Math.floor(size * 0.97), Math.floor(size * 1.05) + 4096);
          await fh.truncate(to);
          await model.truncate(to);
          size = to;
          counts.truncate++;
        } else if (p < 0.95) {
          const off = rnd.int(0, size);
          const len = rnd.int(1, 128 * 1024);
          // half of the reads through a second, read-only handle: it sees the writes at once
          const h = rnd.next() < 0.5 ? fh : reader;
          const got = await readRange(h, off, len);
          const want = await readRange(model, off, len);
          assert.ok(got.equals(want), `seed ${seed}, op ${i}: read of ${len} at ${off} differs (size ${size})`);
          counts.read++;
        } else {
          assert.equal((await fh.stat()).size, size, `seed ${seed}, op ${i}: fstat size`);
          assert.equal((await fs.stat(file)).size, size, `seed ${seed}, op ${i}: stat size`);
          counts.stat++;
        }
      }
    } finally {
      await reader.close();
      await fh.close();
      await model.close();
    }
    console.log(`# seed ${seed}: ${JSON.stringify(counts)}, final size ${size}`);
    const want = await fs.readFile(modelPath);
    assert.ok((await fs.readFile(file)).equals(want), `seed ${seed}: content through the mount after close`);
    // unmount uploads what write-back still holds
    assert.equal((await m.unmount()).code, 0, m.stderr());
    assert.ok((await getObject('rand.bin'))?.equals(want), `seed ${seed}: the object in the bucket`);
    m = await mountWith();
    try {
      assert.ok((await fs.readFile(path.join(m.mnt, 'rand.bin'))).equals(want), `seed ${seed}: after a remount`);
    } finally {
      await m.unmount();
    }
  },
);

test('a stream that turns random: the parts already sent are committed, the rest continues in a cache file; nothing is lost', MOUNT_TEST, async () => {
  const m = await mountWith(['--vfs-write-back', '0']);
  try {
    bucket.s3.clearRequests();
    const data = randomBytes(12 * MiB);
    const f = path.join(m.mnt, 'turns.bin');
    const fh = await fs.open(f, 'w+');
    // 12 MiB sequentially: two parts of 5 MiB are on their way
    for (let off = 0; off < data.length; off += MiB) await fh.write(data, off, MiB, off);
    // then back to the start, and on past the end
    const patch = randomBytes(100_000);
    await fh.write(patch, 0, patch.length, MiB);
    patch.copy(data, MiB);
    const tail = randomBytes(3 * MiB);
    await fh.write(tail, 0, tail.length, data.length);
    const want = Buffer.concat([data, tail]);
    const back = Buffer.alloc(200_000);
    await fh.read(back, 0, back.length, MiB - 50_000);
    assert.ok(back.equals(want.subarray(MiB - 50_000, MiB + 150_000)), 'read-your-writes across the switch');
    await fh.close();
    assert.ok((await getObject('turns.bin'))?.equals(want), 'the final object');
    assert.ok((await fs.readFile(f)).equals(want));
    const c = bucket.s3.counts((r) => r.path === `/${BUCKET}/turns.bin`);
    assert.ok((c.MPp ?? 0) >= 2, `parts were streamed before the switch: ${JSON.stringify(c)}`);

    // a small file that turns random never sent anything: one PUT at close, nothing else
    bucket.s3.clearRequests();
    const small = await fs.open(path.join(m.mnt, 'small-turns.txt'), 'w');
    await small.write('hello world, hello world\n', 0);
    await small.write('HELLO', 13);
    await small.write('!', 30);
    await small.close();
    const expect = Buffer.from('hello world, HELLO world\n\0\0\0\0\0!');
    assert.ok((await getObject('small-turns.txt'))?.equals(expect));
    assert.deepEqual(
      // (not counted: the lookup that found no such object, a GET of its start that got a 404)
      bucket.s3.requests.filter((r) => r.path === `/${BUCKET}/small-turns.txt` && r.method !== 'HEAD' && r.status !== 404).map((r) => r.type),
      ['PUT'],
    );
  } finally {
    await m.unmount();
  }
});

test('appends and truncates of existing objects fetch only what they keep; sizes are right at every moment', MOUNT_TEST, async () => {
  const base = randomBytes(2 * MiB);
  await putObject('log.txt', base);
  await putObject('cut.bin', base);
  await putObject('grow.bin', Buffer.from('short'));
  const m = await mountWith(['--vfs-write-back', '0']);
  try {
    // listed first: a lookup in a directory not listed GETs the first 64 KiB of the object
    // (what a HEAD says, and a small file's bytes), which the counts below are not about
    await fs.readdir(m.mnt);
    // O_APPEND (>>): the object grows; the upload needs the old bytes (one GET), the append none
    bucket.s3.clearRequests();
    await fs.appendFile(path.join(m.mnt, 'log.txt'), 'appended line\n');
    assert.equal((await fs.stat(path.join(m.mnt, 'log.txt'))).size, base.length + 14);
    const log = await getObject('log.txt');
    assert.ok(log?.equals(Buffer.concat([base, Buffer.from('appended line\n')])));
    assert.equal(bucket.s3.counts((r) => r.path === `/${BUCKET}/log.txt`).GET, 1, 'one GET of the old content, for the upload');

    // a reader open while another handle appends sees the new size and bytes
    const reader = await fs.open(path.join(m.mnt, 'log.txt'), 'r');
    const appender = await fs.open(path.join(m.mnt, 'log.txt'), 'a');
    await appender.write('second\n');
    assert.equal((await reader.stat()).size, base.length + 21);
    assert.equal((await readRange(reader, base.length + 14, 100)).toString(), 'second\n');
    await appender.close();
    await reader.close();

    // truncate -s smaller: only the kept bytes are fetched
    bucket.s3.clearRequests();
    assert.equal((await run('truncate', ['-s', '1000', path.join(m.mnt, 'cut.bin')])).code, 0);
    assert.equal((await fs.stat(path.join(m.mnt, 'cut.bin'))).size, 1000);
    assert.ok((await getObject('cut.bin'))?.equals(base.subarray(0, 1000)));
    const gets = bucket.s3.requests.filter((r) => r.type === 'GET' && r.path === `/${BUCKET}/cut.bin`);
    assert.ok(gets.reduce((n, r) => n + r.bytesOut, 0) < 10_000, 'not the whole object');

    // truncate -s larger: zeros
    assert.equal((await run('truncate', ['-s', '3M', path.join(m.mnt, 'grow.bin')])).code, 0);
    const grown = await getObject('grow.bin');
    assert.equal(grown?.length, 3 * MiB);
    assert.equal(grown!.subarray(0, 5).toString(), 'short');
    assert.ok(grown!.subarray(5).every((b) => b === 0));

    // a rewrite in the middle with conv=notrunc keeps everything around it
    assert.equal((await run('dd', ['if=/dev/zero', `of=${path.join(m.mnt, 'grow.bin')}`, 'bs=1', 'count=3', 'seek=1', 'conv=notrunc', 'status=none'])).code, 0);
    assert.equal((await fs.readFile(path.join(m.mnt, 'grow.bin'))).subarray(0, 6).toString('latin1'), 's\0\0\0t\0');
  } finally {
    await m.unmount();
  }
});
