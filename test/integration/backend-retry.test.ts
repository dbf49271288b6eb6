// Retries: throttling and 5xx and dropped connections are retried with backoff on
// idempotent requests, within a bounded budget; one-shot streams are not replayed blindly;
// final errors name the operation, the path and (for network failures) the endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { TestS3, freePort } from '../helpers/s3-server.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import { createS3Backend } from '../../src/backend/s3/backend.js';
import { DEFAULT_RETRY } from '../../src/backend/s3/retry.js';
import { backendFor, defaultOptions, freshBucket, MiB, readAll } from './backend-fixtures.js';

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

/** a fault hook: fail the first `n` requests of a type with `fault`, then pass (use with s3.withFault) */
function failFirst(n: number, type: string, fault: { status: number; code: string } | 'reset'): NonNullable<TestS3['faultHook']> {
  let left = n;
  return (req) => (req.type === type && left-- > 0 ? fault : undefined);
}

test('503 SlowDown twice, then success: 3 GETs', async () => {
  const be = backendFor(s3);
  s3.clearRequests();
  const { body } = await s3.withFault(failFirst(2, 'GET', { status: 503, code: 'SlowDown' }), () => be.read(bucket, 'photos/a.jpg'));
  assert.equal((await readAll(body)).toString(), 'jpeg bytes');
  assert.deepEqual(s3.counts(), { GET: 3 });
  be.destroy();
});

test('a dropped connection is retried (HEAD, LIST)', async () => {
  const be = backendFor(s3);
  s3.clearRequests();
  assert.equal((await s3.withFault(failFirst(1, 'HEAD', 'reset'), () => be.head(bucket, 'photos/a.jpg')))?.size, 10);
  assert.deepEqual(s3.counts(), { HEAD: 2 });
  s3.clearRequests();
  const names: string[] = [];
  await s3.withFault(failFirst(2, 'LIST', { status: 500, code: 'InternalError' }), async () => {
    for await (const e of be.list(bucket, 'photos', { recursive: false })) names.push(e.path);
  });
  assert.deepEqual(names, ['photos/a.jpg']);
  assert.deepEqual(s3.counts(), { LIST: 3 });
  be.destroy();
});

test('budget exhausted: the error names the operation, the path, the attempts', async () => {
  const be = backendFor(s3, {}, { retries: 3 });
  s3.clearRequests();
  await s3.withFault(
    () => ({ status: 503, code: 'SlowDown' }),
    () =>
      assert.rejects(
        be.read(bucket, 'photos/a.jpg'),
        (e: unknown) => e instanceof BackendError && e.kind === 'Throttled' && e.message === 'GET photos/a.jpg: throttled (SlowDown) after 3 attempts',
      ),
  );
  await s3.withFault(
    () => ({ status: 502, code: 'BadGateway' }),
    () =>
      assert.rejects(
        be.head(bucket, 'photos/a.jpg'),
        (e: unknown) =>
          e instanceof BackendError &&
          e.kind === 'Server' &&
          /^HEAD photos\/a.jpg: server error \(HTTP 502/.test(e.message) &&
          /after 3 attempts$/.test(e.message),
      ),
  );
  assert.equal(s3.counts().GET, 3);
  be.destroy();
});

test('connection refused: Network error naming the endpoint, within the time budget', async () => {
  const be = backendFor(s3, { endpoint: 'http://127.0.0.1:9' }, { retries: 10, retryBaseMs: 2, retryMaxDelayMs: 10, retryRefusedAttempts: 10 });
  const started = Date.now();
  await assert.rejects(
    be.read(bucket, 'photos/a.jpg'),
    (e: unknown) =>
      e instanceof BackendError && e.kind === 'Network' && e.message === 'GET photos/a.jpg: connection refused after 10 attempts (http://127.0.0.1:9)',
  );
  assert.ok(Date.now() - started < 5000);
  const budget = backendFor(
    s3,
    { endpoint: 'http://127.0.0.1:9' },
    { retries: 1000, retryBaseMs: 50, retryMaxDelayMs: 50, retryBudgetMs: 300, retryRefusedAttempts: 1000 },
  );
  const t0 = Date.now();
  await assert.rejects(budget.head(bucket, 'x'), (e: unknown) => e instanceof BackendError && e.kind === 'Network');
  assert.ok(Date.now() - t0 < 2000, 'the total time budget bounds the retries');
  be.destroy();
  budget.destroy();
});

test('connection refused with the default policy: 4 attempts within ~3 s, where other failures get 10', async () => {
  const port = await freePort(); // nothing listens there
  const retries: string[] = [];
  const log = { error: () => {}, notice: () => {}, info: () => {}, debug: (m: string) => retries.push(m), enabled: () => true };
  const be = createS3Backend(defaultOptions(`http://127.0.0.1:${port}`), { log }); // DEFAULT_RETRY
  const t0 = Date.now();
  await assert.rejects(
    be.head(bucket, 'x'),
    (e: unknown) => e instanceof BackendError && e.kind === 'Network' && e.message === `HEAD x: connection refused after 4 attempts (http://127.0.0.1:${port})`,
  );
  const elapsed = Date.now() - t0;
  assert.equal(retries.filter((m) => /connection refused, retrying in \d+ms \(attempt \d\/4\)/.test(m)).length, 3, retries.join('\n'));
  assert.ok(elapsed < 10_000, `took ${elapsed} ms`); // by construction ≤ 3 s; loose against a loaded machine
  be.destroy();
  assert.equal(DEFAULT_RETRY.attempts, 10);
  assert.equal(DEFAULT_RETRY.refusedAttempts, 4);
  assert.equal(DEFAULT_RETRY.refusedBudgetMs, 3000);
  // a reset is not a refusal: it keeps the full attempt budget
  const reset = backendFor(s3, {}, { retries: 6, retryRefusedAttempts: 2 });
  s3.clearRequests();
  await s3.withFault(
    (req) => (req.type === 'HEAD' ? 'reset' : undefined),
    () =>
      assert.rejects(
        reset.head(bucket, 'photos/a.jpg'),
        (e: unknown) => e instanceof BackendError && e.kind === 'Network' && /after 6 attempts/.test(e.message),
      ),
  );
  assert.equal(s3.counts().HEAD, 6);
  reset.destroy();
});

test('a one-shot stream PUT is not replayed; with reopen() it is', async () => {
  const be = backendFor(s3);
  s3.clearRequests();
  await s3.withFault(failFirst(1, 'PUT', { status: 503, code: 'SlowDown' }), () =>
    assert.rejects(
      be.put(bucket, 'once.bin', Readable.from([Buffer.from('stream data')]), { size: 11, mtimeNs: 1n }),
      (e: unknown) => e instanceof BackendError && e.kind === 'Throttled' && e.message === 'PUT once.bin: throttled (SlowDown)',
    ),
  );
  assert.deepEqual(s3.counts(), { PUT: 1 });
  s3.clearRequests();
  let opened = 0;
  const make = () => {
    opened++;
    return Readable.from([Buffer.from('stream data')]);
  };
  await s3.withFault(failFirst(1, 'PUT', { status: 503, code: 'SlowDown' }), () =>
    be.put(bucket, 'again.bin', make(), { size: 11, mtimeNs: 1n, reopen: make }),
  );
  assert.deepEqual(s3.counts(), { PUT: 2 });
  assert.equal(opened, 2);
  assert.equal((await readAll((await be.read(bucket, 'again.bin')).body)).toString(), 'stream data');
  // a Buffer is always replayable
  s3.clearRequests();
  await s3.withFault(failFirst(1, 'PUT', 'reset'), () => be.put(bucket, 'buf.bin', Buffer.from('buffer'), { mtimeNs: 1n }));
  assert.deepEqual(s3.counts(), { PUT: 2 });
  be.destroy();
});

test('a failed part is retried on its own; the upload completes', async () => {
  const be = backendFor(s3, { chunk_size: 5 * MiB });
  s3.clearRequests();
  let failed = false;
  const resetPart2Once = (req: { type: string; query: Record<string, string> }) => {
    if (req.type === 'MPp' && req.query.partNumber === '2' && !failed) {
      failed = true;
      return 'reset' as const;
    }
    return undefined;
  };
  const data = Buffer.alloc(11 * MiB, 9);
  await s3.withFault(resetPart2Once, () => be.put(bucket, 'parts.bin', Readable.from([data]), { mtimeNs: 1n }));
  assert.ok(failed, 'part 2 had its connection dropped');
  assert.deepEqual(s3.counts(), { MPc: 1, MPp: 4, MPf: 1 });
  assert.equal((await be.head(bucket, 'parts.bin'))?.size, data.length);
  be.destroy();
});

test('an aborted signal stops an upload and aborts the multipart upload', async () => {
  const be = backendFor(s3, { chunk_size: 5 * MiB, upload_concurrency: 1 });
  const ac = new AbortController();
  s3.clearRequests();
  const abortOnPart = (req: { type: string }) => {
    if (req.type === 'MPp') ac.abort();
    return undefined;
  };
  await s3.withFault(abortOnPart, () =>
    assert.rejects(
      be.put(bucket, 'aborted.bin', Readable.from([Buffer.alloc(11 * MiB)]), { mtimeNs: 1n, signal: ac.signal }),
      (e: unknown) => e instanceof BackendError && e.kind === 'Aborted',
    ),
  );
  assert.equal(s3.counts().MPabort, 1);
  assert.deepEqual(await be.listMultipartUploads(bucket), []);
  await assert.rejects(be.read(bucket, 'photos/a.jpg', { signal: AbortSignal.abort() }), (e: unknown) => e instanceof BackendError && e.kind === 'Aborted');
  be.destroy();
});

test('put() of a stream of unknown size honours its signal while waiting for input', async () => {
  const be = backendFor(s3, { chunk_size: 5 * MiB, upload_concurrency: 1 });
  // 1. nothing received yet: aborted at once, no request sent
  s3.clearRequests();
  const idle = new PassThrough();
  const ac1 = new AbortController();
  const p1 = be.put(bucket, 'idle.bin', idle, { mtimeNs: 1n, signal: ac1.signal });
  setTimeout(() => ac1.abort(), 50);
  await assert.rejects(p1, (e: unknown) => e instanceof BackendError && e.kind === 'Aborted' && e.message === 'PUT idle.bin: aborted');
  assert.deepEqual(s3.counts(), {});
  // 2. two parts in, the multipart upload started, then the input stalls: aborted, upload aborted
  s3.clearRequests();
  const stalled = new PassThrough();
  const ac2 = new AbortController();
  const p2 = be.put(bucket, 'stalled.bin', stalled, { mtimeNs: 1n, signal: ac2.signal });
  stalled.write(Buffer.alloc(11 * MiB, 1)); // never ended
  const t0 = Date.now();
  while (!s3.requests.some((r) => r.type === 'MPp' && r.status === 200)) {
    assert.ok(Date.now() - t0 < 10_000, 'the first part should have been sent');
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 100));
  ac2.abort();
  await assert.rejects(p2, (e: unknown) => e instanceof BackendError && e.kind === 'Aborted');
  assert.equal(s3.counts().MPabort, 1);
  assert.equal(s3.counts().MPf, undefined);
  assert.deepEqual(await be.listMultipartUploads(bucket), []);
  assert.equal(await be.head(bucket, 'stalled.bin'), null);
  be.destroy();
});

test('the SDK logs through our logger (debug), never to the console', async () => {
  const debug: string[] = [];
  const log = { error: () => {}, notice: () => {}, info: () => {}, debug: (m: string) => debug.push(m), enabled: () => true };
  const be = backendFor(s3, {}, { log });
  const consoleCalls: unknown[][] = [];
  const saved = { warn: console.warn, error: console.error, info: console.info, log: console.log, debug: console.debug };
  for (const k of Object.keys(saved) as Array<keyof typeof saved>) console[k] = (...a: unknown[]) => void consoleCalls.push([k, ...a]);
  try {
    // a failed one-shot streaming PUT: the SDK's retry layer warns about it
    await s3.withFault(failFirst(1, 'PUT', { status: 500, code: 'InternalError' }), () =>
      assert.rejects(be.put(bucket, 'stream-once.bin', Readable.from([Buffer.from('x')]), { size: 1, mtimeNs: 1n }), BackendError),
    );
    // a failed request: one line naming the command and the error, never the request's input
    await assert.rejects(be.read(bucket, 'no-such-object'), BackendError);
  } finally {
    Object.assign(console, saved);
  }
  assert.deepEqual(consoleCalls, []);
  assert.ok(
    debug.some((m) => m === 'aws-sdk warn: An error was encountered in a non-retryable streaming request.'),
    debug.join('\n'),
  );
  assert.ok(
    debug.some((m) => /^aws-sdk error: GetObjectCommand: NoSuchKey: /.test(m)),
    debug.join('\n'),
  );
  for (const m of debug) assert.ok(!m.includes('\n') && !m.includes('no-such-object'), m);
  be.destroy();
});
