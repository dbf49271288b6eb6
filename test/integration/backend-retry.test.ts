// Retries: throttling and 5xx and dropped connections are retried with backoff on
// idempotent requests, within a bounded budget; one-shot streams are not replayed blindly;
// final errors name the operation, the path and (for network failures) the endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { TestS3 } from '../helpers/s3-server.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import { backendFor, freshBucket, MiB, readAll } from './backend-fixtures.js';

let s3: TestS3;
let bucket: string;
before(async () => {
  s3 = await TestS3.start();
  bucket = await freshBucket(s3);
  const be = backendFor(s3);
  await be.put(bucket, 'photos/a.jpg', Buffer.from('jpeg bytes'), { mtimeNs: 1n });
  be.destroy();
});
after(async () => {
  await s3?.stop();
});

/** fail the first `n` requests of a type with `fault`, then pass */
function failFirst(n: number, type: string, fault: { status: number; code: string } | 'reset') {
  let left = n;
  s3.faultHook = (req) => (req.type === type && left-- > 0 ? fault : undefined);
}

test('503 SlowDown twice, then success: 3 GETs', async () => {
  const be = backendFor(s3);
  s3.clearRequests();
  failFirst(2, 'GET', { status: 503, code: 'SlowDown' });
  const { body } = await be.read(bucket, 'photos/a.jpg');
  s3.faultHook = undefined;
  assert.equal((await readAll(body)).toString(), 'jpeg bytes');
  assert.deepEqual(s3.counts(), { GET: 3 });
  be.destroy();
});

test('a dropped connection is retried (HEAD, LIST)', async () => {
  const be = backendFor(s3);
  s3.clearRequests();
  failFirst(1, 'HEAD', 'reset');
  assert.equal((await be.head(bucket, 'photos/a.jpg'))?.size, 10);
  assert.deepEqual(s3.counts(), { HEAD: 2 });
  s3.clearRequests();
  failFirst(2, 'LIST', { status: 500, code: 'InternalError' });
  const names: string[] = [];
  for await (const e of be.list(bucket, 'photos', { recursive: false })) names.push(e.path);
  s3.faultHook = undefined;
  assert.deepEqual(names, ['photos/a.jpg']);
  assert.deepEqual(s3.counts(), { LIST: 3 });
  be.destroy();
});

test('budget exhausted: the error names the operation, the path, the attempts', async () => {
  const be = backendFor(s3, {}, { retries: 3 });
  s3.clearRequests();
  s3.faultHook = () => ({ status: 503, code: 'SlowDown' });
  await assert.rejects(be.read(bucket, 'photos/a.jpg'), (e: unknown) => e instanceof BackendError && e.kind === 'Throttled' && e.message === 'GET photos/a.jpg: throttled (SlowDown) after 3 attempts');
  s3.faultHook = () => ({ status: 502, code: 'BadGateway' });
  await assert.rejects(be.head(bucket, 'photos/a.jpg'), (e: unknown) => e instanceof BackendError && e.kind === 'Server' && /^HEAD photos\/a.jpg: server error \(HTTP 502/.test(e.message) && /after 3 attempts$/.test(e.message));
  s3.faultHook = undefined;
  assert.equal(s3.counts().GET, 3);
  be.destroy();
});

test('connection refused: Network error naming the endpoint, within the time budget', async () => {
  const be = backendFor(s3, { endpoint: 'http://127.0.0.1:9' }, { retries: 10, retryBaseMs: 2, retryMaxDelayMs: 10 });
  const started = Date.now();
  await assert.rejects(be.read(bucket, 'photos/a.jpg'), (e: unknown) => e instanceof BackendError && e.kind === 'Network' && e.message === 'GET photos/a.jpg: connection refused after 10 attempts (http://127.0.0.1:9)');
  assert.ok(Date.now() - started < 5000);
  const budget = backendFor(s3, { endpoint: 'http://127.0.0.1:9' }, { retries: 1000, retryBaseMs: 50, retryMaxDelayMs: 50, retryBudgetMs: 300 });
  const t0 = Date.now();
  await assert.rejects(budget.head(bucket, 'x'), (e: unknown) => e instanceof BackendError && e.kind === 'Network');
  assert.ok(Date.now() - t0 < 2000, 'the total time budget bounds the retries');
  be.destroy();
  budget.destroy();
});

test('a one-shot stream PUT is not replayed; with reopen() it is', async () => {
  const be = backendFor(s3);
  s3.clearRequests();
  failFirst(1, 'PUT', { status: 503, code: 'SlowDown' });
  await assert.rejects(
    be.put(bucket, 'once.bin', Readable.from([Buffer.from('stream data')]), { size: 11, mtimeNs: 1n }),
    (e: unknown) => e instanceof BackendError && e.kind === 'Throttled' && e.message === 'PUT once.bin: throttled (SlowDown)',
  );
  assert.deepEqual(s3.counts(), { PUT: 1 });
  s3.clearRequests();
  failFirst(1, 'PUT', { status: 503, code: 'SlowDown' });
  let opened = 0;
  const make = () => {
    opened++;
    return Readable.from([Buffer.from('stream data')]);
  };
  await be.put(bucket, 'again.bin', make(), { size: 11, mtimeNs: 1n, reopen: make });
  s3.faultHook = undefined;
  assert.deepEqual(s3.counts(), { PUT: 2 });
  assert.equal(opened, 2);
  assert.equal((await readAll((await be.read(bucket, 'again.bin')).body)).toString(), 'stream data');
  // a Buffer is always replayable
  s3.clearRequests();
  failFirst(1, 'PUT', 'reset');
  await be.put(bucket, 'buf.bin', Buffer.from('buffer'), { mtimeNs: 1n });
  s3.faultHook = undefined;
  assert.deepEqual(s3.counts(), { PUT: 2 });
  be.destroy();
});

test('a failed part is retried on its own; the upload completes', async () => {
  const be = backendFor(s3, { chunk_size: 5 * MiB });
  s3.clearRequests();
  let failed = false;
  s3.faultHook = (req) => {
    if (req.type === 'MPp' && req.query.partNumber === '2' && !failed) {
      failed = true;
      return 'reset';
    }
    return undefined;
  };
  const data = Buffer.alloc(11 * MiB, 9);
  await be.put(bucket, 'parts.bin', Readable.from([data]), { mtimeNs: 1n });
  s3.faultHook = undefined;
  assert.deepEqual(s3.counts(), { MPc: 1, MPp: 4, MPf: 1 });
  assert.equal((await be.head(bucket, 'parts.bin'))?.size, data.length);
  be.destroy();
});

test('an aborted signal stops an upload and aborts the multipart upload', async () => {
  const be = backendFor(s3, { chunk_size: 5 * MiB, upload_concurrency: 1 });
  const ac = new AbortController();
  s3.clearRequests();
  s3.faultHook = (req) => {
    if (req.type === 'MPp') ac.abort();
    return undefined;
  };
  await assert.rejects(
    be.put(bucket, 'aborted.bin', Readable.from([Buffer.alloc(11 * MiB)]), { mtimeNs: 1n, signal: ac.signal }),
    (e: unknown) => e instanceof BackendError && e.kind === 'Aborted',
  );
  s3.faultHook = undefined;
  assert.equal(s3.counts().MPabort, 1);
  assert.deepEqual(await be.listMultipartUploads(bucket), []);
  await assert.rejects(be.read(bucket, 'photos/a.jpg', { signal: AbortSignal.abort() }), (e: unknown) => e instanceof BackendError && e.kind === 'Aborted');
  be.destroy();
});
