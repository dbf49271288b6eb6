// The test harness itself: moto starts, the proxy records what passes through it, and
// injected faults reach the client. Every other integration test relies on these.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client, PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { TestS3, TEST_ACCESS_KEY, TEST_SECRET_KEY } from '../helpers/s3-server.js';
import { boto3 } from '../helpers/run.js';

let s3: TestS3;
before(async () => {
  s3 = await TestS3.start();
  await s3.createBucket('harness-bucket');
});
after(async () => {
  await s3?.stop();
});

test('proxy records requests with their headers and type', async () => {
  const c = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
  });
  s3.clearRequests();
  await c.send(new PutObjectCommand({ Bucket: 'harness-bucket', Key: 'a b.txt', Body: 'hello', Metadata: { mtime: '1.5' } }));
  const got = await c.send(new GetObjectCommand({ Bucket: 'harness-bucket', Key: 'a b.txt' }));
  assert.equal(await got.Body!.transformToString(), 'hello');
  assert.deepEqual(s3.counts(), { PUT: 1, GET: 1 });
  assert.equal(s3.requests[0]!.path, '/harness-bucket/a b.txt');
  assert.equal(s3.requests[0]!.headers['x-amz-meta-mtime'], '1.5');
  c.destroy();
});

test('injected faults reach the client', async () => {
  const c = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET_KEY },
  });
  await s3.withFault(
    () => ({ status: 503, code: 'SlowDown' }),
    () => assert.rejects(c.send(new GetObjectCommand({ Bucket: 'harness-bucket', Key: 'a b.txt' })), /injected|SlowDown/),
  );
  assert.equal(s3.faultHook, undefined, 'withFault clears the hook');
  // also when what runs under it throws
  await assert.rejects(
    s3.withFault(
      () => undefined,
      () => Promise.reject(new Error('boom')),
    ),
    /boom/,
  );
  assert.equal(s3.faultHook, undefined, 'withFault clears the hook after a failure');
  c.destroy();
});

test('boto3 sees what the server stored', async () => {
  const out = await boto3(s3.directEndpoint, 'print(s3.get_object(Bucket="harness-bucket", Key="a b.txt")["Metadata"]["mtime"])');
  assert.equal(out.trim(), '1.5');
});
