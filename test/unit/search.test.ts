// firstIndex: the one binary search (block index, chunk lists, range sets), against a linear scan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstIndex } from '../../src/util/search.js';
import { rng } from '../helpers/rng.js';

test('firstIndex finds the first index where a monotone predicate holds, or the length', () => {
  const r = rng(7);
  for (let n = 0; n < 40; n++) {
    const sorted = Array.from({ length: n }, () => Math.floor(r() * 20)).sort((a, b) => a - b);
    for (let key = -1; key <= 21; key++) {
      const linear = sorted.findIndex((v) => v > key);
      assert.equal(
        firstIndex(sorted.length, (i) => sorted[i]! > key),
        linear < 0 ? n : linear,
      );
      const linearGe = sorted.findIndex((v) => v >= key);
      assert.equal(
        firstIndex(sorted.length, (i) => sorted[i]! >= key),
        linearGe < 0 ? n : linearGe,
      );
    }
  }
});
