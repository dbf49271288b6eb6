// Two machines, one bucket (#12): every upload is conditional on the version the file was based
// on (If-Match) or on absence (If-None-Match), so a write another client made meanwhile is never
// overwritten: theirs stays under the name, ours goes up as NAME.conflict-HOST-TIME, and both
// mounts show both. Two mount processes with caches of their own, and boto3 as a third writer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { boto3, run } from '../helpers/run.js';
import { prng } from '../helpers/rng.js';
import { mount, useS3Bucket, usingMount, waitFor, type Mounted, MOUNT_TEST } from '../helpers/mount.js';

const BUCKET = 'conflicts-bucket';
// close(2) waits for the upload: what each close did is in the bucket when it returns
const FLAGS = ['--vfs-write-back', '0'];

const bucket = useS3Bucket(BUCKET);

/** the keys of the bucket under `prefix` */
async function keys(prefix: string): Promise<string[]> {
  const out = await boto3(
    bucket.s3.directEndpoint,
    `print(json.dumps([o["Key"] for o in s3.list_objects_v2(Bucket="${BUCKET}", Prefix="${prefix}").get("Contents", [])]))`,
  );
  return (JSON.parse(out) as string[]).sort();
}

async function text(key: string): Promise<string | undefined> {
  return (await bucket.getObject(key))?.toString();
}

async function both(fn: (a: Mounted, b: Mounted) => Promise<void>, flags = FLAGS): Promise<void> {
  const a = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
  try {
    const b = await mount(bucket.s3, `moto:${BUCKET}`, { flags });
    await usingMount(b, () => fn(a, b));
  } finally {
    await a.unmount().catch(() => undefined);
  }
}

test(
  'both mounts rewrite one existing file: the first upload wins the name, the second goes up as a conflict copy; both mounts show both',
  MOUNT_TEST,
  async () => {
    await bucket.putObject('one/shared.txt', 'the base version\n');
    await both(async (a, b) => {
      // both have seen the base version
      assert.equal(await fs.readFile(path.join(a.mnt, 'one/shared.txt'), 'utf8'), 'the base version\n');
      assert.equal(await fs.readFile(path.join(b.mnt, 'one/shared.txt'), 'utf8'), 'the base version\n');
      bucket.s3.clearRequests();
      await fs.writeFile(path.join(a.mnt, 'one/shared.txt'), 'written on A\n');
      await fs.writeFile(path.join(b.mnt, 'one/shared.txt'), 'written on B\n');
      const ks = await keys('one/');
      assert.equal(ks.length, 2, ks.join(' '));
      const conflict = ks.find((k) => /^one\/shared\.txt\.conflict-[A-Za-z0-9_-]+-\d{8}-\d{6}$/.test(k));
      assert.ok(conflict, ks.join(' '));
      assert.equal(await text('one/shared.txt'), 'written on A\n');
      assert.equal(await text(conflict), 'written on B\n');
      // the condition is on the request itself: no check-then-write window
      const puts = bucket.s3.requests.filter((r) => r.type === 'PUT' && r.path === `/${BUCKET}/one/shared.txt`);
      assert.equal(puts.length, 2);
      assert.ok(
        puts.every((r) => r.headers['if-match']),
        'both uploads replace only the base version',
      );
      assert.deepEqual(
        puts.map((r) => r.status),
        [200, 412],
      );
      assert.match(
        b.stderr(),
        /ERROR.*one\/shared\.txt: written by another client since it was opened here; theirs stays, the version written here is uploaded as one\/shared\.txt\.conflict-/,
      );
      // B shows theirs under the name, and its own version next to it
      assert.equal(await fs.readFile(path.join(b.mnt, 'one/shared.txt'), 'utf8'), 'written on A\n');
      assert.equal(await fs.readFile(path.join(b.mnt, conflict), 'utf8'), 'written on B\n');
      assert.deepEqual((await fs.readdir(path.join(b.mnt, 'one'))).sort(), ['shared.txt', path.basename(conflict)].sort());
    });
  },
);

test('a new file created at one name on both mounts: one of them gets the name, the other a conflict copy (If-None-Match)', MOUNT_TEST, async () => {
  await both(async (a, b) => {
    await fs.mkdir(path.join(a.mnt, 'new'));
    // both know the directory, and that the name is free
    await fs.readdir(path.join(b.mnt, 'new'));
    await fs.writeFile(path.join(a.mnt, 'new/report.txt'), 'report from A\n');
    await fs.writeFile(path.join(b.mnt, 'new/report.txt'), 'report from B\n');
    const ks = (await keys('new/')).filter((k) => k !== 'new/');
    assert.equal(ks.length, 2, ks.join(' '));
    assert.equal(await text('new/report.txt'), 'report from A\n');
    assert.equal(await text(ks.find((k) => k.includes('.conflict-'))!), 'report from B\n');
    const puts = bucket.s3.requests.filter((r) => r.type === 'PUT' && r.path === `/${BUCKET}/new/report.txt`);
    assert.ok(puts.length >= 2 && puts.every((r) => r.headers['if-none-match'] === '*'));
  });
});

test(
  'a file replaced by another client while open for writing here ends as two files; a big one too (multipart, If-Match on its completion)',
  MOUNT_TEST,
  async () => {
    const big = Buffer.alloc(12 * 1024 * 1024, 'b');
    await bucket.putObject('three/edit.txt', 'the base\n');
    await bucket.putObject('three/big.bin', big);
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: [...FLAGS, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'] });
    await usingMount(m, async () => {
      for (const [name, theirs] of [
        ['edit.txt', 'replaced by another client\n'],
        ['big.bin', 'replaced the big one\n'],
      ] as const) {
        // (read first, as an editor does: the bytes not rewritten are then here; unread bytes of a
        // version replaced meanwhile could not be had any more)
        const fh = await fs.open(path.join(m.mnt, 'three', name), 'r+');
        await fh.readFile();
        await fh.write('OURS', 0);
        await bucket.putObject(`three/${name}`, theirs);
        await fh.close().catch((err: Error) => assert.fail(`${name}: close: ${err.message}\n${m.stderr()}`));
        const ks = (await keys(`three/${name}`)).filter((k) => k !== `three/${name}`);
        assert.equal(ks.length, 1, `${name}: ${ks.join(' ')}`);
        assert.equal(await text(`three/${name}`), theirs, `${name}: theirs stays`);
        const ours = await bucket.getObject(ks[0]!);
        const want = name === 'big.bin' ? Buffer.concat([Buffer.from('OURS'), big.subarray(4)]) : Buffer.from('OURSbase\n');
        assert.ok(ours?.equals(want), `${name}: ours is the conflict copy`);
        if (name === 'big.bin') {
          // a multipart upload: the condition is on its completion, which the server refused
          const completes = bucket.s3.requests.filter((r) => r.type === 'MPf' && r.path === `/${BUCKET}/three/big.bin`);
          assert.ok(
            completes.some((r) => r.headers['if-match'] && r.status === 412),
            completes.map((r) => `${r.status} ${JSON.stringify(r.headers['if-match'])}`).join(' '),
          );
        }
      }
    });
  },
);

test('--vfs-conditional-writes=false: the last upload wins, as in rclone mount and s3fs', MOUNT_TEST, async () => {
  await bucket.putObject('off/shared.txt', 'base\n');
  await both(
    async (a, b) => {
      await fs.readFile(path.join(a.mnt, 'off/shared.txt'));
      await fs.readFile(path.join(b.mnt, 'off/shared.txt'));
      await fs.writeFile(path.join(a.mnt, 'off/shared.txt'), 'A\n');
      await fs.writeFile(path.join(b.mnt, 'off/shared.txt'), 'B\n');
      assert.deepEqual(await keys('off/'), ['off/shared.txt']);
      assert.equal(await text('off/shared.txt'), 'B\n');
    },
    [...FLAGS, '--vfs-conditional-writes=false'],
  );
});

test('a server that refuses conditional writes (501 Not Implemented): said once, and uploads go through without them', MOUNT_TEST, async () => {
  const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: FLAGS });
  await usingMount(m, async () => {
    bucket.s3.faultHook = (r) => (r.headers['if-none-match'] || r.headers['if-match'] ? { status: 501, code: 'NotImplemented' } : undefined);
    try {
      await fs.mkdir(path.join(m.mnt, 'refused'));
      await fs.writeFile(path.join(m.mnt, 'refused/a.txt'), 'a\n');
      await fs.writeFile(path.join(m.mnt, 'refused/b.txt'), 'b\n');
    } finally {
      bucket.s3.faultHook = undefined;
    }
    assert.equal(await text('refused/a.txt'), 'a\n');
    assert.equal(await text('refused/b.txt'), 'b\n');
    assert.equal(m.stderr().match(/refuses conditional writes/g)?.length, 1, m.stderr());
    const puts = bucket.s3.requests.filter((r) => r.type === 'PUT' && r.path === `/${BUCKET}/refused/b.txt`);
    assert.deepEqual(
      puts.map((r) => [r.status, r.headers['if-none-match'] ?? null]),
      [[200, null]],
      'after the first refusal, no condition is sent',
    );
  });
});

test(
  'a directory rename while another client adds a file to it: everything listed moves, the new file stays where it was put, and the rename says so (EIO)',
  MOUNT_TEST,
  async () => {
    for (let i = 0; i < 6; i++) await bucket.putObject(`mv/src/f${i}`, `f${i}\n`);
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: FLAGS });
    await usingMount(m, async () => {
      assert.equal((await fs.readdir(path.join(m.mnt, 'mv/src'))).length, 6);
      // the copies take a while: another client puts a file in the source meanwhile
      bucket.s3.faultHook = (r) => (r.type === 'COPY' ? { delayMs: 400 } : undefined);
      let renamed: Promise<void>;
      try {
        renamed = fs.rename(path.join(m.mnt, 'mv/src'), path.join(m.mnt, 'mv/dst'));
        await new Promise((r) => setTimeout(r, 150));
        await bucket.putObject('mv/src/added-meanwhile.txt', 'theirs\n');
        await assert.rejects(renamed, { code: 'EIO' });
      } finally {
        bucket.s3.faultHook = undefined;
      }
      const ks = (await keys('mv/')).filter((k) => !k.endsWith('/'));
      assert.deepEqual(ks, ['mv/dst/f0', 'mv/dst/f1', 'mv/dst/f2', 'mv/dst/f3', 'mv/dst/f4', 'mv/dst/f5', 'mv/src/added-meanwhile.txt']);
      assert.match(
        m.stderr(),
        /ERROR.*rename directory \/mv\/src → \/mv\/dst: 1 entries another client added to \/mv\/src or changed there during the rename stay there/,
      );
      assert.deepEqual(await fs.readdir(path.join(m.mnt, 'mv/src')), ['added-meanwhile.txt']);
      assert.equal((await fs.readdir(path.join(m.mnt, 'mv/dst'))).length, 6);
    });
  },
);

test(
  'rm -r of a directory another client adds a file to after it was listed: rm fails (Directory not empty), their file and the directory stay',
  MOUNT_TEST,
  async () => {
    for (let i = 0; i < 3; i++) await bucket.putObject(`rmr/f${i}`, `f${i}\n`);
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: FLAGS });
    await usingMount(m, async () => {
      assert.equal((await fs.readdir(path.join(m.mnt, 'rmr'))).length, 3);
      await bucket.putObject('rmr/added-meanwhile.txt', 'theirs\n');
      const r = await run('rm', ['-r', path.join(m.mnt, 'rmr')]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Directory not empty/);
      assert.deepEqual(await keys('rmr/'), ['rmr/added-meanwhile.txt']);
      assert.deepEqual(await fs.readdir(path.join(m.mnt, 'rmr')), ['added-meanwhile.txt']);
    });
  },
);

test(
  'a delete of a file another client replaced since this mount saw it deletes nothing: theirs stays (the delete names the ETag it saw); one not replaced goes',
  MOUNT_TEST,
  async () => {
    await bucket.putObject('del/replaced.txt', 'the version seen\n');
    await bucket.putObject('del/kept-as-seen.txt', 'nobody touches this\n');
    await bucket.putObject('del/sub/open.txt', 'read here\n');
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: FLAGS });
    await usingMount(m, async () => {
      assert.deepEqual((await fs.readdir(path.join(m.mnt, 'del'))).sort(), ['kept-as-seen.txt', 'replaced.txt', 'sub']);
      // seen here (and by the kernel, whose entries stay valid for --attr-timeout: the rm below
      // asks nothing again)
      await fs.stat(path.join(m.mnt, 'del/replaced.txt'));
      await fs.stat(path.join(m.mnt, 'del/kept-as-seen.txt'));
      await bucket.putObject('del/replaced.txt', 'written by another client\n');
      // rm succeeds: the version it named is gone (replaced); the one it never saw stays
      await fs.unlink(path.join(m.mnt, 'del/replaced.txt'));
      await fs.unlink(path.join(m.mnt, 'del/kept-as-seen.txt'));
      assert.deepEqual(await keys('del/'), ['del/replaced.txt', 'del/sub/open.txt']);
      assert.equal(await text('del/replaced.txt'), 'written by another client\n');
      assert.match(m.stderr(), /ERROR.*\/del\/replaced\.txt: not deleted: another client stored a new version since this mount saw it; theirs stays/);
      // the mount shows theirs again
      assert.equal(await fs.readFile(path.join(m.mnt, 'del/replaced.txt'), 'utf8'), 'written by another client\n');
      assert.deepEqual((await fs.readdir(path.join(m.mnt, 'del'))).sort(), ['replaced.txt', 'sub']);
      // unlinked while open for reading: deleted when the last reader closes, as the version unlinked only
      const fh = await fs.open(path.join(m.mnt, 'del/sub/open.txt'), 'r');
      assert.equal((await fh.readFile()).toString(), 'read here\n');
      await fs.unlink(path.join(m.mnt, 'del/sub/open.txt'));
      await bucket.putObject('del/sub/open.txt', 'stored after the unlink by another client\n');
      await fh.close();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await text('del/sub/open.txt'), 'stored after the unlink by another client\n');
      assert.match(m.stderr(), /ERROR.*\/del\/sub\/open\.txt: not deleted after its last reader closed: another client stored a new version/);
    });
  },
);

test(
  'a rename onto a target another client stored meanwhile: theirs stays, the file goes next to it as a conflict copy; a source another client replaced stays at the source',
  MOUNT_TEST,
  async () => {
    await bucket.putObject('ren/draft.txt', 'our draft\n');
    await bucket.putObject('ren/report.txt', 'the report seen\n');
    await bucket.putObject('ren/second.txt', 'second draft\n');
    await bucket.putObject('ren/moving.txt', 'the version seen\n');
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: FLAGS });
    await usingMount(m, async () => {
      assert.equal((await fs.readdir(path.join(m.mnt, 'ren'))).length, 4);
      for (const f of ['draft', 'report', 'second', 'moving']) await fs.stat(path.join(m.mnt, `ren/${f}.txt`));
      bucket.s3.clearRequests();
      // a target replaced by another client since the listing
      await bucket.putObject('ren/report.txt', 'their report\n');
      await fs.rename(path.join(m.mnt, 'ren/draft.txt'), path.join(m.mnt, 'ren/report.txt'));
      // (a target created by another client while the rename's copy is on its way: the kernel
      // looks the target up just before, which would find theirs)
      bucket.s3.faultHook = (r) => (r.type === 'COPY' && r.path.endsWith('/ren/fresh.txt') ? { delayMs: 400 } : undefined);
      try {
        const renamed = fs.rename(path.join(m.mnt, 'ren/second.txt'), path.join(m.mnt, 'ren/fresh.txt'));
        await new Promise((r) => setTimeout(r, 150));
        await bucket.putObject('ren/fresh.txt', 'their fresh file\n');
        await renamed;
      } finally {
        bucket.s3.faultHook = undefined;
      }
      // a source replaced by another client since the listing
      await bucket.putObject('ren/moving.txt', 'their moving\n');
      await fs.rename(path.join(m.mnt, 'ren/moving.txt'), path.join(m.mnt, 'ren/moved.txt'));
      const ks = await keys('ren/');
      const aside = (name: string) => ks.find((k) => new RegExp(`^ren/${name}\\.conflict-[A-Za-z0-9_-]+-\\d{8}-\\d{6}$`).test(k));
      assert.equal(ks.length, 6, ks.join(' '));
      assert.equal(await text('ren/report.txt'), 'their report\n');
      assert.equal(await text(aside('report\\.txt')!), 'our draft\n');
      assert.equal(await text('ren/fresh.txt'), 'their fresh file\n');
      assert.equal(await text(aside('fresh\\.txt')!), 'second draft\n');
      // the copy took what the source held (theirs); the delete named the version seen: theirs stays
      assert.equal(await text('ren/moving.txt'), 'their moving\n');
      assert.equal(await text('ren/moved.txt'), 'their moving\n');
      const copies = bucket.s3.requests.filter((r) => r.type === 'COPY' && /ren\/(report|fresh)\.txt$/.test(r.path));
      assert.deepEqual(
        copies.map((r) => [r.path.replace(/.*\//, ''), r.status, r.headers['if-match'] ? 'If-Match' : r.headers['if-none-match']]),
        [
          ['report.txt', 412, 'If-Match'],
          ['fresh.txt', 412, '*'],
        ],
      );
      assert.match(
        m.stderr(),
        /ERROR.*\/ren\/report\.txt: stored by another client since this mount saw it; theirs stays, \/ren\/draft\.txt is moved to \/ren\/report\.txt\.conflict-/,
      );
      assert.match(m.stderr(), /ERROR.*\/ren\/moving\.txt: moved to \/ren\/moved\.txt, but not deleted here: another client stored a new version/);
      // the mount shows what the bucket holds
      assert.deepEqual((await fs.readdir(path.join(m.mnt, 'ren'))).sort(), ks.map((k) => k.slice(4)).sort());
      assert.equal(await fs.readFile(path.join(m.mnt, 'ren/report.txt'), 'utf8'), 'their report\n');
    });
  },
);

test(
  'a file streamed here (its multipart upload started while it was written) whose name another client stored meanwhile: theirs is kept as a conflict copy, ours takes the name',
  MOUNT_TEST,
  async () => {
    const MiB = 1024 * 1024;
    const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: [...FLAGS, '--s3-chunk-size', '5M'] });
    await usingMount(m, async () => {
      await fs.mkdir(path.join(m.mnt, 'stream'));
      bucket.s3.clearRequests();
      const ours = Buffer.alloc(13 * MiB, 's');
      const fh = await fs.open(path.join(m.mnt, 'stream/big.bin'), 'w');
      try {
        await fh.write(ours.subarray(0, 11 * MiB), 0, 11 * MiB, 0);
        // the upload is under way: parts are going up while the file is written
        const started = () => bucket.s3.requests.some((r) => r.type === 'MPp' && r.path.endsWith('/stream/big.bin'));
        for (let i = 0; i < 100 && !started(); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(started(), 'the stream started');
        await bucket.putObject('stream/big.bin', 'their version\n');
        await fh.write(ours.subarray(11 * MiB), 0, 2 * MiB, 11 * MiB);
      } finally {
        await fh.close();
      }
      const ks = await keys('stream/');
      const aside = ks.find((k) => /^stream\/big\.bin\.conflict-/.test(k));
      assert.ok(aside, ks.join(' '));
      assert.equal(await text(aside), 'their version\n');
      assert.ok((await bucket.getObject('stream/big.bin'))?.equals(ours), 'ours is stored under the name');
      const completes = bucket.s3.requests.filter((r) => r.type === 'MPf' && r.path.endsWith('/stream/big.bin'));
      assert.deepEqual(
        completes.map((r) => [r.status, r.headers['if-none-match'] ?? null, r.headers['if-match'] ? 'If-Match' : null]),
        [
          [412, '*', null],
          [200, null, 'If-Match'],
        ],
      );
      assert.match(m.stderr(), /ERROR.*stream\/big\.bin: written by another client while it was written here; theirs is kept as stream\/big\.bin\.conflict-/);
      assert.deepEqual((await fs.readdir(path.join(m.mnt, 'stream'))).sort(), ['big.bin', path.basename(aside)].sort());
      assert.equal((await fs.stat(path.join(m.mnt, 'stream/big.bin'))).size, ours.length);
    });
  },
);

test(
  '--poll-interval: a directory used here is listed again, so what another client added, replaced or deleted there shows within the interval; an idle mount sends nothing; 0 turns it off',
  MOUNT_TEST,
  async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (const flags of [
      ['--poll-interval', '1s'],
      ['--poll-interval', '0'],
    ]) {
      const dir = `poll${flags[1] === '0' ? '-off' : ''}`;
      await bucket.putObject(`${dir}/a.txt`, 'one\n');
      await bucket.putObject(`${dir}/b.txt`, 'bee\n');
      const m = await mount(bucket.s3, `moto:${BUCKET}`, { flags: [...FLAGS, ...flags] });
      await usingMount(m, async () => {
        const d = path.join(m.mnt, dir);
        assert.deepEqual((await fs.readdir(d)).sort(), ['a.txt', 'b.txt']);
        assert.equal((await fs.stat(path.join(d, 'a.txt'))).size, 4);
        // another client adds, replaces and deletes
        await bucket.putObject(`${dir}/new.txt`, 'theirs\n');
        await bucket.putObject(`${dir}/a.txt`, 'a longer version\n');
        await boto3(bucket.s3.directEndpoint, `s3.delete_object(Bucket="${BUCKET}", Key="${dir}/b.txt")`);
        const current = async () =>
          JSON.stringify((await fs.readdir(d)).sort()) === JSON.stringify(['a.txt', 'new.txt']) && (await fs.stat(path.join(d, 'a.txt'))).size === 17;
        if (flags[1] === '1s') {
          await waitFor(current, 10_000, 'the listing and the stat show the changes');
          // nothing is used any more: after one last poll of what was just used, no LIST at all
          await sleep(2500);
          bucket.s3.clearRequests();
          await sleep(3000);
          assert.equal(bucket.s3.requests.filter((r) => r.type === 'LIST').length, 0, 'an idle mount polls nothing');
        } else {
          // off: the cached listing stands until --dir-cache-time
          await sleep(3000);
          assert.equal(await current(), false, 'without polling the listing is as first listed');
          assert.deepEqual((await fs.readdir(d)).sort(), ['a.txt', 'b.txt']);
        }
      });
    }
  },
);

test(
  'two mounts, 1000 random operations each on 12 shared names (writes, and saves through a temporary file renamed over the name), interleaved: no version is overwritten blindly; the last one each mount stored of each name is in exactly one object, or was replaced by a request that named it (If-Match its ETag)',
  MOUNT_TEST,
  async () => {
    const NAMES = 12;
    const OPS = 1000;
    const a = await mount(bucket.s3, `moto:${BUCKET}`, { flags: FLAGS });
    const b = await mount(bucket.s3, `moto:${BUCKET}`, { flags: FLAGS });
    const last = new Map<string, string>();
    const written = new Set<string>();
    let saves = 0;
    bucket.s3.clearRequests();
    try {
      await fs.mkdir(path.join(a.mnt, 'many'));
      await fs.readdir(path.join(b.mnt, 'many'));
      const run = async (m: Mounted, tag: string, seed: number) => {
        const r = prng(seed);
        for (let i = 0; i < OPS; i++) {
          const name = `f${r.int(0, NAMES - 1)}`;
          const content = `${tag} op ${i} ${'x'.repeat(r.int(0, 2000))}\n`;
          written.add(content);
          const fail = (err: Error) => assert.fail(`${tag} op ${i} ${name}: ${err.message}\n${m.stderr()}`);
          if (r.next() < 0.25) {
            // an editor's save: a temporary file of this mount's own, renamed over the name
            const tmp = path.join(m.mnt, 'many', `.${tag}.tmp`);
            await fs.writeFile(tmp, content).catch(fail);
            await fs.rename(tmp, path.join(m.mnt, 'many', name)).catch(fail);
            saves++;
          } else await fs.writeFile(path.join(m.mnt, 'many', name), content).catch(fail);
          last.set(`${tag}/${name}`, content);
          // now and then a listing, as programs do between writes
          if (r.next() < 0.2) await fs.readdir(path.join(m.mnt, 'many'));
        }
      };
      await Promise.all([run(a, 'A', 1), run(b, 'B', 2)]);
    } finally {
      await a.unmount().catch(() => undefined);
      await b.unmount().catch(() => undefined);
    }
    const ks = (await keys('many/')).filter((k) => k !== 'many/');
    assert.ok(!ks.some((k) => k.includes('.tmp') && !k.includes('.conflict-')), `a temporary file was left: ${ks.join(' ')}`);
    const contents = new Map<string, number>();
    for (const k of ks) {
      const c = (await text(k))!;
      assert.ok(written.has(c), `${k} holds bytes nobody wrote`);
      contents.set(c, (contents.get(c) ?? 0) + 1);
    }
    // every upload and every rename's copy named the version it replaced, or that none was there
    const stores = bucket.s3.requests.filter(
      (r) => (r.type === 'PUT' || r.type === 'COPY') && r.path.startsWith(`/${BUCKET}/many/`) && r.path !== `/${BUCKET}/many/`,
    );
    assert.ok(
      stores.every((r) => r.headers['if-match'] || r.headers['if-none-match'] === '*'),
      'every upload and copy is conditional',
    );
    const replacedKnowingly = new Set(stores.filter((r) => r.status === 200 && r.headers['if-match']).map((r) => r.headers['if-match']!.replace(/"/g, '')));
    let replaced = 0;
    for (const [who, c] of last) {
      const found = contents.get(c) ?? 0;
      if (found === 1) continue;
      assert.equal(found, 0, `${who}: its last version is in ${found} objects`);
      const etag = createHash('md5').update(c).digest('hex');
      assert.ok(replacedKnowingly.has(etag), `${who}: its last version (${c.slice(0, 14)}) is gone, and no request named it as the version it replaced`);
      replaced++;
    }
    const conflicts = ks.filter((k) => k.includes('.conflict-')).length;
    console.log(
      `# two mounts × ${OPS} operations on ${NAMES} names (${saves} saves through a renamed temporary file): ${ks.length} objects, ${conflicts} conflict copies; ${replaced} last versions replaced by a request based on them`,
    );
  },
);
