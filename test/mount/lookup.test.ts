// What a path lookup costs at a distance (#9): opening a known file in a big directory that was
// never listed must not list it. Counted at the server, with every request delayed 20 ms like a
// distant region; round trips are the requests that did not overlap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { TestS3, type RecordedRequest } from '../helpers/s3-server.js';
import { cleanupMounts, mount } from '../helpers/mount.js';
import { run } from '../helpers/run.js';

const BUCKET = 'lookup-bucket';
const FILES = 2000;
const LATENCY = { delayMs: 20 };
/** a folder of small files, each with the mtime rclone would store, and one bigger file */
const SMALL = 40;
const smallBody = (i: number) => `small file ${i}\n`.repeat(100 + i);
const mtimeOf = (i: number) => 1_600_000_000 + i;
/** a tree of directories of 10 files each, for find */
const TREE_DIRS = 30;
let s3: TestS3;

before(async () => {
  s3 = await TestS3.start();
  await s3.createBucket(BUCKET);
  const c = s3.directClient();
  for (let i = 0; i < FILES; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `big/f${String(i + j).padStart(5, '0')}`, Body: `content ${i + j}\n` })),
      ),
    );
  }
  await Promise.all(
    Array.from({ length: SMALL }, (_, i) =>
      c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `small/s${String(i).padStart(2, '0')}`, Body: smallBody(i), Metadata: { mtime: `${mtimeOf(i)}.5` } })),
    ),
  );
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sized/big', Body: Buffer.alloc(200 * 1024, 7) }));
  const mixed = Buffer.alloc(300 * 1024);
  for (let i = 0; i < mixed.length; i++) mixed[i] = (i * 7 + (i >> 10)) & 255;
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'probed/mixed', Body: mixed, Metadata: { mtime: '1500000000.25' } }));
  await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'probed/empty', Body: '', Metadata: { mtime: '1500000001.5' } }));
  const treeKeys = Array.from({ length: TREE_DIRS * 10 }, (_, i) => `tree/d${String(Math.floor(i / 10)).padStart(2, '0')}/f${i % 10}`);
  await Promise.all(treeKeys.map((Key) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'x' }))));
  // the same shape with a dir/ marker in every directory (as mkdir, tar x or the S3 console make them)
  const marked = Array.from({ length: TREE_DIRS }, (_, d) => `marked/d${String(d).padStart(2, '0')}/`);
  await Promise.all(
    [...marked, ...marked.map((m) => m + 'f')].map((Key) => c.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Key.endsWith('/') ? '' : 'x' }))),
  );
  c.destroy();
});

after(async () => {
  await cleanupMounts();
  await s3?.stop();
});

/** groups of requests that were in flight together: each group is one round trip */
function roundTrips(reqs: RecordedRequest[]): number {
  const sorted = [...reqs].sort((a, b) => a.startedAt - b.startedAt);
  let trips = 0;
  let end = -Infinity;
  for (const r of sorted) {
    if (r.startedAt >= end) trips++;
    end = Math.max(end, r.endedAt);
  }
  return trips;
}

/** `cmd args` run at LATENCY on a fresh mount's view of the server: its result and the requests it made */
async function atDistance(cmd: string, args: string[]): Promise<{ r: Awaited<ReturnType<typeof run>>; reqs: typeof s3.requests }> {
  s3.faultHook = () => LATENCY;
  s3.clearRequests();
  try {
    const r = await run(cmd, args);
    return { r, reqs: [...s3.requests] };
  } finally {
    s3.faultHook = undefined;
  }
}

test(
  `opening one file of a ${FILES}-object directory never listed: the directory's marker, then a GET of the file's start + one small LIST at once (a directory, or a link name.rclonelink); the GET's bytes are the read`,
  { timeout: 120_000 },
  async () => {
    // list_chunk 100: a listing of big/ would be 20 pages, which the counts below would show
    const m = await mount(s3, `moto:${BUCKET}`, { flags: ['--s3-list-chunk', '100'] });
    try {
      s3.faultHook = () => LATENCY;
      s3.clearRequests();
      assert.equal(await readFile(path.join(m.mnt, 'big/f01234'), 'utf8'), 'content 1234\n');
      const reqs = [...s3.requests];
      s3.faultHook = undefined;
      // (big/'s own attributes: a HEAD of its marker big/, once per mount)
      assert.deepEqual(s3.counts(), { HEAD: 1, LIST: 1, GET: 1 }, reqs.map((r) => `${r.method} ${r.rawUrl}`).join('\n'));
      assert.deepEqual(
        reqs.filter((r) => r.type === 'HEAD').map((r) => r.path),
        [`/${BUCKET}/big/`],
      );
      assert.equal(reqs.find((r) => r.type === 'GET')!.path, `/${BUCKET}/big/f01234`);
      const list = reqs.find((r) => r.type === 'LIST')!;
      // the keys that start with the name, up to '/': name/ (a directory) and name.rclonelink (a link) sort there
      assert.equal(list.query['max-keys'], '32');
      assert.equal(list.query.prefix, 'big/f01234');
      assert.equal(list.query.delimiter, '/');
      assert.equal(roundTrips(reqs), 2, "the directory's marker; then the GET and the LIST overlap");

      // the next file beside it: one round trip, whose GET is the read
      s3.clearRequests();
      s3.faultHook = () => LATENCY;
      assert.equal(await readFile(path.join(m.mnt, 'big/f01500'), 'utf8'), 'content 1500\n');
      const next = [...s3.requests];
      s3.faultHook = undefined;
      assert.deepEqual(s3.counts(), { LIST: 1, GET: 1 });
      assert.equal(roundTrips(next), 1);

      // a missing name next to it: the same probe, then remembered
      s3.clearRequests();
      await assert.rejects(stat(path.join(m.mnt, 'big/nope')), { code: 'ENOENT' });
      await assert.rejects(stat(path.join(m.mnt, 'big/nope')), { code: 'ENOENT' });
      assert.deepEqual(s3.counts(), { GET: 1, LIST: 1 });
    } finally {
      s3.faultHook = undefined;
      await m.unmount();
    }
  },
);

test(
  'files in a directory never listed, found by a GET of their start: a bigger file reads whole and right, an empty one is found, both with their stored mtime',
  { timeout: 60_000 },
  async () => {
    const m = await mount(s3, `moto:${BUCKET}`);
    try {
      const mixed = Buffer.alloc(300 * 1024);
      for (let i = 0; i < mixed.length; i++) mixed[i] = (i * 7 + (i >> 10)) & 255;
      s3.clearRequests();
      const st = await stat(path.join(m.mnt, 'probed/mixed'));
      assert.equal(st.size, mixed.length);
      assert.equal(st.mtimeMs, 1500000000250);
      const gets = s3.requests.filter((r) => r.type === 'GET');
      assert.equal(gets.length, 1);
      assert.equal(gets[0]!.headers.range, 'bytes=0-65535', 'the start only, not the whole object');
      assert.ok((await readFile(path.join(m.mnt, 'probed/mixed'))).equals(mixed), 'the bytes the lookup brought, then the rest');
      const e = await stat(path.join(m.mnt, 'probed/empty'));
      assert.equal(e.size, 0);
      assert.equal(e.mtimeMs, 1500000001500);
      assert.equal(await readFile(path.join(m.mnt, 'probed/empty'), 'utf8'), '');
    } finally {
      await m.unmount();
    }
  },
);

test(
  `find over ${TREE_DIRS} directories that have markers: the recursive listing shows them, and their HEADs go out ahead of the walk`,
  { timeout: 120_000 },
  async () => {
    const m = await mount(s3, `moto:${BUCKET}`);
    try {
      const { r, reqs } = await atDistance('find', [path.join(m.mnt, 'marked'), '-type', 'f']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').length, TREE_DIRS);
      const heads = reqs.filter((q) => q.type === 'HEAD');
      assert.ok(heads.length <= TREE_DIRS + 1 && new Set(heads.map((q) => q.path)).size === heads.length, `${heads.length} HEADs, each once`);
      const trips = roundTrips(reqs);
      // one by one, they would be a round trip per directory
      assert.ok(trips <= 12, `${trips} round trips for ${reqs.length} requests`);
      console.log(`# find over ${TREE_DIRS} directories with markers at 20 ms: ${reqs.length} requests in ${trips} round trips`);
    } finally {
      s3.faultHook = undefined;
      await m.unmount();
    }
  },
);

test(
  `find | sort | xargs cat over ${TREE_DIRS} directories of 10 small files: the files are read ahead across directories, as the walk goes`,
  { timeout: 120_000 },
  async () => {
    const m = await mount(s3, `moto:${BUCKET}`);
    try {
      // the walk's listings first (find), then the reads in full-path order, as cat-back does
      const found = await run('sh', ['-c', `cd ${m.mnt}/tree && find . -type f | sort`]);
      assert.equal(found.code, 0, found.stderr);
      const { r, reqs } = await atDistance('sh', ['-c', `cd ${m.mnt}/tree && find . -type f | sort | xargs cat | wc -c`]);
      assert.equal(r.stdout.trim(), String(TREE_DIRS * 10));
      const gets = reqs.filter((q) => q.type === 'GET');
      assert.equal(gets.length, TREE_DIRS * 10, 'one GET per file, none wasted');
      const trips = roundTrips(reqs);
      // waiting at each directory for its first file would be one round trip or more per directory
      assert.ok(trips <= TREE_DIRS / 2, `${trips} round trips for ${reqs.length} requests`);
      console.log(`# find | sort | xargs cat of ${TREE_DIRS * 10} files in ${TREE_DIRS} directories at 20 ms: ${reqs.length} requests in ${trips} round trips`);
    } finally {
      s3.faultHook = undefined;
      await m.unmount();
    }
  },
);

test(`ls -l of a folder of ${TREE_DIRS} directories: their markers are HEADed many at a time, not one round trip each`, { timeout: 120_000 }, async () => {
  const m = await mount(s3, `moto:${BUCKET}`);
  try {
    const { r, reqs } = await atDistance('ls', ['-l', path.join(m.mnt, 'tree')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim().split('\n').length, TREE_DIRS + 1);
    const heads = reqs.filter((q) => q.type === 'HEAD');
    assert.ok(heads.length <= TREE_DIRS + 1, `${heads.length} HEADs`);
    const trips = roundTrips(reqs);
    // the first three one by one (one stat is not a storm), then the rest at once
    assert.ok(trips <= 8, `${trips} round trips for ${reqs.length} requests`);
    console.log(`# ls -l of ${TREE_DIRS} directories at 20 ms: ${reqs.length} requests in ${trips} round trips`);
  } finally {
    s3.faultHook = undefined;
    await m.unmount();
  }
});

test('a folder of small files read one after the other (stat, then read, as sha256sum does): one GET per file and no HEAD', { timeout: 120_000 }, async () => {
  const m = await mount(s3, `moto:${BUCKET}`);
  try {
    const dir = path.join(m.mnt, 'small');
    const names = (await readdir(dir)).filter((n) => n.startsWith('s')).sort();
    assert.equal(names.length, SMALL);
    s3.faultHook = () => LATENCY;
    s3.clearRequests();
    for (const [i, n] of names.entries()) {
      const st = await stat(path.join(dir, n));
      assert.equal(st.mtimeMs, mtimeOf(i) * 1000 + 500, `${n}: the mtime a HEAD would have given`);
      assert.equal(await readFile(path.join(dir, n), 'utf8'), smallBody(i));
    }
    const reqs = [...s3.requests];
    s3.faultHook = undefined;
    const summary = reqs.map((r) => `${r.method} ${r.path}`).join('\n');
    // the metadata came with each GET's response: no HEAD, no file fetched twice
    assert.deepEqual(s3.counts(), { GET: SMALL }, summary);
    assert.equal(new Set(reqs.map((r) => r.path)).size, SMALL, summary);
    // from the third file on, the GETs run ahead of the program: far fewer waits than files
    const trips = roundTrips(reqs);
    console.log(`# ${SMALL} small files read one by one at 20 ms: ${reqs.length} requests in ${trips} round trips`);
    assert.ok(trips <= SMALL / 2, `${trips} round trips for ${SMALL} files`);
  } finally {
    s3.faultHook = undefined;
    await m.unmount();
  }
});

test(
  'stat of one small file GETs it whole (the open that follows costs nothing); a bigger one is a HEAD; a file changed behind the listing is HEADed anew',
  { timeout: 120_000 },
  async () => {
    const m = await mount(s3, `moto:${BUCKET}`);
    try {
      const dir = path.join(m.mnt, 'small');
      await readdir(dir);
      await readdir(path.join(m.mnt, 'sized'));
      s3.clearRequests();
      assert.equal((await stat(path.join(dir, 's07'))).size, Buffer.byteLength(smallBody(7)));
      assert.deepEqual(s3.counts(), { GET: 1 });
      assert.equal(await readFile(path.join(dir, 's07'), 'utf8'), smallBody(7));
      assert.deepEqual(s3.counts(), { GET: 1 }, 'read from what the stat fetched');

      s3.clearRequests();
      assert.equal((await stat(path.join(m.mnt, 'sized/big'))).size, 200 * 1024);
      assert.deepEqual(s3.counts(), { HEAD: 1 }, 'a file above 64 KiB is not downloaded to be stat-ed');

      // another client rewrites s09 after our listing: the GET of the listed version fails its
      // If-Match, and a HEAD says what is there now
      await s3.putObject(BUCKET, 'small/s09', 'rewritten elsewhere\n');
      s3.clearRequests();
      const st = await stat(path.join(dir, 's09'));
      assert.equal(st.size, Buffer.byteLength('rewritten elsewhere\n'));
      assert.deepEqual(s3.counts(), { GET: 1, HEAD: 1 });
      assert.equal(await readFile(path.join(dir, 's09'), 'utf8'), 'rewritten elsewhere\n');
    } finally {
      await m.unmount();
    }
  },
);

test(
  `find over a tree of ${TREE_DIRS} directories: the walk shows itself after two of them, and one recursive LIST answers the rest`,
  { timeout: 120_000 },
  async () => {
    const m = await mount(s3, `moto:${BUCKET}`);
    try {
      const { r, reqs } = await atDistance('find', [path.join(m.mnt, 'tree'), '-type', 'f']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').length, TREE_DIRS * 10);
      // tree/, d00 and d01 (after which the walk is known), then one recursive LIST of tree/
      const lists = reqs.filter((q) => q.type === 'LIST');
      assert.equal(lists.length, 4, reqs.map((q) => `${q.method} ${q.rawUrl}`).join('\n'));
      assert.equal(lists.filter((q) => q.query.delimiter === undefined).length, 1, 'one recursive LIST');
      // the only other requests: a HEAD of each directory's marker (its stored times and mode),
      // at most once per directory, many at a time
      const heads = reqs.filter((q) => q.type !== 'LIST');
      assert.ok(
        heads.every((q) => q.type === 'HEAD' && q.path.endsWith('/')),
        heads.map((q) => `${q.method} ${q.rawUrl}`).join('\n'),
      );
      // tree/, d00 and d01 before the walk shows itself; the recursive LIST then shows that no
      // other directory has a marker: nothing more to ask
      assert.ok(heads.length <= 3, `${heads.length} marker HEADs`);
      const trips = roundTrips(reqs);
      assert.ok(trips <= 7, `${trips} round trips`);
      console.log(`# find over ${TREE_DIRS} directories at 20 ms: ${lists.length} LISTs and ${heads.length} marker HEADs in ${trips} round trips`);
    } finally {
      s3.faultHook = undefined;
      await m.unmount();
    }
  },
);
