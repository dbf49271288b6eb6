// The S3 backend against a real S3 server (moto): objects, listings, names, metadata,
// Glacier, buckets, multipart bookkeeping. Assertions check what the server received (the
// recording proxy) and what it stored (a direct client or boto3).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, CreateMultipartUploadCommand } from '@aws-sdk/client-s3';
import { TestS3 } from '../helpers/s3-server.js';
import { boto3 } from '../helpers/run.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import { logicalNameFromBytes, logicalNameToBytes } from '../../src/backend/s3/utf8.js';
import { backendFor, freshBucket, readAll } from './backend-fixtures.js';

let s3: TestS3;
before(async () => {
  s3 = await TestS3.start();
});
after(async () => {
  await s3?.stop();
});

async function storedKeys(bucket: string): Promise<string[]> {
  const c = s3.directClient();
  try {
    const out = await c.send(new ListObjectsV2Command({ Bucket: bucket }));
    return (out.Contents ?? []).map((o) => o.Key!);
  } finally {
    c.destroy();
  }
}

test('put/head/read round trip with rclone mtime metadata, read by boto3 as the exact string', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3);
  const info = await be.put(b, 'dir/hello.txt', Buffer.from('hello world'), { mtimeNs: 1600000000123456789n });
  assert.equal(info.size, 11);
  assert.equal(info.md5, '5eb63bbbe01eeed093cb22bb8f5acdc3');
  const put = s3.requests.find((r) => r.type === 'PUT')!;
  assert.equal(put.headers['x-amz-meta-mtime'], '1600000000.123456789');
  assert.equal(put.headers['content-md5'], Buffer.from('5eb63bbbe01eeed093cb22bb8f5acdc3', 'hex').toString('base64'));
  assert.equal(put.headers['content-type'], 'text/plain; charset=utf-8');
  const stored = await boto3(s3.directEndpoint, `print(s3.head_object(Bucket="${b}", Key="dir/hello.txt")["Metadata"]["mtime"])`);
  assert.equal(stored.trim(), '1600000000.123456789');

  const head = await be.head(b, 'dir/hello.txt');
  assert.equal(head?.mtimeNs, 1600000000123456789n);
  assert.equal(head?.md5, '5eb63bbbe01eeed093cb22bb8f5acdc3');
  const { body, info: ri } = await be.read(b, 'dir/hello.txt', { offset: 6, count: 5 });
  assert.equal((await readAll(body)).toString(), 'world');
  assert.equal(ri.size, 11);
  const get = s3.requests.filter((r) => r.type === 'GET').at(-1)!;
  assert.equal(get.headers.range, 'bytes=6-10');
  // past the end: an empty read
  const past = await be.read(b, 'dir/hello.txt', { offset: 11 });
  assert.equal((await readAll(past.body)).length, 0);
  assert.equal(await be.head(b, 'dir/missing.txt'), null);
  await assert.rejects(
    be.read(b, 'dir/missing.txt'),
    (e: unknown) => e instanceof BackendError && e.kind === 'NotFound' && e.message === 'GET dir/missing.txt: object not found',
  );
  be.destroy();
});

test('an object written by boto3 with rclone mtime metadata has nanosecond mtime', async () => {
  const b = await freshBucket(s3);
  await boto3(s3.directEndpoint, `s3.put_object(Bucket="${b}", Key="py.bin", Body=b"x", Metadata={"mtime": "1600000000.123456789"})`);
  const be = backendFor(s3);
  assert.equal((await be.head(b, 'py.bin'))?.mtimeNs, 1600000000123456789n);
  await boto3(s3.directEndpoint, `s3.put_object(Bucket="${b}", Key="py2.bin", Body=b"x", Metadata={"mtime": "1.6e9"})`);
  assert.equal((await be.head(b, 'py2.bin'))?.mtimeNs, null); // rclone rejects exponents too
  be.destroy();
});

test('If-Match: reading an object that changed fails with PreconditionFailed', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3);
  const first = await be.put(b, 'f', Buffer.from('one'), { mtimeNs: 1n });
  await be.put(b, 'f', Buffer.from('two!'), { mtimeNs: 2n });
  await assert.rejects(
    be.read(b, 'f', { ifMatch: first.etag, offset: 0, count: 2 }),
    (e: unknown) => e instanceof BackendError && e.kind === 'PreconditionFailed',
  );
  const ok = await be.read(b, 'f', { ifMatch: (await be.head(b, 'f'))!.etag });
  assert.equal((await readAll(ok.body)).toString(), 'two!');
  be.destroy();
});

test('delimiter and recursive listings: dirs, markers, own marker skipped, paging', async () => {
  const b = await freshBucket(s3);
  const c = s3.directClient();
  for (const k of ['top.txt', 'd/', 'd/a.txt', 'd/sub/', 'd/sub/b.txt', 'd/deep/c.txt', 'e/']) {
    await c.send(new PutObjectCommand({ Bucket: b, Key: k, Body: k.endsWith('/') ? '' : 'data' }));
  }
  c.destroy();
  const be = backendFor(s3);
  const ls = async (dir: string, recursive: boolean) => {
    const out: string[] = [];
    for await (const e of be.list(b, dir, { recursive })) out.push(`${e.kind}:${e.path}${e.marker ? '*' : ''}`);
    return out.sort();
  };
  assert.deepEqual(await ls('', false), ['dir:d', 'dir:e', 'object:top.txt']);
  assert.deepEqual(await ls('d', false), ['dir:d/deep', 'dir:d/sub', 'object:d/a.txt']);
  assert.deepEqual(await ls('d/', false), ['dir:d/deep', 'dir:d/sub', 'object:d/a.txt']);
  assert.deepEqual(await ls('e', false), []);
  assert.deepEqual(await ls('d', true), ['dir:d/sub*', 'object:d/a.txt', 'object:d/deep/c.txt', 'object:d/sub/b.txt']);
  assert.deepEqual(await ls('', true), ['dir:d*', 'dir:d/sub*', 'dir:e*', 'object:d/a.txt', 'object:d/deep/c.txt', 'object:d/sub/b.txt', 'object:top.txt']);
  await assert.rejects(
    (async () => {
      for await (const _ of be.list('no-such-bucket-x', '', { recursive: false })) void _;
    })(),
    (e: unknown) => e instanceof BackendError && e.kind === 'NoSuchBucket' && /bucket "no-such-bucket-x" not found/.test(e.message),
  );
  be.destroy();
});

test('hostile names round-trip and are stored under the keys rclone uses', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3);
  const invalid = logicalNameFromBytes(Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e])); // "bad\xff\xfe.bin"
  const long = 'L'.repeat(251) + '.txt'; // 255 bytes
  // [logical name, key rclone stores]
  const names: Array<[string, string]> = [
    ['caf\u00e9', 'caf\u00e9'], // NFC
    ['cafe\u0301', 'cafe\u0301'], // NFD: a different name
    [' lead and trail ', ' lead and trail '],
    ['a／b', 'a／b'], // '/' inside a name
    ['a‛／b', 'a‛／b'], // a literal fullwidth solidus in a name: kept quoted
    ['．', '．'], // '.' as a name
    ['．．', '．．'], // '..' as a name
    ['100% #1 ?&+=', '100% #1 ?&+='],
    [invalid, 'bad‛FF‛FE.bin'],
    [long, long],
  ];
  for (const [name] of names) await be.put(b, `n/${name}`, Buffer.from(JSON.stringify(name)), { mtimeNs: 1n });
  const keys = await storedKeys(b);
  for (const [name, key] of names) assert.ok(keys.includes(`n/${key}`), `stored key for ${JSON.stringify(name)}: ${JSON.stringify(keys)}`);
  const listed: string[] = [];
  for await (const e of be.list(b, 'n', { recursive: false })) listed.push(e.path.slice(2));
  assert.deepEqual(listed.sort(), names.map(([n]) => n).sort());
  for (const [name] of names) {
    const { body } = await be.read(b, `n/${name}`);
    assert.equal((await readAll(body)).toString(), JSON.stringify(name));
  }
  // the invalid bytes come back as the same bytes
  assert.deepEqual(logicalNameToBytes(listed.find((n) => n.startsWith('bad'))!), Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x62, 0x69, 0x6e]));
  // '.' and '..' path segments are names, never navigation
  await be.put(b, 'x/./y/../z', Buffer.from('dots'), { mtimeNs: 1n });
  assert.ok((await storedKeys(b)).includes('x/．/y/．．/z'));
  // too long for S3
  await assert.rejects(be.put(b, 'k'.repeat(1025), Buffer.from(''), { mtimeNs: 1n }), (e: unknown) => e instanceof BackendError && e.kind === 'InvalidName');
  be.destroy();
});

test('a key with a control character lists correctly (url-encoded listing)', async () => {
  const b = await freshBucket(s3);
  const c = s3.directClient();
  await c.send(new PutObjectCommand({ Bucket: b, Key: 'c/\x01ctl', Body: 'x' }));
  c.destroy();
  const be = backendFor(s3);
  const paths: string[] = [];
  for await (const e of be.list(b, 'c', { recursive: false })) paths.push(e.path);
  assert.deepEqual(paths, ['c/␁ctl']); // rclone shows control characters as their symbols
  assert.equal((await be.head(b, 'c/␁ctl'))?.size, 1);
  assert.equal(s3.requests.filter((r) => r.type === 'LIST').at(-1)!.query['encoding-type'], 'url');
  be.destroy();
});

test('server-side copy keeps metadata; setMtime replaces only the mtime', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3);
  await be.put(b, 'src.json', Buffer.from('{}'), { mtimeNs: 1000000000n, metadata: { owner: 'me' } });
  s3.clearRequests();
  await be.copy(b, 'src.json', b, 'dst.json');
  const copyReq = s3.requests.find((r) => r.type === 'COPY')!;
  assert.equal(copyReq.headers['x-amz-metadata-directive'], 'COPY');
  assert.equal(copyReq.headers['x-amz-copy-source'], `${b}/src.json`);
  const dst = await be.head(b, 'dst.json');
  assert.equal(dst?.mtimeNs, 1000000000n);
  assert.equal(dst?.metadata.owner, 'me');
  s3.clearRequests();
  await be.setMtime(b, 'dst.json', 2000000000123456789n);
  const replace = s3.requests.find((r) => r.type === 'COPY')!;
  assert.equal(replace.headers['x-amz-metadata-directive'], 'REPLACE');
  assert.equal(replace.headers['x-amz-meta-mtime'], '2000000000.123456789');
  const after = await be.head(b, 'dst.json');
  assert.equal(after?.mtimeNs, 2000000000123456789n);
  assert.equal(after?.metadata.owner, 'me');
  assert.equal(after?.contentType, 'application/json');
  await assert.rejects(be.copy(b, 'nope', b, 'x'), (e: unknown) => e instanceof BackendError && e.kind === 'NotFound');
  be.destroy();
});

test('a plain copy of a source whose size the caller knows is one CopyObject, no HEAD; metadata and the new ETag come with it', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3);
  await be.put(b, 'known.txt', Buffer.from('known size'), { mtimeNs: 1500000000n, metadata: { owner: 'me' } });
  s3.clearRequests();
  const copied = await be.copy(b, 'known.txt', b, 'copied.txt', { size: 10 });
  assert.deepEqual(s3.counts(), { COPY: 1 });
  const dst = await be.head(b, 'copied.txt');
  assert.equal(copied.etag, dst?.etag);
  assert.equal(dst?.mtimeNs, 1500000000n);
  assert.equal(dst?.metadata.owner, 'me');
  // the size unknown, or the metadata replaced: the HEAD is needed (copy_cutoff, the source's metadata)
  s3.clearRequests();
  await be.copy(b, 'known.txt', b, 'headed.txt');
  await be.copy(b, 'known.txt', b, 'retimed.txt', { size: 10, mtimeNs: 1600000000n });
  assert.deepEqual(s3.counts(), { HEAD: 2, COPY: 2 });
  await assert.rejects(be.copy(b, 'nope', b, 'x', { size: 3 }), (e: unknown) => e instanceof BackendError && e.kind === 'NotFound');
  be.destroy();
});

test("Glacier: reads fail with rclone's exact message until restored; restore sends RestoreObject", async () => {
  const b = await freshBucket(s3);
  const glacier = backendFor(s3, { storage_class: 'GLACIER' });
  await glacier.put(b, 'cold/file.txt', Buffer.from('ice'), { mtimeNs: 1n });
  const c = s3.directClient();
  await c.send(new PutObjectCommand({ Bucket: b, Key: 'cold/deep.txt', Body: 'x', StorageClass: 'DEEP_ARCHIVE' }));
  c.destroy();
  const be = backendFor(s3);
  assert.equal((await be.head(b, 'cold/file.txt'))?.storageClass, 'GLACIER');
  await assert.rejects(
    be.read(b, 'cold/file.txt'),
    (e: unknown) => e instanceof BackendError && e.kind === 'Archived' && e.message === 'Object in GLACIER, restore first: cold/file.txt',
  );
  await assert.rejects(
    be.read(b, 'cold/deep.txt'),
    (e: unknown) => e instanceof BackendError && e.kind === 'Archived' && e.message === 'Object in DEEP_ARCHIVE, restore first: cold/deep.txt',
  );
  await assert.rejects(be.setMtime(b, 'cold/file.txt', 5n), (e: unknown) => e instanceof BackendError && e.kind === 'Archived');
  s3.clearRequests();
  await be.restore(b, 'cold/file.txt', { days: 2, tier: 'Bulk' });
  const r = s3.requests.find((x) => x.method === 'POST' && 'restore' in x.query)!;
  assert.ok(r, 'RestoreObject sent');
  const head = await be.head(b, 'cold/file.txt');
  assert.match(head?.restore ?? '', /ongoing-request="false"/);
  assert.equal((await readAll((await be.read(b, 'cold/file.txt')).body)).toString(), 'ice');
  glacier.destroy();
  be.destroy();
});

test('delete in batches of 1000 with missing keys ignored', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3);
  const paths = Array.from({ length: 1003 }, (_, i) => `many/${i}`);
  const c = s3.directClient();
  await Promise.all(paths.slice(0, 30).map((k) => c.send(new PutObjectCommand({ Bucket: b, Key: k, Body: 'x' }))));
  c.destroy();
  s3.clearRequests();
  await be.delete(b, [...paths, 'never/existed']);
  const dels = s3.requests.filter((r) => r.type === 'DEL');
  assert.equal(dels.length, 2);
  assert.ok(dels[0]!.headers['content-md5'], 'Content-MD5 on DeleteObjects for S3 clones');
  assert.deepEqual(await storedKeys(b), []);
  be.destroy();
});

test('directory markers: zero-byte dir/ typed application/x-directory with an mtime', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, {}, { now: () => 1700000000000000000n });
  await be.makeDirMarker(b, 'photos/2024/');
  const c = s3.directClient();
  const h = await c.send(new HeadObjectCommand({ Bucket: b, Key: 'photos/2024/' }));
  c.destroy();
  assert.equal(h.ContentLength, 0);
  assert.equal(h.ContentType, 'application/x-directory');
  assert.equal(h.Metadata?.mtime, '1700000000');
  const listed: string[] = [];
  for await (const e of be.list(b, 'photos', { recursive: false })) listed.push(`${e.kind}:${e.path}`);
  assert.deepEqual(listed, ['dir:photos/2024']);
  listed.length = 0;
  for await (const e of be.list(b, 'photos/2024', { recursive: false })) listed.push(e.path);
  assert.deepEqual(listed, []);
  be.destroy();
});

test('buckets: make (idempotent), exists, list, remove; missing bucket errors name it', async () => {
  const be = backendFor(s3);
  const name = `mk-${process.pid}`;
  await be.makeBucket(name);
  await be.makeBucket(name);
  assert.equal(await be.bucketExists(name), true);
  assert.ok((await be.listBuckets()).some((x) => x.name === name));
  await be.removeBucket(name);
  assert.equal(await be.bucketExists(name), false);
  await assert.rejects(
    be.read('missing-bucket-zz', 'a.txt'),
    (e: unknown) => e instanceof BackendError && e.kind === 'NoSuchBucket' && e.message === 'GET a.txt: bucket "missing-bucket-zz" not found',
  );
  be.destroy();
});

test('multipart uploads are listed (paged) and aborted by logical path', async () => {
  const b = await freshBucket(s3);
  const c = s3.directClient();
  for (const k of ['up/a', 'up/b', 'up/c', 'other/d']) await c.send(new CreateMultipartUploadCommand({ Bucket: b, Key: k }));
  c.destroy();
  const be = backendFor(s3, { list_chunk: 2 });
  const all = await be.listMultipartUploads(b);
  assert.equal(all.length, 4);
  const under = await be.listMultipartUploads(b, 'up/');
  assert.deepEqual(under.map((u) => u.key).sort(), ['up/a', 'up/b', 'up/c']);
  await be.abortMultipartUpload(b, under[0]!.key, under[0]!.uploadId);
  assert.equal((await be.listMultipartUploads(b)).length, 3);
  be.destroy();
});

test('streaming put of known size below the cutoff is one PUT', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3);
  s3.clearRequests();
  const info = await be.put(b, 's.bin', Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(24, 2)]), { size: 1024, mtimeNs: 3n });
  assert.equal(info.size, 1024);
  assert.deepEqual(s3.counts(), { PUT: 1 });
  const c = s3.directClient();
  const got = await c.send(new GetObjectCommand({ Bucket: b, Key: 's.bin' }));
  assert.equal((await got.Body!.transformToByteArray()).length, 1024);
  c.destroy();
  be.destroy();
});
