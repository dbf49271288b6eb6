import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSize,
  formatSize,
  parseDuration,
  formatDuration,
  parseBool,
  parseInteger,
  DURATION_OFF,
  SIZE_OFF,
  InvalidValueError,
} from '../../src/config/units.js';
import { UserError } from '../../src/util/errors.js';

const K = 1024;
const M = K * K;
const G = M * K;

function assertUserError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, 'is a UserError');
    assert.ok(!err.message.includes('\n'), 'one line');
    assert.ok(err.exitCode !== 0);
    assert.match(err.message, pattern);
    return true;
  });
}

test('parseSize: suffixes are binary multiples, b is bytes', () => {
  assert.equal(parseSize('5M'), 5 * M);
  assert.equal(parseSize('5m'), 5 * M);
  assert.equal(parseSize('200M'), 200 * M);
  assert.equal(parseSize('5G'), 5 * G);
  assert.equal(parseSize('1T'), K * G);
  assert.equal(parseSize('1P'), K * K * G);
  assert.equal(parseSize('1K'), K);
  assert.equal(parseSize('1k'), K);
  assert.equal(parseSize('100b'), 100);
  assert.equal(parseSize('100B'), 100);
  assert.equal(parseSize('10MiB'), 10 * M);
  assert.equal(parseSize('10Mi'), 10 * M);
});

test('parseSize: a bare number is KiB, like rclone', () => {
  assert.equal(parseSize('1024'), M);
  assert.equal(parseSize('0'), 0);
  assert.equal(parseSize('1.5'), 1536);
});

test('parseSize: fractions truncate to whole bytes as rclone does', () => {
  assert.equal(parseSize('4.656G'), 4999341932);
  assert.equal(parseSize('1.5K'), 1536);
  assert.equal(parseSize('1.5b'), 1);
  assert.equal(parseSize('.5M'), 512 * K);
});

test('parseSize: off is -1', () => {
  assert.equal(parseSize('off'), SIZE_OFF);
  assert.equal(parseSize('OFF'), -1);
});

test('parseSize: bad input is a one-line UserError', () => {
  assertUserError(() => parseSize('5Q'), /^invalid size "5Q": unknown suffix "Q"/);
  assertUserError(() => parseSize(''), /^invalid size "": empty string/);
  assertUserError(() => parseSize('-5M'), /negative/);
  assertUserError(() => parseSize('M'), /is not a number/);
  assertUserError(() => parseSize('1.2.3M'), /is not a number/);
  assertUserError(() => parseSize('abc'), /unknown suffix "c"/);
  assert.throws(() => parseSize('5Q'), InvalidValueError);
});

test('formatSize: rclone short form, parses back', () => {
  assert.equal(formatSize(5 * M), '5M');
  assert.equal(formatSize(200 * M), '200M');
  assert.equal(formatSize(4999341932), '4.656G');
  assert.equal(formatSize(5 * G), '5G');
  assert.equal(formatSize(1536), '1.500K');
  assert.equal(formatSize(0), '0');
  assert.equal(formatSize(-1), 'off');
  assert.equal(formatSize(512), '512B');
  for (const n of [0, 1, 512, K, 5 * M, 7 * G, 3 * K * G]) assert.equal(parseSize(formatSize(n)), n);
});

test('parseDuration: Go durations', () => {
  assert.equal(parseDuration('1m0s'), 60_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('300ms'), 300);
  assert.equal(parseDuration('1us'), 0.001);
  assert.equal(parseDuration('1µs'), 0.001);
  assert.equal(parseDuration('1000ns'), 0.001);
  assert.equal(parseDuration('.5s'), 500);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('-1s'), -1000);
});

test('parseDuration: rclone day/week/month/year suffixes and bare seconds', () => {
  const day = 86_400_000;
  assert.equal(parseDuration('7d'), 7 * day);
  assert.equal(parseDuration('7w'), 49 * day);
  assert.equal(parseDuration('1M'), 30 * day);
  assert.equal(parseDuration('1y'), 365 * day);
  assert.equal(parseDuration('1.5d'), 1.5 * day);
  assert.equal(parseDuration('1d12h'), 1.5 * day);
  assert.equal(parseDuration('10'), 10_000);
  assert.equal(parseDuration('2.5'), 2_500);
  assert.equal(parseDuration('off'), DURATION_OFF);
});

test('parseDuration: bad input is a one-line UserError', () => {
  assertUserError(() => parseDuration('5x'), /^invalid duration "5x": unknown unit "x"/);
  assertUserError(() => parseDuration('1H'), /unknown unit "H"/);
  assertUserError(() => parseDuration('1h30'), /missing unit/);
  assertUserError(() => parseDuration(''), /empty/);
  assertUserError(() => parseDuration('abc'), /expected a number/);
  assertUserError(() => parseDuration('999999999999y'), /out of range/);
});

test('formatDuration: Go style', () => {
  assert.equal(formatDuration(60_000), '1m0s');
  assert.equal(formatDuration(86_400_000), '24h0m0s');
  assert.equal(formatDuration(5_400_000), '1h30m0s');
  assert.equal(formatDuration(300), '300ms');
  assert.equal(formatDuration(1500), '1.5s');
  assert.equal(formatDuration(61_500), '1m1.5s');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(0.0015), '1.5µs');
  assert.equal(formatDuration(0.000001), '1ns');
  assert.equal(formatDuration(-2000), '-2s');
  assert.equal(formatDuration(DURATION_OFF), 'off');
  for (const s of ['1m0s', '24h0m0s', '300ms', '1.5s', '2h45m10.25s']) assert.equal(formatDuration(parseDuration(s)), s);
});

test('parseBool: exactly Go strconv.ParseBool', () => {
  for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parseBool(t), true, t);
  for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parseBool(f), false, f);
  for (const bad of ['yes', 'no', 'tRUE', 'on', '']) assertUserError(() => parseBool(bad), /^invalid boolean/);
});

test('parseInteger: whole decimal numbers only', () => {
  assert.equal(parseInteger('10000'), 10000);
  assert.equal(parseInteger('+4'), 4);
  assert.equal(parseInteger('-1'), -1);
  assertUserError(() => parseInteger('4.5'), /^invalid integer "4.5"/);
  assertUserError(() => parseInteger('ten'), /not a whole number/);
  assertUserError(() => parseInteger('99999999999999999999'), /out of range/);
});
