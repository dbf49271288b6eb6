// The read path's decisions: the access-pattern detector (what streams, what is a ranged GET of
// about the bytes asked for), GET sizes that follow what the reader consumed, the scan-resistant
// block cache, and the read path over an in-memory backend with random, backwards-nearby and
// out-of-order reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { AccessPattern, MIN_STREAM_GET, SEQUENTIAL_GAP, STREAM_GET_FACTOR, alignRandom, streamGetSize } from '../../src/vfs/read/chunk-policy.js';
import { BlockCache, BLOCK_SIZE, type Block, type BlockOwner } from '../../src/vfs/read/block-cache.js';
import { ReadCache, FileReader } from '../../src/vfs/read/reader.js';
import { MemoryBudget } from '../../src/vfs/memory-budget.js';
import { MountedBucket } from '../../src/vfs/bucket.js';
import { MountRoot } from '../../src/vfs/paths.js';
import { FakeBackend, memoryLog } from '../helpers/fake-backend.js';
import { rng } from '../helpers/rng.js';

const KiB = 1024;
const MiB = 1024 * KiB;

// --- the detector ---------------------------------------------------------------------------------

test('pattern: a read at offset 0 starts a stream; the next read continuing it streams too', () => {
  const p = new AccessPattern();
  p.observe(0, 128 * KiB);
  assert.equal(p.stream, true, 'most opens read from 0: cat/dd must not wait for three reads');
  p.observe(128 * KiB, 128 * KiB);
  assert.equal(p.stream, true);
  assert.equal(p.runBytes, 256 * KiB);
});

test('pattern: elsewhere, a stream starts only on the second read that continues a run', () => {
  const p = new AccessPattern();
  p.observe(10 * MiB, 4096);
  assert.equal(p.stream, false);
  p.observe(10 * MiB + 4096, 4096);
  assert.equal(p.stream, false, 'one continuation is not enough');
  p.observe(10 * MiB + 8192, 4096);
  assert.equal(p.stream, true);
  assert.equal(p.runBytes, 12 * KiB);
});

test('pattern: reads behind a run never continue it; forward jumps beyond max(len, 128K) start a new run', () => {
  const p = new AccessPattern();
  p.observe(20 * MiB, 4096);
  p.observe(20 * MiB + 4096, 4096);
  // backwards, just before the run: a new run, not sequential
  assert.equal(p.observe(20 * MiB - 4096, 4096), false);
  assert.equal(p.stream, false);
  assert.equal(p.observe(20 * MiB - 512 * KiB, 4096), false);
  assert.equal(p.stream, false);
  // forward, further than 128 KiB and than the read's length
  assert.equal(p.observe(20 * MiB + 8192 + SEQUENTIAL_GAP + 1, 4096), false);
  assert.equal(p.stream, false);
  // a read as long as its gap still continues (a reader skipping every other block)
  const q = new AccessPattern();
  q.observe(MiB, 256 * KiB);
  assert.equal(q.observe(MiB + 512 * KiB, 256 * KiB), true);
});

test('pattern: random reads, including backwards-nearby ones, never stream', () => {
  const p = new AccessPattern();
  const r = rng(7);
  let streams = 0;
  for (let i = 0; i < 2000; i++) {
    const off = Math.floor(r() * 8192) * 4096 + 4096; // never offset 0
    p.observe(off, 4096);
    if (p.stream) streams++;
    // now and then a read a little behind the previous one
    if (i % 3 === 0) {
      p.observe(Math.max(4096, off - (1 + Math.floor(r() * 64)) * 4096), 4096);
      if (p.stream) streams++;
    }
  }
  assert.equal(streams, 0);
});

test('pattern: the pieces of one large read arriving out of order keep the run (and its stream)', () => {
  const p = new AccessPattern();
  for (let off = 0; off < 4 * MiB; off += 128 * KiB) p.observe(off, 128 * KiB);
  assert.equal(p.stream, true);
  const base = 4 * MiB;
  // libfuse's threads hand us the 8 pieces of a 1 MiB read in any order
  const order = [5, 1, 0, 3, 2, 7, 6, 4];
  const kinds = order.map((k) => {
    const continued = p.observe(base + k * 128 * KiB, 128 * KiB);
    return { k, continued, stream: p.stream, scan: p.scan };
  });
  // every piece belongs to the sequential run; none is treated as the start of a random run
  for (const x of kinds) if (x.k !== 5) assert.ok(x.scan, `piece ${x.k} is part of the scan`);
  // the run is whole again: the next read streams, with all the bytes counted
  p.observe(base + MiB, 128 * KiB);
  assert.equal(p.stream, true);
  assert.ok(p.runBytes >= 5 * MiB, `run ${p.runBytes}`);
});

// --- sizes ---------------------------------------------------------------------------------------

test("stream GETs follow what the reader consumed, not the stream's own progress", () => {
  const s = { chunkSize: 128 * MiB, chunkSizeLimit: -1, bufferSize: 16 * MiB, readAhead: 0 };
  // a false detection after 12 KiB: a quarter MiB, however far the stream got before
  assert.equal(streamGetSize(s, 0, 12 * KiB, 1e12), MIN_STREAM_GET);
  assert.equal(streamGetSize(s, 64 * MiB, 12 * KiB, 1e12), MIN_STREAM_GET);
  // a real sequential reader: doubling, at most STREAM_GET_FACTOR × consumed
  assert.equal(streamGetSize(s, 256 * KiB, 1 * MiB, 1e12), 2 * MiB);
  assert.equal(streamGetSize(s, 2 * MiB, 1 * MiB, 1e12), STREAM_GET_FACTOR * MiB);
  assert.equal(streamGetSize(s, 64 * MiB, 100 * MiB, 1e12), 128 * MiB);
  // never past the end
  assert.equal(streamGetSize(s, 0, 10 * MiB, 1000), 1000);
  // unchunked: one GET for the rest once the ramp is done
  assert.equal(streamGetSize({ ...s, chunkSize: 0 }, 64 * MiB, 64 * MiB, 5e9), 5e9);
});

test('random reads are rounded out to the page, not to a chunk', () => {
  assert.deepEqual(alignRandom(8192, 12288, 1e9), [8192, 12288]);
  assert.deepEqual(alignRandom(8200, 8300, 1e9), [8192, 12288]);
  assert.deepEqual(alignRandom(8200, 8300, 8250), [8192, 8300]);
});

// --- the block cache -----------------------------------------------------------------------------

class Owner implements BlockOwner {
  readonly blocks = new Map<number, Block>();
  evicted(b: Block): void {
    this.blocks.delete(b.start);
  }
}

function fill(cache: BlockCache, owner: Owner, start: number, size = BLOCK_SIZE): Block {
  const b = cache.allocate(owner, start);
  cache.append(b, Buffer.alloc(size));
  b.filling = false;
  owner.blocks.set(start, b);
  return b;
}

test('block cache: a scan of a file larger than the budget, read again, still finds most of it', () => {
  const budget = 64 * MiB;
  const cache = new BlockCache(budget);
  const owner = new Owner();
  const blocks = 80; // 80 MiB file, 64 MiB budget
  let hits = 0;
  let misses = 0;
  for (let pass = 0; pass < 3; pass++) {
    for (let i = 0; i < blocks; i++) {
      const have = owner.blocks.get(i * BLOCK_SIZE);
      if (have) {
        if (pass > 0) hits++;
      } else {
        if (pass > 0) misses++;
        fill(cache, owner, i * BLOCK_SIZE);
      }
      // the reader reads the block to its end
      cache.consumed(owner.blocks.get(i * BLOCK_SIZE)!);
      assert.ok(cache.usedBytes <= budget, `within the budget: ${cache.usedBytes}`);
    }
  }
  // plain LRU: 0 hits. Here only about what does not fit is downloaded again.
  assert.ok(hits >= 2 * (64 - 20), `hits ${hits}, misses ${misses}`);
  assert.ok(misses <= 2 * (blocks - 64 + 4), `misses ${misses}`);
});

test('block cache: read-ahead not yet consumed and random-read data outlive blocks a scan has read past', () => {
  const cache = new BlockCache(8 * MiB);
  const owner = new Owner();
  const hot = fill(cache, owner, 1000 * BLOCK_SIZE, 4096); // a random read's page
  for (let i = 0; i < 7; i++) cache.consumed(fill(cache, owner, i * BLOCK_SIZE));
  const ahead = fill(cache, owner, 7 * BLOCK_SIZE); // read-ahead, not consumed yet
  fill(cache, owner, 8 * BLOCK_SIZE);
  fill(cache, owner, 9 * BLOCK_SIZE);
  assert.ok(hot.live, 'the random-read page is kept');
  assert.ok(ahead.live, 'read-ahead is kept');
  assert.ok(cache.usedBytes <= 8 * MiB);
});

test('block cache: the block being filled is never the victim, and accounting stays exact', () => {
  const cache = new BlockCache(4 * MiB);
  const owner = new Owner();
  const b = cache.allocate(owner, 0);
  for (let i = 0; i < 100; i++) cache.append(b, Buffer.alloc(64 * KiB));
  assert.ok(b.live);
  assert.equal(cache.usedBytes, 100 * 64 * KiB, 'a lone block may exceed the budget rather than drop itself');
  fill(cache, owner, 100 * MiB);
  assert.equal(b.live, false, 'then it goes');
  assert.equal(cache.usedBytes, MiB);
});

test('memory budget: part buffers of uploads take their half from the reads at once, and give it back', () => {
  const budget = new MemoryBudget(32 * MiB);
  const owner = new Owner();
  const ahead: Block[] = [];
  for (let i = 0; i < 24; i++) {
    const b = fill(budget.blocks, owner, i * BLOCK_SIZE);
    if (i < 20) budget.blocks.consumed(b);
    else ahead.push(b); // read-ahead nobody has reached yet
  }
  assert.equal(budget.blocks.usedBytes, 24 * MiB, 'reads alone may use the whole budget');
  assert.equal(budget.streams.budget, 16 * MiB, 'uploads: half of it');
  budget.streams.take(12 * MiB);
  assert.equal(budget.blocks.maxSize, 20 * MiB, 'reads: what the uploads leave');
  assert.ok(budget.blocks.usedBytes <= 20 * MiB, `cut at once: ${budget.blocks.usedBytes}`);
  assert.ok(budget.bytes <= 32 * MiB);
  assert.ok(
    ahead.every((b) => b.live),
    'data already read past goes first, read-ahead stays',
  );
  assert.equal(budget.streams.fits(4 * MiB), true);
  assert.equal(budget.streams.fits(5 * MiB), false, 'uploads never take more than their half');
  budget.streams.take(4 * MiB);
  assert.ok(budget.blocks.usedBytes <= 16 * MiB && budget.blocks.maxSize === 16 * MiB);
  budget.streams.give(16 * MiB);
  assert.equal(budget.blocks.maxSize, 32 * MiB, 'the whole budget again once the uploads are done');
  for (let i = 100; i < 128; i++) fill(budget.blocks, owner, i * BLOCK_SIZE);
  assert.equal(budget.blocks.usedBytes, 32 * MiB);
});

test('block cache: chunks are kept without copying, unless they are small views of big buffers', () => {
  const cache = new BlockCache(64 * MiB);
  const owner = new Owner();
  const b = cache.allocate(owner, 0);
  const own = Buffer.from(randomBytes(65536));
  cache.append(b, own);
  const big = randomBytes(4 * MiB);
  cache.append(b, big.subarray(100, 200));
  assert.equal(cache.usedBytes, 65536 + 100);
  const out = Buffer.alloc(65636);
  assert.equal(b.copyTo(0, out, 0, out.length), out.length);
  assert.ok(out.subarray(0, 65536).equals(own));
  assert.ok(out.subarray(65536).equals(big.subarray(100, 200)));
  // a copy starting in the middle of a chunk, across the chunk boundary
  const mid = Buffer.alloc(200);
  assert.equal(b.copyTo(65500, mid, 0, 136), 136);
  assert.ok(mid.subarray(0, 36).equals(own.subarray(65500)));
  assert.ok(mid.subarray(36, 136).equals(big.subarray(100, 200)));
});

// --- the read path -------------------------------------------------------------------------------

function setup(opts: { bufferSize?: number; memory?: number } = {}) {
  const be = new FakeBackend();
  const log = memoryLog();
  const cache = new ReadCache(
    new MountedBucket(be, new MountRoot('bucket', '')),
    { chunkSize: 128 * MiB, chunkSizeLimit: -1, bufferSize: opts.bufferSize ?? 16 * MiB, readAhead: 0 },
    new BlockCache(opts.memory ?? 256 * MiB),
    log,
  );
  const open = (path: string) => {
    const o = be.objects.get(path)!;
    return new FileReader(cache, cache.acquire(path, { etag: o.etag, size: o.data.length }), async () => null, log);
  };
  return { be, cache, open };
}

const settle = () => new Promise((r) => setTimeout(r, 30));

test('200 random 4 KiB reads, some just behind the previous one, download about 200 × 4 KiB', async () => {
  const { be, open } = setup();
  const data = randomBytes(32 * MiB);
  be.putDirect('f', data);
  const r = open('f');
  const rand = rng(42);
  const buf = Buffer.alloc(4096);
  let prev = 16 * MiB;
  for (let i = 0; i < 200; i++) {
    const off = i % 4 === 3 ? Math.max(4096, prev - (1 + Math.floor(rand() * 200)) * 4096) : (1 + Math.floor(rand() * 8190)) * 4096;
    assert.equal(await r.read(buf, off, 4096), 4096);
    assert.ok(buf.equals(data.subarray(off, off + 4096)), `bytes at ${off}`);
    prev = off;
  }
  await settle();
  assert.ok(be.bytesRead <= 200 * 4096, `downloaded ${be.bytesRead}`);
  for (const g of be.reads) assert.ok((g.count ?? Infinity) <= 4096, `a GET of ${g.count} bytes`);
  r.close();
});

test('a random read next to a stream does not push it ahead; far away it gets its own small GET', async () => {
  const { be, open } = setup({ bufferSize: 2 * MiB });
  const data = randomBytes(64 * MiB);
  be.putDirect('f', data);
  const seq = open('f');
  const rnd = open('f');
  const buf = Buffer.alloc(128 * KiB);
  for (let off = 0; off < 4 * MiB; off += buf.length) await seq.read(buf, off, buf.length);
  await settle();
  const before = be.bytesRead;
  const small = Buffer.alloc(4096);
  for (let i = 0; i < 50; i++) {
    const off = 6 * MiB + i * 512 * KiB; // ahead of the stream, each a little further
    assert.equal(await rnd.read(small, off, 4096), 4096);
    assert.ok(small.equals(data.subarray(off, off + 4096)));
  }
  await settle();
  assert.ok(be.bytesRead - before <= 50 * 4096 + 4 * MiB, `random reads cost ${be.bytesRead - before}`);
  seq.close();
  rnd.close();
});

test('sequential reads after random ones still stream, and the cache holds a file re-read within the budget', async () => {
  const { be, open } = setup({ memory: 24 * MiB });
  const data = randomBytes(32 * MiB);
  be.putDirect('f', data);
  const r = open('f');
  const buf = Buffer.alloc(4096);
  await r.read(buf, 5 * MiB, 4096);
  await r.read(buf, 1 * MiB, 4096);
  const step = 128 * KiB;
  const out = Buffer.alloc(data.length);
  for (let off = 0; off < data.length; off += step) assert.equal(await r.read(out.subarray(off, off + step), off, step), step);
  assert.ok(out.equals(data));
  assert.ok(be.reads.length <= 2 + 12, `${be.reads.length} GETs`);
  await settle();
  // a second pass of a file 4/3 of the budget downloads well under the whole file again
  const before = be.bytesRead;
  const again = Buffer.alloc(data.length);
  for (let off = 0; off < data.length; off += step) await r.read(again.subarray(off, off + step), off, step);
  assert.ok(again.equals(data));
  await settle();
  const second = be.bytesRead - before;
  assert.ok(second <= data.length / 2, `second pass downloaded ${second}`);
  r.close();
});

test('a sequential read after many random ones is still a few large GETs, and the index stays clean', async () => {
  const { be, open } = setup();
  const data = randomBytes(32 * MiB);
  be.putDirect('f', data);
  const rnd = open('f');
  const page = Buffer.alloc(4096);
  const rand = rng(9);
  for (let i = 0; i < 100; i++) {
    const off = (1 + Math.floor(rand() * 8190)) * 4096;
    await rnd.read(page, off, 4096);
  }
  await settle();
  be.reads.length = 0;
  const seq = open('f');
  const step = 128 * KiB;
  const out = Buffer.alloc(data.length);
  for (let off = 0; off < data.length; off += step) assert.equal(await seq.read(out.subarray(off, off + step), off, step), step);
  assert.ok(out.equals(data));
  assert.ok(be.reads.length <= 10, `${be.reads.length} GETs: ${JSON.stringify(be.reads)}`);
  rnd.close();
  seq.close();
});

test('a dropped version gives its memory back', async () => {
  const { be, cache, open } = setup();
  be.putDirect('f', randomBytes(4 * MiB));
  const r = open('f');
  const buf = Buffer.alloc(128 * KiB);
  for (let off = 0; off < 4 * MiB; off += buf.length) await r.read(buf, off, buf.length);
  r.close();
  await settle();
  assert.ok(cache.blocks.usedBytes >= 4 * MiB);
  cache.forgetPath('f');
  assert.equal(cache.blocks.usedBytes, 0);
});

test('a reader that reads the head of a file and stops costs one small GET', async () => {
  const { be, open } = setup();
  be.putDirect('f', randomBytes(64 * MiB));
  const r = open('f');
  const buf = Buffer.alloc(128 * KiB);
  assert.equal(await r.read(buf, 0, buf.length), buf.length);
  await settle();
  assert.equal(be.reads.length, 1, JSON.stringify(be.reads));
  assert.ok(be.bytesRead <= MIN_STREAM_GET, `downloaded ${be.bytesRead}`);
  // it comes back: the stream goes on from there
  assert.equal(await r.read(buf, buf.length, buf.length), buf.length);
  assert.equal(await r.read(buf, 2 * buf.length, buf.length), buf.length);
  await settle();
  assert.ok(be.reads.length >= 2);
  r.close();
});
