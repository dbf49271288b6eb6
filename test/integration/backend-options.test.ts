// One test per S3 option with an observable effect: what the server received (headers,
// queries, request counts and sizes through the recording proxy) and what it stored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { TestS3, type RecordedRequest } from '../helpers/s3-server.js';
import { boto3 } from '../helpers/run.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import { backendFor, freshBucket, MiB, readAll } from './backend-fixtures.js';

let s3: TestS3;
before(async () => {
  s3 = await TestS3.start();
});
after(async () => {
  await s3?.stop();
});

const pattern = (n: number) => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 11)) & 0xff;
  return b;
};
/** a stream of unknown length, in odd-sized chunks */
const streamOf = (buf: Buffer) =>
  Readable.from(
    (function* () {
      for (let o = 0; o < buf.length; o += 777_777) yield buf.subarray(o, Math.min(buf.length, o + 777_777));
    })(),
  );
const ofType = (t: string) => s3.requests.filter((r) => r.type === t);
const md5hex = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function storedBody(bucket: string, key: string): Promise<Buffer> {
  const c = s3.directClient();
  try {
    const out = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } finally {
    c.destroy();
  }
}
async function storedHead(bucket: string, key: string) {
  const c = s3.directClient();
  try {
    return await c.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } finally {
    c.destroy();
  }
}

test('acl: x-amz-acl on PUT, multipart create, copy and CreateBucket; stored as a grant', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, { acl: 'public-read', upload_cutoff: 5 * MiB });
  s3.clearRequests();
  await be.put(b, 'p.txt', Buffer.from('x'), { mtimeNs: 1n });
  await be.put(b, 'big.bin', pattern(6 * MiB), { mtimeNs: 1n });
  await be.copy(b, 'p.txt', b, 'p2.txt');
  await be.makeBucket(`acl-${process.pid}`);
  assert.equal(ofType('PUT').find((r) => r.path.endsWith('/p.txt'))!.headers['x-amz-acl'], 'public-read');
  assert.equal(ofType('MPc')[0]!.headers['x-amz-acl'], 'public-read');
  assert.equal(ofType('COPY')[0]!.headers['x-amz-acl'], 'public-read');
  assert.equal(s3.requests.find((r) => r.method === 'PUT' && r.path.replace(/\/$/, '') === `/acl-${process.pid}`)!.headers['x-amz-acl'], 'public-read');
  const grants = await boto3(
    s3.directEndpoint,
    `print(json.dumps([g["Grantee"].get("URI","") for g in s3.get_object_acl(Bucket="${b}", Key="p2.txt")["Grants"]]))`,
  );
  assert.match(grants, /AllUsers/);
  be.destroy();
});

test('bucket_acl: used for CreateBucket instead of acl; location_constraint sent and stored', async () => {
  const be = backendFor(s3, { acl: 'private', bucket_acl: 'public-read', location_constraint: 'eu-west-1' });
  const name = `bacl-${process.pid}`;
  s3.clearRequests();
  await be.makeBucket(name);
  assert.deepEqual(
    s3.requests.map((r) => r.method),
    ['HEAD', 'PUT'],
  );
  const create = s3.requests[1]!;
  assert.equal(create.headers['x-amz-acl'], 'public-read');
  const loc = await boto3(s3.directEndpoint, `print(s3.get_bucket_location(Bucket="${name}")["LocationConstraint"])`);
  assert.equal(loc.trim(), 'eu-west-1');
  be.destroy();
});

test('storage_class: header on PUT, multipart and copy; stored class', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, { storage_class: 'STANDARD_IA', upload_cutoff: 5 * MiB });
  s3.clearRequests();
  await be.put(b, 'a', Buffer.from('x'), { mtimeNs: 1n });
  await be.put(b, 'm', pattern(6 * MiB), { mtimeNs: 1n });
  await be.copy(b, 'a', b, 'a2');
  for (const r of [ofType('PUT')[0]!, ofType('MPc')[0]!, ofType('COPY')[0]!]) assert.equal(r.headers['x-amz-storage-class'], 'STANDARD_IA', r.type);
  for (const k of ['a', 'm', 'a2']) assert.equal((await storedHead(b, k)).StorageClass, 'STANDARD_IA', k);
  be.destroy();
});

test('server_side_encryption and sse_kms_key_id: headers on object creation', async () => {
  const b = await freshBucket(s3);
  const aes = backendFor(s3, { server_side_encryption: 'AES256' });
  s3.clearRequests();
  await aes.put(b, 'aes', Buffer.from('x'), { mtimeNs: 1n });
  assert.equal(ofType('PUT')[0]!.headers['x-amz-server-side-encryption'], 'AES256');
  assert.equal((await storedHead(b, 'aes')).ServerSideEncryption, 'AES256');
  const kms = backendFor(s3, { server_side_encryption: 'aws:kms', sse_kms_key_id: 'arn:aws:kms:us-east-1:123456789012:key/abc', upload_cutoff: 5 * MiB });
  s3.clearRequests();
  const info = await kms.put(b, 'kms', Buffer.from('hello'), { mtimeNs: 1n });
  await kms.put(b, 'kms-mp', pattern(6 * MiB), { mtimeNs: 1n });
  await kms.copy(b, 'kms', b, 'kms2');
  for (const r of [ofType('PUT')[0]!, ofType('MPc')[0]!, ofType('COPY')[0]!]) {
    assert.equal(r.headers['x-amz-server-side-encryption'], 'aws:kms', r.type);
    assert.equal(r.headers['x-amz-server-side-encryption-aws-kms-key-id'], 'arn:aws:kms:us-east-1:123456789012:key/abc', r.type);
  }
  // with KMS the ETag is not the MD5: rclone keeps the MD5 in md5chksum instead
  assert.equal(ofType('PUT')[0]!.headers['x-amz-meta-md5chksum'], Buffer.from(md5hex(Buffer.from('hello')), 'hex').toString('base64'));
  assert.equal(info.md5, md5hex(Buffer.from('hello')));
  aes.destroy();
  kms.destroy();
});

test('SSE-C: customer key headers on PUT, GET, HEAD, multipart, parts, copies; round trip', async () => {
  const b = await freshBucket(s3);
  const key = 'an-example-32-byte-customer-key!';
  const keyB64 = Buffer.from(key).toString('base64');
  const keyMd5 = createHash('md5').update(key).digest('base64');
  const be = backendFor(s3, { sse_customer_algorithm: 'AES256', sse_customer_key: key, upload_cutoff: 5 * MiB, copy_cutoff: 5 * MiB });
  s3.clearRequests();
  await be.put(b, 'small', Buffer.from('secret'), { mtimeNs: 1n });
  const big = pattern(6 * MiB);
  await be.put(b, 'big', big, { mtimeNs: 1n });
  assert.equal((await readAll((await be.read(b, 'small')).body)).toString(), 'secret');
  assert.equal((await be.head(b, 'big'))?.size, big.length);
  await be.copy(b, 'small', b, 'small2');
  await be.copy(b, 'big', b, 'big2'); // multipart copy (copy_cutoff 5 MiB)
  const withKey = (r: RecordedRequest) =>
    r.headers['x-amz-server-side-encryption-customer-algorithm'] === 'AES256' &&
    r.headers['x-amz-server-side-encryption-customer-key'] === keyB64 &&
    r.headers['x-amz-server-side-encryption-customer-key-md5'] === keyMd5;
  const withSourceKey = (r: RecordedRequest) =>
    r.headers['x-amz-copy-source-server-side-encryption-customer-algorithm'] === 'AES256' &&
    r.headers['x-amz-copy-source-server-side-encryption-customer-key'] === keyB64 &&
    r.headers['x-amz-copy-source-server-side-encryption-customer-key-md5'] === keyMd5;
  for (const r of s3.requests.filter((x) => ['PUT', 'GET', 'HEAD', 'MPc', 'MPp', 'COPY'].includes(x.type))) {
    assert.ok(withKey(r), `${r.type} ${r.rawUrl} carries the customer key`);
    if (r.type === 'COPY') assert.ok(withSourceKey(r), `${r.rawUrl} carries the copy-source key`);
  }
  assert.equal(ofType('COPY').length, 1 + 2); // one CopyObject, two UploadPartCopy
  assert.ok(ofType('MPp').length >= 2);
  assert.deepEqual(await readAll((await be.read(b, 'big2')).body), big);
  // the key never appears in an error message
  const bad = backendFor(s3, { sse_customer_algorithm: 'AES256', sse_customer_key: key });
  await s3.withFault(
    () => ({ status: 400, code: 'InvalidArgument' }),
    () => assert.rejects(bad.head(b, 'small'), (e: unknown) => e instanceof BackendError && !e.message.includes(key) && !e.message.includes(keyB64)),
  );
  be.destroy();
  bad.destroy();
  // sse_customer_key_md5 given (rclone's option): sent as given, and the object reads back
  const given = backendFor(s3, { sse_customer_algorithm: 'AES256', sse_customer_key: key, sse_customer_key_md5: keyMd5 });
  s3.clearRequests();
  assert.equal((await readAll((await given.read(b, 'small')).body)).toString(), 'secret');
  assert.equal(s3.requests[0]!.headers['x-amz-server-side-encryption-customer-key-md5'], keyMd5);
  given.destroy();
});

test('upload_cutoff: below it one PUT, at it a multipart upload (as rclone: size >= cutoff)', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, { upload_cutoff: 1 * MiB });
  s3.clearRequests();
  await be.put(b, 'below', pattern(MiB - 1), { mtimeNs: 1n });
  assert.deepEqual(s3.counts(), { PUT: 1 });
  s3.clearRequests();
  await be.put(b, 'at', pattern(MiB), { mtimeNs: 1n });
  assert.deepEqual(s3.counts(), { MPc: 1, MPp: 1, MPf: 1 });
  assert.deepEqual(await storedBody(b, 'at'), pattern(MiB));
  be.destroy();
});

test('chunk_size: a 12 MiB stream with 5M chunks is 1 create, 3 parts (5, 5, 2 MiB), 1 complete', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, { chunk_size: 5 * MiB });
  const data = pattern(12 * MiB);
  s3.clearRequests();
  const progress: number[] = [];
  const info = await be.put(b, 'stream.bin', streamOf(data), { mtimeNs: 1n, onProgress: (n) => progress.push(n) });
  assert.deepEqual(s3.counts(), { MPc: 1, MPp: 3, MPf: 1 });
  assert.deepEqual(
    ofType('MPp')
      .map((r) => [Number(r.query.partNumber), r.bytesIn])
      .sort((x, y) => x[0]! - y[0]!),
    [
      [1, 5 * MiB],
      [2, 5 * MiB],
      [3, 2 * MiB],
    ],
  );
  assert.equal(info.size, data.length);
  assert.equal(progress.at(-1), data.length);
  assert.deepEqual(await storedBody(b, 'stream.bin'), data);
  // a stream's MD5 is not known before the upload: no md5chksum, as rclone's streamed uploads
  assert.equal(ofType('MPc')[0]!.headers['x-amz-meta-md5chksum'], undefined);
  assert.equal(ofType('MPc')[0]!.headers['x-amz-meta-mtime'], '0.000000001');
  // a short stream of unknown length is a single PUT
  s3.clearRequests();
  await be.put(b, 'short.bin', streamOf(pattern(1000)), { mtimeNs: 1n });
  assert.deepEqual(s3.counts(), { PUT: 1 });
  assert.ok(ofType('PUT')[0]!.headers['content-md5']);
  be.destroy();
});

test('disable_checksum: md5chksum stored on multipart uploads unless disabled', async () => {
  const b = await freshBucket(s3);
  const data = pattern(6 * MiB);
  const on = backendFor(s3, { upload_cutoff: 5 * MiB });
  s3.clearRequests();
  const info = await on.put(b, 'with', data, { mtimeNs: 1n });
  const want = Buffer.from(md5hex(data), 'hex').toString('base64');
  assert.equal(ofType('MPc')[0]!.headers['x-amz-meta-md5chksum'], want);
  assert.equal((await storedHead(b, 'with')).Metadata?.md5chksum, want);
  assert.equal(info.md5, md5hex(data));
  assert.equal((await on.head(b, 'with'))?.md5, md5hex(data));
  const off = backendFor(s3, { upload_cutoff: 5 * MiB, disable_checksum: true });
  s3.clearRequests();
  await off.put(b, 'without', data, { mtimeNs: 1n });
  assert.equal(ofType('MPc')[0]!.headers['x-amz-meta-md5chksum'], undefined);
  assert.equal((await storedHead(b, 'without')).Metadata?.md5chksum, undefined);
  assert.equal((await off.head(b, 'without'))?.md5, undefined);
  on.destroy();
  off.destroy();
});

test('disable_checksum with a hashable stream (hashMd5, a local file): hashed first as rclone, except multipart + disable_checksum', async () => {
  const b = await freshBucket(s3);
  const small = pattern(100 * 1024);
  const big = pattern(6 * MiB);
  let calls = 0;
  const hashOf = (buf: Buffer) => async () => {
    calls++;
    return md5hex(buf);
  };
  const on = backendFor(s3, { upload_cutoff: 5 * MiB });
  // single PUT of a stream of known size: Content-MD5, checked by the server
  s3.clearRequests();
  await on.put(b, 'small', Readable.from([small]), { size: small.length, mtimeNs: 1n, hashMd5: hashOf(small) });
  assert.equal(calls, 1);
  assert.equal(ofType('PUT')[0]!.headers['content-md5'], Buffer.from(md5hex(small), 'hex').toString('base64'));
  // multipart: X-Amz-Meta-Md5chksum, which a multipart ETag cannot give
  s3.clearRequests();
  const info = await on.put(b, 'big', Readable.from([big]), { size: big.length, mtimeNs: 1n, hashMd5: hashOf(big) });
  assert.equal(calls, 2);
  assert.equal((await storedHead(b, 'big')).Metadata?.md5chksum, Buffer.from(md5hex(big), 'hex').toString('base64'));
  assert.equal(info.md5, md5hex(big));
  // disable_checksum: a multipart upload does not even read the file for it (rclone neither)
  const off = backendFor(s3, { upload_cutoff: 5 * MiB, disable_checksum: true });
  await off.put(b, 'big-off', Readable.from([big]), { size: big.length, mtimeNs: 1n, hashMd5: hashOf(big) });
  assert.equal(calls, 2);
  assert.equal((await storedHead(b, 'big-off')).Metadata?.md5chksum, undefined);
  on.destroy();
  off.destroy();
});

test('upload_concurrency: parts in flight never exceed it', async () => {
  const b = await freshBucket(s3);
  const maxInFlight = async (concurrency: number) => {
    const be = backendFor(s3, { upload_concurrency: concurrency, chunk_size: 5 * MiB });
    s3.clearRequests();
    let max = 0;
    const countOpenParts = (req: { type: string }) => {
      if (req.type === 'MPp') {
        const open = s3.requests.filter((r) => r.type === 'MPp' && r.status === 0).length;
        max = Math.max(max, open);
      }
      return undefined;
    };
    await s3.withFault(countOpenParts, () => be.put(b, `c${concurrency}`, streamOf(pattern(20 * MiB + 1)), { mtimeNs: 1n }));
    be.destroy();
    assert.equal(ofType('MPp').length, 5);
    return max;
  };
  assert.equal(await maxInFlight(1), 1);
  const three = await maxInFlight(3);
  assert.ok(three >= 2 && three <= 3, `in flight with upload_concurrency 3: ${three}`);
});

test('max_upload_parts: part size grows for known sizes; an unknown-size stream over the limit fails cleanly', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, { upload_cutoff: 0, chunk_size: 5 * MiB, max_upload_parts: 2 });
  s3.clearRequests();
  const data = pattern(12 * MiB);
  await be.put(b, 'known', data, { mtimeNs: 1n });
  assert.deepEqual(
    ofType('MPp')
      .map((r) => r.bytesIn)
      .sort(),
    [6 * MiB, 6 * MiB],
  );
  assert.deepEqual(await storedBody(b, 'known'), data);
  s3.clearRequests();
  await assert.rejects(
    be.put(b, 'too-big', streamOf(pattern(11 * MiB)), { mtimeNs: 1n }),
    (e: unknown) => e instanceof BackendError && e.kind === 'TooLarge' && /--s3-chunk-size/.test(e.message) && /2 parts of 5Mi/.test(e.message),
  );
  assert.equal(ofType('MPabort').length, 1);
  assert.deepEqual(await be.listMultipartUploads(b), []);
  be.destroy();
});

test('copy_cutoff: copies at or above it use UploadPartCopy and keep the metadata', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, { copy_cutoff: 5 * MiB });
  const data = pattern(6 * MiB + 3);
  await be.put(b, 'src', data, { mtimeNs: 1234500000000n, metadata: { tag: 'v' }, contentType: 'application/x-test' });
  s3.clearRequests();
  await be.copy(b, 'src', b, 'dst');
  const parts = ofType('COPY');
  assert.equal(parts.length, 2);
  assert.deepEqual(parts.map((r) => r.headers['x-amz-copy-source-range']).sort(), [`bytes=0-${5 * MiB - 1}`, `bytes=${5 * MiB}-${data.length - 1}`]);
  assert.equal(ofType('MPc').length, 1);
  assert.equal(ofType('MPf').length, 1);
  assert.deepEqual(await storedBody(b, 'dst'), data);
  const h = await storedHead(b, 'dst');
  assert.equal(h.Metadata?.mtime, '1234.5');
  assert.equal(h.Metadata?.tag, 'v');
  assert.equal(h.ContentType, 'application/x-test');
  // below the cutoff: one CopyObject
  await be.put(b, 'small', Buffer.from('s'), { mtimeNs: 1n });
  s3.clearRequests();
  await be.copy(b, 'small', b, 'small2');
  assert.deepEqual(s3.counts(), { HEAD: 1, COPY: 1 });
  be.destroy();
});

test('leave_parts_on_error: a failed upload is aborted by default and left in place when set', async () => {
  const b = await freshBucket(s3);
  const failPart2 = (req: { type: string; query: Record<string, string> }) =>
    req.type === 'MPp' && req.query.partNumber === '2' ? { status: 500, code: 'InternalError' } : undefined;
  const be = backendFor(s3, { chunk_size: 5 * MiB, upload_concurrency: 1 });
  s3.clearRequests();
  await s3.withFault(failPart2, () =>
    assert.rejects(
      be.put(b, 'fail', streamOf(pattern(11 * MiB)), { mtimeNs: 1n }),
      (e: unknown) => e instanceof BackendError && e.kind === 'Server' && /after 4 attempts/.test(e.message),
    ),
  );
  assert.equal(ofType('MPabort').length, 1);
  assert.deepEqual(await be.listMultipartUploads(b), []);
  const leave = backendFor(s3, { chunk_size: 5 * MiB, upload_concurrency: 1, leave_parts_on_error: true });
  s3.clearRequests();
  await s3.withFault(failPart2, () => assert.rejects(leave.put(b, 'left', streamOf(pattern(11 * MiB)), { mtimeNs: 1n })));
  assert.equal(ofType('MPabort').length, 0);
  const left = await leave.listMultipartUploads(b);
  assert.deepEqual(
    left.map((u) => u.key),
    ['left'],
  );
  await leave.abortMultipartUpload(b, 'left', left[0]!.uploadId);
  be.destroy();
  leave.destroy();
});

test('list_chunk: max-keys per request, 25 keys in pages of 10', async () => {
  const b = await freshBucket(s3);
  const c = s3.directClient();
  await Promise.all(Array.from({ length: 25 }, (_, i) => c.send(new PutObjectCommand({ Bucket: b, Key: `k/${String(i).padStart(2, '0')}`, Body: 'x' }))));
  c.destroy();
  const be = backendFor(s3, { list_chunk: 10 });
  s3.clearRequests();
  const got: string[] = [];
  for await (const e of be.list(b, 'k', { recursive: false })) got.push(e.path);
  assert.equal(got.length, 25);
  const lists = ofType('LIST');
  assert.equal(lists.length, 3);
  for (const r of lists) assert.equal(r.query['max-keys'], '10');
  assert.ok(lists[1]!.query['continuation-token']);
  be.destroy();
});

test('no_check_bucket: makeBucket sends nothing; otherwise HEAD then create', async () => {
  const be = backendFor(s3, { no_check_bucket: true });
  s3.clearRequests();
  await be.makeBucket(`ncb-${process.pid}`);
  assert.equal(s3.requests.length, 0);
  const check = backendFor(s3);
  await check.makeBucket(`ncb-${process.pid}`);
  assert.deepEqual(
    s3.requests.map((r) => `${r.method} ${r.status}`),
    ['HEAD 404', 'PUT 200'],
  );
  s3.clearRequests();
  await check.makeBucket(`ncb-${process.pid}`);
  assert.deepEqual(
    s3.requests.map((r) => `${r.method} ${r.status}`),
    ['HEAD 200'],
  );
  be.destroy();
  check.destroy();
});

test('force_path_style: path style puts the bucket in the path; virtual-hosted in the Host', async () => {
  const b = await freshBucket(s3);
  const path = backendFor(s3, { force_path_style: true });
  s3.clearRequests();
  await path.put(b, 'ps.txt', Buffer.from('p'), { mtimeNs: 1n });
  assert.equal(s3.requests[0]!.host, `127.0.0.1:${s3.port}`);
  assert.equal(s3.requests[0]!.path, `/${b}/ps.txt`);
  // a hostname (an IP forces path style in the SDK); every name resolves to the test proxy
  const lookup = ((_h: string, o: { all?: boolean }, cb: (...a: unknown[]) => void) =>
    o?.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as never;
  const vhost = backendFor(s3, { force_path_style: false, endpoint: `http://s3.bucketfs.test:${s3.port}` }, { lookup });
  s3.clearRequests();
  await vhost.put(b, 'vh.txt', Buffer.from('v'), { mtimeNs: 1n });
  assert.equal((await readAll((await vhost.read(b, 'vh.txt')).body)).toString(), 'v');
  for (const r of s3.requests) {
    assert.equal(r.host, `${b}.s3.bucketfs.test:${s3.port}`);
    assert.equal(r.path, '/vh.txt');
  }
  assert.deepEqual(await storedBody(b, 'vh.txt'), Buffer.from('v'));
  path.destroy();
  vhost.destroy();
});

test('encoding: extra encoder flags change the stored keys, and names come back', async () => {
  const b = await freshBucket(s3);
  const be = backendFor(s3, { encoding: ['Slash', 'InvalidUtf8', 'Dot', 'Colon', 'Asterisk', 'LeftSpace', 'RightPeriod'] });
  const names = ['a:b*c', ' lead', 'end.'];
  for (const n of names) await be.put(b, n, Buffer.from(n), { mtimeNs: 1n });
  const keys = await boto3(s3.directEndpoint, `print(json.dumps(sorted(o["Key"] for o in s3.list_objects_v2(Bucket="${b}")["Contents"])))`);
  assert.deepEqual(JSON.parse(keys), ['a：b＊c', 'end．', '␠lead'].sort());
  const listed: string[] = [];
  for await (const e of be.list(b, '', { recursive: false })) listed.push(e.path);
  assert.deepEqual(listed.sort(), [...names].sort());
  be.destroy();
});
