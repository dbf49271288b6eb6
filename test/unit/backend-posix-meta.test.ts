// POSIX attributes in object metadata: rclone's octal mode with the file type, s3fs's decimal
// mode, owners; invalid values are ignored (the mount's defaults show instead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posixFrom, posixMetadata } from '../../src/backend/s3/metadata.js';

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

test('posix metadata: rclone (octal with type) and s3fs (decimal) modes, owners, and what is ignored', () => {
  assert.deepEqual(posixFrom({ mode: '100750', uid: '1000', gid: '1001' }, S_IFREG), { perm: 0o750, uid: 1000, gid: 1001 });
  assert.deepEqual(posixFrom({ mode: '33261' }, S_IFREG), { perm: 0o755 }, "s3fs's decimal 0100755");
  assert.deepEqual(posixFrom({ mode: '644' }, S_IFREG), { perm: 0o644 }, 'permission bits alone');
  assert.deepEqual(posixFrom({ mode: '40755' }, S_IFREG), {}, "a directory's mode on a file is ignored");
  assert.deepEqual(posixFrom({ mode: '40755' }, S_IFDIR), { perm: 0o755 });
  assert.deepEqual(posixFrom({ mode: 'rwx', uid: '-1', gid: '4294967295' }, S_IFREG), {}, 'not numbers, or (uid_t)-1');
  assert.deepEqual(posixFrom({ mode: '999999' }, S_IFREG), {}, 'too large');
  assert.deepEqual(posixFrom({}, S_IFREG), {});
  assert.deepEqual(posixMetadata({ perm: 0o4755, uid: 0, gid: 5 }, S_IFREG), { mode: '104755', uid: '0', gid: '5' });
  for (const perm of [0, 0o7, 0o644, 0o755, 0o1777, 0o7777]) {
    assert.equal(posixFrom(posixMetadata({ perm }, S_IFREG), S_IFREG).perm, perm, `round trip of ${perm.toString(8)}`);
  }
});
