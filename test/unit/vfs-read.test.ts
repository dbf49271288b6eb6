// The read path over an in-memory backend: exact ranged GETs for random reads, a streaming,
// growing GET for sequential ones, shared blocks between readers, the memory budget, and
// ETag pinning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ReadCache, FileReader } from '../../src/vfs/read/reader.js';
import { MountedBucket } from '../../src/vfs/bucket.js';
import { MountRoot } from '../../src/vfs/paths.js';
import { BlockCache } from '../../src/vfs/read/block-cache.js';
import { VfsError } from '../../src/vfs/errors.js';
import { FakeBackend, memoryLog } from '../helpers/fake-backend.js';

const MiB = 1024 * 1024;

function setup(opts: { bufferSize?: number; memory?: number; chunkSize?: number; limit?: number } = {}) {
  const be = new FakeBackend();
  const log = memoryLog();
  const cache = new ReadCache(
    new MountedBucket(be, new MountRoot('bucket', '')),
    { chunkSize: opts.chunkSize ?? 128 * MiB, chunkSizeLimit: opts.limit ?? -1, bufferSize: opts.bufferSize ?? 16 * MiB, readAhead: 0 },
    new BlockCache(opts.memory ?? 256 * MiB),
    log,
  );
  const open = (path: string) => {
    const o = be.objects.get(path)!;
    const src = cache.acquire(path, { etag: o.etag, size: o.data.length });
    return new FileReader(
      cache,
      src,
      async (p) => {
        const cur = be.objects.get(p);
        return cur ? { etag: cur.etag, size: cur.data.length } : null;
      },
      log,
    );
  };
  return { be, cache, open, log };
}

async function readAll(r: FileReader, size: number, step = 128 * 1024): Promise<Buffer> {
  const out = Buffer.alloc(size);
  for (let off = 0; off < size; off += step) {
    const n = await r.read(out.subarray(off, Math.min(size, off + step)), off, Math.min(step, size - off));
    assert.equal(n, Math.min(step, size - off));
  }
  return out;
}

test('a random 4 KiB read downloads exactly those 4 KiB', async () => {
  const { be, open } = setup();
  const data = randomBytes(32 * MiB);
  be.putDirect('f', data);
  const r = open('f');
  const buf = Buffer.alloc(4096);
  assert.equal(await r.read(buf, 20 * MiB, 4096), 4096);
  assert.ok(buf.equals(data.subarray(20 * MiB, 20 * MiB + 4096)));
  assert.equal(be.bytesRead, 4096);
  assert.deepEqual(be.reads, [{ path: 'f', offset: 20 * MiB, count: 4096 }]);
  r.close();
});

test('a sequential read streams with few, growing GETs and delivers every byte', async () => {
  const { be, open } = setup();
  const data = randomBytes(40 * MiB + 17);
  be.putDirect('f', data);
  const r = open('f');
  const got = await readAll(r, data.length);
  assert.ok(got.equals(data));
  assert.ok(be.reads.length <= 10, `${be.reads.length} GETs`);
  // sizes grow (but the last GET, the rest of the file, may be smaller)
  for (let i = 2; i < be.reads.length; i++) {
    const g = be.reads[i]!;
    if (g.offset + (g.count ?? Infinity) >= data.length) continue;
    assert.ok((g.count ?? Infinity) >= (be.reads[i - 1]!.count ?? 0), `GET sizes grow: ${JSON.stringify(be.reads)}`);
  }
  assert.ok(be.bytesRead <= data.length * 1.05, `downloaded ${be.bytesRead}`);
  // reading past the end
  assert.equal(await r.read(Buffer.alloc(10), data.length, 10), 0);
  r.close();
});

test('the stream stays within --buffer-size of the reader', async () => {
  const { be, open } = setup({ bufferSize: 2 * MiB });
  be.putDirect('f', randomBytes(64 * MiB));
  const r = open('f');
  const buf = Buffer.alloc(128 * 1024);
  for (let off = 0; off < 8 * MiB; off += buf.length) await r.read(buf, off, buf.length);
  await new Promise((res) => setTimeout(res, 50));
  // read 8 MiB; the stream may be ahead by the buffer size (2 MiB) plus the block in flight
  assert.ok(be.bytesRead <= 8 * MiB + 2 * MiB + 2 * MiB, `downloaded ${be.bytesRead}`);
  r.close();
});

test('two readers of one version share the downloaded blocks', async () => {
  const { be, open } = setup();
  const data = randomBytes(8 * MiB);
  be.putDirect('f', data);
  const a = open('f');
  const b = open('f');
  assert.ok((await readAll(a, data.length)).equals(data));
  const before = be.bytesRead;
  assert.ok((await readAll(b, data.length)).equals(data));
  assert.equal(be.bytesRead, before, 'the second reader downloaded nothing');
  a.close();
  b.close();
});

test('the memory budget bounds cached data; evicted data is fetched again correctly', async () => {
  const { be, cache, open } = setup({ memory: 4 * MiB });
  const data = randomBytes(16 * MiB);
  be.putDirect('f', data);
  const r = open('f');
  assert.ok((await readAll(r, data.length)).equals(data));
  assert.ok(cache.blocks.usedBytes <= 4 * MiB, `cache holds ${cache.blocks.usedBytes}`);
  const buf = Buffer.alloc(1000);
  await r.read(buf, 100, 1000);
  assert.ok(buf.equals(data.subarray(100, 1100)));
  r.close();
});

test('an object changed after bytes were read: EIO and a log line, never the new bytes', async () => {
  const { be, open, log } = setup({ bufferSize: 1 * MiB });
  be.putDirect('f', Buffer.alloc(8 * MiB, 'A'));
  const r = open('f');
  const buf = Buffer.alloc(4096);
  await r.read(buf, 0, 4096);
  be.putDirect('f', Buffer.alloc(8 * MiB, 'B'));
  await assert.rejects(r.read(buf, 6 * MiB, 4096), (e: unknown) => e instanceof VfsError && e.code === 'EIO');
  await assert.rejects(r.read(buf, 7 * MiB, 4096), (e: unknown) => e instanceof VfsError && e.code === 'EIO');
  assert.ok(log.lines.some((l) => /changed on the server while open/.test(l)));
  r.close();
});

test('a handle whose pinned version is gone before it read anything re-pins to the current one', async () => {
  const { be, open } = setup();
  be.putDirect('f', Buffer.alloc(MiB, 'A'));
  const r = open('f');
  be.putDirect('f', Buffer.alloc(MiB, 'C'));
  const buf = Buffer.alloc(4);
  assert.equal(await r.read(buf, 10, 4), 4);
  assert.equal(buf.toString(), 'CCCC');
  r.close();
});

test('an object deleted under an open handle reads as EIO', async () => {
  const { be, open } = setup();
  be.putDirect('f', Buffer.alloc(MiB, 'A'));
  const r = open('f');
  const buf = Buffer.alloc(4);
  await r.read(buf, 0, 4);
  be.objects.delete('f');
  await assert.rejects(r.read(buf, 512 * 1024, 4), (e: unknown) => e instanceof VfsError && e.code === 'EIO');
  r.close();
});
