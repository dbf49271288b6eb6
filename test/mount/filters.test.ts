// rclone's filter flags on a mount (--include, --exclude, --filter, --max-size, --max-depth…):
// what they leave out is neither listed nor found, with the installed rclone (1.60) as the
// oracle: for a table of filter sets, a walk of the mount shows exactly the files and
// directories `rclone lsf -R` shows with the same flags on the same bucket. A name left out is
// ENOENT also when it is looked up in a directory never listed (the lookup's probe, not a
// listing, answers there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { MOUNT_TEST, mount, useS3Bucket, usingMount } from '../helpers/mount.js';

const BUCKET = 'filters-bucket';
const FILES: Record<string, number> = {
  'top.txt': 10,
  'top.jpg': 3000,
  '.hidden': 5,
  'a/x.txt': 1500,
  'a/y.jpg': 20,
  'a/b/c.txt': 7000,
  'a/b/deep/e.txt': 100,
  'b/file.md': 1025,
  'sub/a/q.md': 4000,
  'x/y/z/v.txt': 8,
};
const bucket = useS3Bucket(BUCKET, {
  async setup(s3) {
    for (const [key, size] of Object.entries(FILES)) await s3.putObject(BUCKET, key, Buffer.alloc(size, 'f'));
  },
});

const FILTER_SETS: string[][] = [
  ['--include', '*.txt'],
  ['--exclude', '*.jpg', '--exclude', '.*'],
  ['--exclude', 'a/'],
  ['--include', '/a/**'],
  ['--filter', '- b/**', '--filter', '+ *.txt', '--filter', '- *'],
  ['--exclude', '**/deep/**', '--max-size', '2k'],
  ['--max-depth', '2'],
  ['--min-size', '1k'],
];

/** every name under `root`, as lsf -R prints them: directories end in `/` */
async function walk(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(`${p}/`, ...(await walk(root, p)));
    else out.push(p);
  }
  return out;
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

test('filter flags on a mount: a walk shows what rclone lsf -R shows with the same flags, for every set', MOUNT_TEST, async () => {
  for (const flags of FILTER_SETS) {
    const r = await run('rclone', ['lsf', '-R', ...flags, `moto:${BUCKET}`], { env: bucket.s3.env('moto') });
    assert.equal(r.code, 0, `rclone lsf -R ${flags.join(' ')}: ${r.stderr}`);
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    await usingMount(m, async () => {
      assert.deepEqual((await walk(m.mnt)).sort(), lines(r.stdout).sort(), `mount ${flags.join(' ')}`);
    });
  }
});

test('filter flags on a mount: a name left out is ENOENT when looked up in a directory never listed; the others open', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--exclude', '*.jpg', '--max-size', '5k'] });
  await usingMount(m, async () => {
    // nothing under a/ was listed: each lookup below is a probe of its own
    await assert.rejects(fs.stat(path.join(m.mnt, 'a', 'y.jpg')), { code: 'ENOENT' });
    await assert.rejects(fs.stat(path.join(m.mnt, 'a', 'b', 'c.txt')), { code: 'ENOENT' }, 'over --max-size');
    assert.equal((await fs.readFile(path.join(m.mnt, 'a', 'x.txt'))).length, 1500);
    assert.equal((await fs.stat(path.join(m.mnt, 'a', 'b', 'deep', 'e.txt'))).size, 100);
    await assert.rejects(fs.readFile(path.join(m.mnt, 'top.jpg')), { code: 'ENOENT' });
  });
});
