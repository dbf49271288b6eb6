// Real tool chains on the mount, with the default write-back: git clone then git status/log,
// tar x then diff -r, rsync -a in and out (a second run transfers nothing), sqlite3 creating
// and querying a database (random writes, a journal file, fsync) — and everything still right
// after a remount, read back from the bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from '../helpers/run.js';
import { mount, tempDir, useS3Bucket, type Mounted, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'tools-write-bucket';
const MiB = 1024 * 1024;
let m: Mounted;
let cacheDir: string;
let src: string;

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: '/nonexistent-home-for-git',
};

async function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 120_000, ...opts });
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function mountIt(): Promise<Mounted> {
  return mount(bucket.s3, `moto:${BUCKET}`, { flags: ['--cache-dir', cacheDir], ...(m ? { mnt: m.mnt } : {}) });
}

/** unmount (uploads what is pending) and mount again: everything is then read from the bucket */
async function remount(): Promise<void> {
  assert.equal((await m.unmount()).code, 0, m.stderr());
  m = await mountIt();
}

const bucket = useS3Bucket(BUCKET, {
  async setup() {
    cacheDir = await tempDir('bucketfs-cache-');
    // a source tree: nested directories, empty and binary files, one larger than a part
    src = await tempDir();
    const tree = path.join(src, 'project');
    for (let d = 0; d < 8; d++) {
      await fs.mkdir(path.join(tree, `dir${d}/sub`), { recursive: true });
      for (let f = 0; f < 12; f++) await fs.writeFile(path.join(tree, `dir${d}/file${f}.txt`), `file ${d}/${f}\n`.repeat(1 + ((d * 7 + f * 13) % 200)));
      await fs.writeFile(path.join(tree, `dir${d}/sub/data.bin`), randomBytes(1000 + d * 50_000));
    }
    await fs.writeFile(path.join(tree, 'empty'), '');
    await fs.writeFile(path.join(tree, 'large.bin'), randomBytes(7 * MiB));
    await sh('touch', ['-d', '2020-01-01 00:00:00', path.join(tree, 'dir0/file0.txt')]);
    m = await mountIt();
  },
  async teardown() {
    if (m) await m.unmount().catch(() => undefined);
  },
});

test('git clone into the mount, then git status and git log there; still clean after a remount', MOUNT_TEST, async () => {
  const repo = path.join(src, 'repo');
  await fs.mkdir(repo);
  await sh('git', ['init', '-q', '-b', 'main', repo], { env: GIT_ENV });
  for (let i = 0; i < 5; i++) {
    await fs.writeFile(path.join(repo, `f${i}.txt`), `commit ${i}\n`.repeat(100 * (i + 1)));
    await fs.mkdir(path.join(repo, `d${i}`), { recursive: true });
    await fs.writeFile(path.join(repo, `d${i}/nested.txt`), `nested ${i}\n`);
    await sh('git', ['-C', repo, 'add', '-A'], { env: GIT_ENV });
    await sh('git', ['-C', repo, 'commit', '-q', '-m', `commit ${i}`], { env: GIT_ENV });
  }
  const clone = path.join(m.mnt, 'clone');
  await sh('git', ['clone', '-q', repo, clone], { env: GIT_ENV });
  assert.equal(await sh('git', ['-C', clone, 'status', '--porcelain'], { env: GIT_ENV }), '');
  const log = (await sh('git', ['-C', clone, 'log', '--oneline'], { env: GIT_ENV })).trim().split('\n');
  assert.equal(log.length, 5);
  assert.match(log[0]!, /commit 4$/);
  // a change and a commit there: the index and objects are rewritten in place
  await fs.appendFile(path.join(clone, 'f0.txt'), 'changed on the mount\n');
  assert.match(await sh('git', ['-C', clone, 'status', '--porcelain'], { env: GIT_ENV }), /^ M f0\.txt$/m);
  await sh('git', ['-C', clone, 'commit', '-q', '-am', 'on the mount'], { env: GIT_ENV });
  await remount();
  const again = path.join(m.mnt, 'clone');
  assert.equal(await sh('git', ['-C', again, 'status', '--porcelain'], { env: GIT_ENV }), '');
  assert.equal((await sh('git', ['-C', again, 'log', '--oneline'], { env: GIT_ENV })).trim().split('\n').length, 6);
  await sh('git', ['-C', again, 'fsck', '--no-progress'], { env: GIT_ENV });
});

test('tar x of a source tarball, then diff -r against the original (and after a remount)', MOUNT_TEST, async () => {
  const tarball = path.join(src, 'project.tar');
  await sh('tar', ['-cf', tarball, '-C', src, 'project']);
  await fs.mkdir(path.join(m.mnt, 'untar'));
  await sh('tar', ['-xf', tarball, '-C', path.join(m.mnt, 'untar')]);
  await sh('diff', ['-r', path.join(src, 'project'), path.join(m.mnt, 'untar/project')]);
  // tar d compares contents and mtimes too
  await sh('tar', ['-df', tarball, '-C', path.join(m.mnt, 'untar')]);
  await remount();
  await sh('diff', ['-r', path.join(src, 'project'), path.join(m.mnt, 'untar/project')]);
  await sh('tar', ['-df', tarball, '-C', path.join(m.mnt, 'untar')]);
});

test('rsync -a in and out: identical trees, and a second run changes nothing', MOUNT_TEST, async () => {
  const tree = path.join(src, 'project') + '/';
  const dst = path.join(m.mnt, 'rsync') + '/';
  await sh('rsync', ['-a', tree, dst]);
  const again = await sh('rsync', ['-a', '--itemize-changes', '--stats', tree, dst]);
  assert.match(again, /^Number of regular files transferred: 0$/m, again);
  await remount();
  const out = path.join(await tempDir(), 'out') + '/';
  await sh('rsync', ['-a', path.join(m.mnt, 'rsync') + '/', out]);
  await sh('diff', ['-r', tree, out]);
  const back = await sh('rsync', ['-a', '--itemize-changes', '--stats', path.join(m.mnt, 'rsync') + '/', out]);
  assert.match(back, /^Number of regular files transferred: 0$/m, back);
  const inAgain = await sh('rsync', ['-a', '--itemize-changes', '--stats', tree, path.join(m.mnt, 'rsync') + '/']);
  assert.match(inAgain, /^Number of regular files transferred: 0$/m, `after the remount: ${inAgain}`);
});

test('sqlite3 creates, fills, updates and queries a database on the mount; intact after a remount', MOUNT_TEST, async () => {
  const db = path.join(m.mnt, 'db/test.sqlite');
  await fs.mkdir(path.dirname(db));
  const sql = [
    'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, payload BLOB);',
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) INSERT INTO t SELECT x, printf('row %d', x), randomblob(200) FROM c;",
    'CREATE INDEX t_name ON t(name);',
    "UPDATE t SET name = name || ' updated' WHERE id % 7 = 0;",
    'DELETE FROM t WHERE id % 11 = 0;',
  ].join('\n');
  await sh('sqlite3', [db, sql]);
  const query = "SELECT count(*), sum(id), sum(name LIKE '% updated') FROM t; PRAGMA integrity_check;";
  const want = await sh('sqlite3', [db, query]);
  assert.match(want, /^4546\|\d+\|\d+\nok\n$/);
  // more changes in a second session (the file is reopened and rewritten in place)
  await sh('sqlite3', [db, "INSERT INTO t (name) VALUES ('late'); DELETE FROM t WHERE id < 100;"]);
  const after = await sh('sqlite3', [db, query]);
  await remount();
  assert.equal(await sh('sqlite3', [path.join(m.mnt, 'db/test.sqlite'), query]), after);
  assert.deepEqual((await fs.readdir(path.join(m.mnt, 'db'))).sort(), ['test.sqlite'], 'no journal left behind');
});
