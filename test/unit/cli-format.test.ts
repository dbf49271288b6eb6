// Pure parts of the CLI: rclone's output formats, time parsing for touch, cat's byte ranges,
// ordered bounded concurrency, and the exit-code/one-line error edge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  byteUnit,
  countSuffix,
  formatEta,
  formatJsonTime,
  formatLocalTime,
  formatLsf,
  formatSizeReport,
  nsToSecondsString,
  padSize,
  parseTouchTimestamp,
} from '../../src/cli/format.js';
import { catRange } from '../../src/cli/cat.js';
import { mapOrdered } from '../../src/cli/concurrency.js';
import { forEachLimit } from '../../src/util/concurrency.js';
import { exitCodeOf, oneLine } from '../../src/cli/edge.js';
import { parseBackendOptions } from '../../src/cli/backend.js';
import { BackendError } from '../../src/backend/s3/backend-error.js';
import { UserError } from '../../src/util/errors.js';
import { addSecret } from '../../src/util/log.js';

process.env.TZ = 'UTC';

test('sizes and counts as rclone prints them (SizeSuffix.ByteUnit, CountSuffix)', () => {
  assert.equal(byteUnit(0), '0 B');
  assert.equal(byteUnit(1023), '1023 B');
  assert.equal(byteUnit(1024), '1 KiB');
  assert.equal(byteUnit(1536), '1.500 KiB');
  assert.equal(byteUnit(12 * 1024 * 1024), '12 MiB');
  assert.equal(byteUnit(5 * 1024 ** 3 + 1), '5.000 GiB');
  assert.equal(countSuffix(999), '999');
  assert.equal(countSuffix(1000), '1k');
  assert.equal(countSuffix(1234), '1.234k');
  assert.equal(formatSizeReport(3, 6), 'Total objects: 3 (3)\nTotal size: 6 B (6 Byte)\n');
  assert.equal(formatSizeReport(1234, 1536), 'Total objects: 1.234k (1234)\nTotal size: 1.500 KiB (1536 Byte)\n');
  assert.equal(padSize(6), '        6');
  assert.equal(padSize(1234567890), '1234567890');
});

test('times: local-time listing formats to the nanosecond, Go JSON times', () => {
  assert.equal(formatLocalTime(1600000000123456789n, 9), '2020-09-13 12:26:40.123456789');
  assert.equal(formatLocalTime(1600000000123456789n, 0), '2020-09-13 12:26:40');
  assert.equal(formatLocalTime(5n, 9), '1970-01-01 00:00:00.000000005');
  assert.equal(formatLocalTime(-1n, 9), '1969-12-31 23:59:59.999999999');
  assert.equal(formatJsonTime(new Date('2020-06-26T14:20:36.000Z')), '2020-06-26T14:20:36Z');
  assert.equal(formatJsonTime(new Date('2020-06-26T14:20:36.120Z')), '2020-06-26T14:20:36.12Z');
  assert.equal(nsToSecondsString(1600000000000000001n), '1600000000.000000001');
  assert.equal(formatEta(3723), '1h2m3s');
  assert.equal(formatEta(undefined), '-');
});

test('touch --timestamp layouts (UTC by default, --localtime, explicit zones)', () => {
  const s = (t: string, local = false) => parseTouchTimestamp(t, local);
  assert.equal(s('2020-09-13T12:26:40'), 1600000000n * 10n ** 9n);
  assert.equal(s('2020-09-13T12:26:40.123456789'), 1600000000123456789n);
  assert.equal(s('2020-09-13T12:26:40.5'), 1600000000500000000n);
  assert.equal(s('2020-09-13 12:26:40'), 1600000000n * 10n ** 9n);
  assert.equal(s('2020-09-13'), 1599955200n * 10n ** 9n);
  assert.equal(s('200913'), 1599955200n * 10n ** 9n);
  assert.equal(s('2020-09-13T14:26:40+02:00'), 1600000000n * 10n ** 9n);
  assert.equal(s('2020-09-13T12:26:40Z', true), 1600000000n * 10n ** 9n);
  assert.equal(s('2020-09-13T12:26:40', true), 1600000000n * 10n ** 9n); // TZ=UTC here
  for (const bad of ['', 'now', '2020-13-01', '2020-02-30', '2020-09-13T25:00:00', '2020-09-13T12:26:40.1234567891']) {
    assert.throws(() => s(bad), UserError, bad);
  }
});

test('lsf lines', () => {
  const opts = { dirSlash: true, absolute: false, csv: false };
  assert.equal(
    formatLsf({ path: 'a/b.txt', isDir: false, size: 5, mtimeNs: 1600000000n * 10n ** 9n, md5: 'abc' }, 'tsph', ';', opts),
    '2020-09-13 12:26:40;5;a/b.txt;abc',
  );
  assert.equal(formatLsf({ path: 'd', isDir: true, size: 0 }, 'psh', ';', opts), 'd/;0;');
  assert.equal(formatLsf({ path: 'bucket', isDir: true, size: -1 }, 'ps', ';', opts), 'bucket/;-1');
  assert.equal(formatLsf({ path: 'd', isDir: true, size: 0 }, 'p', ';', { ...opts, dirSlash: false, absolute: true }), '/d');
  assert.equal(formatLsf({ path: 'a,b "c"', isDir: false, size: 1 }, 'ps', ';', { ...opts, csv: true }), '"a,b ""c""",1');
});

test('cat ranges: --head, --tail, --offset (negative from the end), --count', () => {
  const r = (size: number, a: Partial<{ head: number; tail: number; offset: number; count: number }>) =>
    catRange(size, { head: 0, tail: 0, offset: 0, count: -1, ...a });
  assert.deepEqual(r(10, {}), { offset: 0, count: 10 });
  assert.deepEqual(r(10, { head: 3 }), { offset: 0, count: 3 });
  assert.deepEqual(r(10, { head: 30 }), { offset: 0, count: 10 });
  assert.deepEqual(r(10, { tail: 3 }), { offset: 7, count: 3 });
  assert.deepEqual(r(10, { tail: 30 }), { offset: 0, count: 10 });
  assert.deepEqual(r(10, { offset: -4, count: 2 }), { offset: 6, count: 2 });
  assert.deepEqual(r(10, { offset: 20 }), { offset: 10, count: 0 });
  assert.deepEqual(r(0, {}), { offset: 0, count: 0 });
});

test('mapOrdered keeps input order with bounded concurrency; forEachLimit reports the first error', async () => {
  let inFlight = 0;
  let peak = 0;
  const out: number[] = [];
  for await (const v of mapOrdered([5, 1, 4, 2, 3, 0], 3, async (n) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    await new Promise((r) => setTimeout(r, n * 3));
    inFlight--;
    return n * 10;
  })) {
    out.push(v);
  }
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0]);
  assert.ok(peak <= 3 && peak > 1, String(peak));
  const seen: number[] = [];
  await assert.rejects(
    forEachLimit([1, 2, 3], 2, async (n) => {
      seen.push(n);
      if (n === 2) throw new Error('two');
    }),
    /two/,
  );
});

test('exit codes and the one-line, secret-free message', () => {
  assert.equal(exitCodeOf(new UserError('x', 1)), 1);
  assert.equal(exitCodeOf(new BackendError('NotFound', 'GET', 'p', 'gone')), 4);
  assert.equal(exitCodeOf(new BackendError('NoSuchBucket', 'LIST', 'b', 'gone')), 3);
  assert.equal(exitCodeOf(new BackendError('InvalidCredentials', 'LIST', 'b', 'bad')), 7);
  assert.equal(exitCodeOf(new BackendError('AccessDenied', 'LIST', 'b', 'bad')), 7);
  assert.equal(exitCodeOf(new BackendError('Network', 'LIST', 'b', 'down')), 5);
  assert.equal(exitCodeOf(new Error('bug')), 2);
  addSecret('super-secret-value');
  assert.equal(oneLine('a\n  b\r\nc super-secret-value'), 'a b c ***');
});

test('backend -o options', () => {
  assert.deepEqual(parseBackendOptions(['max-age=1h', 'flag'], ['max-age', 'flag'], 'cleanup'), { 'max-age': '1h', flag: 'true' });
  assert.throws(() => parseBackendOptions(['nope=1'], ['max-age'], 'cleanup'), /unknown option -o "nope"/);
});
