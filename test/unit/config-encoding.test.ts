import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEncoding, ENCODER_NAMES } from '../../src/config/multi-encoder.js';
import { UserError } from '../../src/util/errors.js';

test('parseEncoding: names in order, canonical case, duplicates dropped', () => {
  assert.deepEqual(parseEncoding('Slash,InvalidUtf8,Dot'), ['Slash', 'InvalidUtf8', 'Dot']);
  assert.deepEqual(parseEncoding(' slash , DOT,Slash'), ['Slash', 'Dot']);
  assert.deepEqual(parseEncoding('None'), ['None']);
  assert.deepEqual(parseEncoding(ENCODER_NAMES.join(',')), [...ENCODER_NAMES]);
  assert.deepEqual(parseEncoding('win,HASHPERCENT'), ['Win', 'HashPercent']);
});

test('parseEncoding: numeric masks pass through as written (rclone bit order, decoded by the backend)', () => {
  assert.deepEqual(parseEncoding('0x2000002,Slash'), ['0x2000002', 'Slash']);
  assert.deepEqual(parseEncoding('0'), ['0']);
});

test('parseEncoding: unknown names and numeric masks are one-line UserErrors', () => {
  for (const [input, pattern] of [
    ['Slash,Bogus', /^invalid encoding "Slash,Bogus": unknown encoder "Bogus"/],
    ['', /unknown encoder ""/],
    ['Slash,', /unknown encoder ""/],
    ['0xZZ', /unknown encoder "0xZZ"/],
    ['Exclamation', /unknown encoder "Exclamation"/],
  ] as const) {
    assert.throws(
      () => parseEncoding(input),
      (err: unknown) => err instanceof UserError && !err.message.includes('\n') && pattern.test(err.message),
      input,
    );
  }
});
