// What a path lookup costs at a distance (#9): opening a known file in a big directory that was
// never listed must not list it. Counted at the server, with every request delayed 20 ms like a
// distant region; round trips are the requests that did not overlap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { TestS3, type RecordedRequest } from '../helpers/s3-server.js';
import { cleanupMounts, mount } from '../helpers/mount.js';

const BUCKET = 'lookup-bucket';
const FILES = 2000;
const LATENCY = { delayMs: 20 };
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

test(`opening one file of a ${FILES}-object directory never listed: HEAD + one-key LIST at once, then the GET`, { timeout: 120_000 }, async () => {
  // list_chunk 100: a listing of big/ would be 20 pages, which the counts below would show
  const m = await mount(s3, `moto:${BUCKET}`, { flags: ['--s3-list-chunk', '100'] });
  try {
    s3.faultHook = () => LATENCY;
    s3.clearRequests();
    assert.equal(await readFile(path.join(m.mnt, 'big/f01234'), 'utf8'), 'content 1234\n');
    const reqs = [...s3.requests];
    s3.faultHook = undefined;
    assert.deepEqual(s3.counts(), { HEAD: 1, LIST: 1, GET: 1 }, reqs.map((r) => `${r.method} ${r.rawUrl}`).join('\n'));
    const list = reqs.find((r) => r.type === 'LIST')!;
    assert.equal(list.query['max-keys'], '1');
    assert.equal(list.query.prefix, 'big/f01234/');
    assert.equal(roundTrips(reqs), 2, 'the HEAD and the LIST overlap; the GET follows');

    // a missing name next to it: the same probe, then remembered
    s3.clearRequests();
    await assert.rejects(stat(path.join(m.mnt, 'big/nope')), { code: 'ENOENT' });
    await assert.rejects(stat(path.join(m.mnt, 'big/nope')), { code: 'ENOENT' });
    assert.deepEqual(s3.counts(), { HEAD: 1, LIST: 1 });
  } finally {
    s3.faultHook = undefined;
    await m.unmount();
  }
});
