import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRemotePath, splitBucketPath, type RemotePath } from '../../src/config/remote-path.js';
import { UserError } from '../../src/util/errors.js';

function remote(spec: string): RemotePath {
  const p = parseRemotePath(spec);
  assert.equal(p.kind, 'remote', spec);
  return p as RemotePath;
}

function assertInvalid(spec: string, pattern: RegExp): void {
  assert.throws(
    () => parseRemotePath(spec),
    (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.ok(!err.message.includes('\n'));
      assert.match(err.message, /^invalid remote /);
      assert.match(err.message, pattern);
      return true;
    },
    spec,
  );
}

test('remote:bucket/path, remote:bucket, remote:', () => {
  const full = remote('s3:bucket/dir/file.txt');
  assert.deepEqual(
    { ...full, params: { ...full.params } },
    {
      kind: 'remote',
      remote: 's3',
      onTheFly: false,
      params: {},
      bucket: 'bucket',
      path: 'dir/file.txt',
    },
  );
  const b = remote('myremote:bucket');
  assert.equal(b.bucket, 'bucket');
  assert.equal(b.path, '');
  const root = remote('myremote:');
  assert.equal(root.remote, 'myremote');
  assert.equal(root.bucket, '');
  assert.equal(root.path, '');
});

test('bucket paths are normalised', () => {
  const r = remote('r:/bucket//a///b/');
  assert.equal(r.bucket, 'bucket');
  assert.equal(r.path, 'a/b');
  assert.deepEqual(splitBucketPath('//'), { bucket: '', path: '' });
  assert.deepEqual(splitBucketPath('b/x/'), { bucket: 'b', path: 'x' });
  // colons after the remote name belong to the path
  assert.equal(remote('r:b/a:b').path, 'a:b');
});

test('remote names: spaces, dots, dashes, unicode', () => {
  assert.equal(remote('my remote:b').remote, 'my remote');
  assert.equal(remote('s3.prod:b').remote, 's3.prod');
  assert.equal(remote('my-remote:b').remote, 'my-remote');
  assert.equal(remote('données:b').remote, 'données');
  assert.equal(remote('x:b').remote, 'x'); // one letter is a remote on Linux, not a drive
});

test('local paths', () => {
  for (const p of ['/tmp/a:b', './a:b', 'dir/file', 'file.txt', 'a/b:c', '/abs/path', '../x:y', '.']) {
    assert.deepEqual(parseRemotePath(p), { kind: 'local', path: p }, p);
  }
});

test('on-the-fly backends', () => {
  const r = remote(':s3:bucket/path');
  assert.equal(r.remote, ':s3');
  assert.equal(r.onTheFly, true);
  assert.equal(r.bucket, 'bucket');
  assert.equal(r.path, 'path');
  assert.equal(remote(':s3:').bucket, '');
});

test('connection strings', () => {
  const r = remote(":s3,provider=Other,endpoint='http://h:1/':bucket/p");
  assert.deepEqual({ ...r.params }, { provider: 'Other', endpoint: 'http://h:1/' });
  assert.equal(r.bucket, 'bucket');
  assert.equal(r.path, 'p');

  const named = remote('myremote,region=x:bucket');
  assert.equal(named.remote, 'myremote');
  assert.equal(named.onTheFly, false);
  assert.deepEqual({ ...named.params }, { region: 'x' });
});

test('connection strings: quoted values with commas, colons and quotes; bare keys', () => {
  const r = remote(`:s3,endpoint="http://a,b:9000",acl='x''y',no_check_bucket,region=:bucket`);
  assert.deepEqual({ ...r.params }, { endpoint: 'http://a,b:9000', acl: "x'y", no_check_bucket: 'true', region: '' });
  assert.equal(r.bucket, 'bucket');
  const d = remote(`r,endpoint="say ""hi"", ok":b`);
  assert.equal(d.params.endpoint, 'say "hi", ok');
  assert.equal(remote('r,no_check_bucket:b').params.no_check_bucket, 'true');
});

test('malformed remotes', () => {
  assertInvalid('', /empty string/);
  assertInvalid('::', /config name can't be empty/);
  assertInvalid(':abc', /needs a trailing ":"/);
  assertInvalid(':s/3:x', /invalid characters/);
  assertInvalid('-flag:x', /starts with "-"/);
  assertInvalid('rem*ote:x', /may only contain/);
  assertInvalid(':s3,:b', /can't be empty/);
  assertInvalid(':s3,,:b', /can't be empty/);
  assertInvalid(':s3,=v:b', /can't be empty/);
  assertInvalid(':s3,chunk-size=5M:b', /may only contain 0-9/);
  assertInvalid(':s3,endpoint="http://x', /unterminated quoted/);
  assertInvalid(':s3,endpoint="x"y:b', /after a quote/);
  assertInvalid(':s3,endpoint="x"', /after a quote/);
});

test('errors in connection strings do not echo the parameters (they may be secrets)', () => {
  assert.throws(
    () => parseRemotePath(':s3,secret_access_key=TopSecret1,endpoint="x:b'),
    (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.message, 'invalid remote ":s3,...": unterminated quoted config value');
      return true;
    },
  );
});
