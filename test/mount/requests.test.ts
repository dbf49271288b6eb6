// What the mount costs in S3 requests, counted at the server: the promises of the directory
// cache, the HEAD prefetch for `ls -l` and the read path.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { TestS3, maxInFlight, type RecordedRequest } from '../helpers/s3-server.js';
import { run } from '../helpers/run.js';
import { cleanupMounts, mount, type Mounted, MOUNT_TEST, MOUNT_HOOK } from '../helpers/mount.js';

const BUCKET = 'requests-bucket';
const FILES = 1000;
let s3: TestS3;
const big = randomBytes(32 * 1024 * 1024);

async function sh(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** counts of what reached the server while `fn` ran */
async function counted(fn: () => Promise<unknown>): Promise<{ counts: Record<string, number>; requests: RecordedRequest[] }> {
  s3.clearRequests();
  await fn();
  const requests = [...s3.requests];
  return { counts: s3.counts(), requests };
}

before(async () => {
  s3 = await TestS3.start();
  await s3.createBucket(BUCKET);
  const c = s3.directClient();
  const names = Array.from({ length: FILES }, (_, i) => `many/file-${String(i).padStart(4, '0')}.txt`);
  for (let i = 0; i < names.length; i += 50) {
    await Promise.all(
      names
        .slice(i, i + 50)
        .map((Key, j) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: `content ${i + j}\n`, Metadata: { mtime: `${1600000000 + i + j}.5` } }))),
    );
  }
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data/big.bin', Body: big }));
  c.destroy();
}, MOUNT_HOOK);

after(async () => {
  await cleanupMounts();
  await s3?.stop();
}, MOUNT_HOOK);

test(`ls of a ${FILES}-file directory is 1 LIST and 0 HEAD; ls -l then HEADs each file once, concurrently; again: no request`, MOUNT_TEST, async () => {
  const m: Mounted = await mount(s3, `moto:${BUCKET}/many`);
  try {
    const ls = await counted(() => sh('ls', ['--color=never', m.mnt]));
    assert.deepEqual(ls.counts, { LIST: 1 });

    let out = '';
    const t0 = Date.now();
    const lsl = await counted(async () => (out = await sh('ls', ['-l', '--color=never', m.mnt])));
    const ms = Date.now() - t0;
    assert.equal(out.trim().split('\n').length, FILES + 1);
    assert.equal(lsl.counts.LIST ?? 0, 0, 'the listing is cached');
    assert.deepEqual(Object.keys(lsl.counts).sort(), ['GET', 'HEAD']);
    // the stats before the storm starts (one or two) GET their small file whole: the response
    // carries the same metadata, and the body is ready for an open
    assert.ok((lsl.counts.GET ?? 0) <= 2, `GETs: ${lsl.counts.GET}`);
    // each file once: one HEAD (or GET) per file, none twice
    const perFile = new Map<string, number>();
    for (const r of lsl.requests) perFile.set(r.path, (perFile.get(r.path) ?? 0) + 1);
    const twice = [...perFile].filter(([, n]) => n > 1).map(([p]) => p);
    assert.deepEqual(twice, [], 'no file asked twice');
    assert.equal(perFile.size, FILES, 'every file asked');
    // concurrently: the server had several HEADs in flight at once
    const lanes = maxInFlight(lsl.requests, 'HEAD');
    console.log(`# ls -l of ${FILES} cold files: ${ms} ms, ${lsl.counts.HEAD} HEADs, at most ${lanes} at once`);
    assert.ok(lanes > 1, `at most ${lanes} HEAD in flight at once`);
    // the X-Amz-Meta-Mtime of each file is what ls -l shows (file-0000 → 1600000000 = 2020-09-13)
    assert.match(out, /Sep 13 +2020 file-0000\.txt/);

    const again = await counted(() => sh('ls', ['-l', '--color=never', m.mnt]));
    assert.deepEqual(again.counts, {}, 'a second ls -l within --dir-cache-time makes no request');

    const find = await counted(() => sh('find', [m.mnt, '-name', 'file-0999.txt']));
    assert.deepEqual(find.counts, {});
  } finally {
    await m.unmount();
  }
});

test('--checkers sets how many HEADs a stat storm has in flight', MOUNT_TEST, async () => {
  const m = await mount(s3, `moto:${BUCKET}/many`, { flags: ['--checkers', '4'] });
  try {
    await sh('ls', [m.mnt]);
    const lsl = await counted(() => sh('ls', ['-l', m.mnt]));
    assert.equal((lsl.counts.HEAD ?? 0) + (lsl.counts.GET ?? 0), FILES);
    const lanes = maxInFlight(lsl.requests, 'HEAD');
    assert.ok(lanes >= 2 && lanes <= 4, `${lanes} HEADs at once with --checkers 4`);
  } finally {
    await m.unmount();
  }
});

test('find -name on a cold mount makes LISTs only; --use-server-modtime makes ls -l HEAD-free', MOUNT_TEST, async () => {
  const m = await mount(s3, `moto:${BUCKET}`, { flags: ['--use-server-modtime'] });
  try {
    const find = await counted(() => sh('find', [m.mnt, '-name', 'file-0500.txt']));
    assert.deepEqual(Object.keys(find.counts), ['LIST']);
    // root, many/, data/
    assert.equal(find.counts.LIST, 3);
    const lsl = await counted(() => sh('ls', ['-l', path.join(m.mnt, 'many')]));
    assert.deepEqual(lsl.counts, {});
    const st = await counted(() => sh('stat', [path.join(m.mnt, 'data/big.bin')]));
    assert.deepEqual(st.counts, {});
  } finally {
    await m.unmount();
  }
});

test('a 4 KiB read at a random offset of a 32 MiB file transfers about 4 KiB; a sequential read streams it all exactly', MOUNT_TEST, async () => {
  const m = await mount(s3, `moto:${BUCKET}/data`);
  try {
    const file = path.join(m.mnt, 'big.bin');
    await sh('stat', [file]);
    const offsetBlocks = 5000; // 20 MB in
    let got: Buffer = Buffer.alloc(0);
    const rnd = await counted(async () => {
      const r = await run('dd', [`if=${file}`, 'bs=4096', `skip=${offsetBlocks}`, 'count=1', 'status=none']);
      assert.equal(r.code, 0, r.stderr);
      got = r.stdoutBytes;
    });
    assert.ok(got.equals(big.subarray(offsetBlocks * 4096, offsetBlocks * 4096 + 4096)));
    const bytes = rnd.requests.filter((r) => r.type === 'GET').reduce((n, r) => n + r.bytesOut, 0);
    console.log(`# random 4 KiB read: ${rnd.counts.GET} GET(s), ${bytes} bytes transferred`);
    // a ranged GET of about the bytes asked for (page-aligned): 4 KiB, a page more at most
    assert.ok(bytes <= 8 * 1024, `transferred ${bytes} bytes for a 4 KiB read`);
    // the pinned ETag goes with every ranged GET
    for (const r of rnd.requests.filter((q) => q.type === 'GET')) assert.ok(r.headers['if-match'], 'GET without If-Match');

    const t0 = Date.now();
    const seq = await counted(async () => {
      const r = await run('cat', [file]);
      assert.ok(r.stdoutBytes.equals(big), 'sequential read differs');
    });
    const seqBytes = seq.requests.filter((r) => r.type === 'GET').reduce((n, r) => n + r.bytesOut, 0);
    console.log(`# sequential read of 32 MiB: ${Date.now() - t0} ms, ${seq.counts.GET} GETs, ${seqBytes} bytes`);
    // chunked, growing GETs: a handful, and not much more than the file downloaded
    assert.ok((seq.counts.GET ?? 0) <= 10, `${seq.counts.GET} GETs`);
    assert.ok(seqBytes <= big.length * 1.1, `downloaded ${seqBytes} bytes for ${big.length}`);

    // two readers of one file share what was fetched: a second read is served from memory
    const again = await counted(() => run('cat', [file]));
    assert.equal(again.counts.GET ?? 0, 0);
  } finally {
    await m.unmount();
  }
});
