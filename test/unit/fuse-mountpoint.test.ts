// The checks on a mount point before mounting, on a given mount table: an automount point
// (autofs there, as x-systemd.automount makes) is mounted over without being looked into, any
// other mount there is refused. (Stale FUSE mounts: test/mount/lifecycle.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareMountpoint } from '../../src/fuse/mountpoint.js';
import { parseMountInfo } from '../../src/fuse/mountinfo.js';
import { log } from '../../src/util/log.js';

test('a mount point under an automount (autofs at that path) is mounted over without being stat-ed or listed', async () => {
  // a path that does not exist: any stat or readdir of it would fail
  const where = path.join(os.tmpdir(), `bucketfs-no-such-dir-${process.pid}`);
  const mounts = () =>
    parseMountInfo(`40 30 0:51 / ${where} rw,relatime shared:20 - autofs systemd-1 rw,fd=47,pgrp=1,timeout=0,minproto=5,maxproto=5,direct\n`);
  assert.equal(mounts()[0]!.id, '40', 'the mount ID, which tells mounts stacked at one path apart');
  assert.equal(await prepareMountpoint(where, { allowNonEmpty: false }, log, mounts), where);
  // without the automount, the same path is refused as missing
  await assert.rejects(
    prepareMountpoint(where, { allowNonEmpty: false }, log, () => []),
    /does not exist/,
  );
  // another mount there is refused as before
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bucketfs-mp-'));
  try {
    const fuse = () => parseMountInfo(`41 30 0:52 / ${dir} rw - fuse.bucketfs r:b rw\n`);
    await assert.rejects(prepareMountpoint(dir, { allowNonEmpty: false }, log, fuse), /already a mount point/);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
