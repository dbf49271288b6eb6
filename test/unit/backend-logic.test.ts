// Pure logic of the S3 backend: rclone's mtime format, MD5 forms, part-size arithmetic,
// retry classification and backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatMtime,
  parseMtime,
  md5Base64ToHex,
  md5HexToBase64,
  etagMd5,
  isArchivedUnrestored,
  archivedMessage,
  objectInfoFrom,
} from '../../src/backend/s3/metadata.js';
import { partSizeFor, useMultipart, maxStreamSize } from '../../src/backend/s3/part-size.js';
import { formatSizeBinary as formatSize } from '../../src/config/units.js';
import { classify, backoffDelay, withRetry, DEFAULT_RETRY } from '../../src/backend/s3/retry.js';
import { normalizeEndpoint } from '../../src/backend/s3/client.js';
import { urlDecodeKey } from '../../src/backend/s3/list.js';
import { copySource } from '../../src/backend/s3/copy.js';
import { fromEnvironment, fromSharedFile } from '../../src/backend/s3/credentials.js';
import { contentTypeFor } from '../../src/backend/s3/mime.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const MiB = 1024 * 1024;

test('mtime is written as swift.TimeToFloatString', () => {
  assert.equal(formatMtime(1600000000123456789n), '1600000000.123456789');
  assert.equal(formatMtime(1600000000500000000n), '1600000000.5');
  assert.equal(formatMtime(1600000000000000000n), '1600000000');
  assert.equal(formatMtime(5n), '0.000000005');
  assert.equal(formatMtime(0n), '0');
  assert.equal(formatMtime(-1500000000n), '-1.5');
});

test('mtime is parsed as swift.FloatStringToTime', () => {
  assert.equal(parseMtime('1600000000.123456789'), 1600000000123456789n);
  assert.equal(parseMtime('1600000000.5'), 1600000000500000000n);
  assert.equal(parseMtime('1600000000'), 1600000000000000000n);
  assert.equal(parseMtime('1600000000.1234567891234'), 1600000000123456789n); // cut to ns
  assert.equal(parseMtime('-1.5'), -1500000000n);
  assert.equal(parseMtime('+2'), 2000000000n);
  assert.equal(parseMtime('.5'), 500000000n);
  assert.equal(parseMtime(''), null);
  assert.equal(parseMtime('1.6e9'), null); // rclone rejects exponents: callers fall back to LastModified
  assert.equal(parseMtime('abc'), null);
  assert.equal(parseMtime(' 1'), null);
  assert.equal(parseMtime('99999999999.1'), null); // beyond int64 nanoseconds
  assert.equal(parseMtime(undefined), null);
  for (const ns of [0n, 1n, 999999999n, 1000000000n, 1700000000000000001n, -42n]) assert.equal(parseMtime(formatMtime(ns)), ns);
});

test('md5 forms', () => {
  const hex = '5d41402abc4b2a76b9719d911017c592';
  const b64 = md5HexToBase64(hex)!;
  assert.equal(b64, 'XUFAKrxLKna5cZ2REBfFkg==');
  assert.equal(md5Base64ToHex(b64), hex);
  assert.equal(md5Base64ToHex('nope'), null);
  assert.equal(etagMd5(`"${hex.toUpperCase()}"`), hex);
  assert.equal(etagMd5('"5d41402abc4b2a76b9719d911017c592-3"'), null);
});

test('ObjectInfo: md5 from the ETag, else from md5chksum; never the ETag when encrypted', () => {
  const base = { ContentLength: 3, ETag: '"5d41402abc4b2a76b9719d911017c592"', Metadata: { Mtime: '1.5' } };
  assert.equal(objectInfoFrom('a', base, false).md5, '5d41402abc4b2a76b9719d911017c592');
  assert.equal(objectInfoFrom('a', base, false).mtimeNs, 1500000000n);
  assert.equal(objectInfoFrom('a', base, true).md5, undefined);
  const mp = { ContentLength: 3, ETag: '"abc-2"', Metadata: { md5chksum: 'XUFAKrxLKna5cZ2REBfFkg==' } };
  assert.equal(objectInfoFrom('a', mp, false).md5, '5d41402abc4b2a76b9719d911017c592');
  assert.equal(objectInfoFrom('a', { ContentLength: 10, ContentRange: 'bytes 0-9/1234' }, false).size, 1234);
});

test('Glacier state and message', () => {
  assert.equal(isArchivedUnrestored('GLACIER', undefined), true);
  assert.equal(isArchivedUnrestored('DEEP_ARCHIVE', 'ongoing-request="true"'), true);
  assert.equal(isArchivedUnrestored('GLACIER', 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"'), false);
  assert.equal(isArchivedUnrestored('GLACIER_IR', undefined), false);
  assert.equal(isArchivedUnrestored('STANDARD', undefined), false);
  assert.equal(archivedMessage('DEEP_ARCHIVE', 'a/b'), 'Object in DEEP_ARCHIVE, restore first: a/b');
});

test('part size follows rclone chunksize.Calculator', () => {
  assert.equal(partSizeFor(undefined, 10000, 5 * MiB), 5 * MiB);
  assert.equal(partSizeFor(-1, 10000, 5 * MiB), 5 * MiB);
  assert.equal(partSizeFor(100 * MiB, 10000, 5 * MiB), 5 * MiB);
  // exactly max parts of chunk size still fits
  assert.equal(partSizeFor(10 * 5 * MiB, 10, 5 * MiB), 5 * MiB);
  // one byte more: the next whole MiB that fits
  assert.equal(partSizeFor(10 * 5 * MiB + 1, 10, 5 * MiB), 6 * MiB);
  // 1 TiB at 10000 parts: 105 MiB (rclone's own test value)
  assert.equal(partSizeFor(1024 * 1024 * MiB, 10000, 5 * MiB), 105 * MiB);
  // 12 MiB with 2 parts max
  assert.equal(partSizeFor(12 * MiB, 2, 5 * MiB), 6 * MiB);
  for (const [size, parts] of [
    [12 * MiB + 5, 2],
    [48 * MiB, 3],
    [5 * 1024 * MiB, 1000],
  ] as const) {
    const p = partSizeFor(size, parts, 5 * MiB);
    assert.ok(Math.ceil(size / p) <= parts, `${size} in ${parts} parts of ${p}`);
    assert.equal(p % MiB, 0);
  }
  assert.equal(maxStreamSize(10000, 5 * MiB), 50000 * MiB);
  assert.equal(formatSize(5 * MiB), '5Mi');
});

test('single vs multipart as rclone: size >= upload_cutoff or unknown; never empty', () => {
  assert.equal(useMultipart(199, 200), false);
  assert.equal(useMultipart(200, 200), true);
  assert.equal(useMultipart(undefined, 200), true);
  assert.equal(useMultipart(0, 0), false);
  assert.equal(useMultipart(1, 0), true);
});

test('retry classification', () => {
  const s3err = (name: string, status: number) => Object.assign(new Error('x'), { name, $metadata: { httpStatusCode: status }, $fault: 'server' });
  assert.deepEqual([classify(s3err('SlowDown', 503)).kind, classify(s3err('SlowDown', 503)).retryable], ['Throttled', true]);
  assert.equal(classify(s3err('InternalError', 500)).retryable, true);
  assert.equal(classify(s3err('Unknown', 502)).kind, 'Server');
  assert.equal(classify(s3err('TooManyRequests', 429)).kind, 'Throttled');
  assert.equal(classify(s3err('RequestTimeout', 400)).retryable, true);
  assert.equal(classify(s3err('NoSuchKey', 404)).kind, 'NotFound');
  assert.equal(classify(s3err('NotFound', 404)).kind, 'NotFound');
  assert.equal(classify(s3err('NoSuchBucket', 404)).kind, 'NoSuchBucket');
  assert.equal(classify(s3err('AccessDenied', 403)).kind, 'AccessDenied');
  assert.equal(classify(s3err('InvalidAccessKeyId', 403)).kind, 'InvalidCredentials');
  assert.equal(classify(s3err('SignatureDoesNotMatch', 403)).kind, 'InvalidCredentials');
  assert.equal(classify(s3err('PreconditionFailed', 412)).kind, 'PreconditionFailed');
  assert.equal(classify(s3err('InvalidObjectState', 403)).kind, 'Archived');
  for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']) {
    const c = classify(Object.assign(new Error('boom'), { code }));
    assert.equal(c.kind, 'Network');
    assert.equal(c.retryable, true);
  }
  assert.equal(classify(new Error('socket hang up')).retryable, true);
  assert.equal(classify(Object.assign(new Error('wrapped'), { cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }) })).kind, 'Network');
  assert.equal(classify(Object.assign(new Error('a'), { name: 'AbortError' })).kind, 'Aborted');
  assert.equal(classify(Object.assign(new Error('x'), { code: 'ENOTFOUND' })).retryable, false);
});

test('full-jitter backoff stays within the exponential ceiling', () => {
  const p = { ...DEFAULT_RETRY, baseMs: 100, maxDelayMs: 1000 };
  assert.equal(
    backoffDelay(p, 1, () => 0.999),
    99,
  );
  assert.equal(
    backoffDelay(p, 3, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelay(p, 10, () => 0.999),
    999,
  );
  assert.equal(
    backoffDelay(p, 2, () => 0),
    0,
  );
});

test('withRetry: retries idempotent work, not the rest, and names op, path and endpoint', async () => {
  const policy = { attempts: 3, baseMs: 1, maxDelayMs: 2, budgetMs: 10_000 };
  const ctx = { op: 'GET', path: 'photos/a.jpg', idempotent: true, endpoint: 'http://127.0.0.1:9' };
  let calls = 0;
  const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  await assert.rejects(
    withRetry(policy, ctx, async () => {
      calls++;
      throw refused();
    }),
    (e: unknown) =>
      e instanceof BackendError && e.kind === 'Network' && e.message === 'GET photos/a.jpg: connection refused after 3 attempts (http://127.0.0.1:9)',
  );
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    withRetry(policy, { ...ctx, idempotent: false }, async () => {
      calls++;
      throw refused();
    }),
  );
  assert.equal(calls, 1);
  calls = 0;
  assert.equal(
    await withRetry(policy, ctx, async () => {
      if (++calls < 3) throw refused();
      return 'ok';
    }),
    'ok',
  );
  calls = 0;
  await assert.rejects(
    withRetry(policy, ctx, async () => {
      calls++;
      throw Object.assign(new Error('x'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
    }),
    (e: unknown) => e instanceof BackendError && e.kind === 'NotFound',
  );
  assert.equal(calls, 1);
});

test('helpers: endpoint scheme, url-encoded listing keys, copy source, credentials sources, mime', () => {
  assert.equal(normalizeEndpoint('minio.local:9000'), 'https://minio.local:9000');
  assert.equal(normalizeEndpoint('http://127.0.0.1:9000'), 'http://127.0.0.1:9000');
  assert.equal(normalizeEndpoint(''), '');
  assert.equal(urlDecodeKey('a+b%2Bc%20d%01'), 'a b+c d\x01');
  assert.equal(copySource('bkt', 'a b/c+d#?.txt'), 'bkt/a%20b/c%2Bd%23%3F.txt');
  assert.deepEqual(fromEnvironment({ AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_KEY: 'S', AWS_SESSION_TOKEN: 'T' }), {
    accessKeyId: 'A',
    secretAccessKey: 'S',
    sessionToken: 'T',
  });
  assert.equal(fromEnvironment({ AWS_ACCESS_KEY_ID: 'A' }), null);
  const dir = mkdtempSync(path.join(tmpdir(), 'bucketfs-cred-'));
  const file = path.join(dir, 'credentials');
  writeFileSync(
    file,
    '[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[work]\naws_access_key_id=W\naws_secret_access_key=WS\naws_session_token=WT\n',
  );
  assert.deepEqual(fromSharedFile(file, 'work'), { accessKeyId: 'W', secretAccessKey: 'WS', sessionToken: 'WT' });
  assert.deepEqual(fromSharedFile(file, 'default'), { accessKeyId: 'D', secretAccessKey: 'DS' });
  assert.equal(fromSharedFile(file, 'missing'), null);
  assert.equal(fromSharedFile(path.join(dir, 'nope'), 'default'), null);
  assert.equal(contentTypeFor('a/b.JPG'), 'image/jpeg');
  assert.equal(contentTypeFor('a/.bashrc'), 'application/octet-stream');
});

test('listing: url-encoded keys decoded only when the server says so; a dir both marker and prefix once', async () => {
  const { BackendContext } = await import('../../src/backend/s3/context.js');
  const { NameEncoder, S3_DEFAULT_MASK } = await import('../../src/backend/s3/encoding.js');
  const { listObjects } = await import('../../src/backend/s3/list.js');
  const pages: unknown[] = [
    {
      EncodingType: 'url',
      IsTruncated: true,
      NextContinuationToken: 't1',
      CommonPrefixes: [{ Prefix: 'top/d/' }, { Prefix: 'top/a+b%2Bc/' }],
      Contents: [
        { Key: 'top/', Size: 0 },
        { Key: 'top/d/', Size: 0 },
        { Key: 'top/file%25.txt', Size: 3 },
      ],
    },
    { IsTruncated: false, Contents: [{ Key: 'top/raw%41+', Size: 1, StorageClass: 'GLACIER' }] },
  ];
  const sent: Array<Record<string, unknown>> = [];
  const client = {
    send: async (cmd: { input: Record<string, unknown> }) => {
      sent.push(cmd.input);
      return pages.shift();
    },
  };
  const quiet = { error: () => {}, notice: () => {}, info: () => {}, debug: () => {}, enabled: () => false };
  const ctx = new BackendContext(client as never, { list_chunk: 7 } as never, new NameEncoder(S3_DEFAULT_MASK), DEFAULT_RETRY, quiet, 'http://x', false);
  const got: string[] = [];
  for await (const e of listObjects(ctx, 'bkt', 'top', { recursive: false }))
    got.push(`${e.kind}:${e.path}${e.marker ? '*' : ''}${e.storageClass ? ` ${e.storageClass}` : ''}`);
  assert.deepEqual(got, ['dir:top/d*', 'dir:top/a b+c', 'object:top/file%.txt', 'object:top/raw%41+ GLACIER']);
  assert.equal(sent[0]!.Prefix, 'top/');
  assert.equal(sent[0]!.Delimiter, '/');
  assert.equal(sent[0]!.MaxKeys, 7);
  assert.equal(sent[0]!.EncodingType, 'url');
  assert.equal(sent[1]!.ContinuationToken, 't1');
});
