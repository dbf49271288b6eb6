// Keys a filesystem cannot show as they are: "." and ".." (the Dot encoding, rclone's default,
// reads them as "．", the key of a file named so), empty names ("a//b"), a file and a directory
// of one name. Every name the mount lists can be opened; what it leaves out is named in one
// NOTICE with the way to reach it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { boto3, bucketfs } from '../helpers/run.js';
import { mount, mountEnv, tempDir, useS3Bucket, usingMount, waitFor, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'keys-bucket';
const KEYS = ['hk/.', 'hk/..', 'hk/a//b', 'hk/ok.txt', 'hk/both', 'hk/both/inner', '/lead'];

const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    await boto3(
      s3.directEndpoint,
      KEYS.map((k) => `s3.put_object(Bucket="${BUCKET}", Key=${JSON.stringify(k)}, Body=${JSON.stringify(k)}.encode())`).join('\n'),
    );
  },
});

test(
  'hostile keys: every listed name opens; ".", "..", "a//b" and a file shadowed by a directory are each named in a NOTICE with the way to reach them',
  MOUNT_TEST,
  async () => {
    const m = await mount(bucket.s3, `moto:${BUCKET}`);
    await usingMount(m, async () => {
      const names = (await fs.readdir(path.join(m.mnt, 'hk'))).sort();
      assert.deepEqual(names, ['a', 'both', 'ok.txt']);
      for (const n of names) await fs.stat(path.join(m.mnt, 'hk', n));
      assert.equal(await fs.readFile(path.join(m.mnt, 'hk/ok.txt'), 'utf8'), 'hk/ok.txt');
      assert.deepEqual(await fs.readdir(path.join(m.mnt, 'hk/both')), ['inner']);
      assert.deepEqual(await fs.readdir(path.join(m.mnt, 'hk/a')), []);
      // (the mount writes its log before it answers; the pipe may bring it here a little later)
      const emptyName = /NOTICE: keys-bucket: the keys under "hk\/a\/\/": an empty name in the path cannot be shown/;
      await waitFor(() => emptyName.test(m.stderr()), 5_000, 'the NOTICE of the empty name');
      const log = m.stderr();
      assert.match(log, /NOTICE: keys-bucket\/hk\/\.: under this --s3-encoding .* --s3-encoding Slash,InvalidUtf8/);
      assert.match(log, /NOTICE: keys-bucket\/hk\/\.\.: under this --s3-encoding/);
      // a leading "/": the root's listing
      assert.deepEqual((await fs.readdir(m.mnt)).sort(), ['hk']);
      assert.match(m.stderr(), /NOTICE: keys-bucket: the keys under "\/": an empty name in the path cannot be shown/);
      assert.match(
        log,
        /NOTICE: hk\/both: both a file and a directory in the bucket; showing the directory \(the file: bucketfs cat REMOTE:keys-bucket\/hk\/both\)/,
      );
    });
    // the way the NOTICE names: without the Dot rule "." and ".." are "．" and "．．", and open
    const plain = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--s3-encoding', 'Slash,InvalidUtf8'] });
    await usingMount(plain, async () => {
      const names = await fs.readdir(path.join(plain.mnt, 'hk'));
      assert.ok(names.includes('．') && names.includes('．．'), names.join(' '));
      assert.equal(await fs.readFile(path.join(plain.mnt, 'hk/．'), 'utf8'), 'hk/.');
      assert.equal(await fs.readFile(path.join(plain.mnt, 'hk/．．'), 'utf8'), 'hk/..');
    });
  },
);

test('the CLI the same: copy and cat skip "." and ".." with the NOTICE that names the key (not "vanished from the source")', MOUNT_TEST, async () => {
  const dir = await tempDir();
  try {
    const env = mountEnv(bucket.s3);
    const copy = await bucketfs(['--retries', '1', 'copy', `moto:${BUCKET}/hk`, dir], { env });
    // the file "both" and the directory "both/" cannot both exist on a disk: that one fails, by name (rclone's lines)
    assert.notEqual(copy.code, 0, copy.stderr);
    assert.match(copy.stderr, /ERROR : both: Failed to copy: write .*\/both: is a directory\n/);
    assert.match(copy.stderr, /bucketfs: Failed to copy: write .*\/both: is a directory\n$/);
    assert.equal(await fs.readFile(path.join(dir, 'both/inner'), 'utf8'), 'hk/both/inner');
    assert.doesNotMatch(copy.stderr, /vanished/);
    assert.match(
      copy.stderr,
      /NOTICE: keys-bucket\/hk\/\.: under this --s3-encoding its name would be another key's: skipped; with --s3-encoding Slash,InvalidUtf8/,
    );
    assert.match(copy.stderr, /NOTICE: keys-bucket\/hk\/\.\.: under this --s3-encoding/);
    assert.equal(await fs.readFile(path.join(dir, 'ok.txt'), 'utf8'), 'hk/ok.txt');
    // nothing was written outside the destination, nor under the decoded names
    assert.ok(!(await fs.readdir(dir)).some((n) => n.startsWith('．')));
    const all = await bucketfs(['cat', `moto:${BUCKET}/hk`], { env });
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /hk\/ok\.txt/);
    assert.match(all.stderr, /NOTICE: keys-bucket\/hk\/\.\.: under this --s3-encoding/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
