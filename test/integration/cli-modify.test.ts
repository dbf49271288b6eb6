// Commands that change the bucket, through the real CLI process against moto, checked with an
// independent client (boto3 or the SDK straight to moto): mkdir, rmdir, touch, deletefile,
// delete, purge, backend restore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boto3 } from '../helpers/run.js';
import { useCli, ok, fails, cli } from './cli-support.js';

const B = 'modify-bucket';
const c = useCli(B);

/** Keys of a bucket, as boto3 sees them (null when the bucket does not exist). */
async function keys(bucket: string): Promise<string[] | null> {
  const out = await boto3(
    c.s3.directEndpoint,
    `try:\n    print(json.dumps([o["Key"] for o in s3.list_objects_v2(Bucket="${bucket}").get("Contents", [])]))\nexcept s3.exceptions.NoSuchBucket:\n    print("null")`,
  );
  return JSON.parse(out) as string[] | null;
}

async function put(key: string, body: string, extra = ''): Promise<void> {
  await boto3(c.s3.directEndpoint, `s3.put_object(Bucket="${B}", Key=${JSON.stringify(key)}, Body=${JSON.stringify(body)}.encode()${extra})`);
}

test('mkdir makes a bucket, or a directory marker inside one; rmdir removes only empty ones', async () => {
  await ok(c, ['mkdir', 'moto:made-bucket']);
  assert.deepEqual(await keys('made-bucket'), []);
  await ok(c, ['mkdir', 'moto:made-bucket/some/dir']);
  assert.deepEqual(await keys('made-bucket'), ['some/dir/']);
  assert.equal(await ok(c, ['lsf', '-R', 'moto:made-bucket']), 'some/\nsome/dir/\n');
  // A bucket that does not exist yet is created along with the marker.
  await ok(c, ['mkdir', 'moto:made-bucket-2/x']);
  assert.deepEqual(await keys('made-bucket-2'), ['x/']);

  await fails(c, ['rmdir', 'moto:made-bucket'], { code: 2, match: /not empty/ });
  await ok(c, ['rmdir', 'moto:made-bucket/some/dir']);
  assert.deepEqual(await keys('made-bucket'), []);
  await ok(c, ['rmdir', 'moto:made-bucket']);
  assert.equal(await keys('made-bucket'), null);
  await fails(c, ['rmdir', 'moto:made-bucket'], { code: 3 });
  await fails(c, ['mkdir', 'moto:'], { code: 1, match: /bucket/ });
});

test("touch creates an empty object or sets the mtime by a server-side copy; rclone's format", async () => {
  c.s3.clearRequests();
  await ok(c, ['touch', '-t', '2020-09-13T12:26:40.123456789', `moto:${B}/touched.txt`]);
  const created = JSON.parse(
    await boto3(c.s3.directEndpoint, `h = s3.head_object(Bucket="${B}", Key="touched.txt"); print(json.dumps([h["ContentLength"], h["Metadata"]]))`),
  );
  assert.deepEqual(created, [0, { mtime: '1600000000.123456789' }]);
  assert.equal(await ok(c, ['lsl', `moto:${B}/touched.txt`]), '        0 2020-09-13 12:26:40.123456789 touched.txt\n');

  await put('data.txt', 'keep me');
  c.s3.clearRequests();
  await ok(c, ['touch', '--timestamp', '2021-01-02T03:04:05', `moto:${B}/data.txt`]);
  // No upload of the data: a copy of the object onto itself with the new metadata.
  assert.equal(c.s3.counts().PUT ?? 0, 0);
  assert.equal(c.s3.counts().COPY, 1);
  const touched = JSON.parse(
    await boto3(
      c.s3.directEndpoint,
      `o = s3.get_object(Bucket="${B}", Key="data.txt"); print(json.dumps([o["Body"].read().decode(), o["Metadata"]["mtime"]]))`,
    ),
  );
  assert.deepEqual(touched, ['keep me', '1609556645']);

  // --localtime reads the timestamp in the local zone (TZ); a date alone is midnight.
  await ok(c, ['touch', '--localtime', '-t', '2021-01-02T12:00:00', `moto:${B}/data.txt`], { env: { ...c.env, TZ: 'Asia/Tokyo' } });
  assert.equal((await boto3(c.s3.directEndpoint, `print(s3.head_object(Bucket="${B}", Key="data.txt")["Metadata"]["mtime"])`)).trim(), '1609556400');
  await ok(c, ['touch', '-t', '2021-01-02', `moto:${B}/data.txt`]);
  assert.equal((await boto3(c.s3.directEndpoint, `print(s3.head_object(Bucket="${B}", Key="data.txt")["Metadata"]["mtime"])`)).trim(), '1609545600');

  // -C: no creation.
  await ok(c, ['touch', '-C', `moto:${B}/not-created.txt`]);
  assert.ok(!(await keys(B))!.includes('not-created.txt'));
  // Now, when no time is given: within a few seconds of the clock.
  await ok(c, ['touch', `moto:${B}/now.txt`]);
  const now = Number((await boto3(c.s3.directEndpoint, `print(s3.head_object(Bucket="${B}", Key="now.txt")["Metadata"]["mtime"])`)).trim());
  assert.ok(Math.abs(now - Date.now() / 1000) < 30, String(now));

  await fails(c, ['touch', '-t', 'yesterday', `moto:${B}/x`], { code: 1, match: /timestamp/ });
});

test('deletefile, delete (keeps directory markers), purge (everything; a whole bucket too)', async () => {
  await boto3(
    c.s3.directEndpoint,
    `s3.create_bucket(Bucket="del-bucket")\nfor k in ["a.txt", "d/b.txt", "d/c.txt", "d/e/", "d/e/f.txt", "keep/g.txt"]:\n    s3.put_object(Bucket="del-bucket", Key=k, Body=b"x")`,
  );
  await ok(c, ['deletefile', 'moto:del-bucket/a.txt']);
  assert.deepEqual(await keys('del-bucket'), ['d/b.txt', 'd/c.txt', 'd/e/', 'd/e/f.txt', 'keep/g.txt']);
  await fails(c, ['deletefile', 'moto:del-bucket/a.txt'], { code: 4, match: /not found/ });

  await ok(c, ['delete', 'moto:del-bucket/d']);
  assert.deepEqual(await keys('del-bucket'), ['d/e/', 'keep/g.txt']);

  await ok(c, ['purge', 'moto:del-bucket/d']);
  assert.deepEqual(await keys('del-bucket'), ['keep/g.txt']);

  // -i: the answer decides; "n" keeps, "y" deletes.
  const kept = await cli(c, ['-i', 'deletefile', 'moto:del-bucket/keep/g.txt'], { input: 'n\n' });
  assert.equal(kept.code, 0);
  assert.match(kept.stderr, /delete "keep\/g\.txt"/);
  assert.deepEqual(await keys('del-bucket'), ['keep/g.txt']);

  await ok(c, ['purge', 'moto:del-bucket']);
  assert.equal(await keys('del-bucket'), null);
  await fails(c, ['purge', 'moto:del-bucket'], { code: 3 });
});

test("backend restore: rclone's JSON status list; the restore reaches the server", async () => {
  await put('cold/one.txt', 'brr', ', StorageClass="GLACIER"');
  await put('cold/two.txt', 'brr', ', StorageClass="GLACIER"');
  c.s3.clearRequests();
  const out = await ok(c, ['backend', 'restore', `moto:${B}/cold`, '-o', 'priority=Bulk', '-o', 'lifetime=3', '-o', 'description=thaw <for> audit']);
  assert.deepEqual(JSON.parse(out), [
    { Status: 'OK', Remote: 'one.txt' },
    { Status: 'OK', Remote: 'two.txt' },
  ]);
  // Go's MarshalIndent with a tab.
  assert.match(out, /^\[\n\t\{\n\t\t"Status": "OK",\n\t\t"Remote": "one.txt"\n\t\},/);
  const restores = c.s3.requests.filter((r) => r.method === 'POST' && 'restore' in r.query);
  assert.equal(restores.length, 2);
  // the RestoreRequest document carries the lifetime, the tier and the description (XML-escaped)
  for (const r of restores) {
    assert.match(r.bodyText ?? '', /<Days>3<\/Days>/);
    assert.match(r.bodyText ?? '', /<Tier>Bulk<\/Tier>/);
    assert.match(r.bodyText ?? '', /<Description>thaw &lt;for&gt; audit<\/Description>/);
  }
  const head = await boto3(c.s3.directEndpoint, `print(s3.head_object(Bucket="${B}", Key="cold/one.txt").get("Restore", ""))`);
  assert.match(head, /ongoing-request|expiry-date/);

  await fails(c, ['backend', 'restore', `moto:${B}/cold`, '-o', 'priority=Fast'], { code: 1, match: /priority/ });
  await fails(c, ['backend', 'restore', `moto:${B}/cold`, '-o', 'lifetime=0'], { code: 1, match: /lifetime/ });
});
