// DirTimes: directory mtimes kept for the life of a mount, moved with renames, dropped with rmdir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirTimes } from '../../src/vfs/dir-times.js';

test('dir times: set, moved with the directory and everything below it, dropped with it; names that only share a prefix stay', () => {
  const t = new DirTimes();
  t.set('a', 1n);
  t.set('a/b', 2n);
  t.set('ab', 3n);
  t.set('c', 4n);
  t.move('a', 'c');
  assert.equal(t.get('a'), undefined);
  assert.equal(t.get('a/b'), undefined);
  assert.equal(t.get('c'), 1n, 'the moved directory replaces the target');
  assert.equal(t.get('c/b'), 2n);
  assert.equal(t.get('ab'), 3n, 'a sibling whose name starts the same is not moved');
  t.changed('ab', 9n);
  assert.equal(t.get('ab'), 9n);
  t.drop('c');
  assert.equal(t.get('c'), undefined);
  assert.equal(t.get('c/b'), undefined);
  assert.equal(t.get('ab'), 9n);
});
