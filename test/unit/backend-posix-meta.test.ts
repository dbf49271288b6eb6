// POSIX attributes in object metadata: rclone's octal mode with the file type, s3fs's decimal
// mode, owners; invalid values are ignored (the mount's defaults show instead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { posixFrom, posixMetadata, storedFileType } from '../../src/backend/s3/metadata.js';

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

test("posix metadata: the atime in rclone's RFC 3339 (nanoseconds, any offset) and s3fs's whole seconds; written in UTC", () => {
  const t = 1_643_767_322n * 1_000_000_000n;
  assert.equal(posixFrom({ atime: '2022-02-02T02:02:02Z' }, S_IFREG).atimeNs, t);
  assert.equal(posixFrom({ atime: '2022-02-02T02:02:02.000000001Z' }, S_IFREG).atimeNs, t + 1n);
  assert.equal(posixFrom({ atime: '2022-02-02T03:02:02.25+01:00' }, S_IFREG).atimeNs, t + 250_000_000n);
  assert.equal(posixFrom({ atime: '1643767322' }, S_IFREG).atimeNs, t, "s3fs's seconds");
  assert.equal(posixFrom({ atime: 'yesterday' }, S_IFREG).atimeNs, undefined);
  assert.deepEqual(posixMetadata({ atimeNs: t + 250_000_000n }, S_IFREG), { atime: '2022-02-02T02:02:02.25Z' });
  assert.deepEqual(posixMetadata({ atimeNs: t }, S_IFREG), { atime: '2022-02-02T02:02:02Z' });
  for (const ns of [t, t + 1n, t + 999_999_999n, 0n]) assert.equal(posixFrom(posixMetadata({ atimeNs: ns }, S_IFREG), S_IFREG).atimeNs, ns);
});

test("posix metadata: the file type an object stores, s3fs's link (41471 decimal) not read as an octal directory", () => {
  const S_IFLNK = 0o120000;
  assert.equal(storedFileType({ mode: '41471' }, [S_IFREG, S_IFLNK]), S_IFLNK);
  assert.equal(storedFileType({ mode: '120777' }, [S_IFREG, S_IFLNK]), S_IFLNK, "rclone's octal form");
  assert.equal(storedFileType({ mode: '100644' }, [S_IFREG, S_IFLNK]), S_IFREG);
  assert.equal(storedFileType({ mode: '33188' }, [S_IFREG, S_IFLNK]), S_IFREG);
  assert.equal(storedFileType({ mode: '40755' }, [S_IFREG, S_IFLNK]), null, 'a directory mode on an object');
  assert.equal(storedFileType({ mode: '644' }, [S_IFREG, S_IFLNK]), null, 'permission bits only');
  assert.equal(storedFileType({}, [S_IFREG, S_IFLNK]), null);
});
