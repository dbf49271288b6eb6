// DirAttrs: directory mtimes, modes and owners kept for the life of a mount, moved with renames,
// dropped with rmdir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirAttrs } from '../../src/vfs/dir-attrs.js';

test('dir attrs: set, moved with the directory and everything below it, dropped with it; names that only share a prefix stay', () => {
  const t = new DirAttrs();
  t.setMtime('a', 1n, 1n);
  t.setPosix('a', { perm: 0o700 }, 0n);
  t.setMtime('a/b', 2n, 2n);
  t.setMtime('ab', 3n, 3n);
  t.setMtime('c', 4n, 4n);
  t.move('a', 'c');
  assert.equal(t.mtime('a'), undefined);
  assert.equal(t.posix('a'), undefined);
  assert.equal(t.mtime('a/b'), undefined);
  assert.equal(t.mtime('c'), 1n, 'the moved directory replaces the target');
  assert.deepEqual(t.posix('c'), { perm: 0o700 });
  assert.equal(t.mtime('c/b'), 2n);
  assert.equal(t.mtime('ab'), 3n, 'a sibling whose name starts the same is not moved');
  t.changed('ab', 9n);
  t.setPosix('ab', { uid: 5 }, 0n);
  t.setPosix('ab', { gid: 6 }, 12n);
  assert.equal(t.mtime('ab'), 9n);
  assert.equal(t.ctime('ab'), 12n, 'chmod/chown move the change time, not the mtime');
  t.setMtime('c', 5n, 13n);
  assert.equal(t.ctime('c'), 13n, 'utimens moves the change time to now');
  assert.deepEqual(t.posix('ab'), { uid: 5, gid: 6 });
  t.drop('c');
  assert.equal(t.mtime('c'), undefined);
  assert.equal(t.mtime('c/b'), undefined);
  assert.equal(t.mtime('ab'), 9n);
});
