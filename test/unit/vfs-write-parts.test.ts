// The pieces of the write-back layer: the byte-range set of cache files, the journal format,
// and the streaming upload's backpressure (memory bounded by the part size and concurrency).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { RangeSet } from '../../src/vfs/write/ranges.js';
import { parseJournal, writeFileAtomic, ownerAlive, currentOwner } from '../../src/vfs/write/journal.js';
import { StreamMemory, StreamUpload } from '../../src/vfs/write/stream.js';
import { conflictName } from '../../src/vfs/write/conflicts.js';
import type { ObjectInfo, PutOptions } from '../../src/backend/s3/types.js';
import { FakeBackend } from '../helpers/fake-backend.js';
import { rng } from '../helpers/rng.js';

test('RangeSet: adds merge, clip cuts, missing/covers/presentRun/nextPresent answer exactly', () => {
  const r = new RangeSet();
  r.add(10, 20);
  r.add(30, 40);
  r.add(20, 25); // touching: merged
  assert.deepEqual(r.toJSON(), [
    [10, 25],
    [30, 40],
  ]);
  r.add(24, 31); // bridging
  assert.deepEqual(r.toJSON(), [[10, 40]]);
  r.add(50, 60);
  r.add(0, 5);
  assert.deepEqual(r.missing(0, 70), [
    [5, 10],
    [40, 50],
    [60, 70],
  ]);
  assert.deepEqual(r.missing(12, 38), []);
  assert.ok(r.covers(10, 40) && !r.covers(9, 40) && !r.covers(39, 41) && r.covers(3, 3));
  assert.equal(r.presentRun(12, 100), 28);
  assert.equal(r.presentRun(5, 100), 0);
  assert.equal(r.nextPresent(41, 100), 50);
  assert.equal(r.nextPresent(61, 100), 100);
  assert.equal(r.bytes, 5 + 30 + 10);
  r.clip(55);
  assert.deepEqual(r.toJSON(), [
    [0, 5],
    [10, 40],
    [50, 55],
  ]);
  assert.deepEqual(RangeSet.from([[1, 2], [2, 3], 'x', [5]]).toJSON(), [[1, 3]]);
  // against a bitmap model, random operations (seeded: a failure reproduces)
  const random = rng(2026);
  const model = new Uint8Array(2000);
  const s = new RangeSet();
  for (let i = 0; i < 2000; i++) {
    const a = Math.floor(random() * 1900);
    const b = a + Math.floor(random() * 100);
    if (random() < 0.9) {
      s.add(a, b);
      model.fill(1, a, b);
    } else {
      s.clip(a);
      model.fill(0, a);
    }
  }
  for (let i = 0; i < 200; i++) {
    const a = Math.floor(random() * 2000);
    const b = a + Math.floor(random() * (2000 - a));
    const want: Array<[number, number]> = [];
    for (let x = a; x < b; x++) {
      if (model[x]) continue;
      const last = want.at(-1);
      if (last && last[1] === x) last[1] = x + 1;
      else want.push([x, x + 1]);
    }
    assert.deepEqual(s.missing(a, b), want);
    assert.equal(s.covers(a, b), want.length === 0);
  }
});

test('journal: atomic replace, strict parsing, owners, conflict names', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bucketfs-journal-'));
  try {
    const file = path.join(dir, 'x.json');
    const j = {
      v: 1,
      id: 'x',
      remote: 'r',
      bucket: 'b',
      path: 'a/b.txt',
      owner: currentOwner(),
      state: 'dirty',
      size: 3,
      mtimeNs: '1600000000123456789',
      base: null,
      present: [[0, 3]],
      server: null,
      updated: new Date().toISOString(),
    };
    await writeFileAtomic(file, JSON.stringify(j));
    await writeFileAtomic(file, JSON.stringify({ ...j, size: 4 }));
    assert.equal(parseJournal(await fs.readFile(file, 'utf8'))?.size, 4);
    assert.deepEqual(await fs.readdir(dir), ['x.json'], 'no temporary file left');
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    assert.equal(parseJournal('{"v":1'), null);
    assert.equal(parseJournal(JSON.stringify({ ...j, state: 'weird' })), null);
    assert.equal(parseJournal(JSON.stringify({ ...j, v: 2 })), null);
    assert.equal(parseJournal(JSON.stringify({ ...j, mtimeNs: '1.5' })), null);
    assert.ok(ownerAlive(currentOwner()));
    assert.ok(!ownerAlive({ pid: 2 ** 22 + 12345, start: '1' }), 'a pid that does not exist');
    assert.ok(!ownerAlive({ pid: process.pid, start: 'another-start-time' }), 'a reused pid');
    await zombieOwnerIsDead();
    assert.equal(conflictName('d/name.txt', new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), 'build-7.example.com'), 'd/name.txt.conflict-build-7-20240102-030405');
    assert.equal(conflictName('n', new Date(Date.UTC(2024, 0, 2, 3, 4, 5)), 'we ird/host'), 'n.conflict-we_ird_host-20240102-030405');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * A backend whose put() consumes a stream the way the real multipart engine does: one part at a
 * time, at most `concurrency` in flight, each taking `delayMs`. It records the most bytes it held.
 */
class PartBackend extends FakeBackend {
  held = 0;
  maxHeld = 0;
  parts: number[] = [];
  constructor(
    private readonly concurrency: number,
    private readonly delayMs: number,
  ) {
    super();
  }
  override async put(bucket: string, p: string, body: Buffer | Readable, opts: PutOptions): Promise<ObjectInfo> {
    if (Buffer.isBuffer(body)) return super.put(bucket, p, body, opts);
    const inflight = new Set<Promise<void>>();
    const chunks: Buffer[] = [];
    for await (const part of body as AsyncIterable<Buffer>) {
      // the engine copies each part into its own buffer (as streamParts' concat does)
      const mine = Buffer.from(part);
      this.held += mine.length;
      this.maxHeld = Math.max(this.maxHeld, this.held);
      this.parts.push(mine.length);
      chunks.push(mine);
      const t: Promise<void> = new Promise<void>((r) => setTimeout(r, this.delayMs)).then(() => {
        this.held -= mine.length;
        inflight.delete(t);
        // uploaded: the part's buffer goes back to the stream, as the real engine hands it back
        opts.onPartDone?.(part);
      });
      inflight.add(t);
      if (inflight.size >= this.concurrency) await Promise.race(inflight);
    }
    await Promise.all(inflight);
    return super.put(bucket, p, Buffer.concat(chunks), opts);
  }
}

test('a stream holds at most about chunk_size × (upload_concurrency + 2): a write waits while parts are in flight', async () => {
  const chunk = 256 * 1024;
  const be = new PartBackend(2, 15);
  const memory = new StreamMemory();
  const s = new StreamUpload({ backend: be, bucket: 'b', partSize: chunk, memory });
  const data = randomBytes(40 * chunk + 1234);
  let maxOurs = 0;
  for (let off = 0; off < data.length; off += 100_000) {
    await s.append(
      data.subarray(off, Math.min(data.length, off + 100_000)),
      () => 'big',
      () => 1n,
    );
    maxOurs = Math.max(maxOurs, memory.bytes);
  }
  const info = await s.finish();
  assert.equal(info.size, data.length);
  assert.ok(be.objects.get('big')!.data.equals(data));
  assert.equal(be.parts.length, 41);
  assert.ok(
    be.parts.slice(0, -1).every((n) => n === chunk),
    'every part but the last is chunk_size',
  );
  // (the stream's buffers count while the backend uploads them: one being filled, one spare,
  // and upload_concurrency in flight)
  assert.ok(maxOurs <= chunk * (2 + 2), `in flight + buffered: ${maxOurs / chunk} parts`);
  assert.equal(memory.bytes, 0, 'nothing left accounted after finish');
});

test('streams share one memory budget: a writer waits for a part buffer while the budget is full, every stream finishes, and the buffers of all stay within the budget', async () => {
  const chunk = 64 * 1024;
  const be = new PartBackend(2, 5);
  // room for 6 part buffers among 4 streams that would each like 4
  const memory = new StreamMemory(6 * chunk);
  const datas = [0, 1, 2, 3].map(() => randomBytes(12 * chunk + 99));
  let peak = 0;
  await Promise.all(
    datas.map(async (data, i) => {
      const s = new StreamUpload({ backend: be, bucket: 'b', partSize: chunk, memory });
      for (let off = 0; off < data.length; off += 50_000) {
        await s.append(
          data.subarray(off, Math.min(data.length, off + 50_000)),
          () => `s${i}`,
          () => 1n,
        );
        peak = Math.max(peak, memory.bytes);
      }
      await s.finish();
    }),
  );
  for (const [i, data] of datas.entries()) assert.ok(be.objects.get(`s${i}`)!.data.equals(data), `stream ${i} stored whole`);
  // each stream may take its first buffer beyond the budget (none ever waits with nothing)
  assert.ok(peak <= 6 * chunk + 4 * chunk, `peak ${peak / chunk} parts for a budget of 6`);
  assert.equal(memory.bytes, 0, 'nothing left accounted');
});

test('a stream smaller than one part never calls the backend; abort leaves nothing behind', async () => {
  const be = new FakeBackend();
  const memory = new StreamMemory();
  const s = new StreamUpload({ backend: be, bucket: 'b', partSize: 1024 * 1024, memory });
  await s.append(
    Buffer.from('hello world'),
    () => 'k',
    () => 1n,
  );
  s.overwrite(Buffer.from('HELLO'), 0);
  s.shrink(8);
  const dst = Buffer.alloc(20);
  assert.equal(s.readBuffered(dst, 2, 20), 6);
  assert.equal(dst.subarray(0, 6).toString(), 'LLO wo');
  assert.ok(!s.started);
  assert.equal(s.buffered().toString(), 'HELLO wo');
  assert.deepEqual(be.calls, {});
  const big = new StreamUpload({ backend: new PartBackend(1, 5), bucket: 'b', partSize: 1024, memory });
  await big.append(
    randomBytes(5000),
    () => 'gone',
    () => 1n,
  );
  assert.ok(big.started);
  await big.abort();
  s.release();
  big.release();
  assert.equal(memory.bytes, 0);
});

/**
 * A mount killed with -9 whose parent has not reaped it yet (a zombie: an init that reaps late,
 * a shell that started it in the background) answers kill(pid, 0) with the same start time, but
 * runs nothing: its cache items are to be recovered, not left to it.
 */
async function zombieOwnerIsDead(): Promise<void> {
  // python forks a child that exits at once and never waits for it: the child stays a zombie
  const parent = spawn('python3', ['-c', 'import os,sys,time\npid=os.fork()\nif pid==0: os._exit(0)\nprint(pid,flush=True)\ntime.sleep(30)'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const pid = Number((await new Promise<Buffer>((resolve) => parent.stdout.once('data', resolve))).toString().trim());
    let stat = '';
    for (let i = 0; i < 100; i++) {
      stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(fields[0], 'Z', 'the child is a zombie');
    assert.ok(!ownerAlive({ pid, start: fields[19]! }), 'a zombie owner runs no mount');
  } finally {
    parent.kill('SIGKILL');
  }
}
