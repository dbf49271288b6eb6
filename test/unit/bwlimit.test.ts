// --bwlimit's parsing (rclone's syntax) and its timetable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BandwidthLimit } from '../../src/util/bwlimit.js';
import { UserError } from '../../src/util/errors.js';

test('a rate, UP:DOWN, off, and a timetable', () => {
  assert.equal(BandwidthLimit.parse('off'), undefined);
  assert.equal(BandwidthLimit.parse('0'), undefined);
  assert.deepEqual(BandwidthLimit.parse('1M')!.ratesAt(new Date()), { at: 0, up: 1024 * 1024, down: 1024 * 1024 });
  // a bare number is KiB/s, as rclone's
  assert.equal(BandwidthLimit.parse('512')!.ratesAt(new Date()).up, 512 * 1024);
  assert.deepEqual(BandwidthLimit.parse('10M:100k')!.ratesAt(new Date()), { at: 0, up: 10 * 1024 * 1024, down: 100 * 1024 });
  const t = BandwidthLimit.parse('08:00,512k 12:00,10M 18:00,off')!;
  const at = (h: number, m = 0) => new Date(2024, 0, 1, h, m);
  assert.equal(t.ratesAt(at(9)).up, 512 * 1024);
  assert.equal(t.ratesAt(at(12)).up, 10 * 1024 * 1024);
  assert.equal(t.ratesAt(at(19)).up, undefined);
  // before the first entry: the last one of the day before
  assert.equal(t.ratesAt(at(7, 59)).up, undefined);
  for (const bad of ['fast', '1M:2M:3M', '08:00,1M 25:00,off', '08:00,1M x']) assert.throws(() => BandwidthLimit.parse(bad), UserError, bad);
});
